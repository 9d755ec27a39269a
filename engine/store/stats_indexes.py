"""Indexes that make --stats fast on a big message log, at the bot's expense: each costs every
update an index entry more (about a quarter of SQLite's updates per second with a small log,
measured with bench/store.py), so they are the operator's choice (`--stats-indexes on|off`),
not part of the schema: most bots answer users far more often than anyone reads statistics.

--stats reads the incoming rows of the message log four ways (engine/admin/stats.py); each
index holds those rows in the order one query groups them, with every column it reads
(`direction` too: the queries bind 'in' as a parameter, and an index without the column
sends SQLite back to the table for each row), so no query reads the table or sorts."""

from __future__ import annotations

import peewee

STATS_INDEXES = {
    "message_log_in_day": """(DATE("at"), "user_id", "at", "direction")
        WHERE direction = 'in'""",
    "message_log_in_state": """("state", "user_id", "fallback", "at", "direction")
        WHERE direction = 'in'""",
    "message_log_in_stay": """("state", ROUND("stayed"), "stayed", "at", "direction")
        WHERE direction = 'in' AND stayed IS NOT NULL""",
    "message_log_in_entry": """("to_state", "state", "at", "direction")
        WHERE direction = 'in' AND to_state IS NOT NULL""",
}


def create_stats_indexes(db: peewee.Database) -> None:
    """Build them (once, over the rows there are: faster than keeping them row by row, so a
    bulk load builds them after its rows, bench/stats.py)."""
    for name, definition in STATS_INDEXES.items():
        db.execute_sql(f'CREATE INDEX IF NOT EXISTS "{name}" ON "message_log" {definition}')


def drop_stats_indexes(db: peewee.Database) -> None:
    for name in STATS_INDEXES:
        db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')


def stats_indexes_present(db: peewee.Database) -> bool:
    """All four are there (a half-built set counts as off: --stats-indexes on completes it)."""
    present = {index.name for index in db.get_indexes("message_log")}
    return set(STATS_INDEXES) <= present
