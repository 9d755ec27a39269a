"""Checking what the bot did in one step against what the test expects, and saying what
differs the way an author can act on: a diff of the replies, the buttons, the variables."""

from __future__ import annotations

import difflib
import html
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.core.effects import InlineButton
from engine.core.model import Scenario
from engine.core.session import Session
from engine.scenario.diagnostics import Position
from engine.scenario.suggestions import did_you_mean
from engine.scenario.yaml_loader import Path

if TYPE_CHECKING:
    from engine.testing.conversation import Reader

_TAG = re.compile(r"<[^>]+>")
_MARKDOWN = re.compile(r"\\(.)|\[([^\]]*)\]\([^)]*\)|[*_~|`]")
_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2007": " ", "\u2009": " "})
CHECKS = (
    *("expect", "expect_contains", "expect_match", "buttons", "keyboard", "expect_state"),
    *("expect_vars", "expect_language", "no_reply", "expect_notify", "expect_notice"),
    *("edited", "allow_problems", "note"),
)


@dataclass(frozen=True)
class Checks:
    """What a step expects; None (or empty) checks nothing."""

    expect: tuple[str, ...] | None = None
    contains: tuple[str, ...] = ()
    matches: tuple[re.Pattern[str], ...] = ()
    buttons: tuple[str, ...] | None = None
    keyboard: tuple[str, ...] | None = None
    state: str | None = None
    vars: Mapping[str, Any] = field(default_factory=dict)
    language: str | None = None
    no_reply: bool | None = None
    notify: tuple[str, ...] | None = None
    notice: tuple[str, ...] | None = None
    edited: bool | None = None
    allow_problems: bool = False


def read_checks(
    reader: Reader, data: dict[str, Any], path: Path, places: dict[str, Position]
) -> Checks:
    """The checks of one step, as the reader finds them (problems go to the reader)."""

    def texts(key: str) -> tuple[str, ...] | None:
        return reader.texts(data[key], (*path, key), f"`{key}`") if key in data else None

    def flag(key: str) -> bool | None:
        return reader.flag(data[key], (*path, key), f"`{key}`") if key in data else None

    patterns: list[re.Pattern[str]] = []
    for source in texts("expect_match") or ():
        try:
            patterns.append(re.compile(source))
        except re.error as exc:
            message = f"`expect_match` is not a valid pattern: {exc}."
            reader.fail((*path, "expect_match"), "bad-pattern", message)
    variables = reader.mapping(
        data.get("expect_vars", {}), (*path, "expect_vars"), None, "`expect_vars`"
    )
    places.update({f"var:{n}": reader.source.key_of((*path, "expect_vars", n)) for n in variables})
    state, language = (
        reader.text(data[k], (*path, k), f"`{k}`") if k in data else None
        for k in ("expect_state", "expect_language")
    )
    return Checks(
        expect=texts("expect"),
        contains=texts("expect_contains") or (),
        matches=tuple(patterns),
        buttons=texts("buttons"),
        keyboard=texts("keyboard"),
        state=state,
        vars=variables,
        language=language,
        no_reply=flag("no_reply"),
        notify=texts("expect_notify"),
        notice=texts("expect_notice"),
        edited=flag("edited"),
        allow_problems=flag("allow_problems") is True,
    )


def visible_text(text: str, parse_mode: str | None) -> str:
    """What the user sees: HTML tags dropped and entities undone, MarkdownV2 marks removed."""
    if parse_mode == "HTML":
        text = html.unescape(_TAG.sub("", text))
    elif parse_mode == "MarkdownV2":
        text = _markdown_visible(text)
    return normalize(text)


def _markdown_visible(text: str) -> str:
    """MarkdownV2 without its marks: `\\.` is a dot, `*b*` is b, `[text](url)` is text."""
    return _MARKDOWN.sub(lambda m: m.group(1) or _markdown_visible(m.group(2) or ""), text)


def normalize(text: str) -> str:
    """Texts are compared without blanks around them or at line ends; no-break spaces are
    spaces (Babel writes "12:00\u202fPM", which nobody can type)."""
    lines = text.replace("\r\n", "\n").translate(_SPACES).split("\n")
    return "\n".join(line.rstrip() for line in lines).strip()


@dataclass(frozen=True)
class Reply:
    """A message the bot sent or edited, as the user sees it (a caption for media)."""

    text: str
    buttons: tuple[InlineButton, ...] = ()
    edited: bool = False


@dataclass
class Outcome:
    """What the bot did in answer to one step."""

    replies: list[Reply] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # texts answering a button press
    notifications: list[str] = field(default_factory=list)  # `notify` texts
    problems: list[str] = field(default_factory=list)  # ReportProblem messages


