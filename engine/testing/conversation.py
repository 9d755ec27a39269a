"""The conversation test format: `NAME.tests.yaml` beside `NAME.yaml` holds a list of tests.

A test: `name`, `steps`, and optionally `language`, `user` (first_name, last_name, username,
id, language; default Test User, id 1000), `roles`, `config`, `now` (the fake clock's start,
default 2025-01-06 12:00 UTC) and `mock`: a list of HTTP answers `{method, url, status,
json | text}` or `{url, error: true}` (a `*` in `url` matches anything; the first unused
matching answer is used, then the last one again), or a mapping with `http:` (that list) and
`plugins: {name: result}`. A step does one thing (ACTIONS: `send` — "/name args" is a
command —, `press` a label or `{text, message}`, `share_contact`, `share_location`,
`send_photo` and the other kinds, `wait`) and then checks what the bot did (CHECKS, see
engine.testing.checks). Files are read with the scenario loader: YAML 1.2, positions on
every value, and every mistake reported with `file:line:col`."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.core.durations import DurationError, parse_duration
from engine.core.events import MEDIA_KINDS, User
from engine.scenario.diagnostics import Diagnostic, Position, error, ordered
from engine.scenario.suggestions import did_you_mean
from engine.scenario.validation import TEST_SUFFIXES
from engine.scenario.yaml_loader import Path, SourceMap, load_yaml_file
from engine.testing.checks import CHECKS, Checks, read_checks

DEFAULT_USER = User(1000, "Test", "User", "test_user")
DEFAULT_START = dt.datetime(2025, 1, 6, 12, 0, tzinfo=dt.UTC)  # a Monday, noon (UTC)
TEST_KEYS = ("name", "language", "user", "roles", "config", "mock", "now", "steps", "note")
USER_KEYS = ("first_name", "last_name", "username", "id", "language")
HTTP_KEYS = ("method", "url", "status", "json", "text", "error")
MEDIA_ACTIONS = tuple(f"send_{kind}" for kind in MEDIA_KINDS)
ACTIONS = ("send", "press", "share_contact", "share_location", *MEDIA_ACTIONS, "wait")
_FORMS = {  # the keys of an action written as a mapping
    "press": ("text", "message"),
    "share_contact": ("phone", "first_name", "last_name"),
    "share_location": ("latitude", "longitude"),
    **{key: ("file_id", "caption") for key in MEDIA_ACTIONS},
}
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class Action:
    """What the user does in a step. `key` is the step's action key (send, press, wait, …)."""

    key: str
    text: str = ""  # the message, button label, phone number or file id
    message: int = 1  # press: 1 the latest message with inline buttons, 2 the one before, …
    first_name: str | None = None  # share_contact: None means the test user's own
    last_name: str = ""
    latitude: float = 0.0
    longitude: float = 0.0
    caption: str = ""
    seconds: float = 0.0  # wait


@dataclass(frozen=True)
class Step:
    number: int  # from 1
    position: Position
    action: Action
    summary: str  # what the user did, as written: "send: huge"
    checks: Checks
    places: Mapping[str, Position] = field(default_factory=dict)  # "expect_state", "var:x"


@dataclass(frozen=True)
class HttpMock:
    url: str  # `*` matches any run of characters
    method: str | None = None
    status: int = 200
    body: Any = None
    error: bool = False

    def answers(self, method: str, url: str) -> bool:
        if self.method is not None and self.method != method.upper():
            return False
        pattern = ".*".join(re.escape(part) for part in self.url.split("*"))
        return re.fullmatch(pattern, url) is not None


@dataclass(frozen=True)
class ConversationTest:
    name: str
    position: Position
    steps: tuple[Step, ...]
    user: User = DEFAULT_USER
    language: str | None = None
    roles: frozenset[str] = frozenset()
    config: Mapping[str, str] = field(default_factory=dict)
    http: tuple[HttpMock, ...] = ()
    plugins: Mapping[str, Any] = field(default_factory=dict)
    start: dt.datetime = DEFAULT_START
    places: Mapping[str, Position] = field(default_factory=dict)  # "language", "plugin:x"


