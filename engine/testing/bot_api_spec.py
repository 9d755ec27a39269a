"""Checking a Bot API call against the specification, as Telegram would before carrying it
out: known method, no unknown parameters, required ones present, values of the right type
(JSON-serialized objects checked field by field), texts within their limits, and formatted
text that Telegram's parsers accept (HTML tags it knows and balanced; MarkdownV2 with its
reserved characters escaped). Used by the fake Bot API server."""

from __future__ import annotations

import functools
import html
import json
import re
from html.parser import HTMLParser
from importlib import resources
from typing import Any

LIMITS = {  # (parameter, low, high) in characters, from the specification's descriptions
    "sendMessage": ("text", 1, 4096),
    "editMessageText": ("text", 1, 4096),
}
CAPTION_LIMIT = 1024
HTML_TAGS = frozenset(
    [
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
    ]
)
MARKDOWN_RESERVED = set("_*[]()~`>#+-=|{}.!")
COMMAND = re.compile(r"[a-z0-9_]{1,32}")


class SpecViolation(ValueError):
    """The call is not one Telegram would accept; the message says what is wrong."""


@functools.cache
def spec() -> dict[str, Any]:
    text = resources.files("engine.testing").joinpath("data/bot-api-spec.min.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def check_call(method: str, params: dict[str, Any], files: tuple[str, ...] = ()) -> None:
    methods = spec()["methods"]
    if method not in methods:
        raise SpecViolation(f"there is no method {method}")
    fields = _fields(methods[method]["fields"], params, method, "parameter")
    for name, value in params.items():
        types = fields[name]["types"]
        if name in files:
            if "InputFile" not in types:
                raise SpecViolation(f"{method}.{name} cannot be a file upload")
            continue
        _check_param(f"{method}.{name}", str(value), types)
    _check_limits(method, params)


def _fields(
    described: list[dict[str, Any]], given: dict[str, Any], owner: str, noun: str
) -> dict[str, dict[str, Any]]:
    """The described fields by name, once `given` has none unknown and every required one."""
    fields = {f["name"]: f for f in described}
    for name in given:
        if name not in fields:
            raise SpecViolation(f"{owner} has no {noun} {name!r}")
    for name, item in fields.items():
        if item["required"] and name not in given:
            raise SpecViolation(f"{owner} needs the {noun} {name!r}")
    return fields


def _check_param(where: str, value: str, types: list[str]) -> None:
    problems = []
    for kind in types:
        try:
            _check_text_value(where, value, kind)
            return
        except SpecViolation as exc:
            problems.append(str(exc))
    raise SpecViolation(" or ".join(problems))


def _check_text_value(where: str, value: str, kind: str) -> None:
    if kind in ("String", "InputFile"):
        return
    if kind == "Integer":
        if not re.fullmatch(r"-?\d+", value):
            raise SpecViolation(f"{where} must be an Integer, not {value[:40]!r}")
        return
    if kind == "Float":
        try:
            float(value)
        except ValueError:
            raise SpecViolation(f"{where} must be a Float, not {value[:40]!r}") from None
        return
    if kind == "Boolean":
        if value.lower() not in ("true", "false", "1", "0"):
            raise SpecViolation(f"{where} must be a Boolean, not {value[:40]!r}")
        return
    try:
        data = json.loads(value)
    except ValueError:
        raise SpecViolation(f"{where} must be JSON-serialized {kind}") from None
    _check_json(where, data, kind)


def _check_json(where: str, data: Any, kind: str) -> None:
    if kind.startswith("Array of "):
        if not isinstance(data, list):
            raise SpecViolation(f"{where} must be an array")
        for index, item in enumerate(data):
            _check_json(f"{where}[{index}]", item, kind.removeprefix("Array of "))
        return
    simple = {
        "Integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "Float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "Boolean": lambda v: isinstance(v, bool),
        "True": lambda v: v is True,
        "String": lambda v: isinstance(v, str),
    }
    if kind in simple:
        if not simple[kind](data):
            raise SpecViolation(f"{where} must be {kind}")
        return
    described = spec()["types"].get(kind)
    if described is None:
        return  # a type the specification does not describe further
    if described["subtypes"]:
        problems = []
        for subtype in described["subtypes"]:
            try:
                _check_json(where, data, subtype)
                return
            except SpecViolation as exc:
                problems.append(str(exc))
        raise SpecViolation(f"{where} is none of {kind}'s kinds: {'; '.join(problems)}")
    if not isinstance(data, dict):
        raise SpecViolation(f"{where} must be an object ({kind})")
    fields = _fields(described["fields"], data, f"{where}: {kind}", "field")
    for name, value in data.items():
        options = fields[name]["types"]
        problems = []
        for option in options:
            try:
                _check_json(f"{where}.{name}", value, option)
                break
            except SpecViolation as exc:
                problems.append(str(exc))
        else:
            raise SpecViolation(" or ".join(problems))
    _check_object_limits(where, kind, data)


def _check_object_limits(where: str, kind: str, data: dict[str, Any]) -> None:
    if kind == "InlineKeyboardButton" and "callback_data" in data:
        size = len(str(data["callback_data"]).encode("utf-8"))
        if not 1 <= size <= 64:
            raise SpecViolation(f"{where}.callback_data is {size} bytes; it must be 1-64")
    if kind == "BotCommand":
        if not COMMAND.fullmatch(str(data["command"])):
            raise SpecViolation(f"{where}.command must be 1-32 of a-z, 0-9 and _")
        if not 1 <= len(str(data["description"])) <= 256:
            raise SpecViolation(f"{where}.description must be 1-256 characters")


def _check_limits(method: str, params: dict[str, Any]) -> None:
    mode = str(params.get("parse_mode", "")).lower()
    if method in LIMITS:
        name, low, high = LIMITS[method]
        if name in params:
            size = len(visible_text(str(params[name]), mode))
            if not low <= size <= high:
                raise SpecViolation(f"message text is {size} characters long; it must be 1-4096")
    if "caption" in params:
        size = len(visible_text(str(params["caption"]), mode))
        if size > CAPTION_LIMIT:
            raise SpecViolation(f"caption is {size} characters long; at most 1024")
    if method == "setMyCommands":
        commands = json.loads(str(params["commands"]))
        if len(commands) > 100:
            raise SpecViolation("at most 100 commands")


class _TagChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in HTML_TAGS:
            raise SpecViolation(f"can't parse entities: unsupported start tag {tag!r}")
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            raise SpecViolation(
                f"can't parse entities: can't find end tag corresponding to {tag!r}"
            )
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def visible_text(text: str, mode: str) -> str:
    """The text as the user sees it, after Telegram parsed the formatting; SpecViolation
    where Telegram's parser would refuse it."""
    if mode == "html":
        if re.search(r"&(?!(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)", text):
            raise SpecViolation("can't parse entities: unsupported HTML entity or a bare '&'")
        if re.search(r"<(?![a-zA-Z/])", text):
            raise SpecViolation("can't parse entities: a bare '<' (write &lt;)")
        checker = _TagChecker()
        checker.feed(text)
        checker.close()
        if checker.open:
            raise SpecViolation(
                f"can't parse entities: can't find end tag for {checker.open[-1]!r}"
            )
        return html.unescape("".join(checker.text))
    if mode == "markdownv2":
        return _markdown_v2_text(text)
    return text


def _markdown_v2_text(text: str) -> str:
    out: list[str] = []
    open_marks: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            if index + 1 >= len(text):
                raise SpecViolation("can't parse entities: a '\\' at the end of the text")
            out.append(text[index + 1])
            index += 2
            continue
        mark = text[index : index + 2] if text[index : index + 2] in ("__", "||") else char
        if mark in ("*", "_", "__", "~", "||", "`"):
            if open_marks and open_marks[-1] == mark:
                open_marks.pop()
            else:
                open_marks.append(mark)
            index += len(mark)
            continue
        if char in MARKDOWN_RESERVED:
            raise SpecViolation(
                f"can't parse entities: character '{char}' is reserved and must be escaped "
                "with the preceding '\\'"
            )
        out.append(char)
        index += 1
    if open_marks:
        raise SpecViolation(f"can't parse entities: can't find end of {open_marks[-1]!r} entity")
    return "".join(out)
