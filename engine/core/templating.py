"""The sandboxed Jinja2 environments scenarios are validated and rendered with.

One configuration, four escapings: HTML (autoescape), MarkdownV2 (values escaped by
`finalize`), none (plain text) and data (for `set` values, URLs and conditions, never
escaped). All are immutable sandboxes with caps on the size of every value built
(engine.core.template_limits) and on work per render."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sized
from contextvars import ContextVar
from functools import cache
from importlib.metadata import version
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.core.formatting import FILTERS
from engine.core.template_gettext import Translations, install_null_translations
from engine.core.template_limits import (
    MAX_ITEMS,
    LimitedCodeGenerator,
    bounded,
    bounded_parts,
    check_binop,
    check_method,
    check_str_format,
    guarded_filters,
)

_JINJA = re.match(r"(\d+)\.(\d+)\.(\d+)", version("Jinja2"))
if _JINJA is None or tuple(map(int, _JINJA.groups())) < (3, 1, 6):
    raise ImportError(  # under 3.1.6 `|attr("format")` escapes the sandbox (CVE-2025-27516)
        f"Jinja2 {version('Jinja2')} is installed; the engine needs 3.1.6 or later: "
        "python3 -m pip install -e ."
    )

# Names every template may use besides the scenario's own variables.
CONTEXT_NAMES = frozenset({"user", "chat", "message", "match", "now", "config", "flags"})
# the fields of the names above that are records (step_context.StepBase.context and
# events.message_view build them): `--validate` refuses any other (`user.firstname`)
CONTEXT_FIELDS: dict[str, frozenset[str]] = {
    "user": frozenset({"id", "first_name", "last_name", "username", "language"}),
    "chat": frozenset({"id", "type", "title"}),
    "message": frozenset(
        {"type", "text", "id", "command", "args", "payload", "file_id", "caption"}
        | {"contact", "location"}
    ),
}
PARSE_MODES = ("HTML", "MarkdownV2", "none")
MAX_SEQUENCE = MAX_ITEMS  # longest string or list one `*` may build
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


def _spend(amount: int, what: str = "loops over too many items") -> None:
    left = _work_left.get() - amount
    if left < 0:
        raise SecurityError(f"the template does too much work ({what})")
    _work_left.set(left)


_MACRO_BUDGET = "_macro_budget"  # called first by every macro: each call is work


def _macro_call() -> str:
    """A macro calling itself twice, 30 deep, is a billion calls with nothing shown."""
    _spend(1, f"more than {WORK_BUDGET:,} loop turns and macro calls")
    return ""


def reset_work_budget() -> None:
    _work_left.set(WORK_BUDGET)


_DICT_ATTRIBUTES = frozenset(dir(dict))  # what `getattr(a_dict, name)` finds


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"+", "*", "**", "%"})
    code_generator_class = LimitedCodeGenerator
    bounded = staticmethod(bounded)  # called by the generated code: see LimitedCodeGenerator
    bounded_parts = staticmethod(bounded_parts)

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
        macros: Iterator[nodes.Macro | nodes.CallBlock] = tree.find_all(
            (nodes.Macro, nodes.CallBlock)
        )
        for macro in macros:
            spend = nodes.Call(nodes.Name(_MACRO_BUDGET, "load"), [], [], None, None)
            first = nodes.Output([spend], lineno=macro.lineno).set_environment(self)
            macro.body.insert(0, first)
        return tree

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """A method of a text (`s.ljust(n)`, `",".join(x)`) is held to the filters' limits."""
        args = check_method(__obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """`"{:>9}".format(x)` and `format_map`: sandboxed by Jinja, sized here first."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        template: str = value.__self__
        is_map = value.__name__ == "format_map"

        def checked(*args: Any, **kwargs: Any) -> str:
            if is_map:
                check_str_format(template, (), args[0] if args else {})
            else:
                check_str_format(template, args, kwargs)
            return wrapped(*args, **kwargs)

        return checked


def _blank_none(value: Any) -> Any:
    return "" if value is None else value


def _markdown_finalize(value: Any) -> Any:
    return "" if value is None else escape_markdown(str(value))


@cache
def environment(mode: str = "data") -> ImmutableSandboxedEnvironment:
    """Shared by the validator and the renderer, so what validates is what runs."""
    env = _Sandbox(
        undefined=StrictUndefined,
        extensions=[Translations],
        autoescape=mode == "HTML",
        finalize=_markdown_finalize if mode == "MarkdownV2" else _blank_none,
        keep_trailing_newline=False,
    )
    env.globals.pop("lipsum", None)  # can produce large output for no author's benefit
    env.globals["range"] = _budgeted_range
    env.globals[_LOOP_BUDGET] = _budgeted_loop
    env.globals[_MACRO_BUDGET] = _macro_call
    env.filters.update(FILTERS)
    env.filters = guarded_filters(env.filters)
    install_null_translations(env)
    return env


def known_names() -> frozenset[str]:
    """Names defined for every template: the context and the environment's globals."""
    return CONTEXT_NAMES | frozenset(environment().globals)
