"""Timer delays computed from variables (`delay: "{{ minutes }}m"`): read when the state is
entered; a value that is no duration is a reported problem, never a crash or a silent timer."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from builders import Conversation, compile_yaml, texts

from engine.core.effects import Effect, ReportProblem, StartTimer
from engine.scenario import validate_file
from engine.testing import run_test_files

REMINDER = """
bot: {name: T, start: menu}
vars: {minutes: 5}
states:
  menu:
    say: "Remind you in {{ minutes }} minutes?"
    buttons:
      - [{text: Yes, goto: waiting}, {text: Later, set: {minutes: 30}, goto: waiting}]
      - [{text: Never, set: {minutes: null}, goto: waiting}, {text: Bare, set: {minutes: 7}, goto: bare}]
      - [{text: Forever, set: {minutes: 600000}, goto: waiting}, {text: Split, goto: split}]
  waiting:
    say: Waiting.
    buttons: [{text: Back, goto: menu}]
    after: {delay: "{{ minutes }}m", say: Time is up!, goto: menu}
  bare:
    say: Bare.
    buttons: [{text: Back, goto: menu}]
    after:
      - {delay: 1h, say: An hour.}
      - {delay: "{{ minutes }}", say: Never seen.}
  split:
    say: Split.
    buttons: [{text: Back, goto: menu}]
    after: {delay: "{{ 60 // (minutes - 5) }}m", say: Never seen.}
"""


def timers(effects: list[Effect]) -> list[StartTimer]:
    return [e for e in effects if isinstance(e, StartTimer)]


def problems(effects: list[Effect]) -> list[str]:
    return [e.message for e in effects if isinstance(e, ReportProblem)]


def test_the_delay_is_read_from_the_variable_when_the_state_is_entered(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(REMINDER, tmp_path))
    chat.send("/start")
    (timer,) = timers(chat.press("Yes"))
    assert timer.due == chat.now + dt.timedelta(minutes=5)
    chat.press("Back")
    (timer,) = timers(chat.press("Later"))
    assert timer.due == chat.now + dt.timedelta(minutes=30)
    assert texts(chat.fire("waiting", 0, timer.epoch)) == [
        "Time is up!",
        "Remind you in 30 minutes?",
    ]


def test_a_null_delay_is_reported_and_the_timer_does_not_start(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(REMINDER, tmp_path))
    chat.send("/start")
    effects = chat.press("Never")
    assert texts(effects) == ["Waiting."]  # the state is shown all the same
    assert timers(effects) == []
    assert problems(effects) == [
        "timer 1 of state 'waiting' was not started (delay `{{ minutes }}m`): 'm' is not a "
        "duration; write a number and a unit, like 30s, 10m, 2h, 1d or 1h30m."
    ]
    assert chat.session.state == "waiting"


def test_a_number_without_a_unit_is_reported_and_the_other_timers_start(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(REMINDER, tmp_path))
    chat.send("/start")
    effects = chat.press("Bare")
    assert [t.index for t in timers(effects)] == [0]
    assert problems(effects) == [
        "timer 2 of state 'bare' was not started (delay `{{ minutes }}`): '7' has no unit; "
        "write it with one, like 7s, 7m or 7h."
    ]


def test_a_delay_over_a_year_is_reported(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(REMINDER, tmp_path))
    chat.send("/start")
    effects = chat.press("Forever")
    assert timers(effects) == []
    assert problems(effects) == [
        "timer 1 of state 'waiting' was not started (delay `{{ minutes }}m`): '600000m' is "
        "longer than a year; timers may be at most 366d."
    ]


def test_a_delay_that_cannot_be_computed_is_reported(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(REMINDER, tmp_path))
    chat.send("/start")
    effects = chat.press("Split")
    assert texts(effects) == ["Split."] and timers(effects) == []
    (problem,) = [e for e in effects if isinstance(e, ReportProblem)]
    assert problem.kind == "template_failed"
    assert problem.message.startswith(
        "timer 1 of state 'split' was not started: its delay `{{ 60 // (minutes - 5) }}m` "
        "cannot be computed: "
    )


def diagnostics(tmp_path: Path, text: str) -> list[tuple[int, str, str]]:
    path = tmp_path / "bot.yaml"
    path.write_text(text, "utf-8")
    return [(d.position.line, d.code, d.message) for d in validate_file(str(path)).diagnostics]


def test_the_checker_accepts_a_template_and_checks_its_names(tmp_path: Path) -> None:
    assert diagnostics(tmp_path, REMINDER) == []
    found = diagnostics(tmp_path, REMINDER.replace('"{{ minutes }}m"', '"{{ minuts }}m"'))
    assert [(line, code) for line, code, _ in found] == [(14, "undefined-variable")]
    assert "Did you mean 'minutes'?" in found[0][2]


def test_literal_delays_are_checked_as_before(tmp_path: Path) -> None:
    found = diagnostics(tmp_path, REMINDER.replace("delay: 1h", "delay: 1 parsec"))
    assert [(line, code) for line, code, _ in found] == [(19, "invalid-duration")]


def test_only_a_timers_delay_may_be_a_template(tmp_path: Path) -> None:
    http = """
bot: {name: T, start: a}
vars: {seconds: 5}
states:
  a:
    do: [{http: {url: "https://x.example", timeout: "{{ seconds }}s"}}]
    say: Done.
    end: true
"""
    found = diagnostics(tmp_path, http)
    assert [(line, code) for line, code, _ in found] == [(6, "invalid-duration")]
    assert "only a timer's `delay` can be computed" in found[0][2]


def test_a_conversation_test_waits_for_a_computed_delay(tmp_path: Path) -> None:
    (tmp_path / "bot.yaml").write_text(REMINDER, "utf-8")
    tests = tmp_path / "bot.tests.yaml"
    tests.write_text(
        """\
- name: later means half an hour
  steps:
    - send: /start
    - press: Later
    - wait: 29m
      no_reply: true
    - wait: 1m
      expect: [Time is up!, Remind you in 30 minutes?]
""",
        "utf-8",
    )
    out = io.StringIO()
    assert run_test_files([str(tests)], out) == 0, out.getvalue()
