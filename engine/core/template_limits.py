"""Caps on what one render may build, checked before anything is built.

A template (or a value a user typed that reaches `%` or `_()`) must not make the bot build
a gigabyte string or a million-digit number: checking the finished message is too late, the
memory is spent by then. So every operation that can make a value larger than what went in
(`~`, `+`, `*`, `**`, `%`, `.format()`, `join`, `replace`, the padding filters and methods,
output of a value) first estimates the size of its result from the sizes of its inputs and
refuses with a SecurityError naming the limit. The sandbox in engine.core.templating routes
those operations here."""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NoReturn

from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.exceptions import SecurityError
from jinja2.nodes import Concat, Expr
from jinja2.utils import Namespace

MAX_TEXT = 262_144  # characters in any text, list or mapping a template builds (64 messages)
MAX_ITEMS = 100_000  # items one `*` may put into a list or text
MAX_WIDTH = 9_999  # a width or precision in a `%` or `{}` format
MAX_BITS = 100_000  # bits of an integer a template computes (about 30,000 digits)
_NUMBER = 330  # characters a float may take when formatted (`%f` of 1e308)
_OTHER = 24  # characters a date, None or an object takes in the estimates


def refuse(what: str) -> NoReturn:
    raise SecurityError(what)


def _too_long(what: str) -> NoReturn:
    refuse(f"{what} would build a text of more than {MAX_TEXT:,} characters (the limit per value)")


def size(value: Any, limit: int = MAX_TEXT) -> int:
    """About how many characters `value` takes when shown, counted only until it passes
    `limit`: a list of a million references to one long text is small in memory and huge
    as text, so shared items count every time they appear."""
    total = 0
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() * 3 // 10 + 2
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + 2 * len(item)
            if total <= limit:
                pending.extend(item)
        elif isinstance(item, Mapping):
            total += 2 + 4 * len(item)
            if total <= limit:
                pending.extend(item.keys())
                pending.extend(item.values())
        elif isinstance(item, Namespace):
            pending.append(object.__getattribute__(item, "_Namespace__attrs"))
        else:
            total += _OTHER
        if total > limit:
            return total
    return total


def bounded(value: Any) -> Any:
    """A value about to be shown (`{{ value }}`) or returned by an expression."""
    if not isinstance(value, str) and size(value) > MAX_TEXT:
        _too_long("showing this value")
    return value


def bounded_parts(parts: tuple[Any, ...]) -> tuple[Any, ...]:
    """The operands of a `~`, checked together before they are joined."""
    if sum(size(part) for part in parts) > MAX_TEXT:
        _too_long("`~`")
    return parts


def check_binop(operator: str, left: Any, right: Any) -> None:
    """`+`, `*`, `**` and `%` as the sandbox intercepts them."""
    if operator == "+":
        if isinstance(left, str | bytes | list | tuple) and size(left) + size(right) > MAX_TEXT:
            _too_long("`+`")
    elif operator == "*":
        if isinstance(right, str | bytes | list | tuple) and isinstance(left, int):
            left, right = right, left
        if isinstance(left, str | bytes | list | tuple) and isinstance(right, int):
            if right * len(left) > MAX_ITEMS or right * size(left) > MAX_TEXT:
                refuse(
                    f"`*` would build a text or list of more than {MAX_ITEMS:,} items or "
                    f"{MAX_TEXT:,} characters (the limit per value)"
                )
        elif _is_int(left) and _is_int(right) and left.bit_length() + right.bit_length() > MAX_BITS:
            _too_big("`*`")
    elif operator == "**":
        if isinstance(right, int | float) and abs(right) > 100:
            refuse("the template raises a number to a power above 100 (the limit)")
        if _is_int(left) and _is_int(right) and right > 0 and left.bit_length() * right > MAX_BITS:
            _too_big("`**`")
    elif operator == "%" and isinstance(left, str | bytes):
        check_percent(left, right)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _too_big(what: str) -> NoReturn:
    refuse(f"{what} would make a number of more than {MAX_BITS:,} bits (the limit)")


_CONVERSION = re.compile(
    rb"%(?:\((?P<key>[^)]*)\))?[-+ #0]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d*))?[hlL]?(?P<type>.?)",
    re.DOTALL,
)


