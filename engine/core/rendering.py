"""Turning compiled texts into message texts: rendering with caps, and splitting long texts
at paragraph boundaries so that every message fits Telegram's 4096 characters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import Template, Undefined
from jinja2.exceptions import SecurityError, TemplateError

from engine.core.model import Expression, Text, Value
from engine.core.templating import iter_chunks, reset_work_budget

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
MAX_RENDERED = 64 * TEXT_LIMIT  # a text may become at most 64 messages; output bombs stop here


class RenderError(Exception):
    """A template failed at run time: an undefined value, a type error, or a cap reached."""


_FAILURES = (TemplateError, SecurityError, ArithmeticError, TypeError, ValueError, LookupError)


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


def render(text: Text, scope: Scope) -> str:
    template = text.template
    if template is None:
        return text.source
    reset_work_budget()
    try:
        context = template.new_context(scope.full(template), shared=True)
        return "".join(iter_chunks(template.root_render_func(context), MAX_RENDERED))
    except _FAILURES as exc:
        raise RenderError(f"{type(exc).__name__}: {exc}") from None


def evaluate(expression: Expression, scope: Scope) -> Any:
    """Like jinja2's TemplateExpression.__call__, without copying the scope each time."""
    reset_work_budget()
    template: Template = expression.compiled._template
    try:
        context = template.new_context(scope.full(template), shared=True)
        for _ in template.root_render_func(context):
            pass
        value = context.vars["result"]
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


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Pieces of at most `limit` characters, cut at paragraph, then line, then word boundaries."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = (
            max(window.rfind("\n\n"), 0) or max(window.rfind("\n"), 0) or max(window.rfind(" "), 0)
        )
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces
