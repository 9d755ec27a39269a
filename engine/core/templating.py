"""The sandboxed Jinja2 environments scenarios are validated and rendered with.

One configuration, four escapings: HTML (autoescape), MarkdownV2 (values escaped by
`finalize`), none (plain text) and data (for `set` values, URLs and conditions, never
escaped). All are immutable sandboxes with caps on output size and on work per render."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sized
from contextvars import ContextVar
from functools import cache
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.core.formatting import FILTERS

# Names every template may use besides the scenario's own variables.
CONTEXT_NAMES = frozenset({"user", "chat", "message", "match", "now", "config"})
PARSE_MODES = ("HTML", "MarkdownV2", "none")
MAX_SEQUENCE = 100_000  # longest string or list one operation may build
WORK_BUDGET = 200_000  # range() items and loop iterations per render: nothing runs for minutes
_MARKDOWN_SPECIAL = re.compile(r"([_*\[\]()~`>#+\-=|{}.!\\])")

_work_left: ContextVar[int] = ContextVar("work_left", default=WORK_BUDGET)


def escape_markdown(text: str) -> str:
    """Telegram MarkdownV2: every special character in a value is escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _budgeted_range(*args: int) -> range:
    items = range(*args)
    left = _work_left.get() - len(items)
    if left < 0:
        raise SecurityError("the template does too much work (range() too large)")
    _work_left.set(left)
    return items


_LOOP_BUDGET = "_loop_budget"  # wraps what every `{% for %}` iterates over


def _budgeted_loop(items: Any) -> Any:
    """Every item a `{% for %}` visits counts against the render's work budget, so loops
    nested over a user's 4,000-character text cannot run for minutes."""
    size = len(items) if isinstance(items, Sized) else None
    if size is not None:
        _spend(size)
        return items
    return _counted(items)


def _counted(items: Iterable[Any]) -> Iterator[Any]:
    for item in items:
        _spend(1)
        yield item


def _spend(amount: int) -> None:
    left = _work_left.get() - amount
    if left < 0:
        raise SecurityError("the template does too much work (loops over too many items)")
    _work_left.set(left)


def reset_work_budget() -> None:
    _work_left.set(WORK_BUDGET)


_DICT_ATTRIBUTES = frozenset(dir(dict))  # what `getattr(a_dict, name)` finds


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        """`user.first_name` on a plain dict: Jinja tries the attribute first and takes the
        item after an AttributeError; a name no dict has goes straight to the item."""
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            budget = nodes.Name(_LOOP_BUDGET, "load", lineno=loop.lineno)
            wrapped = nodes.Call(budget, [loop.iter], [], None, None, lineno=loop.lineno)
            loop.iter = wrapped.set_environment(self)
        return tree

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*" and isinstance(right, int) and isinstance(left, str | list | tuple):
            left, right = right, left
        sequence = isinstance(right, str | list | tuple)
        if (
            operator == "*"
            and isinstance(left, int)
            and sequence
            and left * len(right) > MAX_SEQUENCE
        ):
            raise SecurityError("the template builds a text or list that is too long")
        if operator == "**" and isinstance(right, int | float) and abs(right) > 100:
            raise SecurityError("the template raises a number to too large a power")
        if operator == "%" and isinstance(left, str) and re.search(r"%[-+ #0]*\d{4,}", left):
            raise SecurityError("the template pads a text to too large a width")
        return super().call_binop(context, operator, left, right)


def _capped(filter_function: Callable[..., Any], argument: int) -> Callable[..., Any]:
    def capped(*args: Any, **kwargs: Any) -> Any:
        width = args[argument] if len(args) > argument else next(iter(kwargs.values()), 0)
        if isinstance(width, int) and width > MAX_SEQUENCE:
            raise SecurityError("the template pads a text to too large a width")
        return filter_function(*args, **kwargs)

    return capped


def _blank_none(value: Any) -> Any:
    return "" if value is None else value


def _markdown_finalize(value: Any) -> Any:
    return "" if value is None else escape_markdown(str(value))


@cache
def environment(mode: str = "data") -> ImmutableSandboxedEnvironment:
    """Shared by the validator and the renderer, so what validates is what runs."""
    env = _Sandbox(
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        autoescape=mode == "HTML",
        finalize=_markdown_finalize if mode == "MarkdownV2" else _blank_none,
        keep_trailing_newline=False,
    )
    env.globals.pop("lipsum", None)  # can produce large output for no author's benefit
    env.globals["range"] = _budgeted_range
    env.globals[_LOOP_BUDGET] = _budgeted_loop
    env.filters.update(FILTERS)
    for name, argument in (("center", 1), ("indent", 1), ("wordwrap", 2), ("truncate", 1)):
        env.filters[name] = _capped(env.filters[name], argument)
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    return env


def known_names() -> frozenset[str]:
    """Names defined for every template: the context and the environment's globals."""
    return CONTEXT_NAMES | frozenset(environment().globals)
