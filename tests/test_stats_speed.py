"""--stats stays fast on a big message log (bench/stats.py: a million users, ten million rows)
because each of its queries over the log reads one of schema 12's indexes alone, never the
table. A query changed so that no index serves it any more fails here, not in production."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import peewee
import pytest

import engine.admin.stats as stats
from engine.store.database import open_database
from engine.store.migrations import STATS_INDEXES, migrate
from engine.store.models import database_proxy


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[peewee.Database]:
    db = open_database(f"sqlite:///{tmp_path / 'bot.db'}")
    migrate(db)
    database_proxy.initialize(db)
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
