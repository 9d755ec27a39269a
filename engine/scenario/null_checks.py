"""Where a null (no value) can reach a format filter, as far as it is known without running
the bot. A null prints as nothing, also through `currency`, `date`, `number` …, so
"Total: {{ total | currency('EUR') }}" says "Total: " to the user. Two cases are certain from
the scenario alone: a variable that starts as null and is never given a value, and the answer
to a question that may be skipped (a skipped answer is null). A use inside `{% if name %}`,
through `default(…)`, or in a message whose `if:` names the variable is guarded. Whether a
variable is set on every path to a message (or cleared on one) is not followed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from jinja2 import nodes

from engine.core.formatting import FILTERS
from engine.core.templating import environment
from engine.scenario.diagnostics import Diagnostic, warning
from engine.scenario.inventory import Inventory, Name
from engine.scenario.schema_check import describe_path
from engine.scenario.template_checks import has_template_syntax
from engine.scenario.yaml_loader import Path, SourceMap

_GUARD_FILTERS = ("default", "d")


def _names_in(node: nodes.Node) -> set[str]:
    """The variables an expression names, itself included (find_all looks only below it)."""
    found = {n.name for n in node.find_all(nodes.Name)}
    return found | {node.name} if isinstance(node, nodes.Name) else found


def formatted_unguarded(text: str) -> set[str]:
    """Variables a template passes to a format filter outside `{% if name %}` and without
    `default(…)`: where a null would print as nothing."""
    if not has_template_syntax(text):
        return set()
    try:
        tree = environment().parse(text)
    except Exception:  # broken syntax: the template checks report it
        return set()
    found: set[str] = set()

    def visit(node: nodes.Node, guarded: frozenset[str]) -> None:
        if isinstance(node, nodes.If):
            inner = guarded | _names_in(node.test)
            for child in node.body:
                visit(child, inner)
            for child in (*node.elif_, *node.else_):
                visit(child, guarded)
            return
        if isinstance(node, nodes.CondExpr) and node.test is not None:
            visit(node.expr1, guarded | _names_in(node.test))
            if node.expr2 is not None:
                visit(node.expr2, guarded)
            return
        if isinstance(node, nodes.Filter) and node.name in FILTERS:
            chain: nodes.Node | None = node.node
            while isinstance(chain, nodes.Filter):
                if chain.name in _GUARD_FILTERS:
                    break
                chain = chain.node
            if isinstance(chain, nodes.Name) and chain.name not in guarded:
                found.add(chain.name)
        elif isinstance(node, nodes.Filter) and node.name in _GUARD_FILTERS:
            return  # `x | default(0) | currency`: visited from the outer filter
        for child in node.iter_child_nodes():
            visit(child, guarded)

    visit(tree, frozenset())
    return found


def _condition_of(data: Any, path: Path) -> str:
    """The `if:` of the message (or button) a template belongs to, '' without one."""
    node = data
    found = ""
    for part in path[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return found
        if isinstance(node, dict) and isinstance(node.get("if"), str):
            found = node["if"]
    return found


def check_null_filters(inv: Inventory, data: Any, source: SourceMap) -> Iterator[Diagnostic]:
    """A format filter a null certainly reaches on some way through the conversation."""
    defaults = data.get("vars") if isinstance(data, dict) else None
    defaults = defaults if isinstance(defaults, dict) else {}
    never_set = {
        name
        for name, path in inv.defined_vars.items()
        if name not in inv.assigned_vars and defaults.get(name) is None
    }
    skippable: dict[str, Name] = {}
    for answer in inv.optional_answers:
        skippable.setdefault(answer.name, answer)
    for template in inv.templates:
        condition = _condition_of(data, template.path)
        for name in sorted(formatted_unguarded(template.text)):
            if re.search(rf"\b{re.escape(name)}\b", condition):
                continue
            where = describe_path(template.path)
            if name in never_set:
                yield warning(
                    source.of(template.path),
                    "null-filter",
                    f"`{name}` {where} is never given a value (it starts as null and no `set`, "
                    f"question or `save_as` sets it), so its format filter prints nothing. Set "
                    f"it, or give it a value under `vars:`.",
                )
            elif name in skippable:
                asked = source.of(skippable[name].path)
                yield warning(
                    source.of(template.path),
                    "null-filter",
                    f"`{name}` {where} is null when the user skips the question on line "
                    f"{asked.line}, and its format filter then prints nothing: write "
                    f"`{{% if {name} %}}…{{% endif %}}` around it, or `{name} | default(0)`.",
                )
