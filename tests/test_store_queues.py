"""The outbox and the timers as the sender and scheduler see them, and the batch retry when
the database is busy or gone."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import peewee
import pytest
from builders import NOW, compile_yaml

from engine.core.effects import SendText
from engine.core.events import Chat, TextMessage, User
from engine.core.interpreter import step
from engine.store.models import OutboxRow, UserRow
from engine.store.pipeline import IncomingUpdate, Store, StoreUnavailable
from engine.store.queues import Outbox, Outcome, Timers

BOT = """
bot: {name: T, start: wait}
states:
  wait:
    say: [One., Two.]
    buttons: [{text: Stay, say: OK}]
    after: {delay: 10m, say: Ten minutes., goto: gone}
  gone:
    say: Gone.
    end: true
"""


@pytest.fixture
def parts(db: peewee.Database, tmp_path: Path) -> tuple[Store, Outbox, Timers, object]:
    # on SQLite and on PostgreSQL (tests/store_fixtures.py)
    return Store(db, "t"), Outbox(db), Timers(db), compile_yaml(BOT, tmp_path)


def hello(store: Store, scenario: object, update_id: int, user: int = 5) -> None:
    event = TextMessage(user=User(user, "A"), chat=Chat(user), text="hi")
    store.process(
        [IncomingUpdate(update_id, json.dumps({}), user, event)],
        lambda s, e: step(scenario, s, e, NOW),
        NOW,
    )  # type: ignore[arg-type]


def test_the_outbox_hands_out_messages_in_order_and_records_what_happened(
    parts: tuple[Store, Outbox, Timers, object],
) -> None:
    store, outbox, _timers, scenario = parts
    hello(store, scenario, 1)
    pending = outbox.pending(NOW)
    assert [q.effect.text for q in pending if isinstance(q.effect, SendText)] == ["One.", "Two."]
    first, second = pending
    outbox.sent(first.id, message_id=777)
    outbox.retry_at(second.id, NOW + dt.timedelta(seconds=30))  # a 429 with retry_after=30
    assert outbox.pending(NOW) == []
    assert [q.id for q in outbox.pending(NOW + dt.timedelta(seconds=31))] == [second.id]
    outbox.uncertain(second.id)  # a timeout: maybe delivered; never sent again blindly
    assert outbox.pending(NOW + dt.timedelta(hours=1)) == []
    assert OutboxRow.get_by_id(first.id).message_id == 777


def test_a_chats_later_messages_wait_behind_its_earliest_unsent_one(
    parts: tuple[Store, Outbox, Timers, object], db: peewee.Database
) -> None:
    store, outbox, _timers, scenario = parts
    hello(store, scenario, 1, user=5)  # "One.", "Two." to chat 5
    hello(store, scenario, 2, user=6)  # and to chat 6
    first, second, *others = outbox.pending(NOW)
    later = NOW + dt.timedelta(seconds=30)
    outbox.record([Outcome(first.id, "pending", not_before=later)])  # a 429 on chat 5's first
    assert outbox.pending(NOW) == others  # chat 5's second waits too; chat 6 goes on
    assert [q.id for q in outbox.pending(later)] == [first.id, second.id, *(q.id for q in others)]
    outbox.record([Outcome(second.id, "sent"), Outcome(first.id, "failed")])
    assert outbox.pending(NOW) == others  # a message ahead that failed holds nothing back
    if isinstance(db, peewee.SqliteDatabase):  # every look-up goes through the pending index
        stamp = str(NOW.replace(tzinfo=None))
        for sql, params, scans in (
            (outbox.waiting_sql, (stamp,), 1),
            (outbox.due_sql, (stamp, 100), 1),
            (outbox.pending_sql, (stamp, stamp, 100), 2),
        ):
            plan = [str(r[-1]) for r in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params)]
            assert sum("INDEX outbox_pending" in step for step in plan) == scans, plan
            assert not [s for s in plan if s.startswith("SCAN") and "INDEX" not in s], plan


def test_a_round_of_outcomes_is_recorded_row_by_row(
    parts: tuple[Store, Outbox, Timers, object],
) -> None:
    store, outbox, _timers, scenario = parts
    for user in range(1, 76):  # 150 messages: more than one statement marks as sent
        hello(store, scenario, user, user)
    pending = outbox.pending(NOW, limit=1000)
    later = NOW + dt.timedelta(seconds=30)
    outcomes = [
        Outcome(q.id, "sent", 1000 + i if i % 3 else None) for i, q in enumerate(pending[:-2])
    ]
    outcomes += [
        Outcome(pending[-2].id, "pending", not_before=later),
        Outcome(pending[-1].id, "failed"),
    ]
    outbox.record(outcomes)
    rows = {r.id: r for r in OutboxRow.select()}
    for outcome in outcomes:
        row = rows[outcome.id]
        assert (row.status, row.message_id, row.attempts) == (
            outcome.status,
            outcome.message_id,
            1,
        ), outcome
    assert [q.id for q in outbox.pending(later)] == [pending[-2].id]


def test_a_user_who_blocked_the_bot_gets_nothing_more(
    parts: tuple[Store, Outbox, Timers, object],
) -> None:
    store, outbox, _timers, scenario = parts
    hello(store, scenario, 1)
    outbox.blocked_by(5)
    assert outbox.pending(NOW) == [] and UserRow.get_by_id(5).blocked
    hello(store, scenario, 2)  # they unblocked and wrote again
    assert not UserRow.get_by_id(5).blocked


def test_due_timers_are_claimed_once(parts: tuple[Store, Outbox, Timers, object]) -> None:
    store, _outbox, timers, scenario = parts
    hello(store, scenario, 1)
    assert timers.due(NOW) == []
    assert timers.next_due() == NOW.replace(tzinfo=None) + dt.timedelta(minutes=10)
    (due,) = timers.due(NOW + dt.timedelta(minutes=10))
    assert (due.state, due.index) == ("wait", 0)
    assert timers.fired(due.id) and not timers.fired(due.id)


def test_a_busy_database_is_retried_then_reported_without_acknowledging(
    parts: tuple[Store, Outbox, Timers, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, outbox, _timers, scenario = parts
    store.sleep = lambda seconds: None
    calls = {"n": 0}
    real = store._process

    def flaky(*args: object) -> object:
        calls["n"] += 1
        if calls["n"] < 3:
            raise peewee.OperationalError("database is locked")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "_process", flaky)
    hello(store, scenario, 1)
    assert calls["n"] == 3 and len(outbox.pending(NOW)) == 2
    monkeypatch.setattr(
        store,
        "_process",
        lambda *args: (_ for _ in ()).throw(peewee.OperationalError("disk I/O error")),
    )
    with pytest.raises(StoreUnavailable, match="refused the batch 6 times"):
        hello(store, scenario, 2)
