"""Paid broadcasts (BOT_PAID_BROADCAST): a broadcast's messages, and only those, carry
`allow_paid_broadcast` and go at their own rate beside the replies'; checked on the fake
Bot API (which knows the parameter from the Bot API's own description), on SQLite and
PostgreSQL; and the settings that switch them on."""

from __future__ import annotations

from typing import Any

import peewee
import pytest
from outbox_helpers import T0, Clock, queue

from engine.admin.broadcasts import BroadcastFeeder, create, report
from engine.core.effects import SendText
from engine.runtime.config import SettingsError, read_settings
from engine.runtime.sender import Limits, Sender
from engine.store.models import UserRow
from engine.store.queues import Outbox
from engine.telegram.bot_api import BotApi
from engine.testing.fake_telegram import FakeTelegram

NOW = T0.replace(tzinfo=None)
NEWS = "Big news"


def sender(db: peewee.Database, fake: FakeTelegram, clock: Clock, paid: bool) -> Sender:
    """Five messages a second in all; with paid broadcasts, fifty a second of broadcast."""
    limits = Limits(5, broadcast_per_second=50 if paid else 0)
    result = Sender(Outbox(db), BotApi(fake.url, fake.token, read_timeout=1), limits)
    result.clock = clock
    result.feeder = BroadcastFeeder(db).feed
    result.paid_broadcast = paid
    return result


def start(db: peewee.Database) -> int:
    """120 users, a broadcast to them started by an admin (its progress messages are not
    its own messages), and three replies waiting."""
    UserRow.insert_many(
        [{"id": i, "first_name": f"U{i}", "first_seen": NOW, "updated": NOW} for i in range(1, 121)]
    ).execute()
    broadcast = create(
        db, text=NEWS, message_key=None, where=None, actor="admin:900", now=NOW, progress_chat=900
    )
    queue(*(SendText(1000 + i, f"reply {i}") for i in range(3)))
    return broadcast


def paid_flags(fake: FakeTelegram) -> dict[str, set[Any]]:
    """The allow_paid_broadcast values sent, for the broadcast's messages and the others."""
    found: dict[str, set[Any]] = {"broadcast": set(), "other": set()}
    for call in fake.calls_of("sendMessage"):
        kind = "broadcast" if call.params["text"] == NEWS else "other"
        found[kind].add(call.params.get("allow_paid_broadcast"))
    return found


def test_only_the_broadcasts_messages_are_paid_and_they_go_beyond_the_free_rate(
    db: peewee.Database, fake: FakeTelegram
) -> None:
    broadcast = start(db)
    clock = Clock()
    send = sender(db, fake, clock, paid=True)
    send.run_once()  # the replies, and fifty of the broadcast queued
    assert report(db, broadcast).queued == 50  # ten times the free five a second
    clock.tick(1.0)
    send.run_once()
    assert sum(1 for c in fake.calls_of("sendMessage") if c.params["text"] == NEWS) == 50
    for _ in range(5):
        clock.tick(1.0)
        send.run_once()
    assert report(db, broadcast).sent == 120
    assert paid_flags(fake) == {"broadcast": {"true"}, "other": {None}}  # as form fields
    assert not fake.rejected  # the fake Bot API checks each call against the Bot API's spec


def test_without_paid_broadcasts_nothing_is_paid_and_the_broadcast_shares_the_free_rate(
    db: peewee.Database, fake: FakeTelegram
) -> None:
    broadcast = start(db)
    clock = Clock()
    send = sender(db, fake, clock, paid=False)
    send.run_once()
    assert report(db, broadcast).queued == 2  # five a second, less the three replies
    for _ in range(3):
        clock.tick(1.0)
        send.run_once()
    assert paid_flags(fake) == {"broadcast": {None}, "other": {None}}


@pytest.mark.parametrize(
    ("env", "rate", "problem"),
    [
        ({}, 0.0, None),
        ({"BOT_PAID_BROADCAST": "true"}, 970.0, None),
        ({"BOT_PAID_BROADCAST": "yes", "BOT_RATE_GLOBAL": "100"}, 900.0, None),
        ({"BOT_PAID_BROADCAST": "on", "BOT_PAID_BROADCAST_RATE": "200"}, 200.0, None),
        (
            {"BOT_PAID_BROADCAST": "true", "BOT_PAID_BROADCAST_RATE": "980"},
            None,
            "BOT_PAID_BROADCAST_RATE=980 and BOT_RATE_GLOBAL=30 add up to more than the 1000 "
            "messages a second Telegram allows with paid broadcasts; write at most "
            "BOT_PAID_BROADCAST_RATE=970",
        ),
        (
            {"BOT_PAID_BROADCAST_RATE": "500"},
            None,
            "BOT_PAID_BROADCAST_RATE applies only with BOT_PAID_BROADCAST=true",
        ),
        ({"BOT_PAID_BROADCAST": "maybe"}, None, "BOT_PAID_BROADCAST='maybe' is neither true"),
    ],
)
def test_the_paid_broadcast_settings_are_checked_at_start(
    env: dict[str, str], rate: float | None, problem: str | None
) -> None:
    environ = {"TELEGRAM_BOT_TOKEN": "1:abc", **env}
    if problem is None:
        assert read_settings(environ).paid_broadcast_rate == rate
        return
    with pytest.raises(SettingsError) as raised:
        read_settings(environ)
    assert problem in str(raised.value)
