"""Finding every human-visible string of a scenario: the msgids translators translate.

Texts are msgids as the author wrote them, `{{ placeholders }}` included. A text that marks
its own translatable parts (`_()`, `gettext`, `{% trans %}`) is not a msgid itself; its
marked parts are. Also a Babel extractor, so `pybabel extract` works with a mapping file."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from babel.messages.catalog import Catalog

from engine.core.templating import environment
from engine.i18n.catalogs import formatted
from engine.scenario.inventory import take_inventory
from engine.scenario.shown_values import translated_set_texts
from engine.scenario.template_checks import has_template_syntax
from engine.scenario.yaml_loader import Path, SourceMap, load_yaml_text

_MARKED = ("_(", "gettext(", "{% trans", "{%- trans")


@dataclass(frozen=True)
class SourceMessage:
    msgid: str | tuple[str, str]  # a text, or (singular, plural)
    file: str
    line: int
    state: str | None
    role: str  # what the text is: message, button, key, choice, command, ...


def translatable_role(path: Path) -> str | None:
    """What a string at `path` is for the user, or None when it is not shown to users."""
    keys = [p for p in path if isinstance(p, str)]
    if not keys:
        return None
    last = keys[-1]
    parent = keys[-2] if len(keys) > 1 else ""
    if keys[0] == "fallback":
        return "fallback" if last in ("fallback", "say", "text", "caption") else None
    if keys[0] == "commands" and last == "description":
        return "command menu"
    if keys[0] == "messages" and len(keys) == 2:
        return f"broadcast message {last}"  # sent to each user in their own language
    if keys[0] not in ("states", "commands", "on"):  # "on": the top-level handlers
        return None
    if "notify" in keys:  # notices are written in the bot's own language: never translated
        return None
    if (
        keys[0] in ("states", "on")
        and any(k in ("set", "do", "with", "json", "headers", "form") for k in keys)
        and "notify" not in keys
    ):
        return None  # data, not words for users
    if last in ("say", "random", "retry") or (
        last == "text" and parent in ("say", "random", "retry")
    ):
        return "retry" if "retry" in keys else "notification" if "notify" in keys else "message"
    if last == "caption":
        return "caption"
    if last == "text" and parent == "buttons":
        return "button"
    if last in ("previous", "next") and "buttons" in keys:
        return "button"  # a list's page buttons
    if last == "placeholder" and parent == "keyboard_options":
        return "key"
    if last == "keyboard" or (last == "text" and parent == "keyboard"):
        return "key"
    if last == "choices" or (last == "text" and parent == "choices"):
        return "choice"
    if last == "skip_text":
        return "key"
    if parent == "on" and last in ("text", "button"):
        return "what users type"
    return None


def scenario_messages(data: Any, source: SourceMap, base: str = ".") -> list[SourceMessage]:
    found: list[SourceMessage] = []
    seen: set[tuple[str | tuple[str, str], str]] = set()

    def walk(value: Any, path: Path) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, (*path, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, (*path, i))
        elif isinstance(value, str) and value.strip():
            role = translatable_role(path)
            if role is None:
                return
            position = source.of(path)
            state = str(path[1]) if path[0] == "states" and len(path) > 1 else None
            if path[0] == "commands" and len(path) > 1:
                role = f"{role} of /{path[1]}"
            elif path[0] == "fallback":
                role = "fallback (any state)"
            elif path[0] == "on":
                role = f"{role} (any state)"
            file = os.path.relpath(position.file, base)
            for line_offset, msgid in _msgids(value):
                if (msgid, role) not in seen:
                    seen.add((msgid, role))
                    found.append(
                        SourceMessage(msgid, file, position.line + line_offset, state, role)
                    )

    walk(data, ())
    inventory = take_inventory(data)
    for value in translated_set_texts((t.text for t in inventory.templates), inventory.set_texts):
        position = source.of(value.path)
        role = f"a value of {value.name} (set:), shown with _({value.name})"
        state = str(value.path[1]) if value.path[0] == "states" and len(value.path) > 1 else None
        if (value.value, role) not in seen:
            seen.add((value.value, role))
            file = os.path.relpath(position.file, base)
            found.append(SourceMessage(value.value, file, position.line, state, role))
    return found


_TEMPLATE_PARTS = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)


def _has_words(text: str) -> bool:
    """Whether a translator has anything to translate: a list button's `{{ item.name }}` or a
    `{{ greeting }}` alone is only a value (it was offered in every catalog)."""
    return any(c.isalpha() for c in _TEMPLATE_PARTS.sub("", text))


def _msgids(text: str) -> Iterator[tuple[int, str | tuple[str, str]]]:
    """The whole text (unless it marks its parts with {% trans %}), and every literal it
    passes to `_()`, `gettext()` or `ngettext()`."""
    if "{% trans" not in text and "{%- trans" not in text and _has_words(text):
        yield 0, text
    if not (has_template_syntax(text) and any(mark in text for mark in _MARKED)):
        return
    try:
        marked = list(environment().extract_translations(text))  # type: ignore[attr-defined]
    except Exception:  # broken template syntax: --validate reports it
        return
    for line, _function, message in marked:
        if isinstance(message, str):
            yield line - 1, message
        elif isinstance(message, tuple) and len(message) >= 2 and message[0] and message[1]:
            yield line - 1, (str(message[0]), str(message[1]))


def build_template(name: str, messages: list[SourceMessage]) -> Catalog:
    """The .pot catalog: each entry with its file:line and a comment naming the state."""
    catalog = Catalog(project=name, charset="utf-8", fuzzy=False)
    for message in messages:
        comment = f"{message.role} in state {message.state}" if message.state else message.role
        existing = catalog.get(message.msgid)
        if existing is not None:
            existing.locations.append((message.file, message.line))
            if comment not in existing.auto_comments:
                existing.auto_comments.append(comment)
            continue
        added = catalog.add(
            message.msgid, locations=[(message.file, message.line)], auto_comments=[comment]
        )
        if not formatted(message.msgid):  # "50% off" is not a format string
            added.flags.discard("python-format")
    return catalog


def extract_scenario(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, str, str | tuple[str, str], list[str]]]:
    """Babel extractor (`[scenario: scenarios/*.yaml]` in a mapping file, see locales/babel.cfg)."""
    name = getattr(fileobj, "name", "scenario.yaml")
    document, _problems = load_yaml_text(str(name), fileobj.read())
    if document is None:
        return
    for message in scenario_messages(document.data, document.source):
        function = "ngettext" if isinstance(message.msgid, tuple) else "_"
        comment = f"{message.role} in state {message.state}" if message.state else message.role
        yield message.line, function, message.msgid, [comment]
