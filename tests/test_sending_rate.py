"""The global sending limit counts messages in any second (Telegram's "30 messages per
second"), from the first second on; and a broadcast's share of it counts all its messages
still waiting, not only the round's worth the sender reads at once."""

from __future__ import annotations

import random

import peewee
import pytest
from outbox_helpers import T0, Clock

from engine.admin.broadcasts import BroadcastFeeder, create, report
from engine.runtime.sender import Limits, RateWindow, Sender
from engine.store.models import UserRow
from engine.store.queues import Outbox
from engine.telegram.bot_api import BotApi
from engine.testing.fake_telegram import FakeTelegram


def allowed(limits: Limits, moment: float, tries: int, broadcast: bool = False) -> int:
    """How many of `tries` messages, each to another chat, may go at `moment`."""
    return sum(limits.take(chat, moment, broadcast) for chat in range(tries))


def test_the_first_second_allows_the_rate_and_no_more() -> None:
    limits = Limits(10)
    assert allowed(limits, 1000.0, 15) == 10
    assert allowed(limits, 1000.5, 15) == 0  # a token bucket refilled five by now
    assert allowed(limits, 1000.99, 15) == 0
    assert allowed(limits, 1001.0, 15) == 10


@pytest.mark.parametrize("rate", [3.0, 10.0, 30.0, 2.5])
def test_no_second_ever_holds_more_than_the_rate(rate: float) -> None:
    window = RateWindow(rate)
    rng = random.Random(7)
    moment, taken = 0.0, []
    for _ in range(3000):
        moment += rng.expovariate(4 * rate)  # asked four times as often as allowed
        if window.take(moment):
            taken.append(moment)
    start = 0
    for end, at in enumerate(taken):  # the busiest window of one second ending at each
        while at - taken[start] >= 1.0:
            start += 1
        assert end - start + 1 <= int(rate)  # 2.5 a second: 2 (Telegram counts whole ones)
    assert len(taken) >= 0.8 * int(rate) * moment  # and it keeps up (asked at random moments)


def test_a_rate_below_one_a_second_sends_one_now_and_then() -> None:
    limits = Limits(0.5)  # one every two seconds
    assert [allowed(limits, 100.0 + t, 3) for t in (0.0, 1.0, 1.9, 2.0, 3.0, 4.0)] == [
        1,
        0,
        0,
        1,
        0,
        1,
    ]


def test_paid_broadcasts_have_their_own_window_beside_the_replies() -> None:
    limits = Limits(5, broadcast_per_second=50)
    assert allowed(limits, 10.0, 80, broadcast=True) == 50
    assert allowed(limits, 10.0, 8) == 5  # the replies' five are all still there


def test_a_broadcast_counts_all_its_waiting_messages_beyond_a_round(
    db: peewee.Database, fake: FakeTelegram
) -> None:
    """The sender reads at most 100 due rows a round: a broadcast at 500 a second was
    queued more each second while its earlier messages still waited."""
    now = T0.replace(tzinfo=None)
    UserRow.insert_many(
        [{"id": i, "first_name": "U", "first_seen": now, "updated": now} for i in range(1, 1501)]
    ).execute()
    broadcast = create(db, text="News", message_key=None, where=None, actor="cli", now=now)
    clock = Clock()
    send = Sender(Outbox(db), BotApi(fake.url, fake.token, read_timeout=1), Limits(500))
    send.clock = clock
    send.feeder = BroadcastFeeder(db).feed
    send.run_once()  # queues a second's worth: 500
    assert report(db, broadcast).queued == 500
    clock.tick(1.0)
    send.run_once()  # reads 100 of them, sends them; 400 still wait
    assert report(db, broadcast).queued == 500  # nothing more while a second's worth waits
    assert report(db, broadcast).sent == 100
    for _ in range(4):
        send.run_once()  # the other 400, a round's 100 at a time
    clock.tick(1.0)
    send.run_once()
    assert report(db, broadcast).queued == 1000
