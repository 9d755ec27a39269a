"""Writing many rows at once (engine/store/bulk.py): on SQLite in statements of several
sizes, on PostgreSQL by execute_values; every row arrives once, as given, and an upsert
updates exactly the rows that exist."""

from __future__ import annotations

import datetime as dt

import peewee
import pytest

from engine.store.bulk import insert_rows, select_in
from engine.store.models import MessageLogRow, SessionRow

AT = dt.datetime(2026, 12, 1, 12, 0)


@pytest.mark.parametrize("count", [0, 1, 3, 4, 17, 64, 100, 151])
def test_every_row_arrives_once_in_order(db: peewee.Database, count: int) -> None:
    rows = [
        {"at": AT, "chat_id": i, "user_id": i, "direction": "in", "kind": f"k{i}", "state": None}
        for i in range(count)
    ]
    with db.atomic():
        insert_rows(db, MessageLogRow, rows)
    stored = [(r.chat_id, r.kind, r.at) for r in MessageLogRow.select().order_by(MessageLogRow.id)]
    assert stored == [(i, f"k{i}", AT) for i in range(count)]


def _session(chat: int, state: str) -> dict[str, object]:
    return {
        "chat_id": chat,
        "user_id": chat,
        "scenario": "s",
        "state": state,
        "vars": "{}",
        "stack": "[]",
        "attempts": 0,
        "epoch": 1,
        "language": None,
        "ended": False,
        "scenario_version": "v",
        "updated": AT,
    }


def test_an_upsert_of_many_rows_updates_those_that_exist(db: peewee.Database) -> None:
    columns = ("state", "updated")
    with db.atomic():
        insert_rows(db, SessionRow, [_session(c, "old") for c in range(0, 90, 2)])
    with db.atomic():
        insert_rows(
            db, SessionRow, [_session(c, "new") for c in range(70)], ("chat_id", "user_id"), columns
        )
    states = dict(
        select_in(
            db, 'SELECT chat_id, state FROM "sessions" WHERE chat_id IN ({})', list(range(90))
        )
    )
    assert states == {c: "new" if c < 70 else "old" for c in range(90) if c < 70 or c % 2 == 0}
