"""Checks of single values against Telegram's rules and the language's own."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import regex

from engine.core import callback_data
from engine.core.answers import date_bound
from engine.core.durations import DurationError, parse_duration
from engine.core.templating import CONTEXT_NAMES
from engine.scenario.diagnostics import Diagnostic, error, warning
from engine.scenario.inventory import Ask, Inventory
from engine.scenario.message_checks import check_broadcast_messages
from engine.scenario.role_checks import check_roles
from engine.scenario.schema_check import describe_path
from engine.scenario.suggestions import did_you_mean
from engine.scenario.template_checks import has_template_syntax
from engine.scenario.yaml_loader import Path, SourceMap

_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
_URL = re.compile(r"^(https?|tg)://\S+$", re.IGNORECASE)
_BUTTON_ACTIONS = ("goto", "set", "clear", "say", "call", "return")
_OPTION_TYPES = {
    "min": ("number", "integer", "date"),
    "max": ("number", "integer", "date"),
    "min_length": ("text", "email"),
    "max_length": ("text", "email"),
    "pattern": ("text",),
}


def check_content(inv: Inventory, data: Any, source: SourceMap) -> Iterator[Diagnostic]:
    yield from _patterns(inv, source)
    yield from _durations(inv, source)
    yield from _commands(inv, source)
    yield from _button_data(inv, source)
    yield from _buttons(inv, source)
    yield from _start_only(inv, data, source)
    yield from check_roles(data, source)
    yield from check_broadcast_messages(inv, data, source)
    yield from _duplicates(inv, source)
    for ask in inv.asks:
        yield from _ask(ask, source)
    yield from _variables(inv, data, source)
    yield from _assignments(inv, source)
    yield from _set_language(inv, data, source)
    yield from _keyboard_options(inv, source)


def _patterns(inv: Inventory, source: SourceMap) -> Iterator[Diagnostic]:
    for pattern in inv.patterns:
        try:
            regex.compile(pattern.name)
        except (regex.error, OverflowError, RecursionError, ValueError) as exc:
            detail = getattr(exc, "msg", None) or "a repetition count is too large"
            yield error(
                source.of(pattern.path),
                "invalid-regex",
                f"the pattern {describe_path(pattern.path)} is not a valid regular expression: {detail}.",
            )


def _durations(inv: Inventory, source: SourceMap) -> Iterator[Diagnostic]:
    for duration in inv.durations:
        if not isinstance(duration.name, str):
            continue  # a number or true: the schema check says so (once is enough)
        if has_template_syntax(duration.name):
            if duration.path[-1] == "delay":
                continue  # a timer's, read when its state is entered (its template is checked)
            yield error(
                source.of(duration.path),
                "invalid-duration",
                f"only a timer's `delay` can be computed with {{{{ }}}}: write a fixed duration "
                f"like 10s {describe_path(duration.path)}.",
            )
            continue
        try:
            parse_duration(duration.name)
        except DurationError as exc:
            yield error(
                source.of(duration.path),
                "invalid-duration",
                f"{exc} ({describe_path(duration.path)})",
            )


def _commands(inv: Inventory, source: SourceMap) -> Iterator[Diagnostic]:
    for command in inv.commands:
        name = command.name
        if _COMMAND.match(name):
            continue
        fixed = re.sub(r"[^a-z0-9_]", "_", name.lstrip("/").lower())[:32] or "help"
        reason = (
            "leave out the slash"
            if name.startswith("/")
            else "Telegram allows 1-32 characters of a-z, 0-9 and _"
        )
        position = (
            source.key_of(command.path)
            if command.path[0] == "commands"
            else source.of(command.path)
        )
        yield error(
            position,
            "invalid-command-name",
            f"'{name}' is not a valid command name: {reason}. Write '{fixed}'.",
        )


def _button_data(inv: Inventory, source: SourceMap) -> Iterator[Diagnostic]:
    for name, facts in inv.states.items():
        if not facts.inline_buttons:
            continue
        tag = "0" * callback_data.TAG_LENGTH  # carried in groups
        ref = callback_data.ButtonRef(name, facts.inline_buttons - 1, callback_data.EPOCHS - 1, tag)
        if facts.listed:  # an entry of a list: its place and its value's check too
            last_entry = 10**callback_data.ENTRY_DIGITS - 1
            ref = replace(ref, entry=last_entry, check="0" * callback_data.CHECK_LENGTH)
        size = len(callback_data.encode(ref).encode())
        if size > callback_data.MAX_BYTES:
            room = callback_data.longest_state_name(facts.inline_buttons - 1, facts.listed)
            yield error(
                source.key_of(facts.path),
                "button-data-too-long",
                f"the buttons of state '{name}' would carry {size} bytes of data; Telegram allows "
                f"{callback_data.MAX_BYTES}. Shorten the state's name to at most {room} characters.",
            )


def _buttons(inv: Inventory, source: SourceMap) -> Iterator[Diagnostic]:
    for button in inv.buttons:
        where = describe_path(button.path)
        actions = [k for k in _BUTTON_ACTIONS if k in button.data]
        url = button.data.get("url")
        if isinstance(url, str):
            if not _URL.match(url) and "{{" not in url:
                yield error(
                    source.of((*button.path, "url")),
                    "invalid-url",
                    f"the link '{url}' {where} must start with https://, http:// or tg://.",
                )
            if actions:
                yield error(
                    source.of(button.path),
                    "url-button-action",
                    f"the button {where} opens a link, so its `{actions[0]}` never runs; make two buttons.",
                )
        elif not actions and "text" in button.data and "save_as" not in button.data:
            yield error(
                source.of(button.path),
                "button-does-nothing",
                f"the button {where} does nothing: add `goto`, `set`, `say`, `call` or `return`, or a `url`.",
            )
        if "notify" in button.path and not isinstance(url, str):
            yield error(
                source.of(button.path),
                "button-in-notice",
                f"the button {where} is in a notice to admins: their press would be looked up in "
                "their own conversation, so it cannot work. Give it a `url`, or tell the admins "
                "a command to send instead.",
            )


def _start_only(inv: Inventory, data: Any, source: SourceMap) -> Iterator[Diagnostic]:
    bot = data.get("bot") if isinstance(data, dict) else None
    start = bot.get("start") if isinstance(bot, dict) else None
    facts = inv.states.get(start) if isinstance(start, str) else None
    if facts is None:
        return
    state = data.get("states", {}).get(start)
    if isinstance(state, dict) and state.get("only"):
        yield error(
            source.of((*facts.path, "only")),
            "start-only",
            f"the start state '{start}' has `only`, so new users and users whose role was "
            "removed could never begin. Remove `only:` here and put it on the states behind "
            "the start.",
        )


def _duplicates(inv: Inventory, source: SourceMap) -> Iterator[Diagnostic]:
    for keyboard in inv.keyboards:
        seen: dict[str, int] = {}
        for label in keyboard.labels:
            key = label.name.strip().casefold()
            if key in seen:
                code = "duplicate-choice" if keyboard.kind == "choices" else "duplicate-button"
                what = {"inline": "button", "reply": "key", "choices": "choice"}[keyboard.kind]
                yield error(
                    source.of(label.path),
                    code,
                    f"the {what} '{label.name}' appears twice {describe_path(label.path)}; "
                    "the user could not tell them apart. Give each a different text.",
                )
            seen.setdefault(key, 0)


def _comparable_bounds(kind: str, low: Any, high: Any) -> tuple[Any, Any] | None:
    """`min` and `max` as values to compare (dates for a date question), or None."""
    if kind == "date":
        if "today" in (low, high):  # moves with the calendar: not comparable here
            return None
        low, high = date_bound(low, dt.date.min), date_bound(high, dt.date.min)
        return (low, high) if low is not None and high is not None else None
    if isinstance(low, int | float) and isinstance(high, int | float):
        return low, high
    return None


def _ask_bounds(
    kind: str, data: dict[str, Any], path: Path, source: SourceMap
) -> Iterator[Diagnostic]:
    """`min` and `max` the answer check can read: a value it could not read turned the check
    off without a word (`min: tomorow` on a date question accepted any date)."""
    for option in ("min", "max"):
        if option not in data:
            continue
        value = data[option]
        if kind == "date":
            if date_bound(value, dt.date.min) is not None:  # as the answer check reads it
                continue
            hint = did_you_mean(value, ["today"]) if isinstance(value, str) else ""
            yield error(
                source.of((*path, option)),
                "ask-bound",
                f"`{option}: {value}` {describe_path(path)} is not a date the check can read.{hint} "
                f"Write `today` or a date as YYYY-MM-DD, e.g. `{option}: 2027-01-31`.",
            )
        elif kind in ("number", "integer") and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            yield error(
                source.of((*path, option)),
                "ask-bound",
                f"`{option}: {value}` {describe_path(path)} is not a number: write it without "
                f"quotes, e.g. `{option}: 1`.",
            )


def _ask(ask: Ask, source: SourceMap) -> Iterator[Diagnostic]:
    data, path = ask.data, ask.path
    choices = data.get("choices")
    declared = data.get("type")
    kind = declared or ("choice" if choices else "text")
    if choices and declared not in (None, "choice"):
        numeric = all(isinstance(c, int | float) and not isinstance(c, bool) for c in choices)
        if not (
            declared in ("number", "integer")
            and numeric
            and (declared == "number" or all(isinstance(c, int) for c in choices))
        ):
            yield error(
                source.of((*path, "type")),
                "choices-type",
                f"`choices` cannot be used with `type: {declared}` {describe_path(path)}: remove `type` "
                "(a question with choices accepts one of them) or remove `choices`.",
            )
    for option, types in _OPTION_TYPES.items():
        if option in data and kind not in types:
            yield warning(
                source.key_of((*path, option)),
                "ask-option-unused",
                f"`{option}` has no effect for `type: {kind}` {describe_path(path)}; it applies to "
                f"{' and '.join(types)} answers.",
            )
    yield from _ask_bounds(kind, data, path, source)
    bounds = _comparable_bounds(kind, data.get("min"), data.get("max"))
    if bounds is not None and bounds[0] > bounds[1]:
        low, high = data.get("min"), data.get("max")
        yield error(
            source.of((*path, "min")),
            "ask-range",
            f"`min` ({low}) is larger than `max` ({high}) {describe_path(path)}: no answer could pass.",
        )
    low, high = data.get("min_length"), data.get("max_length")
    if isinstance(low, int) and isinstance(high, int) and low > high:
        yield error(
            source.of((*path, "min_length")),
            "ask-range",
            f"`min_length` ({low}) is larger than `max_length` ({high}) {describe_path(path)}: no answer could pass.",
        )
    if "skip_text" in data and data.get("optional") is not True:
        yield warning(
            source.key_of((*path, "skip_text")),
            "ask-option-unused",
            f"`skip_text` has no effect {describe_path(path)} unless `optional: true`.",
        )
    if "on_fail" in data and "max_attempts" not in data:
        yield warning(
            source.key_of((*path, "on_fail")),
            "ask-option-unused",
            f"`on_fail` is never used {describe_path(path)}: add `max_attempts` to say after how many invalid answers.",
        )


def _assignments(inv: Inventory, source: SourceMap) -> Iterator[Diagnostic]:
    for name in inv.set_and_cleared:
        yield warning(
            source.key_of(name.path),
            "set-and-clear",
            f"`{name.name}` is set and cleared {describe_path(name.path[:-2])}: `clear` runs after "
            f"`set`, so `{name.name}` goes back to its `vars:` value and the one set is lost. "
            "Remove one of them.",
        )
    for name in inv.text_set_values:
        yield warning(
            source.of(name.path),
            "set-text-template",
            f"the value of `{name.name}` {describe_path(name.path[:-2])} uses `{{% %}}`: it is stored as "
            'text ("5", never the number 5 or a list). To keep a number or a list, write one '
            'expression instead, e.g. `"{{ 5 if n > 0 else 0 }}"` (text too: '
            "`\"{{ 'many' if n > 0 else 'none' }}\"`).",
        )


def _variables(inv: Inventory, data: Any, source: SourceMap) -> Iterator[Diagnostic]:
    for name, path in inv.defined_vars.items():
        if name in CONTEXT_NAMES:
            yield error(
                source.key_of(path) if path[0] == "vars" else source.of(path),
                "reserved-name",
                f"'{name}' is a built-in name in templates; call the variable something else, like my_{name}.",
            )
    for cleared in inv.cleared_vars:
        if cleared.name not in inv.defined_vars:
            hint = did_you_mean(cleared.name, inv.defined_vars) or " Declare it under `vars:`."
            yield error(
                source.of(cleared.path),
                "unknown-variable",
                f"there is no variable '{cleared.name}' to clear.{hint}",
                "reference",
            )
    sensitive = data.get("sensitive") if isinstance(data, dict) else None
    if isinstance(sensitive, list):
        yield from _unknown_or_repeated(
            sensitive, ("sensitive",), inv.defined_vars, source, "variable"
        )
    bot = data.get("bot") if isinstance(data, dict) else None
    languages = bot.get("languages") if isinstance(bot, dict) else None
    if isinstance(languages, list):
        yield from _unknown_or_repeated(languages, ("bot", "languages"), None, source, "language")


def _unknown_or_repeated(
    items: list[Any],
    path: tuple[str, ...],
    known: dict[str, Any] | None,
    source: SourceMap,
    what: str,
) -> Iterator[Diagnostic]:
    seen: set[Any] = set()
    for i, item in enumerate(items):
        if not isinstance(item, str):
            continue
        if item in seen:
            yield error(
                source.of((*path, i)),
                "duplicate-item",
                f"the {what} '{item}' is listed twice {describe_path(path)}; remove one.",
            )
        seen.add(item)
        if known is not None and item not in known:
            hint = did_you_mean(item, known) or " Declare it under `vars:`."
            yield error(
                source.of((*path, i)),
                "unknown-variable",
                f"there is no variable '{item}' to mark as sensitive.{hint}",
                "reference",
            )


def _set_language(inv: Inventory, data: Any, source: SourceMap) -> Iterator[Diagnostic]:
    """A fixed `set_language` must name a language the bot offers (a template is checked when
    it runs: the bot then keeps the user's language and reports the problem)."""
    bot = data.get("bot") if isinstance(data, dict) else None
    if not isinstance(bot, dict):
        return
    languages = bot.get("languages")
    offered = list(
        dict.fromkeys(
            [bot.get("language", "en")]
            + ([c for c in languages if isinstance(c, str)] if isinstance(languages, list) else [])
        )
    )
    for text in inv.templates:
        if text.path[-1:] != ("set_language",) or has_template_syntax(text.text):
            continue
        if text.text not in offered:
            yield error(
                source.of(text.path),
                "unknown-language",
                f"'{text.text}' is not one of the bot's languages ({', '.join(map(str, offered))}) "
                f"{describe_path(text.path)}; add it to `bot.languages` or write one of them."
                + did_you_mean(text.text, map(str, offered)),
                "reference",
            )


def _keyboard_options(inv: Inventory, source: SourceMap) -> Iterator[Diagnostic]:
    """`keyboard_options` where no reply keyboard is shown: they would change nothing."""
    for path, keys in inv.keyboard_options:
        if not keys:
            yield warning(
                source.key_of(path),
                "keyboard-options-unused",
                f"`keyboard_options` {describe_path(path)} change nothing: no reply keyboard is "
                "shown there. Give it a `keyboard` (or a question with keys), or remove them.",
            )
