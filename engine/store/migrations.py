"""Versioned schema migrations: applied by `python run.py --migrate`, checked at start;
one process at a time (engine.store.schema_lock)."""

from __future__ import annotations

from collections.abc import Callable

import peewee

from engine.command_name import command
from engine.store.database import open_database
from engine.store.models import (
    ALL_MODELS,
    BroadcastRow,
    FlagRow,
    RoleRow,
    SettingRow,
    database_proxy,
)
from engine.store.privacy import REDACTED_PAYLOAD, sender_of
from engine.store.schema_lock import Say, log_waiting, schema_lock

VERSION_KEY = "schema_version"


def _create_v1(db: peewee.Database) -> None:
    db.create_tables(ALL_MODELS, safe=True)


def _sessions_by_key_v2(db: peewee.Database) -> None:
    """SQLite: sessions kept in their primary key's order (WITHOUT ROWID), so loading and
    storing one is a single B-tree lookup and the separate key index (a fifth of the table's
    size) is gone. Both: an index on sessions' user_id (privacy requests), and the inbox's
    index on status, which no query needs, is dropped (one index less written per update)."""
    db.execute_sql('DROP INDEX IF EXISTS "inbox_status"')
    if isinstance(db, peewee.SqliteDatabase):
        row = db.execute_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'sessions'"
        ).fetchone()
        create = row[0]
        if not create.rstrip().upper().endswith("WITHOUT ROWID"):
            db.execute_sql('DROP INDEX IF EXISTS "sessions_user_id"')
            db.execute_sql(create.replace('"sessions"', '"sessions_v2"', 1) + " WITHOUT ROWID")
            db.execute_sql(
                'INSERT INTO "sessions_v2" SELECT * FROM "sessions" ORDER BY chat_id, user_id'
            )
            db.execute_sql('DROP TABLE "sessions"')
            db.execute_sql('ALTER TABLE "sessions_v2" RENAME TO "sessions"')
    # /mydata and /forgetme find a user's sessions without reading them all; a stored
    # session never changes its key, so this index is written only when one is created
    db.execute_sql('CREATE INDEX IF NOT EXISTS "sessions_user_id" ON "sessions" ("user_id")')


def _fewer_pages_per_update_v3(db: peewee.Database) -> None:
    """Each update used to change a page of four tables that no other update touched (with
    many users): the session's, the user's, and two indexes. Now the users row is written
    only when the profile changes, so its last_seen becomes `updated` (the last message is
    the session's `updated`); the inbox's chat index holds only pending updates, the ones a
    later transaction looks up by chat; the message log has no index by user (privacy
    requests read it through)."""
    columns = {c.name for c in db.get_columns("users")}
    if "last_seen" in columns and "updated" not in columns:
        db.execute_sql('ALTER TABLE "users" RENAME COLUMN "last_seen" TO "updated"')
    db.execute_sql('DROP INDEX IF EXISTS "inbox_chat_id"')
    db.execute_sql('DROP INDEX IF EXISTS "message_log_user_id"')
    db.execute_sql(
        'CREATE INDEX IF NOT EXISTS "inbox_pending_chat_id" ON "inbox" ("chat_id") '
        "WHERE status = 'pending'"
    )


def _pending_outbox_index_v4(db: peewee.Database) -> None:
    """The outbox's index holds only what waits to be sent, the sender's one look-up: a
    sent message used to move inside an index of every message ever queued; now it leaves
    a small one (and the index does not grow with the history)."""
    db.execute_sql('DROP INDEX IF EXISTS "outbox_status_not_before"')
    # in id order (the sender's ORDER BY): on not_before alone, SQLite would rather scan
    # the whole table in id order than sort (checked with EXPLAIN QUERY PLAN in the tests)
    db.execute_sql(
        'CREATE INDEX IF NOT EXISTS "outbox_pending" ON "outbox" ("id", "not_before") '
        "WHERE status = 'pending'"
    )


