"""Checks of templates and conditions: Jinja2 syntax, filters, undefined names, static length."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from jinja2 import TemplateSyntaxError, nodes

from engine.core import markdown_v2
from engine.core.templating import CONTEXT_FIELDS, environment, known_names
from engine.scenario.diagnostics import Diagnostic, Position, error
from engine.scenario.inventory import Inventory, Text
from engine.scenario.schema_check import describe_path
from engine.scenario.suggestions import did_you_mean
from engine.scenario.yaml_loader import SourceMap

_MARKERS = ("{{", "{%", "{#")


@dataclass(frozen=True)
class _Parsed:
    problem: str | None = None  # a syntax error, or None
    line: int = 1
    undeclared: frozenset[str] = frozenset()
    bad_filters: tuple[str, ...] = ()
    bad_tests: tuple[str, ...] = ()
    static_length: int = 0
    outputs: int = 0
    bad_fields: tuple[tuple[str, str], ...] = ()  # (record, field): `user.firstname`
    first_lines: tuple[tuple[str, int], ...] = ()  # each name's first line in the text


def has_template_syntax(text: str) -> bool:
    return any(marker in text for marker in _MARKERS)


def check_templates(inv: Inventory, source: SourceMap) -> Iterator[Diagnostic]:
    known = known_names() | frozenset(inv.defined_vars)
    cache: dict[str, _Parsed] = {}
    for text in inv.templates:
        if text.parse_mode == "MarkdownV2":
            yield from _check_markdown(text, source)
        if not has_template_syntax(text.text):
            sent = text.text.strip()  # what is sent: surrounding blank lines are dropped
            if text.limit is not None and len(sent) > text.limit:
                yield _too_long(text, len(sent), source)
            continue
        parsed = cache.get(text.text) or cache.setdefault(text.text, _parse(text.text))
        yield from _report(text, parsed, known | text.names, source, "template", inv.flags)
        if parsed.problem is None and text.limit is not None and parsed.static_length > text.limit:
            yield _too_long(text, parsed.static_length, source)
    for condition in inv.conditions:
        position = source.of(condition.path)
        if has_template_syntax(condition.text):
            bare = condition.text.replace("{{", "").replace("}}", "").strip()
            key = condition.path[-1] if condition.path[-1] == "list" else "if"
            what = "a list is" if key == "list" else "conditions are"
            yield error(
                position,
                "condition-braces",
                f"{what} written without {{{{ }}}}: write `{key}: {bare}` {describe_path(condition.path)}.",
            )
            continue
        key = "\0if" + condition.text
        parsed = cache.get(key) or cache.setdefault(key, _parse("{{ " + condition.text + " }}"))
        if parsed.problem is None and parsed.outputs != 1:
            parsed = _Parsed(problem='a condition is one expression, like `size == "Large"`')
        yield from _report(condition, parsed, known, source, "condition", inv.flags)


_TEMPLATE_PARTS = re.compile(r"(\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\})", re.DOTALL)


def _check_markdown(text: Text, source: SourceMap) -> Iterator[Diagnostic]:
    """Telegram refuses a whole MarkdownV2 message for one bare `.` or `!`: the text as
    written (values from `{{ }}` are escaped when shown) must escape its reserved characters."""
    parts = _TEMPLATE_PARTS.split(text.text)  # literal text at even indexes
    bare: list[str] = []
    for index in range(0, len(parts), 2):
        positions = markdown_v2.bare_reserved(parts[index])
        bare.extend(parts[index][p] for p in positions)
        parts[index] = markdown_v2.escaped(parts[index], positions)
    if not bare:
        return
    shown = " ".join(f"`{c}`" for c in dict.fromkeys(bare))
    fixed = "".join(parts)
    yield error(
        source.of(text.path),
        "markdown-unescaped",
        f"this text {describe_path(text.path)} is sent as MarkdownV2, where {shown} must be "
        f"written with a `\\` before it: Telegram refuses the whole message. Write: {fixed} "
        "(in a double-quoted YAML string each `\\` is written twice), or use parse_mode: HTML.",
    )


def _parse(text: str) -> _Parsed:
    env = environment()
    try:
        ast = env.parse(text)
    except TemplateSyntaxError as exc:
        return _Parsed(problem=_hint(exc.message or "invalid syntax"), line=exc.lineno or 1)
    filters = tuple(sorted({n.name for n in ast.find_all(nodes.Filter)} - set(env.filters)))
    tests = tuple(sorted({n.name for n in ast.find_all(nodes.Test)} - set(env.tests)))
    outputs = sum(len(n.nodes) for n in ast.find_all(nodes.Output))
    static = sum(len(n.data) for n in ast.find_all(nodes.TemplateData))
    loads = [n for n in ast.find_all(nodes.Name) if n.ctx == "load"]
    loaded = {n.name for n in loads}
    first_lines: dict[str, int] = {}
    for name in loads:
        line = name.lineno or 1  # none on some nodes Jinja makes itself (a macro's caller)
        first_lines[name.name] = min(first_lines.get(name.name, line), line)
    stored = {n.name for n in ast.find_all(nodes.Name) if n.ctx != "load"}
    stored.update(n.name for n in ast.find_all(nodes.Macro))
    if any(True for _ in ast.find_all(nodes.For)):
        stored.add("loop")  # Jinja's own name inside a `{% for %}`: loop.index, loop.last ...
    return _Parsed(
        undeclared=frozenset(loaded - stored),  # like jinja2.meta, at a fraction of the cost
        bad_filters=filters,
        bad_tests=tests,
        static_length=static,
        outputs=outputs,
        bad_fields=_bad_fields(ast, stored),
        first_lines=tuple(sorted(first_lines.items())),
    )


def _bad_fields(ast: nodes.Template, stored: set[str]) -> tuple[tuple[str, str], ...]:
    """`user.firstname`, `chat["titel"]`: a field the record does not have. At run time it
    is undefined, and the message is replaced by the apology."""
    found: set[tuple[str, str]] = set()
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr):
            record, field = node.node, node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            record, field = node.node, node.arg.value
        else:
            continue
        if not isinstance(record, nodes.Name) or record.name in stored:
            continue
        if record.name == FLAGS and isinstance(field, str):
            found.add((FLAGS, field))  # the scenario's own names: _report checks them
            continue
        fields = CONTEXT_FIELDS.get(record.name)
        if fields is None or not isinstance(field, str):
            continue
        if field not in fields and field not in _DICT_METHODS:
            found.add((record.name, field))
    return tuple(sorted(found))


_DICT_METHODS = frozenset({"get", "items", "keys", "values"})
FLAGS = "flags"  # `flags.NAME`: a feature flag declared under `flags:`


def _hint(message: str) -> str:
    message = message.rstrip(".")  # Jinja ends some messages with a period; ours adds one
    if "got '='" in message:
        return message + ". To compare two values, write '=='"
    if "unexpected '}'" in message:
        return message + ". Every '{{' needs a matching '}}'"
    return message


def _report(
    text: Text,
    parsed: _Parsed,
    known: frozenset[str],
    source: SourceMap,
    what: str,
    flags: frozenset[str] = frozenset(),
) -> Iterator[Diagnostic]:
    position = source.of(text.path)
    where = describe_path(text.path)
    if parsed.problem is not None:
        if parsed.line > 1:
            position = Position(position.file, position.line + parsed.line - 1, 1)
        yield error(
            position, "template-syntax", f"this {what} {where} is not valid: {parsed.problem}."
        )
        return
    env = environment()
    lines = dict(parsed.first_lines)
    for name in sorted(parsed.undeclared - known):
        hint = (
            did_you_mean(name, known)
            or " Declare it under `vars:`, or store it with `ask`, `set` or `save_as`."
        )
        yield error(
            _on_line(position, lines.get(name, 1)),
            "undefined-variable",
            f"the {what} {where} uses '{name}', which is not defined.{hint}",
            "reference",
        )
    for record, field in parsed.bad_fields:
        if record == FLAGS:
            if field not in flags and field not in _DICT_METHODS:
                yield _undeclared_flag(position, field, flags, what, where)
            continue
        fields = CONTEXT_FIELDS[record]
        hint = did_you_mean(field, fields) or f" {record} has: {', '.join(sorted(fields))}."
        yield error(
            position,
            "unknown-field",
            f"the {what} {where} uses '{record}.{field}', which does not exist.{hint}",
            "reference",
        )
    for name in parsed.bad_filters:
        hint = did_you_mean(name, env.filters) or " See docs/scenario-language.md for the filters."
        yield error(
            position,
            "unknown-filter",
            f"the {what} {where} uses the filter '{name}', which does not exist.{hint}",
        )
    for name in parsed.bad_tests:
        hint = did_you_mean(name, env.tests)
        yield error(
            position,
            "unknown-filter",
            f"the {what} {where} uses the test '{name}', which does not exist.{hint}",
        )


def _undeclared_flag(
    position: Position, name: str, flags: frozenset[str], what: str, where: str
) -> Diagnostic:
    hint = did_you_mean(name, flags) or (
        f" Declare it with its default: `flags: {{{name}: false}}`."
        if not flags
        else f" The flags are: {', '.join(sorted(flags))}."
    )
    return error(
        position,
        "undeclared-flag",
        f"the {what} {where} uses 'flags.{name}', which is not declared under `flags:`.{hint}",
        "reference",
    )


def _on_line(start: Position, line: int) -> Position:
    """Where line `line` of a text that starts at `start` is: a block (`say: |`) has each
    line at the column of its first."""
    return start if line <= 1 else Position(start.file, start.line + line - 1, start.column)


def _too_long(text: Text, length: int, source: SourceMap) -> Diagnostic:
    kind = "captions" if text.limit == 1024 else "messages"
    return error(
        source.of(text.path),
        "text-too-long",
        f"this text {describe_path(text.path)} has {length} characters; Telegram allows {text.limit} in "
        f"{kind}. Split it into several messages (a list under `say`).",
    )