@dataclass(frozen=True)
class ConversationFile:
    path: str
    scenario_path: str
    tests: tuple[ConversationTest, ...]
    problems: tuple[Diagnostic, ...]


def scenario_for(test_path: str) -> str:
    """`NAME.tests.yaml` tests `NAME.yaml` beside it."""
    for suffix in TEST_SUFFIXES:
        if test_path.endswith(suffix):
            return test_path[: -len(suffix)] + suffix[len(".tests") :]
    return test_path


def load_conversation_file(path: str) -> ConversationFile:
    document, problems = load_yaml_file(path)
    for i, problem in enumerate(problems):
        if problem.code == "empty-file":
            message = "the test file is empty; write a list of tests, each starting with '- name:'."
            problems[i] = error(problem.position, problem.code, message, "yaml")
    if document is None:
        return ConversationFile(path, scenario_for(path), (), tuple(problems))
    with open(path, encoding="utf-8", errors="replace") as handle:
        reader = Reader(document.source, handle.read().splitlines())
    tests = reader.tests(document.data)
    found = tuple(ordered([*problems, *reader.problems]))
    return ConversationFile(path, scenario_for(path), tests, found)


class Reader:
    """Checks the shape of a test file, collecting every problem with its position."""

    def __init__(self, source: SourceMap, lines: list[str]) -> None:
        self.source = source
        self.lines = lines
        self.problems: list[Diagnostic] = []

    def fail(self, path: Path, code: str, message: str) -> None:
        self.problems.append(error(self.source.of(path), code, message, "schema"))

    def mapping(
        self, value: Any, path: Path, allowed: Iterable[str] | None, where: str
    ) -> dict[str, Any]:
        """A mapping; with `allowed`, other keys are reported (None: the author's own names)."""
        if not isinstance(value, dict):
            self.fail(path, "wrong-type", f"{where} must be a mapping of `key: value` lines.")
            return {}
        known = tuple(allowed) if allowed is not None else tuple(value)
        for key in value:
            if key not in known:
                message = f"unknown key '{key}' in {where}.{did_you_mean(str(key), known)}"
                self.problems.append(
                    error(self.source.key_of((*path, key)), "unknown-key", message, "schema")
                )
        return value

    def text(self, value: Any, path: Path, what: str) -> str | None:
        """A text; a number or true/false counts as the text written in the file."""
        if isinstance(value, str):
            return value
        if isinstance(value, bool | int | float):
            position = self.source.of(path)
            line = self.lines[position.line - 1] if 0 < position.line <= len(self.lines) else ""
            raw = re.match(r"[^\s,\]}#]+", line[position.column - 1 :])
            return raw.group(0) if raw else str(value)
        self.fail(path, "wrong-type", f"{what} must be a text.")
        return None

    def texts(self, value: Any, path: Path, what: str) -> tuple[str, ...]:
        """A text or a list of texts (rows of buttons are flattened)."""
        if not isinstance(value, list):
            one = self.text(value, path, what)
            return () if one is None else (one,)
        found: list[str] = []
        for i, item in enumerate(value):
            if isinstance(item, list):
                found.extend(self.texts(item, (*path, i), what))
            elif (text := self.text(item, (*path, i), what)) is not None:
                found.append(text)
        return tuple(found)

    def flag(self, value: Any, path: Path, what: str) -> bool:
        if not isinstance(value, bool):
            self.fail(path, "wrong-type", f"{what} must be true or false.")
        return value is True

    def number(self, value: Any, path: Path, what: str, low: float, high: float) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high:
            return float(value)
        self.fail(path, "wrong-value", f"{what} must be a number from {low:g} to {high:g}.")
        return 0.0

    def whole(self, value: Any, path: Path, what: str, low: int, high: int | None = None) -> int:
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and low <= value <= (high or value)
        ):
            return value
        span = f"from {low} to {high}" if high else f"of at least {low}"
        self.fail(path, "wrong-value", f"{what} must be a whole number {span}.")
        return low

    # -- tests -----------------------------------------------------------------------------
    def tests(self, data: Any) -> tuple[ConversationTest, ...]:
        if not isinstance(data, list):
            message = "a test file is a list of tests, each starting with '- name:' and `steps:`."
            self.fail((), "not-a-list", message)
            return ()
        found: dict[str, ConversationTest] = {}
        for i, raw in enumerate(data):
            test = self.test(raw, (i,), i + 1)
            if test is not None and test.name in found:
                line = found[test.name].position.line
                message = (
                    f"two tests are named '{test.name}' (the first at line {line}); rename one."
                )
                self.fail((i, "name"), "duplicate-name", message)
            elif test is not None:
                found[test.name] = test
        return tuple(found.values())

    def test(self, raw: Any, path: Path, number: int) -> ConversationTest | None:
        before = len(self.problems)
        data = self.mapping(raw, path, TEST_KEYS, f"test {number}")
        if "name" not in data:
            self.fail(path, "missing-key", f"test {number} needs a `name`.")
        name = self.text(data["name"], (*path, "name"), "`name`") if "name" in data else None
        places: dict[str, Position] = {}
        language = None
        if "language" in data:
            language = self.text(data["language"], (*path, "language"), "`language`")
            places["language"] = self.source.of((*path, "language"))
        config = self.mapping(data.get("config", {}), (*path, "config"), None, "`config`")
        values = {str(k): self.text(v, (*path, "config", k), f"`{k}`") for k, v in config.items()}
        http, plugins = self.mock(data.get("mock", []), (*path, "mock"), places)
        steps = data.get("steps")
        if not isinstance(steps, list) or not steps:
            where = (*path, "steps") if "steps" in data else path
            message = f"test '{name or number}' needs `steps:`, a list of what the user does."
            self.fail(where, "missing-key", message)
            steps = []
        test = ConversationTest(
            name=name or "",
            position=self.source.of(path),
            steps=tuple(
                self.step(s, (*path, "steps", i), i + 1, f"test '{name or number}'")
                for i, s in enumerate(steps)
            ),
            user=self.user(data.get("user", {}), (*path, "user"), language),
            language=language,
            roles=frozenset(self.texts(data.get("roles", []), (*path, "roles"), "a role")),
            config={k: v for k, v in values.items() if v is not None},
            http=http,
            plugins=plugins,
            start=self.start(data.get("now"), (*path, "now")),
            places=places,
        )
        return test if len(self.problems) == before else None

    def user(self, raw: Any, path: Path, language: str | None) -> User:
        data = self.mapping(raw, path, USER_KEYS, "`user`")
        parts = {k: self.text(v, (*path, k), f"`user.{k}`") or "" for k, v in data.items()}
        default = DEFAULT_USER
        return User(
            self.whole(data.get("id", default.id), (*path, "id"), "`user.id`", 1),
            parts.get("first_name", default.first_name),
            parts.get("last_name", default.last_name),
            parts.get("username", default.username),
            parts.get("language", language or ""),
        )

    def start(self, raw: Any, path: Path) -> dt.datetime:
        try:
            moment = DEFAULT_START if raw is None else dt.datetime.fromisoformat(str(raw))
        except ValueError:
            self.fail(path, "wrong-value", "`now` must be a date and time like 2025-12-24 18:30.")
            moment = DEFAULT_START
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)

    def mock(
        self, raw: Any, path: Path, places: dict[str, Position]
    ) -> tuple[tuple[HttpMock, ...], dict[str, Any]]:
        answers, where, plugins = raw, path, {}
        if isinstance(raw, dict):
            data = self.mapping(raw, path, ("http", "plugins"), "`mock`")
            answers, where = data.get("http", []), (*path, "http")
            plugins = self.mapping(data.get("plugins", {}), (*path, "plugins"), None, "`plugins`")
            for name in plugins:
                places[f"plugin:{name}"] = self.source.key_of((*path, "plugins", name))
        if not isinstance(answers, list):
            self.fail(where, "wrong-type", "HTTP mocks are a list of `{url, json}` entries.")
            return (), plugins
        mocks = (self.http(entry, (*where, i)) for i, entry in enumerate(answers))
        return tuple(m for m in mocks if m is not None), plugins

    def http(self, raw: Any, path: Path) -> HttpMock | None:
        data = self.mapping(raw, path, HTTP_KEYS, "an HTTP mock")
        if "url" not in data:
            self.fail(path, "missing-key", "an HTTP mock needs the `url` it answers.")
        url = self.text(data["url"], (*path, "url"), "`url`") if "url" in data else None
        method = data.get("method")
        if method is not None and (not isinstance(method, str) or method.upper() not in _METHODS):
            self.fail(
                (*path, "method"), "wrong-value", f"`method` must be one of {', '.join(_METHODS)}."
            )
        status = self.whole(data.get("status", 200), (*path, "status"), "`status`", 100, 599)
        if "json" in data and "text" in data:
            self.fail(path, "two-bodies", "give the answer as `json` or as `text`, not both.")
        failing = "error" in data and self.flag(data["error"], (*path, "error"), "`error`")
        if failing and any(k in data for k in ("json", "text", "status")):
            self.fail(path, "wrong-value", "a mock with `error: true` fails: it has no answer.")
        body = data["text"] if "text" in data else data.get("json")
        upper = method.upper() if isinstance(method, str) else None
        return None if url is None else HttpMock(url, upper, status, body, failing)

    # -- steps -----------------------------------------------------------------------------
    def step(self, raw: Any, path: Path, number: int, test: str) -> Step:
        where = f"step {number} of {test}"
        if not isinstance(raw, dict):
            self.fail(path, "wrong-type", f"{where} must be a mapping, like `- send: hello`.")
            raw = {"send": ""}
        data = self.mapping(raw, path, (*ACTIONS, *CHECKS), where)
        keys = [key for key in data if key in ACTIONS]
        if len(keys) != 1:
            self.fail(
                path,
                "step-action",
                f"{where} does {len(keys)} things ({', '.join(keys)}); a step does one thing: "
                "split it into several steps."
                if keys
                else f"{where} has nothing to do; start it with one of: {', '.join(ACTIONS)}.",
            )
        key = keys[0] if keys else "send"
        value = data.get(key, "")
        places = {k: self.source.of((*path, k)) for k in ("expect_state", "expect_language")}
        action = self.action(key, value, (*path, key))
        written = action.text
        if isinstance(value, dict):
            written = "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
        checks = read_checks(self, data, path, places)
        return Step(number, self.source.of(path), action, f"{key}: {written}", checks, places)

    def action(self, key: str, value: Any, path: Path) -> Action:
        if key == "wait":
            try:
                return Action(key, str(value), seconds=parse_duration(value))
            except DurationError as exc:
                self.fail(path, "wrong-value", f"`wait`: {exc}")
                return Action(key)
        if key not in _FORMS or (key != "share_location" and not isinstance(value, dict)):
            return Action(key, self.text(value, path, f"`{key}`") or "")
        data = self.mapping(value, path, _FORMS[key], f"`{key}`")
        if not isinstance(value, dict):
            return Action(key)
        parts = {k: self.text(v, (*path, k), f"`{k}`") for k, v in data.items()}
        needs = {"press": "text", "share_contact": "phone"}.get(key)
        if needs is not None and needs not in data:
            self.fail(path, "missing-key", f"`{key}` needs `{needs}`.")
        if key == "share_location":
            lat = self.number(data.get("latitude"), (*path, "latitude"), "`latitude`", -90, 90)
            lon = self.number(data.get("longitude"), (*path, "longitude"), "`longitude`", -180, 180)
            return Action(key, f"{lat:g}, {lon:g}", latitude=lat, longitude=lon)
        return Action(
            key,
            parts.get(needs or "file_id") or f"test-{key.removeprefix('send_')}",
            message=self.whole(data.get("message", 1), (*path, "message"), "`message`", 1, 99),
            first_name=parts.get("first_name"),
            last_name=parts.get("last_name") or "",
            caption=parts.get("caption") or "",
        )
