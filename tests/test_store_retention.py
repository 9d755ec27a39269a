"""Retention (`--prune`) on tables not indexed by time: the inbox and the message log are
written in time order, so old rows are found from the start of the id order; the time is
still checked, so nothing newer than the retention period is ever deleted."""

from __future__ import annotations

import datetime as dt

import peewee

from engine.store.models import InboxRow, MessageLogRow
from engine.store.privacy import prune

NOW = dt.datetime(2026, 12, 1, 12, 0)


def _log(at: dt.datetime, chat: int) -> None:
    MessageLogRow.create(at=at, chat_id=chat, user_id=chat, direction="in", kind="TextMessage")


def _inbox(update_id: int, received: dt.datetime, status: str = "done") -> None:
    InboxRow.create(update_id=update_id, body="", status=status, received=received)


def test_prune_deletes_what_is_older_than_the_retention_period_and_nothing_newer(
    db: peewee.Database,
) -> None:
    old, recent = NOW - dt.timedelta(days=40), NOW - dt.timedelta(days=5)
    for chat, at in enumerate((old, old, recent, old, recent)):  # one old row out of order
        _log(at, chat)
    _inbox(1, old)
    _inbox(2, old, status="failed")  # set aside: kept for the operator
    _inbox(3, recent)
    _inbox(4, old)  # written after a newer one (a clock set back)

    counts = prune(NOW, retention_days=30)

    kept = [r.chat_id for r in MessageLogRow.select().order_by(MessageLogRow.id)]
    assert kept == [2, 3, 4]  # the out-of-order old row waits for a later prune
    assert counts["message_log"] == 2
    assert [r.update_id for r in InboxRow.select().order_by(InboxRow.id)] == [2, 3, 4]
    assert counts["inbox"] == 1
    assert prune(NOW + dt.timedelta(days=30), retention_days=30)["message_log"] == 3


def test_prune_of_a_table_with_only_old_rows_empties_it(db: peewee.Database) -> None:
    for chat in range(3):
        _log(NOW - dt.timedelta(days=31), chat)
    assert prune(NOW, retention_days=30)["message_log"] == 3
    assert MessageLogRow.select().count() == 0
    assert prune(NOW, retention_days=30)["message_log"] == 0  # and an empty one stays so