def check(
    expected: Checks,
    outcome: Outcome,
    session: Session,
    keyboard: tuple[str, ...],
    scenario: Scenario,
) -> list[str]:
    """What is wrong with the bot's answer to one step (nothing: the step passed)."""
    failures: list[str] = []
    texts = [reply.text for reply in outcome.replies]
    replies = "\n".join(f"  {quote(text)}" for text in texts) or "  (none)"
    if outcome.problems and not expected.allow_problems:
        failures.append(
            "the scenario reported a problem (write `allow_problems: true` if you expect it):\n"
            + "\n".join(f"  {problem}" for problem in outcome.problems)
        )
    if expected.expect is not None:
        wanted = [normalize(text) for text in expected.expect]
        if wanted != texts:
            failures.append(diff(wanted, texts))
    for part in expected.contains:
        if not any(normalize(part) in text for text in texts):
            failures.append(f"no reply contains {quote(part)}; the replies were:\n{replies}")
    for pattern in expected.matches:
        if not any(pattern.search(text) for text in texts):
            failures.append(f"no reply matches /{pattern.pattern}/; the replies were:\n{replies}")
    if expected.buttons is not None:
        last = [b.text for b in outcome.replies[-1].buttons] if outcome.replies else []
        if _normal(expected.buttons) != _normal(last):
            failures.append(
                f"the last reply's buttons are {labels(last)}, not {labels(expected.buttons)}"
            )
    if expected.keyboard is not None and _normal(expected.keyboard) != _normal(keyboard):
        failures.append(f"the keyboard shows {labels(keyboard)}, not {labels(expected.keyboard)}")
    if expected.no_reply is True and texts:
        failures.append(f"expected no reply, but the bot sent:\n{replies}")
    if expected.no_reply is False and not texts:
        failures.append("expected a reply, but the bot sent nothing")
    edited = any(reply.edited for reply in outcome.replies)
    if expected.edited is not None and expected.edited != edited:
        failures.append(
            "the bot edited the pressed message instead of sending a new one"
            if edited
            else "the bot did not edit a message in place (it sent new ones, or nothing)"
        )
    sent = list(dict.fromkeys(outcome.notifications))  # one text to several chats: once
    if expected.notify is not None and _normal(expected.notify) != sent:
        failures.append(f"the notifications were {labels(sent)}, not {labels(expected.notify)}")
    if expected.notice is not None and _normal(expected.notice) != outcome.notices:
        failures.append(
            f"the button notices were {labels(outcome.notices)}, not {labels(expected.notice)}"
        )
    return failures + _session_checks(expected, session, scenario)


def _session_checks(expected: Checks, session: Session, scenario: Scenario) -> list[str]:
    failures: list[str] = []
    if expected.state is not None and expected.state != session.state:
        failures.append(f"the user is in state '{session.state}', not '{expected.state}'")
    language = session.language or scenario.language
    if expected.language is not None and expected.language != language:
        failures.append(f"the user's language is '{language}', not '{expected.language}'")
    values = {**scenario.defaults, **session.vars}
    for name, wanted in expected.vars.items():
        if name not in values:
            failures.append(f"there is no variable '{name}' yet.{did_you_mean(name, values)}")
        elif not same(wanted, values[name]):
            failures.append(f"`{name}` is {show(values[name])}, not {show(wanted)}")
    return failures


def same(expected: Any, actual: Any) -> bool:
    """Equal as authors mean it: 2 is 2.0, but true is not 1 and "2" is not 2."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return expected == actual
    if isinstance(expected, list) and isinstance(actual, list | tuple):
        return len(expected) == len(actual) and all(map(same, expected, actual))
    if isinstance(expected, dict) and isinstance(actual, Mapping):
        return expected.keys() == actual.keys() and all(
            same(value, actual[key]) for key, value in expected.items()
        )
    return type(expected) is type(actual) and bool(expected == actual)


def diff(expected: list[str], actual: list[str]) -> str:
    """A unified diff of the replies; several messages are shown one after the other."""

    def lines(messages: list[str]) -> list[str]:
        if len(expected) == len(actual) == 1:
            return messages[0].splitlines() or [""]
        out: list[str] = []
        for number, text in enumerate(messages, 1):
            out.append(f"message {number}:")
            out.extend(f"  {line}" for line in text.splitlines())
        return out

    found = difflib.unified_diff(lines(expected), lines(actual), "expected", "actual", lineterm="")
    head = "the reply differs"
    if len(expected) != 1 or len(actual) != 1:
        head = f"the replies differ (expected {_count(len(expected))}, the bot sent {_count(len(actual))})"
    return f"{head}:\n" + "\n".join(f"  {line}" for line in found)


def _normal(texts: Iterable[str]) -> list[str]:
    return [normalize(text) for text in texts]


def _count(number: int) -> str:
    return f"{number} message" + ("" if number == 1 else "s")


def quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def labels(texts: Iterable[str]) -> str:
    return "[" + ", ".join(quote(text) for text in texts) + "]"


def show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
