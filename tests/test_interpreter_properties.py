"""Property tests: for random event sequences against the demo and against generated
scenarios, step() never fails, the session names an existing state, and every effect
respects Telegram's limits."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import yaml
from builders import demo, valid_html
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.core.effects import (
    AnswerButton,
    EditText,
    Effect,
    InlineButton,
    ReportProblem,
    SendMedia,
    SendText,
    StartTimer,
)
from engine.core.events import (
    ButtonPress,
    Chat,
    CommandMessage,
    ContactShared,
    Event,
    LocationShared,
    MediaMessage,
    TextMessage,
    TimerFired,
    User,
)
from engine.core.interpreter import step
from engine.core.model import Scenario
from engine.core.ports import HttpResponse, OfflineServices
from engine.core.session import new_session
from engine.scenario import validate_file
from engine.scenario.compiler import compile_scenario

DEMO = demo()
SERVICES = OfflineServices(
    config={"ORDERS_URL": "https://orders.example"},
    responses={"https://orders.example": HttpResponse(200, {"id": 7})},
    plugins={
        "check_stock": lambda arguments, context: {"available": True, "left": 3, "price": 9.5}
    },
)
WORDS = [
    "Small",
    "Large",
    "2",
    "11",
    "yes",
    "no",
    "same",
    "No code",
    "PP2024",
    "Main street 5",
    "hi",
    "done 12",
    "2030-01-02",
    "a@b.co",
    "+49 30 123456",
    "Nothing to add",
    "Skip",
    "🇷🇺 Русский",
]
COMMANDS = ["start", "help", "cancel", "language", "orders", "support", "nope"]

action = st.one_of(
    st.tuples(st.just("text"), st.one_of(st.sampled_from(WORDS), st.text(max_size=300))),
    st.tuples(st.just("command"), st.sampled_from(COMMANDS)),
    st.tuples(st.just("press"), st.integers(0, 12)),
    st.tuples(st.just("stale"), st.text(max_size=80)),
    st.tuples(st.just("contact"), st.just("+49301234567")),
    st.tuples(st.just("location"), st.floats(-90, 90)),
    st.tuples(
        st.just("media"), st.sampled_from(["photo", "document", "voice", "sticker", "video"])
    ),
    st.tuples(st.just("timer"), st.integers(0, 5)),
)


def check_limits(effects: tuple[Effect, ...]) -> None:
    for effect in effects:
        assert not (
            isinstance(effect, ReportProblem) and effect.message.startswith("step failed")
        ), effect
        if isinstance(effect, SendText | EditText):
            assert 1 <= len(effect.text) <= 4096
            assert parses(effect.text, effect.parse_mode), effect.text
        if isinstance(effect, SendMedia):
            assert len(effect.caption) <= 1024
            assert parses(effect.caption, effect.parse_mode), effect.caption
        markup = getattr(effect, "markup", None)
        if markup is not None:
            for row in markup.inline:
                for button in row:
                    assert button.url or 1 <= len((button.data or "").encode()) <= 64
        if isinstance(effect, AnswerButton):
            assert len(effect.text) <= 200


def parses(text: str, parse_mode: str | None) -> bool:
    """Whether Telegram can parse the text in its mode (each message on its own)."""
    if parse_mode == "HTML":
        return valid_html(text)
    if parse_mode == "MarkdownV2":
        return (len(text) - len(text.rstrip("\\"))) % 2 == 0  # no dangling backslash
    return True


def play(scenario: Scenario, actions: list[tuple[str, Any]], admin: bool) -> None:
    session = new_session(5, 5, frozenset({"admin"}) if admin else frozenset())
    user, chat = User(5, "Zoë", language="de"), Chat(5)
    now = dt.datetime(2026, 11, 25, 9, 0)
    buttons: list[InlineButton] = []
    timers: list[StartTimer] = []
    for seed, (kind, value) in enumerate(actions):
        base: dict[str, Any] = {"user": user, "chat": chat, "seed": seed}
        event: Event
        if kind == "text":
            event = TextMessage(**base, text=value)
        elif kind == "command":
            event = CommandMessage(**base, command=value)
        elif kind == "press" and buttons:
            event = ButtonPress(
                **base, data=buttons[value % len(buttons)].data or "", callback_id="c", message_id=1
            )
        elif kind in ("press", "stale"):
            event = ButtonPress(**base, data=str(value), callback_id="c", message_id=1)
        elif kind == "contact":
            event = ContactShared(**base, phone_number=value)
        elif kind == "location":
            event = LocationShared(**base, latitude=value, longitude=13.4)
        elif kind == "media":
            event = MediaMessage(**base, kind=value, file_id="F")
        elif timers:
            timer = timers[value % len(timers)]
            now = max(now, timer.due)
            event = TimerFired(**base, state=timer.state, index=timer.index, epoch=timer.epoch)
        else:
            event = TextMessage(**base, text="…")
        result = step(scenario, session, event, now, SERVICES)
        check_limits(result.effects)
        session = result.session
        assert session.state in scenario.states
        for effect in result.effects:
            markup = getattr(effect, "markup", None)
            if markup is not None and markup.inline:
                buttons = [b for row in markup.inline for b in row if b.data]
            if isinstance(effect, StartTimer):
                timers.append(effect)


@settings(max_examples=150, deadline=None)
@given(st.lists(action, min_size=1, max_size=40), st.booleans())
def test_random_events_against_the_demo(actions: list[tuple[str, Any]], admin: bool) -> None:
    play(DEMO, actions, admin)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """Random valid scenarios: states that wait for input, or move on only to later states
    (so no loop without input), using buttons, questions, handlers, conditions and timers."""
    count = draw(st.integers(1, 6))
    names = [f"s{i}" for i in range(count)]
    any_state = st.sampled_from(names)
    texts = st.sampled_from(
        [
            "Hi {{ user.first_name }}",
            "Count {{ n }}",
            "<b>{{ answer }}</b>",
            "{{ 'x' * 5000 }}",
            "Plain",
        ]
    )
    messages = st.one_of(
        texts,
        st.just("<b>{{ (answer ~ ' & <i>') * 300 }}</b>\n\n<i>after</i>"),
        st.just({"text": "{{ (answer ~ ' *x*.') * 300 }}", "parse_mode": "MarkdownV2"}),
        st.just({"photo": "https://x.example/p.jpg", "caption": "{{ (answer ~ ' <') * 60 }}"}),
    )
    states: dict[str, Any] = {}
    for i, name in enumerate(names):
        state: dict[str, Any] = {
            "say": draw(st.one_of(messages, st.lists(messages, min_size=1, max_size=3)))
        }
        kind = draw(st.sampled_from(["buttons", "ask", "on", "goto", "end", "timer"]))
        later = names[i + 1 :]
        if kind == "goto" and not later:
            kind = "end"
        if kind == "buttons":
            state["buttons"] = [
                {"text": f"B{j}", "goto": draw(any_state), "set": {"n": "{{ n + 1 }}"}}
                for j in range(draw(st.integers(1, 4)))
            ]
        elif kind == "ask":
            kind_of = draw(
                st.sampled_from(["text", "integer", "yes_no", "email", "date", "contact", "photo"])
            )
            state["ask"] = {
                "var": "answer",
                "type": kind_of,
                "retry": ["Again", "Once more"],
                "max_attempts": 3,
                "on_fail": draw(any_state),
            }
            state["goto"] = [{"if": "n > 2", "to": draw(any_state)}, {"to": draw(any_state)}]
        elif kind == "on":
            state["on"] = [
                {"text": "go", "goto": draw(any_state)},
                {"type": "photo", "say": "Nice"},
                {"match": "^(\\d+)$", "set": {"n": "{{ match[1] | int }}"}},
            ]
        elif kind == "goto":
            state["goto"] = draw(st.sampled_from(later))
        elif kind == "timer":
            state["buttons"] = [{"text": "Stay", "say": "OK"}]
            state["after"] = {"delay": "5m", "goto": draw(any_state)}
        else:
            state["end"] = True
        states[name] = state
    return {
        "bot": {"name": "Generated", "start": "s0"},
        "vars": {"n": 0, "answer": None},
        "commands": {"start": {"description": "Start", "goto": "s0"}},
        "fallback": {"say": "?", "repeat": True},
        "states": states,
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.lists(action, min_size=1, max_size=25))
def test_random_events_against_generated_scenarios(
    data: dict[str, Any], actions: list[tuple[str, Any]]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "generated.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        report = validate_file(str(path))
        assert report.errors == 0, [d.format() for d in report.diagnostics]
        assert report.scenario is not None
        scenario = compile_scenario(report.scenario)
    play(scenario, actions, admin=False)