def _no_time_indexes_v5(db: peewee.Database) -> None:
    """The inbox and the message log are no longer indexed by time: each update wrote both
    indexes (three entries), and only retention read them. Rows are written in time order,
    so `--prune` finds the old ones from the start of the id order instead."""
    db.execute_sql('DROP INDEX IF EXISTS "inbox_received"')
    db.execute_sql('DROP INDEX IF EXISTS "message_log_at"')


def _outbox_error_v6(db: peewee.Database) -> None:
    """The outbox keeps why a message failed (or may not have arrived): the sender used to
    only log it, and one bad message's exception stopped every round."""
    if "error" not in {c.name for c in db.get_columns("outbox")}:
        db.execute_sql('ALTER TABLE "outbox" ADD COLUMN "error" TEXT')


def _rows_by_user_v7(db: peewee.Database) -> None:
    """The inbox and the outbox name the user a row is about, so that /mydata exports and
    /forgetme deletes replies in groups, notices to the admins and set-aside updates too;
    messages already sent no longer keep what they said (a /mydata export among them).
    Older rows: a private chat's id is its user's; a set-aside update names its sender."""
    for table in ("inbox", "outbox"):
        if "user_id" not in {c.name for c in db.get_columns(table)}:
            db.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN "user_id" BIGINT')
        db.execute_sql(
            f'UPDATE "{table}" SET user_id = chat_id WHERE user_id IS NULL AND chat_id > 0'
        )
    mark = db.param
    kept = db.execute_sql("SELECT id, body FROM \"inbox\" WHERE body != '' AND user_id IS NULL")
    for row_id, body in kept.fetchall():
        sender = sender_of(body)
        if sender is not None:
            db.execute_sql(
                f'UPDATE "inbox" SET user_id = {mark} WHERE id = {mark}', (sender, row_id)
            )
    db.execute_sql(
        f"UPDATE \"outbox\" SET payload = {mark} WHERE status != 'pending'", (REDACTED_PAYLOAD,)
    )


def _roles_and_flags_v8(db: peewee.Database) -> None:
    """Roles granted by the operator (`--grant`) and feature flags switched at run time
    (`--flag`) live in the database, so every process sees the same ones."""
    db.create_tables([RoleRow, FlagRow], safe=True)


def _broadcasts_v9(db: peewee.Database) -> None:
    """Broadcast jobs (engine/admin/broadcasts.py): their table, and the outbox rows name
    their broadcast, indexed only where they have one, so counting a broadcast's messages
    reads its rows alone and a reply's row writes no index entry more."""
    db.create_tables([BroadcastRow], safe=True)
    if "broadcast_id" not in {c.name for c in db.get_columns("outbox")}:
        db.execute_sql('ALTER TABLE "outbox" ADD COLUMN "broadcast_id" BIGINT')
    db.execute_sql(
        'CREATE INDEX IF NOT EXISTS "outbox_broadcast" ON "outbox" ("broadcast_id", "status") '
        "WHERE broadcast_id IS NOT NULL"
    )


def _log_one_row_per_update_v10(db: peewee.Database) -> None:
    """An update's log row says where it left the user, how long they had stayed in the
    state they left and whether they were not understood (statistics read these instead of
    a row per reply); a session keeps when it entered its state."""
    _add_columns(
        db,
        "message_log",
        {
            "to_state": "TEXT",
            "stayed": "DOUBLE PRECISION",
            "fallback": "BOOLEAN",
            "replies": "INTEGER",
        },
    )
    _add_columns(db, "sessions", {"entered": "DOUBLE PRECISION"})


def _add_columns(db: peewee.Database, table: str, columns: dict[str, str]) -> None:
    """Columns a new database has already (its tables are made from today's models)."""
    present = {c.name for c in db.get_columns(table)}
    for name, kind in columns.items():
        if name not in present:
            db.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN "{name}" {kind}')


