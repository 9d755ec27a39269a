"""The state diagram: every kind of way between states shows up, labelled, between the right
nodes, in both formats, and odd names or texts never break the picture."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from engine.graph import render_graph
from engine.scenario import validate_file

ROOT = Path(__file__).resolve().parents[1]
ID = r"[A-Za-z_][A-Za-z0-9_]*"
MERMAID_NODE = re.compile(rf"^    ({ID})[\[({{>](.*)$")
MERMAID_EDGE = re.compile(rf'^    ({ID}) (-->|-\.->)(?:\|"([^"]*)"\|)? ({ID})$')
DOT_STRING = r'"((?:[^"\\]|\\.)*)"'
DOT_NODE = re.compile(rf"^    ({ID}) \[label={DOT_STRING}(.*)\];$")
DOT_EDGE = re.compile(rf"^    ({ID}) -> ({ID})(?: \[(.*)\])?;$")

Edges = list[tuple[str, str, str, str]]  # source id, target id, label, style


def _unmermaid(text: str) -> str:
    return (
        re.sub(r"#(\d+);", lambda m: chr(int(m[1])), text)
        .replace("#quot;", '"')
        .replace("#lt;", "<")
        .replace("#gt;", ">")
    )


def mermaid(data: dict[str, Any]) -> tuple[dict[str, str], Edges, str]:
    """Node labels by id, edges and the text of a Mermaid rendering."""
    text = render_graph(data, "mermaid")
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    nodes: dict[str, str] = {}
    edges: Edges = []
    for line in lines[1:]:
        if edge := MERMAID_EDGE.match(line):
            style = "dashed" if edge[2] == "-.->" else "solid"
            edges.append((edge[1], edge[4], _unmermaid(edge[3] or ""), style))
        elif node := MERMAID_NODE.match(line):
            label = re.search(r'"([^"]*)"', node[2])
            assert label, line
            nodes[node[1]] = _unmermaid(label[1])
        else:
            assert line.startswith(("    classDef ", "    class ", "%% ")), line
    for source, target, _, _ in edges:
        assert source in nodes and target in nodes
    return nodes, edges, text


def _undot(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def dot(data: dict[str, Any]) -> tuple[dict[str, str], Edges, str]:
    """Node labels by id, edges and the text of a DOT rendering, checked for structure."""
    text = render_graph(data, "dot")
    _check_dot_structure(text)
    nodes: dict[str, str] = {}
    edges: Edges = []
    for line in text.splitlines()[3:-1]:
        if edge := DOT_EDGE.match(line):
            attrs = edge[3] or ""
            label = re.search(rf"label={DOT_STRING}", attrs)
            style = re.search(r"style=(\w+)", attrs)
            edges.append(
                (
                    edge[1],
                    edge[2],
                    _undot(label[1]) if label else "",
                    style[1] if style else "solid",
                )
            )
        elif node := DOT_NODE.match(line):
            nodes[node[1]] = _undot(node[2])
        else:
            assert line.startswith("    // "), line
    for source, target, _, _ in edges:
        assert source in nodes and target in nodes, (source, target)
    return nodes, edges, text


def _check_dot_structure(text: str) -> None:
    """One `digraph { … }`: braces balance outside strings and comments, strings close."""
    assert text.startswith("digraph scenario {\n")
    depth, i = 0, 0
    while i < len(text):
        c = text[i]
        if c == '"':
            i += 1
            while text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif text.startswith("//", i):
            i = text.index("\n", i)
        elif c in "{}":
            depth += 1 if c == "{" else -1
            assert depth >= 0
        i += 1
    assert depth == 0
    assert text.rstrip().endswith("}")


def ids_by_label(nodes: dict[str, str]) -> dict[str, str]:
    return {label: node for node, label in nodes.items()}


def has_edge(
    rendered: tuple[dict[str, str], Edges, str], source: str, target: str, label: str
) -> str:
    """The style of the edge from the node labelled `source` to `target` carrying `label`."""
    nodes, edges, _ = rendered
    ids = ids_by_label(nodes)
    found = [s for a, b, text, s in edges if (a, b, text) == (ids[source], ids[target], label)]
    assert found, f"no edge {source} -> {target} labelled {label!r} in {edges}"
    return found[0]


BOTH = pytest.mark.parametrize("render", [mermaid, dot], ids=["mermaid", "dot"])


def scenario(states: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"bot": {"name": "T", "start": next(iter(states))}, **top, "states": states}


SHOP = scenario(
    {
        "welcome": {
            "say": "Hi",
            "buttons": [[{"text": "🍕 Order", "goto": "size"}, {"text": "Help", "goto": "help"}]],
        },
        "size": {
            "ask": {"var": "size", "choices": ["S", "L"], "max_attempts": 2, "on_fail": "help"},
            "goto": [{"if": 'size == "L"', "to": "upsell"}, {"to": "pay"}],
        },
        "upsell": {
            "say": "Drink?",
            "on": [
                {"text": "hi", "goto": "pay"},
                {"type": "photo", "goto": "help"},
                {"text": ["yes", "ok"], "if": "age >= 18", "goto": "pay"},
            ],
        },
        "pay": {
            "do": [{"http": {"method": "POST", "url": "https://x", "on_error": "help"}}],
            "say": "Paid",
            "after": {"delay": "2h", "goto": "bye"},
        },
        "help": {"say": "Help", "goto": "welcome"},
        "bye": {"say": "Bye", "end": True},
    },
    commands={"start": {"description": "Start", "goto": "welcome"}},
    fallback={"say": "Sorry", "goto": "help"},
)


@BOTH
def test_buttons_answers_and_conditions_are_labelled(render: Any) -> None:
    graph = render(SHOP)
    assert has_edge(graph, "welcome", "size", "🍕 Order") == "solid"
    has_edge(graph, "welcome", "help", "Help")
    has_edge(graph, "size", "upsell", 'answer: size, if size == "L"')
    has_edge(graph, "size", "pay", "answer: size, else")


@BOTH
def test_handlers_show_their_matcher(render: Any) -> None:
    graph = render(SHOP)
    has_edge(graph, "upsell", "pay", "text: hi")
    has_edge(graph, "upsell", "help", "photo")
    has_edge(graph, "upsell", "pay", "text: yes / ok, if age >= 18")


@BOTH
def test_failures_timers_commands_and_fallback(render: Any) -> None:
    graph = render(SHOP)
    has_edge(graph, "size", "help", "on_fail")
    has_edge(graph, "pay", "help", "on_error")
    has_edge(graph, "pay", "bye", "after 2h")
    has_edge(graph, "any state", "welcome", "/start")
    has_edge(graph, "any state", "help", "fallback")
    has_edge(graph, "start", "welcome", "")


def test_end_states_are_double_and_start_has_an_entry_arrow() -> None:
    nodes, _, text = mermaid(SHOP)
    ids = ids_by_label(nodes)
    assert f'{ids["bye"]}((("bye")))' in text
    assert f'{ids["help"]}["help"]' in text
    _, _, dot_text = dot(SHOP)
    assert re.search(rf'{ids["bye"]} \[label="bye", shape=doublecircle', dot_text)
    assert f"p_start -> {ids['welcome']};" in dot_text


SUBFLOWS = scenario(
    {
        "menu": {
            "buttons": [{"text": "Address", "call": "addr"}, {"text": "Pay", "goto": "pay"}],
        },
        "pay": {"call": "card", "goto": "menu"},
        "addr": {
            "ask": {"var": "address"},
            "on": [{"text": "same", "return": True}],
            "goto": "addr_done",
        },
        "addr_done": {"say": "ok", "return": True},
        "card": {"ask": {"var": "card"}, "goto": "card_done"},
        "card_done": {"return": True},
    },
    commands={"where": {"description": "Where", "call": "addr"}},
)


@BOTH
def test_calls_and_returns_are_dashed_and_go_back_to_their_callers(render: Any) -> None:
    graph = render(SUBFLOWS)
    assert has_edge(graph, "menu", "addr", "Address → call") == "dashed"
    assert has_edge(graph, "pay", "card", "call") == "dashed"
    assert has_edge(graph, "addr_done", "menu", "return") == "dashed"
    assert has_edge(graph, "addr", "menu", "return") == "dashed"  # a handler's return
    has_edge(graph, "addr_done", "any state", "return")  # called by a command
    has_edge(graph, "card_done", "pay", "return")
    nodes, edges, _ = graph
    ids = ids_by_label(nodes)
    wrong = {(ids["card_done"], ids["menu"]), (ids["addr_done"], ids["pay"])}
    assert not wrong & {(a, b) for a, b, label, _ in edges if label == "return"}


@BOTH
def test_unreachable_states_are_marked_and_listed(render: Any) -> None:
    data = scenario({"a": {"say": "x", "goto": "b"}, "b": {"end": True}, "lost-one": {"goto": "b"}})
    nodes, _, text = render(data)
    lost = ids_by_label(nodes)["lost-one"]
    if render is mermaid:
        assert "classDef unreachable" in text and "stroke-dasharray" in text
        assert f"    class {lost} unreachable" in text
        assert text.rstrip().splitlines()[-1] == "%% unreachable: lost-one"
    else:
        assert re.search(rf"    {lost} \[.*style=dashed, color=grey", text)
        assert "    // unreachable: lost-one" in text
    reachable_only = render(SHOP)[2]
    assert "unreachable:" not in reachable_only and " unreachable\n" not in reachable_only


@BOTH
def test_migrations_are_dotted_from_the_old_name_and_reach_nothing(render: Any) -> None:
    data = scenario(
        {"menu": {"goto": [{"to": "menu2"}]}, "menu2": {"end": True}, "kept": {"end": True}},
        migrations={"old_menu": "menu2", "older": "kept"},
    )
    rendered = render(data)
    has_edge(rendered, "menu", "menu2", "")  # a lone branch without `if` is no "else"
    assert has_edge(rendered, "old: old_menu", "menu2", "migration") == (
        "dotted" if render is dot else "dashed"
    )
    has_edge(rendered, "old: older", "kept", "migration")
    assert "unreachable: kept" in rendered[2]  # users only arrive there by migration


@BOTH
def test_awkward_names_and_texts_survive(render: Any) -> None:
    texts = ['Say "hi" | [now] {x} <b>#1</b> 😀', "Привет \\d+ `tick`", "a -> b; c"]
    data = scenario(
        {
            "my-start": {"buttons": [{"text": t, "goto": "état final"} for t in texts]},
            "état final": {"end": True, "say": "fin"},
            "x-y z": {"goto": "nowhere"},
        }
    )
    nodes, edges, text = render(data)
    assert set(nodes.values()) >= {"my-start", "état final", "x-y z"}
    assert all(re.fullmatch(ID, node) for node in nodes)
    for t in texts:
        has_edge((nodes, edges, text), "my-start", "état final", t)
    assert "nowhere (missing)" in nodes.values()
    if render is mermaid:  # nothing Mermaid would read as markup or an entity stays raw
        for raw in re.findall(r'\|"([^"]*)"\|', text):
            assert not re.search(r"[<>|`]|#(?!\d+;|quot;|lt;|gt;)", raw), raw


@BOTH
def test_output_is_deterministic_and_in_file_order(render: Any) -> None:
    first = render(SHOP)
    assert first == render(SHOP)
    labels = [label for _, _, label, _ in first[1] if label]
    assert labels.index("/start") < labels.index("fallback") < labels.index("🍕 Order")
    assert labels.index("on_fail") < labels.index('answer: size, if size == "L"')
    assert labels.index("text: hi") < labels.index("photo") < labels.index("after 2h")


@BOTH
def test_demo_renders_with_every_state(render: Any) -> None:
    report = validate_file(str(ROOT / "scenarios" / "demo.yaml"))
    assert report.scenario is not None
    data = report.scenario.data
    nodes, edges, _ = render(data)
    assert set(data["states"]) <= set(nodes.values())
    assert len(edges) > len(data["states"])
    has_edge((nodes, edges, ""), "confirm", "addr", "📍 Change address → call")
    has_edge((nodes, edges, ""), "addr_done", "get_address", "return")


def test_a_scenario_file_renders(tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text(
        "bot: {name: T, start: ask}\n"
        "states:\n"
        "  ask:\n"
        "    ask: {var: answer, choices: [Yes, No]}\n"
        "    goto: done\n"
        "  done: {say: Thanks, end: true}\n",
        encoding="utf-8",
    )
    report = validate_file(str(path))
    assert report.scenario is not None
    has_edge(mermaid(report.scenario.data), "ask", "done", "answer: answer")


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="mermaid"):
        render_graph(SHOP, "svg")


@BOTH
def test_broken_files_still_render(render: Any) -> None:
    """The graph helps most while a file is wrong: odd shapes are skipped, never a crash."""
    render({})
    nodes, _, _ = render({"bot": {"start": "gone"}, "states": {1: {"goto": "a"}, "a": None}})
    assert {"1", "gone (missing)"} <= set(nodes.values())


TEMPLATED = scenario(
    {
        "menu": {
            "buttons": [
                {"text": "Pay {{ total | currency }} now", "goto": "pay"},
                {
                    "text": "{% if vip %}⭐ {% endif %}Hi {{ user.first_name }}{# greeting #}",
                    "goto": "pay",
                },
                {"text": "Call {{ 'a|b' | upper }}", "goto": "pay"},
                {
                    "text": "A very long button label that goes on and on about pizza toppings",
                    "goto": "pay",
                },
            ],
            "after": {"delay": "{{ minutes }}m", "goto": "pay"},
        },
        "pay": {"end": True},
    }
)


@BOTH
def test_labels_show_placeholders_not_template_syntax(render: Any) -> None:
    """Issue 16: the picture is for reading; `{{ }}` and `{% %}` are the author's source."""
    rendered = render(TEMPLATED)
    has_edge(rendered, "menu", "pay", "Pay ‹total› now")  # the filter dropped too
    has_edge(rendered, "menu", "pay", "⭐ Hi ‹user.first_name›")  # tags and comments gone
    has_edge(rendered, "menu", "pay", "Call ‹'a|b'›")  # a bar inside quotes is no filter
    has_edge(rendered, "menu", "pay", "after ‹minutes›m")
    labels = [label for _, _, label, _ in rendered[1]]
    assert not [label for label in labels if "{{" in label or "{%" in label or "{#" in label]
    (long,) = [label for label in labels if label.startswith("A very long")]
    assert long == "A very long button label that goes on and on…"
    assert len(long) <= 48
