"""The state diagram of a scenario, as Mermaid or Graphviz DOT, so authors can see their bot.

Every state is a node named as in the file; `end: true` states are double circles; an arrow
from a `start` pseudo-node marks the first state. Commands, the fallback and anything else
that works in every state (the top-level `on` handlers among them) are drawn from one "any
state" pseudo-node so the picture stays readable. Calls and returns are dashed; each `return`
(on a state, an `on` handler or a button) leads back to the states that call its sub-flow (the
states reached from the called state without another `call`); a top-level handler's, from
"any state" to every calling state. States the start cannot reach are dashed grey and listed
in a trailing comment.

Migrations are drawn, dotted, from an "old: name" pseudo-node to their new state: a renamed
state stays visible and cannot be mistaken for a live one. They never make a state reachable.
Targets with no state are drawn as "name (missing)" nodes, so broken files still render.
Edges follow the order of the file; the same input always gives the same text.

Labels are what a reader needs, not template source: `{{ size }}` shows as ‹size› (filters
dropped), `{% ... %}` tags and `{# ... #}` comments go, and a long label is cut with "…".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from engine.scenario.inventory import Edge, Inventory, take_inventory
from engine.scenario.yaml_loader import Path

FORMATS = ("mermaid", "dot")
START_ID, ANY_ID = "p_start", "p_any"
MAX_LABEL = 48  # characters of an arrow's label; longer ones end in "…"
_EXPRESSION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.DOTALL)
_TAG_OR_COMMENT = re.compile(r"\{%.*?%\}|\{#.*?#\}", re.DOTALL)


@dataclass(frozen=True)
class _Node:
    id: str
    label: str
    shape: str  # state, end, start, any, old, missing
    unreachable: bool = False


@dataclass(frozen=True)
class _Arrow:
    source: str
    target: str
    label: str
    style: str  # solid, dashed (call, return), dotted (migration)
    order: tuple[int, ...]


def render_graph(data: dict[str, Any], fmt: str = "mermaid") -> str:
    """The diagram of the merged scenario `data` in `fmt` ("mermaid" or "dot")."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown graph format {fmt!r}: use one of {', '.join(FORMATS)}")
    inv = take_inventory(data)
    ids = state_node_ids(data)
    reachable = _reachable(inv)
    states = [
        _Node(ids[name], str(name), "end" if facts.end else "state", name not in reachable)
        for name, facts in inv.states.items()
    ]
    pseudo: dict[str, _Node] = {}  # start, any state, old names and missing targets, by id
    missing: dict[str, str] = {}  # target name -> node id

    def node_of(name: str) -> str:
        if name in ids:
            return ids[name]
        if name not in missing:
            missing[name] = f"n_{len(missing)}"
            pseudo[missing[name]] = _Node(missing[name], name, "missing")
        return missing[name]

    arrows: list[_Arrow] = []
    for edge in inv.edges:
        order = _position(data, edge.path)
        if edge.kind == "migration":
            old = _Node(f"m_{sum(n.shape == 'old' for n in pseudo.values())}", edge.label, "old")
            pseudo[old.id] = old
            arrows.append(_Arrow(old.id, node_of(edge.target), "migration", "dotted", order))
            continue
        global_id = START_ID if edge.kind == "start" else ANY_ID
        source = global_id if edge.source is None else ids[edge.source]
        style = "dashed" if edge.kind == "call" else "solid"
        arrows.append(_Arrow(source, node_of(edge.target), _label(data, inv, edge), style, order))
    returns: set[tuple[str, str]] = set()
    for returner, caller, order in _returns(data, inv):
        source = ANY_ID if returner is None else ids[returner]
        target = ANY_ID if caller is None else ids[caller]
        if (source, target) not in returns:
            returns.add((source, target))
            arrows.append(_Arrow(source, target, "return", "dashed", order))
    arrows.sort(key=lambda a: a.order)
    used = {a.source for a in arrows} | {a.target for a in arrows}
    firsts = [
        _Node(START_ID, "start", "start"),
        _Node(ANY_ID, "any state", "any"),
    ]
    nodes = [*(n for n in firsts if n.id in used), *states, *pseudo.values()]
    lost = [n.label for n in states if n.unreachable]
    render = _mermaid if fmt == "mermaid" else _dot
    return render(nodes, arrows, lost)


# -- the graph --------------------------------------------------------------------------------
def state_node_ids(data: dict[str, Any]) -> dict[str, str]:
    """The diagram's node id of each state (`s_0`, `s_1`, … in the file's order): what a page
    that draws the diagram looks a state up by, to highlight it or to tell which was clicked."""
    return {name: f"s_{i}" for i, name in enumerate(take_inventory(data).states)}


def _reachable(inv: Inventory) -> set[str]:
    """States reachable from the start; commands and the fallback lead from anywhere."""
    outgoing: dict[str | None, list[str]] = {}
    for edge in inv.edges:
        if edge.kind != "migration":
            outgoing.setdefault(edge.source, []).append(edge.target)
    seen: set[str] = set()
    todo = list(outgoing.get(None, []))
    while todo:
        name = todo.pop()
        if name in inv.states and name not in seen:
            seen.add(name)
            todo.extend(outgoing.get(name, []))
    return seen


def _returns(
    data: dict[str, Any], inv: Inventory
) -> list[tuple[str | None, str | None, tuple[int, ...]]]:
    """(returning state or None for a top-level handler, calling state or None for a
    command, order) for every return."""
    points: dict[str, Path] = {}  # state -> path of its first `return: true`
    for name, facts in inv.states.items():
        handlers = _at(data, (*facts.path, "on"))
        for i, handler in enumerate(handlers if isinstance(handlers, list) else []):
            if isinstance(handler, dict) and handler.get("return") is True:
                points.setdefault(name, (*facts.path, "on", i, "return"))
        if facts.returns:
            points[name] = (*facts.path, "return")
    for button in inv.buttons:  # a button's `return` (the state's own comes first)
        if button.state in inv.states and button.data.get("return") is True:
            points.setdefault(button.state, (*button.path, "return"))
    within: dict[str, list[str]] = {}
    for edge in inv.edges:
        if edge.source is not None and edge.kind not in ("call", "migration"):
            within.setdefault(edge.source, []).append(edge.target)
    found: list[tuple[str | None, str | None, tuple[int, ...]]] = []
    handlers = data.get("on")
    anywhere = next(  # a top-level handler's `return` leaves any sub-flow: drawn from any state
        (
            ("on", i, "return")
            for i, handler in enumerate(handlers if isinstance(handlers, list) else [])
            if isinstance(handler, dict) and handler.get("return") is True
        ),
        None,
    )
    for call in (e for e in inv.edges if e.kind == "call"):
        if anywhere is not None and call.source is not None:
            found.append((None, call.source, _position(data, anywhere)))
        seen: dict[str, None] = {}  # ordered, for a deterministic output
        todo = [call.target]
        while todo:
            name = todo.pop(0)
            if name in inv.states and name not in seen:
                seen[name] = None
                if not inv.states[name].returns:  # a returning state leaves the sub-flow
                    todo.extend(within.get(name, []))
        found.extend((n, call.source, _position(data, points[n])) for n in seen if n in points)
    return found


# -- labels -----------------------------------------------------------------------------------
def _label(data: dict[str, Any], inv: Inventory, edge: Edge) -> str:
    """What the user does (or what happens) to take this edge, in the author's words."""
    path, kind = edge.path, edge.kind
    branch = len(path) >= 3 and path[-1] == "to" and path[-3] == "goto"
    block_path = path[:-3] if branch else path[:-1] if path[-1] in ("goto", "call") else path
    block = _at(data, block_path)
    block = block if isinstance(block, dict) else {}
    if kind == "start":
        base = ""
    elif kind == "answer":
        facts = inv.states.get(edge.source or "")
        base = f"answer: {facts.asks_var}" if facts and facts.asks_var else "answer"
    elif kind == "timer":
        base = f"after {block.get('delay', '?')}"
    elif kind in ("on_fail", "on_error"):
        base = kind
    else:  # goto, button, handler, command, fallback, call: say where it is written
        base = _context(block_path, block)
        if kind == "call":
            base = f"{base} → call" if base else "call"
    parts = [base]
    if edge.conditional:
        parts.append(f"if {edge.label}")
    elif branch and isinstance(path[-2], int) and path[-2] > 0:
        parts.append("else")
    return readable(", ".join(p for p in parts if p))