def check_percent(template: str | bytes, values: Any) -> None:
    """`template % values` (also the `format` filter and `_()` with variables): widths and
    precisions at most MAX_WIDTH, written as numbers, and a result of at most MAX_TEXT."""
    raw = template.encode("utf-8", "surrogatepass") if isinstance(template, str) else template
    if b"%" not in raw:
        return
    positional = list(values) if isinstance(values, tuple) else [values]
    estimate = len(raw)
    for found in _CONVERSION.finditer(raw):
        kind = found["type"]
        if kind == b"%":
            continue
        width, precision = found["width"] or b"0", found["precision"] or b"0"
        if b"*" in (width, precision):
            refuse("a `%` format takes its width from a value (`*`); write the width as a number")
        if int(width) > MAX_WIDTH or int(precision) > MAX_WIDTH:
            refuse(f"a `%` format pads to a width above {MAX_WIDTH:,} (the limit)")
        key = found["key"]
        if key is not None and isinstance(values, Mapping):
            value = values.get(key.decode("utf-8", "replace"))
        else:
            value = positional.pop(0) if positional else None
        shown = size(value) * (10 if kind in (b"r", b"a") else 1)
        estimate += int(width) + int(precision) + max(shown, _NUMBER)
        if estimate > MAX_TEXT:
            _too_long("this `%` format")


