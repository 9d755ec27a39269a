"""Issue 12, item 6: every runtime problem reaches one sink, which logs it once at WARNING or
ERROR with the state, the event kind, the user and the cause, counts it, and passes it on."""

from __future__ import annotations

import logging
from pathlib import Path

import peewee
import pytest
from builders import NOW, compile_yaml
from store_fixtures import text_update

from engine.core.interpreter import step
from engine.core.ports import OfflineServices
from engine.core.store_protocol import IncomingUpdate
from engine.ops.problems import Problem, ProblemSink
from engine.store.pipeline import Store

PLUGIN_BOT = """
bot: {name: Shop, start: menu}
vars: {total: null}
states:
  menu:
    say: Send anything.
    on:
      - do: [{call: price, save_as: total}]
        say: "Total: {{ total }}"
"""


def _broken_price(arguments: object, context: object) -> object:
    raise RuntimeError("the price list is gone")


def test_a_problem_is_logged_once_with_its_context_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = ProblemSink()
    seen: list[Problem] = []
    sink.listeners.append(seen.append)
    problem = Problem("step", "plugin failed", "menu", "text", 42, 42, 7)
    with caplog.at_level(logging.INFO, logger="engine.problems"):
        sink.report(problem)
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "step: plugin failed [state=menu event=text user=42 chat=42 update=7]"
    )
    assert sink.counts["step"] == 1 and seen == [problem]


def test_a_failing_listener_neither_hides_the_problem_nor_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = ProblemSink()

    def broken(problem: Problem) -> None:
        raise ValueError("alerts are down")

    sink.listeners.append(broken)
    with caplog.at_level(logging.INFO, logger="engine.problems"):
        sink.report(Problem("send_failed", "Telegram refused it"))
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "send_failed: Telegram refused it"
    assert "a problem listener failed on send_failed" in messages[1]
    assert sink.counts["send_failed"] == 1


def test_the_traceback_is_logged_at_debug_only(caplog: pytest.LogCaptureFixture) -> None:
    sink = ProblemSink()
    try:
        raise KeyError("boom")
    except KeyError as exc:
        with caplog.at_level(logging.WARNING, logger="engine.problems"):
            sink.report(Problem("step_failed", "step failed: KeyError"), exc)
        assert all(r.exc_info is None for r in caplog.records)
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="engine.problems"):
            sink.report(Problem("step_failed", "step failed: KeyError"), exc)
    assert any(r.exc_info is not None for r in caplog.records)


def test_a_plugin_that_raises_in_a_live_step_is_logged_with_state_event_and_user(
    db: peewee.Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    scenario = compile_yaml(PLUGIN_BOT, tmp_path)
    services = OfflineServices(plugins={"price": _broken_price})
    sink = ProblemSink()
    store = Store(db, "shop", problems=sink)

    def handle(session, event):  # type: ignore[no-untyped-def]
        return step(scenario, session, event, NOW, services)

    store.process([text_update(1, 42, "hi")], handle, NOW)  # enters the menu
    with caplog.at_level(logging.DEBUG, logger="engine.problems"):
        store.process([text_update(2, 42, "two pizzas")], handle, NOW)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
    message = warnings[0].getMessage()
    assert "plugin action 'price' failed: RuntimeError: the price list is gone" in message
    assert "state=menu event=text user=42 chat=42 update=2" in message
    assert "two pizzas" not in message  # no message text in the log
    assert sink.counts["plugin_failed"] == 1


def test_an_unreadable_update_is_reported_but_an_ignored_kind_is_not(
    db: peewee.Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink = ProblemSink()
    store = Store(db, "shop", problems=sink)
    unreadable = IncomingUpdate(5, '{"update_id": 5}', None, None, "malformed: no message")
    ignored = IncomingUpdate(6, '{"update_id": 6}', None, None, "ignored: a poll")
    with caplog.at_level(logging.INFO, logger="engine.problems"):
        store.process([unreadable, ignored], lambda s, e: step(None, s, e, NOW), NOW)  # type: ignore[arg-type]
    assert [r.getMessage() for r in caplog.records] == [
        "update_set_aside: malformed: no message [update=5]"
    ]