def readable(text: str) -> str:
    """A label without template syntax, on one line, at most MAX_LABEL characters."""
    text = _TAG_OR_COMMENT.sub("", text)
    text = _EXPRESSION.sub(lambda m: f"‹{_placeholder(m[1])}›", text)
    text = " ".join(text.split())
    if len(text) <= MAX_LABEL:
        return text
    cut = text[: MAX_LABEL - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > MAX_LABEL // 2 else cut).rstrip(" ,;:") + "…"


def _placeholder(expression: str) -> str:
    """`order.total | currency` -> order.total: what the value is, not how it is printed."""
    return _split_filters(expression)[0].strip() or "…"


def _split_filters(expression: str) -> list[str]:
    """The expression split at its filter bars (`|`), not at `||` or bars inside quotes."""
    parts, current, quote = [], "", ""
    for i, c in enumerate(expression):
        if quote:
            quote = "" if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "|" and "|" not in (expression[i - 1 : i], expression[i + 1 : i + 2]):
            parts.append(current)
            current = ""
            continue
        current += c
    return [*parts, current]


def _context(block_path: Path, block: dict[str, Any]) -> str:
    if block_path[:1] == ("commands",) and len(block_path) == 2:
        return f"/{block_path[1]}"
    if block_path[:1] == ("fallback",):
        return "fallback"
    if block_path[:1] == ("on",) and len(block_path) == 2:  # a top-level handler
        return _matcher(block)
    if "buttons" in block_path[2:] and isinstance(block.get("list"), str):
        return f"an entry of {block['list']}"  # buttons made from a list
    if "buttons" in block_path[2:]:
        return str(block.get("text", "button"))
    if len(block_path) == 4 and block_path[2] == "on":
        return _matcher(block)
    return ""


def _matcher(handler: dict[str, Any]) -> str:
    """A handler's matcher as a reader would say it: "text: hi / hello", "photo", "/help"."""
    parts: list[str] = []
    for key in ("command", "text", "match", "button", "type"):
        if key in handler:
            value = handler[key]
            shown = " / ".join(map(str, value)) if isinstance(value, list) else str(value)
            parts.append({"command": f"/{shown}", "type": shown}.get(key, f"{key}: {shown}"))
    if "if" in handler:
        parts.append(f"if {handler['if']}")
    return ", ".join(parts) or "anything"


def _walk(data: Any, path: Path) -> Iterator[tuple[int, Any]]:
    """(index of the key or item, value) for each step of `path` that exists in `data`."""
    for part in path:
        if isinstance(data, dict) and part in data:
            index = list(data).index(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            index = part
        else:
            return
        data = data[part]
        yield index, data


def _at(data: Any, path: Path) -> Any:
    steps = [data, *(value for _, value in _walk(data, path))]
    return steps[-1] if len(steps) == len(path) + 1 else None


def _position(data: Any, path: Path) -> tuple[int, ...]:
    """Where `path` is in the file (key and item indices), so sorting follows the file."""
    return tuple(index for index, _ in _walk(data, path))


def _one_line(text: str) -> str:
    return " ".join(text.splitlines())


# -- Mermaid ----------------------------------------------------------------------------------
_MERMAID_ENTITIES = {
    "#": "#35;",
    '"': "#quot;",
    "<": "#lt;",
    ">": "#gt;",
    "|": "#124;",
    "`": "#96;",
}
_MERMAID_SHAPES = {
    "state": '["{}"]',
    "end": '((("{}")))',
    "start": '(("{}"))',
    "any": '{{{{"{}"}}}}',
    "old": '["old: {}"]',
    "missing": '["{} (missing)"]',
}


def _mermaid_text(text: str) -> str:
    """Mermaid label text for inside double quotes: entities for what the parser would read."""
    return "".join(_MERMAID_ENTITIES.get(c, c) for c in _one_line(text))


def _mermaid(nodes: list[_Node], arrows: list[_Arrow], lost: list[str]) -> str:
    lines = ["flowchart TD"]
    lines += [f"    {n.id}{_MERMAID_SHAPES[n.shape].format(_mermaid_text(n.label))}" for n in nodes]
    for a in arrows:
        link = {"solid": "-->", "dashed": "-.->", "dotted": "-.->"}[a.style]
        label = f'|"{_mermaid_text(a.label)}"|' if a.label else ""
        lines.append(f"    {a.source} {link}{label} {a.target}")
    lines += [
        "    classDef unreachable stroke:#999,stroke-dasharray:5 5,color:#999",
        "    classDef pseudo fill:#eee,stroke:#999,color:#555",
        "    classDef missing stroke:#c00,color:#c00",
    ]
    for cls, chosen in (
        ("unreachable", [n.id for n in nodes if n.unreachable]),
        ("pseudo", [n.id for n in nodes if n.shape in ("start", "any", "old")]),
        ("missing", [n.id for n in nodes if n.shape == "missing"]),
    ):
        if chosen:
            lines.append(f"    class {','.join(chosen)} {cls}")
    if lost:
        lines.append(f"%% unreachable: {_one_line(', '.join(lost))}")
    return "\n".join(lines) + "\n"


# -- DOT --------------------------------------------------------------------------------------
_DOT_SHAPES = {
    "state": "",
    "end": ", shape=doublecircle",
    "start": ", shape=circle, style=filled, fillcolor=black, fontcolor=white",
    "any": ", shape=hexagon, style=filled, fillcolor=lightgrey",
    "old": ", shape=note, style=dotted",
    "missing": ", color=red, fontcolor=red",
}


def _dot_text(text: str) -> str:
    """A DOT string body: backslashes and quotes escaped, lines joined."""
    return _one_line(text).replace("\\", "\\\\").replace('"', '\\"')


def _dot(nodes: list[_Node], arrows: list[_Arrow], lost: list[str]) -> str:
    lines = ["digraph scenario {", '    node [shape=box, fontname="sans-serif"];']
    lines.append('    edge [fontname="sans-serif"];')
    for n in nodes:
        label = {"missing": "{} (missing)", "old": "old: {}"}.get(n.shape, "{}").format(n.label)
        grey = ", style=dashed, color=grey, fontcolor=grey" if n.unreachable else ""
        lines.append(f'    {n.id} [label="{_dot_text(label)}"{_DOT_SHAPES[n.shape]}{grey}];')
    for a in arrows:
        attrs = [f'label="{_dot_text(a.label)}"'] if a.label else []
        attrs += [f"style={a.style}"] if a.style != "solid" else []
        listed = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"    {a.source} -> {a.target}{listed};")
    if lost:
        lines.append(f"    // unreachable: {_one_line(', '.join(lost))}")
    lines.append("}")
    return "\n".join(lines) + "\n"
