"""Turning compiled texts into message texts: rendering with caps, and splitting long texts
at paragraph boundaries so that every message fits Telegram's 4096 characters."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from jinja2 import Template, Undefined
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.runtime import Context

from engine.core import markdown_v2
from engine.core.model import Expression, Text, Value
from engine.core.template_limits import bounded
from engine.core.templating import reset_work_budget

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
MAX_RENDERED = 64 * TEXT_LIMIT  # a text may become at most 64 messages; output bombs stop here


class RenderError(Exception):
    """A template failed at run time: an undefined value, a type error, or a cap reached."""


_FAILURES = (
    TemplateError,
    SecurityError,
    ArithmeticError,
    TypeError,
    ValueError,
    LookupError,
    RecursionError,  # a macro that calls itself without end
)


class Scope:
    """The names templates see during one step. Jinja copies its globals and the variables
    into a new dict for every render; a Scope builds that dict once per environment."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values
        self._full: dict[int, dict[str, Any]] = {}

    def full(self, template: Template) -> dict[str, Any]:
        key = id(template.environment)
        found = self._full.get(key)
        if found is None:
            found = self._full[key] = {**template.environment.globals, **self.values}
        return found


def _new_context(template: Template, scope: Scope) -> Context:
    """What `template.new_context(vars, shared=True)` builds, without copying the template's
    globals into a set of names (only imports read it, and scenarios import nothing)."""
    environment = template.environment
    return environment.context_class(
        environment, scope.full(template), template.name, template.blocks
    )


def render(text: Text, scope: Scope) -> str:
    template = text.template
    if template is None:
        return text.source
    reset_work_budget()
    try:
        context = _new_context(template, scope)
        parts: list[str] = []
        total = 0
        for chunk in template.root_render_func(context):
            total += len(chunk)
            if total > MAX_RENDERED:
                raise SecurityError(f"the message would be longer than {MAX_RENDERED:,} characters")
            parts.append(chunk)
        return "".join(parts)
    except _FAILURES as exc:
        raise RenderError(f"{type(exc).__name__}: {exc}") from None


def evaluate(expression: Expression, scope: Scope) -> Any:
    """Like jinja2's TemplateExpression.__call__, without copying the scope each time."""
    reset_work_budget()
    template: Template = expression.compiled._template
    try:
        context = _new_context(template, scope)
        for _ in template.root_render_func(context):
            pass
        value = bounded(context.vars["result"])  # a `set` value is kept: it must be small
    except _FAILURES as exc:
        raise RenderError(f"{type(exc).__name__} in `{expression.source}`: {exc}") from None
    return None if isinstance(value, Undefined) else value


def resolve(value: Value, context: Scope) -> Any:
    """A `set`, http or plugin value, with templates evaluated (nested lists and mappings too)."""
    if isinstance(value, Text):
        return render(value, context)
    if isinstance(value, Expression):
        return _plain(evaluate(value, context))
    if isinstance(value, tuple):
        return [resolve(item, context) for item in value]
    if isinstance(value, dict):
        return {key: resolve(item, context) for key, item in value.items()}
    return value


