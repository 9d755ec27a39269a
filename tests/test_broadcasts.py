"""Broadcast jobs (engine/admin/broadcasts.py) on a real database (SQLite and PostgreSQL),
sent by the real sender to the fake Bot API: who gets one, that replies go first, that a
blocked user is marked and skipped, cancelling, the report, and the audit log."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import peewee
import pytest
from builders import compile_yaml
from outbox_helpers import T0, Clock, queue
from store_fixtures import StoreBot, text_update

from engine.admin.broadcast_command import follow_progress
from engine.admin.broadcasts import (
    BroadcastError,
    BroadcastFeeder,
    cancel,
    count_recipients,
    create,
    listing,
    report,
)
from engine.core.effects import SendText
from engine.runtime.sender import Limits, Sender
from engine.store.models import AuditRow, BroadcastRow, OutboxRow, SessionRow, UserRow
from engine.store.pipeline import Store
from engine.store.queues import Outbox
from engine.telegram.bot_api import BotApi
from engine.testing.fake_telegram import FakeTelegram

NOW = T0.replace(tzinfo=None)


def users(db: peewee.Database) -> None:
    """Users 1-6: 1-3 speak German, 4-6 English; 3 blocked the bot; 5 was last seen 40
    days ago; 2 and 4 are in state `shop` with a cart."""
    for user_id in range(1, 7):
        seen = NOW - dt.timedelta(days=40 if user_id == 5 else 1)
        UserRow.create(
            id=user_id,
            first_name=f"U{user_id}",
            language="de" if user_id <= 3 else "en",
            blocked=user_id == 3,
            first_seen=seen,
            updated=seen,
        )
        in_shop = user_id in (2, 4)
        SessionRow.create(
            chat_id=user_id,
            user_id=user_id,
            scenario="main",
            state="shop" if in_shop else "start",
            vars=json.dumps({"cart": 3} if in_shop else {}),
            updated=seen,
        )


def sender(db: peewee.Database, fake: FakeTelegram, clock: Clock, per_second: float) -> Sender:
    result = Sender(Outbox(db), BotApi(fake.url, fake.token, read_timeout=1), Limits(per_second))
    result.clock = clock
    result.feeder = BroadcastFeeder(db).feed
    return result


def drain(send: Sender, clock: Clock, rounds: int = 30) -> None:
    for _ in range(rounds):
        send.run_once()
        clock.tick(1.0)


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (None, [1, 2, 4, 5, 6]),
        ("language == 'de'", [1, 2]),
        ("state == 'shop' and cart > 2", [2, 4]),
        ("days_since_seen < 30", [1, 2, 4, 6]),
        ("vars.cart is defined", [2, 4]),
    ],
)
def test_a_broadcast_reaches_the_users_its_condition_picks_once_each_and_not_the_blocked(
    db: peewee.Database, fake: FakeTelegram, where: str | None, expected: list[int]
) -> None:
    users(db)
    assert count_recipients(db, where, NOW) == len(expected)
    broadcast = create(db, text="Sale < today", message_key=None, where=where, actor="cli", now=NOW)
    clock = Clock()
    drain(sender(db, fake, clock, 30), clock, 5)
    calls = fake.calls_of("sendMessage")
    assert sorted(int(c.params["chat_id"]) for c in calls) == expected
    assert {c.params["text"] for c in calls} == {"Sale < today"}
    done = report(db, broadcast)
    assert (done.status, done.sent, done.blocked, done.failed) == ("done", len(expected), 0, 0)
    assert done.skipped == (
        1 if where in (None, "language == 'de'", "days_since_seen < 30") else 0
    )  # user 3, blocked


def test_a_user_who_blocked_the_bot_meanwhile_is_marked_and_counted_as_blocked(
    db: peewee.Database, fake: FakeTelegram
) -> None:
    users(db)
    fake.fail("sendMessage", 403, description="Forbidden: bot was blocked by the user")
    broadcast = create(db, text="News", message_key=None, where=None, actor="cli", now=NOW)
    clock = Clock()
    drain(sender(db, fake, clock, 30), clock, 5)
    done = report(db, broadcast)
    assert (done.status, done.sent, done.blocked, done.failed) == ("done", 4, 1, 0)
    assert UserRow.get_by_id(1).blocked  # the first one sent to answered 403
    assert "blocked 2" in done.line()  # with user 3, skipped as blocked before


def test_replies_go_first_and_a_broadcast_takes_only_the_room_left_in_a_second(
    db: peewee.Database, fake: FakeTelegram
) -> None:
    for user_id in range(1, 41):
        UserRow.create(id=user_id, language="en", first_seen=NOW, updated=NOW)
    replies = queue(*(SendText(1000 + i, f"reply {i}") for i in range(8)))
    broadcast = create(db, text="News", message_key=None, where=None, actor="cli", now=NOW)
    clock = Clock()
    send = sender(db, fake, clock, 10)  # ten messages a second in all
    send.run_once()
    first = [int(c.params["chat_id"]) for c in fake.calls_of("sendMessage")]
    assert first == [1000 + i for i in range(8)]  # the replies only, in their order
    assert report(db, broadcast).queued == 2  # the room they left: 10 a second less 8
    clock.tick(1.0)
    send.run_once()
    assert [int(c.params["chat_id"]) for c in fake.calls_of("sendMessage")][8:] == [1, 2]
    drain(send, clock, 10)
    assert {row.status for row in OutboxRow.select().where(OutboxRow.id.in_(replies))} == {"sent"}
    assert report(db, broadcast).sent == 40


def test_a_cancelled_broadcast_sends_nothing_more_and_keeps_its_counts(
    db: peewee.Database, fake: FakeTelegram
) -> None:
    for user_id in range(1, 51):
        UserRow.create(id=user_id, language="en", first_seen=NOW, updated=NOW)
    broadcast = create(db, text="News", message_key=None, where=None, actor="cli", now=NOW)
    clock = Clock()
    send = sender(db, fake, clock, 10)
    send.run_once()  # queues ten
    send.run_once()  # sends them
    ended = cancel(db, broadcast, "cli", NOW)
    assert (ended.status, ended.sent, ended.pending) == ("cancelled", 10, 0)
    drain(send, clock, 5)
    assert len(fake.calls_of("sendMessage")) == 10
    assert report(db, broadcast).sent == 10
    with pytest.raises(BroadcastError, match="cancelled already"):
        cancel(db, broadcast, "cli", NOW)
    actions = [(a.actor, a.action, a.subject) for a in AuditRow.select().order_by(AuditRow.id)]
    assert actions == [
        ("cli", "broadcast", str(broadcast)),
        ("cli", "broadcast_cancel", str(broadcast)),
    ]
    assert [r.id for r in listing(db)] == [broadcast]


def test_a_broadcast_that_cannot_be_made_is_refused_with_why(db: peewee.Database) -> None:
    with pytest.raises(BroadcastError, match="not a condition"):
        create(db, text="x", message_key=None, where="language ==", actor="cli", now=NOW)
    with pytest.raises(BroadcastError, match="empty"):
        create(db, text=" ", message_key=None, where=None, actor="cli", now=NOW)
    with pytest.raises(BroadcastError, match="4096"):
        create(db, text="x" * 4097, message_key=None, where=None, actor="cli", now=NOW)
    with pytest.raises(BroadcastError, match="no broadcast 7"):
        cancel(db, 7, "cli", NOW)
    assert AuditRow.select().count() == 0


def test_the_operator_counts_queues_lists_and_cancels_from_the_command_line(
    db: peewee.Database, store_url: str, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    users(db)
    monkeypatch.setenv("DATABASE_URL", store_url)
    dry = cli("--broadcast", "--text", "Hi", "--where", "language == 'de'", "--dry-run")
    assert (dry.code, dry.out) == (0, "2 users would get this broadcast (nothing was sent)\n")
    assert BroadcastRow.select().count() == 0
    queued = cli("--broadcast", "--text", "Hi all", "--where", "state == 'shop'")
    assert queued.code == 0, queued.err
    assert queued.out.startswith("broadcast #1 queued; the running bot sends it")
    listed = cli("--broadcasts")
    assert listed.lines[0].startswith("#1 queued: 'Hi all' where state == 'shop': sent 0,")
    stopped = cli("--cancel", "1")
    assert stopped.code == 0 and stopped.out.startswith("#1 cancelled:")
    again = cli("--cancel", "1")
    assert (again.code, again.err) == (1, "run.py: broadcast 1 is cancelled already\n")
    audited = [
        (a.actor, a.action, json.loads(a.details)["via"])
        for a in AuditRow.select().order_by(AuditRow.id)
    ]
    assert audited == [("cli", "broadcast", "cli"), ("cli", "broadcast_cancel", "cli")]


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--broadcast"], "--broadcast needs --text TEXT or --message NAME"),
        (["--text", "x"], "--text, --message, --where and --dry-run apply to --broadcast only"),
        (["--message", "x"], "--text, --message, --where and --dry-run apply to --broadcast"),
        (["--cancel", "1", "--dry-run"], "--text, --message, --where and --dry-run apply to"),
    ],
)
def test_broadcast_options_out_of_place_are_usage_errors(
    cli: Any, argv: list[str], error: str
) -> None:
    result = cli(*argv)
    assert result.code == 2 and error in result.err


def test_a_condition_that_is_not_one_is_refused_before_anything_is_queued(
    db: peewee.Database, store_url: str, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", store_url)
    result = cli("--broadcast", "--text", "x", "--where", "language ==")
    assert result.code == 1 and "is not a condition" in result.err
    assert BroadcastRow.select().count() == 0


def test_the_progress_bar_follows_the_counts_the_sender_writes(
    db: peewee.Database, fake: FakeTelegram
) -> None:
    users(db)
    broadcast = create(db, text="News", message_key=None, where=None, actor="cli", now=NOW)
    clock = Clock()
    send = sender(db, fake, clock, 2)  # two a second: the bar sees it in steps

    def one_second(_: float) -> None:
        send.run_once()
        clock.tick(1.0)

    out = io.StringIO()
    final = follow_progress(db, broadcast, out, sleep=one_second)
    assert (final.status, final.sent, final.skipped) == ("done", 5, 1)
    shown = out.getvalue()
    assert f"broadcast #{broadcast}" in shown and "5/5" in shown and "blocked=1" in shown
    assert "2/2" in shown  # a step on the way, before everybody was queued


ADMIN_SCENARIO = """
bot: {name: Shop, start: menu}
states:
  menu:
    say: Hi
    on:
      - {text: announce, goto: announce}
  announce:
    only: [admin]
    say: What should everybody read?
    on:
      - do: [{broadcast: {text: "{{ message.text }}", where: "language == 'en'"}}]
        say: Queued.
        goto: menu
