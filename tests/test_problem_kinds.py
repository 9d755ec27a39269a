"""Issue 14, problems: every kind of runtime failure an operator must hear of reaches the one
problem sink under its own kind (so it is logged, counted by kind and alerted): a template that
did not render, a plugin or HTTP action that failed, a step that raised, a user who blocked
the bot (403)."""

from __future__ import annotations

import logging
from pathlib import Path

import peewee
import pytest
from builders import NOW, compile_yaml
from outbox_helpers import T0, Clock, queue
from store_fixtures import text_update

from engine.core.effects import SendText
from engine.core.interpreter import step
from engine.core.ports import OfflineServices
from engine.ops.problems import Problem, ProblemSink
from engine.runtime.sender import Limits, Sender
from engine.store.models import UserRow
from engine.store.pipeline import Store
from engine.store.queues import Outbox
from engine.telegram.bot_api import BotApi
from engine.testing.fake_telegram import FakeTelegram

BOT = """
bot: {name: Shop, start: menu}
vars: {total: null}
states:
  menu:
    say: Send plugin, template or http.
    on:
      - text: plugin
        do: [{call: price, save_as: total}]
        say: "Total: {{ total }}"
      - text: template
        say: "Broken: {{ total.price.amount }}"
      - text: http
        do: [{http: {method: GET, url: "https://orders.example/", save_as: total}}]
        say: Asked.
"""


def _broken_price(arguments: object, context: object) -> object:
    raise RuntimeError("the price list is gone")


def _unreachable(call: object) -> object:
    raise OSError("connection refused")


@pytest.mark.parametrize(
    ("words", "kind"),
    [("plugin", "plugin_failed"), ("template", "template_failed"), ("http", "http_failed")],
)
def test_each_failure_in_a_step_is_reported_under_its_own_kind(
    db: peewee.Database,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    words: str,
    kind: str,
) -> None:
    scenario = compile_yaml(BOT, tmp_path)
    services = OfflineServices(plugins={"price": _broken_price})
    services.http = _unreachable  # type: ignore[method-assign,assignment]
    sink = ProblemSink()
    seen: list[Problem] = []
    sink.listeners.append(seen.append)
    store = Store(db, "shop", problems=sink)

    def handle(session, event):  # type: ignore[no-untyped-def]
        return step(scenario, session, event, NOW, services)

    store.process([text_update(1, 42, "hi")], handle, NOW)
    with caplog.at_level(logging.INFO, logger="engine.problems"):
        store.process([text_update(2, 42, words)], handle, NOW)
    assert [p.kind for p in seen] == [kind], seen
    assert sink.counts[kind] == 1
    [record] = caplog.records
    assert record.getMessage().startswith(f"{kind}: ")
    assert "state=menu event=text user=42 chat=42 update=2" in record.getMessage()


def test_a_step_that_raises_is_a_step_failed(
    db: peewee.Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = compile_yaml(BOT, tmp_path)
    sink = ProblemSink()
    seen: list[Problem] = []
    sink.listeners.append(seen.append)
    store = Store(db, "shop", problems=sink)

    def handle(session, event):  # type: ignore[no-untyped-def]
        return step(scenario, session, event, NOW)

    store.process([text_update(1, 42, "hi")], handle, NOW)
    import engine.core.interpreter as interpreter

    def boom(self: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(interpreter._Step, "handle", boom)
    store.process([text_update(2, 42, "plugin")], handle, NOW)
    assert [p.kind for p in seen] == ["step_failed"]


def test_a_user_who_blocked_the_bot_is_reported_once_as_user_blocked(
    sqlite_db: peewee.Database, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    UserRow.create(id=10, first_name="A", first_seen=T0, updated=T0)
    queue(SendText(10, "one"), SendText(10, "two"))
    fake.fail("sendMessage", 403, description="Forbidden: bot was blocked by the user")
    sink = ProblemSink()
    send = Sender(
        Outbox(sqlite_db),
        BotApi(fake.url, fake.token, read_timeout=1),
        Limits(),
        clock=Clock(),
        problems=sink,
    )
    with caplog.at_level(logging.INFO, logger="engine.problems"):
        send.run_once()
    assert [r.getMessage() for r in caplog.records] == [
        "user_blocked: the user blocked the bot; their queued messages are dropped "
        "[user=10 chat=10]"
    ]
    assert caplog.records[0].levelno == logging.WARNING
    assert sink.counts["user_blocked"] == 1