def _plain(value: Any) -> Any:
    """Values stored in a session must be JSON: undefined or exotic results become text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def from_outside(value: Any) -> Any:
    """A value from an HTTP answer or a plugin as a session keeps it: plain JSON whose
    texts both databases can store (no NUL, no lone UTF-16 surrogate, which json.loads
    makes of a `"\\ud800"`); those characters become U+FFFD, NUL is dropped."""
    value = _plain(value)
    if isinstance(value, str):
        if value.isascii() and "\x00" not in value:
            return value
        return _UNSTORABLE.sub(_replacement, value)
    if isinstance(value, list):
        return [from_outside(v) for v in value]
    if isinstance(value, dict):
        return {from_outside(k): from_outside(v) for k, v in value.items()}
    return value


def _replacement(match: re.Match[str]) -> str:
    return "" if match.group() == "\x00" else "\ufffd"


_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)[^<>]*>")
_LONGEST_ENTITY = 10  # `&#1114111;`


def split_text(text: str, limit: int = TEXT_LIMIT, parse_mode: str | None = None) -> list[str]:
    """Pieces of at most `limit` characters, cut at paragraph, then line, then word boundaries.

    A piece is valid on its own in its parse mode: a cut never falls inside an HTML tag or
    entity (`&lt;`), after a MarkdownV2 backslash or inside a MarkdownV2 link, and the HTML
    tags or MarkdownV2 entities (`*bold*`, `_italic_`, code...) open at a cut are closed at
    the end of the piece and opened again at the start of the next one."""
    rest = text.strip()
    if len(rest) <= limit:
        return [rest] if rest else []  # most messages are short
    html = parse_mode == "HTML"
    pieces: list[str] = []
    while len(rest) > limit:
        budget = limit
        while True:
            cut = _cut(rest, budget, parse_mode)
            head = rest[:cut].rstrip()
            if html and not _TAG.sub("", head).strip():
                cut = _cut(rest, budget, parse_mode, boundaries=False)  # not a message of tags
                head = rest[:cut].rstrip()
            opened = _open_entities(head, parse_mode)
            closing = markdown_v2.joined(head, *(c for c, _ in reversed(opened)))[len(head) :]
            if len(head) + len(closing) <= limit or budget == limit // 2:
                break
            budget = max(limit // 2, budget - len(closing))
        reopen = markdown_v2.joined(*(tag for _, tag in opened))
        if (
            len(head) + len(closing) > limit
            or len(reopen) + len(closing) > limit // 4
            or (html and not _TAG.sub("", head).strip())
        ):
            rest = _TAG.sub("", rest).strip() if html else _unmarked(rest)
            continue  # tags nested past reason: the rest goes without
        pieces.append(head + closing)
        rest = markdown_v2.joined(reopen, rest[cut:].lstrip()) if reopen else rest[cut:].lstrip()
    if rest and not (pieces and html and not _TAG.sub("", rest).strip()):
        pieces.append(rest)  # (tags reopened only to be closed are not a message)
    return pieces


def _open_entities(head: str, parse_mode: str | None) -> list[tuple[str, str]]:
    """(closing, opening) of each tag or entity open at the end of `head`, outermost first."""
    if parse_mode == "HTML":
        return [(f"</{name}>", tag) for name, tag in _open_tags(head)]
    if parse_mode == "MarkdownV2":
        marks = markdown_v2.read(head).entities
        return [(markdown_v2.closing_mark(mark), mark) for mark in marks]
    return []


def _unmarked(text: str) -> str:
    """MarkdownV2 with its marks shown as written: for marks nested past reason."""
    return markdown_v2.without_marks(text).strip()


def _cut(text: str, budget: int, parse_mode: str | None, boundaries: bool = True) -> int:
    window = text[:budget]
    cut = window.rfind("\n\n") if boundaries else budget
    if cut <= 0:
        cut = window.rfind("\n")
    if cut <= 0:
        cut = window.rfind(" ")
    if cut <= 0:
        cut = budget
    if parse_mode == "HTML":
        tag = text.rfind("<", 0, cut)
        if tag > text.rfind(">", 0, cut):
            cut = tag  # not inside a tag
        entity = text.rfind("&", max(0, cut - _LONGEST_ENTITY), cut)
        if entity >= 0 and ";" not in text[entity:cut]:
            cut = entity  # not inside `&amp;`
    elif parse_mode == "MarkdownV2":
        while cut > 1 and text[cut - 1] == "\\" and _escapes(text, cut - 1):
            cut -= 1  # not between a backslash and what it escapes
        link = markdown_v2.read(text[:cut]).link_start
        if link:
            cut = link  # not inside `[text](url)`
    return cut if cut > 0 else budget


def _escapes(text: str, index: int) -> bool:
    """Whether the backslash at `index` escapes the next character (an odd run ends there)."""
    run = 0
    while index - run >= 0 and text[index - run] == "\\":
        run += 1
    return run % 2 == 1


def _open_tags(html: str) -> list[tuple[str, str]]:
    """The tags still open at the end of `html`, outermost first: (name, the tag as written)."""
    stack: list[tuple[str, str]] = []
    for found in _TAG.finditer(html):
        name = found.group(2).lower()
        if not found.group(1):
            stack.append((name, found.group(0)))
            continue
        for depth in range(len(stack) - 1, -1, -1):
            if stack[depth][0] == name:
                del stack[depth:]
                break
    return stack
