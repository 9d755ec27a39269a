"""A chat's replies leave in outbox order across restarts and processes: while the chat's
earliest unsent message waits out a 429 (or a 5xx backoff), a restarted sender, or another
process taking over, does not send the chat's later ones first. On SQLite and PostgreSQL."""

from __future__ import annotations

import peewee
import pytest
from outbox_helpers import Clock, queue, status

from engine.core.effects import SendText
from engine.runtime.sender import Limits, Sender
from engine.store.queues import Outbox
from engine.telegram.bot_api import BotApi
from engine.testing.fake_telegram import FakeTelegram


@pytest.fixture
def clock() -> Clock:
    return Clock()


def a_process(db: peewee.Database, fake: FakeTelegram, clock: Clock) -> Sender:
    """A sender as a new process starts it: its limits and pauses start empty."""
    api = BotApi(fake.url, fake.token, read_timeout=1)
    return Sender(Outbox(db), api, Limits(chat_burst=3), clock=clock)


def test_a_process_taking_over_during_a_429_keeps_the_chats_order(
    db: peewee.Database, fake: FakeTelegram, clock: Clock
) -> None:
    one, two, three = queue(SendText(10, "1"), SendText(10, "2"), SendText(10, "3"))
    other = queue(SendText(11, "meanwhile"))
    fake.fail("sendMessage", 429, times=1, retry_after=5)
    first = a_process(db, fake, clock)
    first.run_once()  # 1 waits five seconds; 2 and 3 wait behind it
    assert [status(r) for r in (one, two, three)] == ["pending"] * 3
    clock.tick(1)
    taking_over = a_process(db, fake, clock)  # a restart, or the lease's next holder
    taking_over.run_once()
    assert fake.texts_to(10) == []  # not 2 and 3 before 1
    assert fake.texts_to(11) == ["meanwhile"] and status(other[0]) == "sent"
    clock.tick(4)
    taking_over.run_once()
    assert fake.texts_to(10) == ["1", "2", "3"]


def test_after_a_restart_a_chat_waits_out_a_5xx_backoff_in_order(
    db: peewee.Database, fake: FakeTelegram, clock: Clock
) -> None:
    queue(SendText(10, "1"), SendText(10, "2"))
    fake.fail("sendMessage", 502, times=1)
    a_process(db, fake, clock).run_once()
    restarted = a_process(db, fake, clock)
    for _ in range(10):
        clock.tick(0.5)
        restarted.run_once()
        assert fake.texts_to(10) in ([], ["1"], ["1", "2"])
    assert fake.texts_to(10) == ["1", "2"]
