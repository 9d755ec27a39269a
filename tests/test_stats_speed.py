"""--stats stays fast on a big message log (bench/stats.py: a million users, ten million rows)
once the operator turned its indexes on (`--stats-indexes on`): each of its queries over the
log then reads one of them alone, never the table. A query changed so that no index serves it
any more fails here, not in production; and the command builds, drops and audits them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import peewee
import pytest
from conftest import CliResult

import engine.admin.stats as stats
from engine.store.database import open_database
from engine.store.migrations import migrate
from engine.store.models import AuditRow, database_proxy
from engine.store.stats_indexes import (
    STATS_INDEXES,
    create_stats_indexes,
    stats_indexes_present,
)


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[peewee.Database]:
    db = open_database(f"sqlite:///{tmp_path / 'bot.db'}")
    migrate(db)
    database_proxy.initialize(db)
    create_stats_indexes(db)
    yield db
    db.close()


def _plans(db: peewee.Database, since: dt.datetime | None) -> dict[str, list[str]]:
    """Each query --stats sends about the message log, with SQLite's plan for it as sent
    (with its parameters bound, as they change which index SQLite may use)."""
    plans: dict[str, list[str]] = {}
    execute = db.execute_sql

    def planned(sql: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        if '"message_log"' in sql:
            rows = execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
            plans[sql] = [str(row[3]) for row in rows]
        return execute(sql, params, *args, **kwargs)

    db.execute_sql = planned  # type: ignore[method-assign]
    try:
        stats.collect(since)
    finally:
        del db.execute_sql
    return plans


@pytest.mark.parametrize("since", [None, dt.datetime(2026, 3, 1)], ids=["all", "days"])
def test_every_query_over_the_log_reads_an_index_alone(
    sqlite_db: peewee.Database, since: dt.datetime | None
) -> None:
    plans = _plans(sqlite_db, since)
    assert len(plans) == 4  # per day, per state, entries, stays
    used = set()
    for sql, steps in plans.items():
        reads = [step for step in steps if step.startswith(("SCAN", "SEARCH"))]
        assert len(reads) == 1 and "USING COVERING INDEX message_log_in_" in reads[0], (
            f"{sql}\n{steps}"
        )
        used.add(reads[0].split("COVERING INDEX ")[1].split()[0])
    assert used == set(STATS_INDEXES)  # each index serves a query: none is written for nothing


def test_the_indexes_are_the_operators_choice_built_and_dropped_by_a_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable[..., CliResult]
) -> None:
    """Not in the schema: each costs every update an index entry (bench/store.py)."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    db = open_database(url)
    migrate(db)
    assert not stats_indexes_present(db)  # a new database has none
    monkeypatch.setenv("DATABASE_URL", url)
    built = cli("--stats-indexes", "on")
    assert built.code == 0 and "the --stats indexes are on (built in" in built.out
    assert stats_indexes_present(db)
    assert cli("--stats-indexes", "on").out.startswith("the --stats indexes are on (were already)")
    dropped = cli("--stats-indexes", "off")
    assert dropped.code == 0 and not stats_indexes_present(db)
    database_proxy.initialize(db)
    assert [(a.action, a.subject) for a in AuditRow.select().order_by(AuditRow.id)][-3:] == [
        ("stats_indexes", "on"),
        ("stats_indexes", "on"),
        ("stats_indexes", "off"),
    ]
    db.close()