"""


def test_an_admin_starts_a_broadcast_from_telegram_and_is_told_how_it_went(
    db: peewee.Database, fake: FakeTelegram, tmp_path: Path
) -> None:
    users(db)
    bot = StoreBot(compile_yaml(ADMIN_SCENARIO, tmp_path), Store(db, "main"))
    admins = {900: frozenset({"admin"})}

    def say(update_id: int, user_id: int, words: str) -> None:
        update = text_update(update_id, user_id, words)
        bot.store.process([update], bot.handle, NOW, lambda u: admins.get(u, frozenset()))

    say(1, 900, "/start")
    say(2, 900, "announce")
    say(3, 900, "Open on Sunday")
    assert bot.replies(900)[-2:] == ["Queued.", "Hi"]
    [row] = BroadcastRow.select()
    assert (row.text, row.condition, row.created_by) == (
        "Open on Sunday",
        "language == 'en'",
        "admin:900",
    )
    audit = AuditRow.get(AuditRow.action == "broadcast")
    assert (audit.actor, json.loads(audit.details)["via"]) == ("admin:900", "chat")
    clock = Clock()
    drain(sender(db, fake, clock, 30), clock, 15)  # the admin's chat: one a second
    got = {
        int(c.params["chat_id"])
        for c in fake.calls_of("sendMessage")
        if c.params["text"] == "Open on Sunday"
    }
    assert got == {4, 5, 6, 900}  # the admin speaks English too
    told = [
        str(c.params["text"])
        for c in fake.calls_of("sendMessage")
        if int(c.params["chat_id"]) == 900
    ]
    assert told[-3:-1] == [f"broadcast #{row.id} started", "Open on Sunday"]
    assert told[-1].startswith(f"#{row.id} done: 'Open on Sunday' where language == 'en': sent 4,")


def test_a_user_who_is_no_admin_starts_no_broadcast_and_it_is_reported(
    db: peewee.Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    scenario = ADMIN_SCENARIO.replace("    only: [admin]\n", "")
    bot = StoreBot(compile_yaml(scenario, tmp_path), Store(db, "main"))
    bot.say(1, 7, "/start")
    bot.say(2, 7, "announce")
    bot.say(3, 7, "Free pizza for all")
    assert bot.replies(7)[-2:] == ["Queued.", "Hi"]  # the scenario went on; the broadcast did not
    assert BroadcastRow.select().count() == 0
    assert "broadcast: only an admin can start one" in caplog.text
