"""Issue 14, alerts: problems reach the admins as Telegram messages queued in the outbox (real
SQLite and PostgreSQL, sent by the real sender to the fake Bot API): the first of a kind at
once, then at most one summary per interval, in the bot's language; a failing alert never
makes another one."""

from __future__ import annotations

import datetime as dt

import peewee

from engine.core.effects import NotifyChat
from engine.ops.alerts import Alerts, interval_text
from engine.ops.problems import Problem, ProblemSink
from engine.runtime.sender import Limits, Sender
from engine.store.models import OutboxRow
from engine.store.queues import Outbox
from engine.store.serialization import effect_from_json
from engine.telegram.bot_api import BotApi
from engine.testing.fake_telegram import FakeTelegram

WALL = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def alerts_of(db: peewee.Database) -> list[tuple[int, str]]:
    rows = OutboxRow.select().where(OutboxRow.kind == "NotifyChat").order_by(OutboxRow.id)
    out = []
    for row in rows:
        effect = effect_from_json(row.payload)
        assert isinstance(effect, NotifyChat)
        out.append((row.chat_id, effect.text))
    return out


def make(db: peewee.Database, clock: Clock, language: str = "en") -> tuple[ProblemSink, Alerts]:
    sink = ProblemSink()
    alerts = Alerts(
        db, (901, 902), 600, lambda: language, lambda: "Shop", clock=clock, wall=lambda: WALL
    )
    sink.listeners.append(alerts)
    return sink, alerts


def plugin_problem(user: int) -> Problem:
    return Problem("plugin_failed", "plugin action 'price' failed", "menu", "text", user, user)


def test_the_first_problem_is_alerted_at_once_to_every_admin(db: peewee.Database) -> None:
    clock = Clock()
    sink, alerts = make(db, clock)
    sink.report(plugin_problem(42))
    assert alerts_of(db) == []  # the listener never writes: the alerts loop does
    assert alerts.run_once() == 2
    [(first_chat, text), (second_chat, same)] = alerts_of(db)
    assert (first_chat, second_chat) == (901, 902) and text == same
    assert text.splitlines() == [
        "⚠️ Shop: a problem (plugin_failed)",
        "plugin_failed: plugin action 'price' failed [state=menu event=text user=42 chat=42]",
        "More problems come as one summary at most every 10m. Details: the bot's log.",
    ]


def test_more_of_the_kind_wait_for_one_summary_after_the_interval(db: peewee.Database) -> None:
    clock = Clock()
    sink, alerts = make(db, clock)
    sink.report(plugin_problem(42))
    alerts.run_once()
    for user in (43, 44, 45):
        sink.report(plugin_problem(user))
    sink.report(Problem("template_failed", "cannot render `{{ x.y }}`", "menu"))  # a new kind
    clock.now += 60
    alerts.run_once()
    texts = [text for chat, text in alerts_of(db) if chat == 901]
    assert len(texts) == 2 and texts[1].startswith("⚠️ Shop: a problem (template_failed)")
    sink.report(plugin_problem(46))
    clock.now += 539
    assert alerts.run_once() == 0  # not yet ten minutes
    clock.now += 1
    assert alerts.run_once() == 2
    summary = [text for chat, text in alerts_of(db) if chat == 901][2]
    assert summary.splitlines() == [
        "⚠️ Shop: problems since 12:00 UTC",
        "plugin_failed: 4 times",
        "  Last: plugin_failed: plugin action 'price' failed "
        "[state=menu event=text user=46 chat=46]",
    ]
    clock.now += 600  # a quiet interval: nothing is sent, and the next problem is told at once
    assert alerts.run_once() == 0
    sink.report(plugin_problem(47))
    assert alerts.run_once() == 2


def test_alerts_speak_the_bots_language(db: peewee.Database) -> None:
    clock = Clock()
    sink, alerts = make(db, clock, language="de")
    sink.report(plugin_problem(42))
    sink.report(plugin_problem(43))
    alerts.run_once()
    clock.now += 600
    alerts.run_once()
    first, summary = [text for chat, text in alerts_of(db) if chat == 901]
    assert first.startswith("⚠️ Shop: ein Problem (plugin_failed)")
    assert "höchstens alle 10m" in first
    assert summary.splitlines()[:2] == ["⚠️ Shop: Probleme seit 12:00 UTC", "plugin_failed: 1-mal"]


def test_a_failing_alert_send_is_logged_but_never_alerted_again(
    sqlite_db: peewee.Database, fake: FakeTelegram
) -> None:
    clock = Clock()
    sink, alerts = make(sqlite_db, clock)
    sender = Sender(
        Outbox(sqlite_db),
        BotApi(fake.url, fake.token, read_timeout=1),
        Limits(),
        problems=sink,
    )
    fake.fail("sendMessage", 400, description="Bad Request: chat not found", times=100)
    sink.report(plugin_problem(42))
    alerts.run_once()
    sender.run_once()  # both admins' alerts refused: two send_failed problems
    assert sink.counts["send_failed"] == 2
    for _ in range(3):
        clock.now += 600
        assert alerts.run_once() == 0  # nothing new to tell: no alert about the alerts
        sender.run_once()
    assert OutboxRow.select().where(OutboxRow.kind == "NotifyChat").count() == 2
    assert sink.counts == {"plugin_failed": 1, "send_failed": 2}


def test_the_interval_is_written_as_the_operator_writes_it() -> None:
    assert [interval_text(s) for s in (600, 5400, 45, 3601)] == ["10m", "1h30m", "45s", "1h1s"]