def _broadcast_progress_v11(db: peewee.Database) -> None:
    """A broadcast remembers when the admin who started it was last told how it goes, so a
    progress message goes at most once a minute, also across a restart."""
    if "told" not in {c.name for c in db.get_columns("broadcasts")}:
        kind = "DATETIME" if isinstance(db, peewee.SqliteDatabase) else "TIMESTAMP"
        db.execute_sql(f'ALTER TABLE "broadcasts" ADD COLUMN "told" {kind}')


# (version, what it does, how): append, never edit a released step.
MIGRATIONS: list[tuple[int, str, Callable[[peewee.Database], None]]] = [
    (1, "create the tables", _create_v1),
    (2, "sessions stored by their key (SQLite), no index on inbox status", _sessions_by_key_v2),
    (
        3,
        "fewer indexes written per update, users row only when it changes",
        _fewer_pages_per_update_v3,
    ),
    (4, "the outbox indexed only while pending", _pending_outbox_index_v4),
    (5, "the inbox and the message log not indexed by time", _no_time_indexes_v5),
    (6, "the outbox keeps why a message failed", _outbox_error_v6),
    (7, "inbox and outbox rows name their user; sent messages are not kept", _rows_by_user_v7),
    (8, "roles granted in the database and feature flags", _roles_and_flags_v8),
    (9, "broadcast jobs; outbox rows name their broadcast", _broadcasts_v9),
    (
        10,
        "one message log row per update; sessions keep when they entered",
        _log_one_row_per_update_v10,
    ),
    (11, "broadcasts remember when their progress was last told", _broadcast_progress_v11),
]
LATEST = MIGRATIONS[-1][0]


class SchemaError(Exception):
    """The database's schema does not fit this version of the engine; the message says why."""


def current_version(db: peewee.Database) -> int:
    database_proxy.initialize(db)
    if not db.table_exists(SettingRow._meta.table_name):
        return 0
    row = SettingRow.get_or_none(SettingRow.key == VERSION_KEY)
    return int(row.value) if row is not None else 0


def migrate(db: peewee.Database, say: Say = log_waiting) -> list[str]:
    """Apply every pending step in order, each in its own transaction (SQLite: savepoint),
    under the schema lock: a process migrating at the same time waits, then finds nothing
    left to do."""
    if current_version(db) == LATEST:
        return []  # nothing to do; a schema's version never goes back
    with schema_lock(db, say):
        return _apply(db)


def create_or_check(db: peewee.Database, say: Say = log_waiting) -> None:
    """At the bot's start: create the tables of a new database, then refuse a schema this
    engine does not fit, both under the schema lock, so that a bot started together with
    others (or with `--migrate`) waits for their migration instead of seeing it half-done."""
    if current_version(db) == LATEST:
        return
    with schema_lock(db, say):
        if current_version(db) == 0:
            _apply(db)
        check(db)


def _apply(db: peewee.Database) -> list[str]:
    done = []
    version = current_version(db)
    if version > LATEST:
        raise SchemaError(_too_new(version))
    for number, description, step in MIGRATIONS:
        if number <= version:
            continue
        with db.atomic():
            step(db)
            SettingRow.insert(key=VERSION_KEY, value=str(number)).on_conflict(
                conflict_target=[SettingRow.key], update={SettingRow.value: str(number)}
            ).execute()
        done.append(f"schema {number}: {description}")
    return done


def check(db: peewee.Database) -> None:
    """Refuse to run against a schema this engine does not know (or one not yet migrated)."""
    version = current_version(db)
    if version > LATEST:
        raise SchemaError(_too_new(version))
    if version < LATEST:
        raise SchemaError(
            f"the database schema is version {version}, this engine needs {LATEST}: "
            f"run `{command()} --migrate` first"
        )


def _too_new(version: int) -> str:
    return (
        f"the database schema is version {version}, newer than this engine knows ({LATEST}): "
        "it was migrated by a newer version. Run that version, or restore a backup."
    )


def open_checked(url: str) -> peewee.Database:
    """The database `url` names, its schema checked (and the models bound to it, by
    current_version): what every operator command works on."""
    db = open_database(url)
    check(db)
    return db
