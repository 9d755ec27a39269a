"""Turning compiled texts into message texts: rendering with caps, and splitting long texts
at paragraph boundaries so that every message fits Telegram's 4096 characters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2.exceptions import SecurityError, TemplateError

from engine.core.model import Expression, Text, Value
from engine.core.templating import iter_chunks, reset_work_budget

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
MAX_RENDERED = 8 * TEXT_LIMIT  # a text may become at most 8 messages


class RenderError(Exception):
    """A template failed at run time: an undefined value, a type error, or a cap reached."""


def render(text: Text, context: Mapping[str, Any]) -> str:
    if text.template is None:
        return text.source
    reset_work_budget()
    try:
        return "".join(iter_chunks(text.template.generate(context), MAX_RENDERED))
    except (
        TemplateError,
        SecurityError,
        ArithmeticError,
        TypeError,
        ValueError,
        LookupError,
    ) as exc:
        raise RenderError(f"{type(exc).__name__}: {exc}") from None


def evaluate(expression: Expression, context: Mapping[str, Any]) -> Any:
    reset_work_budget()
    try:
        return expression.compiled(**context)
    except (
        TemplateError,
        SecurityError,
        ArithmeticError,
        TypeError,
        ValueError,
        LookupError,
    ) as exc:
        raise RenderError(f"{type(exc).__name__} in `{expression.source}`: {exc}") from None


def resolve(value: Value, context: Mapping[str, Any]) -> Any:
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