def check_str_format(template: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """`"{:>10}".format(...)` and `format_map`: the same limits as `%`."""
    estimate = len(template)
    automatic = 0
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return  # str.format raises the same error with its own words
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        if spec and "{" in spec:
            refuse("a `{}` format takes its width from a value; write the width as a number")
        if any(int(n) > MAX_WIDTH for n in re.findall(r"\d+", spec or "")):
            refuse(f"a `{{}}` format pads to a width above {MAX_WIDTH:,} (the limit)")
        root = re.split(r"[.\[]", name, maxsplit=1)[0]
        if root == "":
            root, automatic = str(automatic), automatic + 1
        value = args[int(root)] if root.isdigit() and int(root) < len(args) else kwargs.get(root)
        shown = size(value) * (10 if conversion in ("r", "a") else 1)
        estimate += sum(int(n) for n in re.findall(r"\d+", spec or "")) + max(shown, _NUMBER)
        if estimate > MAX_TEXT:
            _too_long("this `{}` format")


def _argument(args: tuple[Any, ...], kwargs: Mapping[str, Any], index: int, name: str) -> Any:
    return args[index] if len(args) > index else kwargs.get(name)


def _replace_size(text: Any, old: Any, new: Any, count: Any) -> int:
    text, old, new = str(text), str(old), str(new)
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * max(0, len(new) - len(old))


def check_method(method: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """A method of a text called from a template (`"-".join(x)`, `s.ljust(n)`): the same
    limits as the filters. Returns the arguments (an iterable to join is read once here)."""
    owner = getattr(method, "__self__", None)
    if not isinstance(owner, str | bytes):
        return args
    name = getattr(method, "__name__", "")
    if name in ("center", "ljust", "rjust", "zfill"):
        width = _argument(args, kwargs, 0, "width")
        if isinstance(width, int) and width > MAX_TEXT:
            _too_long(f"`{name}`")
    elif name == "expandtabs":
        tab = _argument(args, kwargs, 0, "tabsize")
        tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
        if isinstance(tab, int) and len(owner) + tab * tabs > MAX_TEXT:
            _too_long("`expandtabs`")
    elif name == "replace" and len(args) >= 2:
        count = _argument(args, kwargs, 2, "count")
        if isinstance(owner, str) and _replace_size(owner, args[0], args[1], count) > MAX_TEXT:
            _too_long("`replace`")
    elif name == "join" and args:
        items = args[0] if isinstance(args[0], list | tuple) else _counted_items(args[0])
        if size(items) + len(owner) * len(items) > MAX_TEXT:
            _too_long("`join`")
        return (items, *args[1:])
    elif name == "translate" and args and isinstance(args[0], Mapping):
        longest = max((size(v) for v in args[0].values()), default=1)
        if len(owner) * max(longest, 1) > MAX_TEXT:
            _too_long("`translate`")
    return args


def _counted_items(items: Iterable[Any]) -> list[Any]:
    """An iterable (a `map`, a `select`) read into a list, refused as soon as it passes the
    limits: what it yields is made one item at a time, the list must not hold too many."""
    collected: list[Any] = []
    total = 0
    for item in items:
        total += size(item) + 2
        if total > MAX_TEXT or len(collected) >= MAX_ITEMS:
            refuse(
                f"a list of more than {MAX_ITEMS:,} items or {MAX_TEXT:,} characters "
                "would be built (the limit per value)"
            )
        collected.append(item)
    return collected


# Filters that do not turn their whole input into text: no size check needed (and `length`
# of a long list in a loop stays cheap).
_STRUCTURAL = frozenset(
    {
        *("length", "count", "first", "last", "default", "d", "abs", "round", "int", "float"),
        *("random", "attr", "select", "reject", "selectattr", "rejectattr", "map", "batch"),
        *("slice", "reverse", "sort", "unique", "dictsort", "items", "list", "min", "max"),
        *("groupby", "boolean"),
    }
)
# Filters that keep every item of what they are given: an iterable is read under the limits.
_COLLECTING = frozenset({"list", "sort", "reverse", "unique", "batch", "slice", "groupby", "join"})


def _filter_estimate(name: str, values: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    """The size of what the filter `name` would build from `values` (its input first)."""
    inputs = sum(size(v) for v in values) + sum(size(v) for v in kwargs.values())
    if inputs > MAX_TEXT or not values:
        return inputs
    value = values[0]
    if name == "replace" and len(values) >= 3:
        return _replace_size(value, values[1], values[2], _argument(values, kwargs, 3, "count"))
    if name == "join":
        separator = _argument(values, kwargs, 1, "d") or ""
        return inputs + len(str(separator)) * (len(value) if isinstance(value, list) else 0)
    if name in ("center", "truncate"):
        width = _argument(values, kwargs, 1, "width" if name == "center" else "length")
        return max(inputs, width if isinstance(width, int) else 0)
    if name == "indent":
        width = _argument(values, kwargs, 1, "width")
        pad = width if isinstance(width, int) else len(str(width or ""))
        return inputs + pad * (str(value).count("\n") + 1)
    if name == "wordwrap":
        width = _argument(values, kwargs, 1, "width")
        wrap = _argument(values, kwargs, 3, "wrapstring") or "\n"
        lines = len(str(value)) // max(width if isinstance(width, int) else 79, 1) + 1
        return inputs + lines * len(str(wrap))
    if name == "format":
        check_percent(str(value), values[1:] or dict(kwargs))
    if name == "sum":
        start = _argument(values, kwargs, 2, "start")
        if start is not None and not isinstance(start, int | float):
            refuse("`sum` adds numbers; join texts with `join` and lists with `+`")
    return inputs


def guarded_filters(filters: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """Every filter that turns its input into text, behind a size check of its result."""
    return {name: _guarded(name, function) for name, function in filters.items()}


def _guarded(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    passes = getattr(function, "jinja_pass_arg", None)  # context, environment or eval context
    skip = 0 if passes is None else 1
    textual = name not in _STRUCTURAL
    collecting = name in _COLLECTING

    def guarded(*args: Any, **kwargs: Any) -> Any:
        values = args[skip:]
        if not values:
            return function(*args, **kwargs)
        if collecting and not isinstance(values[0], list | tuple | str | Mapping):
            values = (_counted_items(values[0]), *values[1:])
            args = (*args[:skip], *values)
        if name in ("batch", "slice"):
            count = _argument(values, kwargs, 1, "linecount" if name == "batch" else "slices")
            if isinstance(count, int) and count > MAX_ITEMS:
                refuse(f"`{name}` into more than {MAX_ITEMS:,} parts (the limit)")
        if textual and _filter_estimate(name, values, kwargs) > MAX_TEXT:
            _too_long(f"the filter `{name}`")
        return function(*args, **kwargs)

    guarded.__name__ = getattr(function, "__name__", name)
    if passes is not None:
        guarded.jinja_pass_arg = passes  # type: ignore[attr-defined]
    return guarded


class LimitedCodeGenerator(CodeGenerator):
    """Jinja's code generator with every `~` and every shown value passed through the
    checks above (through `environment.bounded…`, which the sandbox provides)."""

    @optimizeconst
    def visit_Concat(self, node: Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            join = "markup_join"
        else:
            join = "str_join"
        self.write(f"{join}(environment.bounded_parts((")
        for part in node.nodes:
            self.visit(part, frame)
            self.write(", ")
        self.write(")))")

    def _output_child_pre(self, node: Expr, frame: Frame, finalize: Any) -> None:
        super()._output_child_pre(node, frame, finalize)
        self.write("environment.bounded(")

    def _output_child_post(self, node: Expr, frame: Frame, finalize: Any) -> None:
        self.write(")")
        super()._output_child_post(node, frame, finalize)
