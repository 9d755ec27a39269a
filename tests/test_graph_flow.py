"""The state diagram of the flow features: top-level handlers drawn from "any state", and a
button's `return` leading back to the states that call its sub-flow."""

from __future__ import annotations

from typing import Any

from test_graph import BOTH, has_edge, scenario

BUTTON_RETURN = scenario(
    {
        "menu": {"buttons": [{"text": "Address", "call": "addr"}]},
        "addr": {"say": "Where?", "buttons": [{"text": "Back", "return": True}]},
    },
)


@BOTH
def test_a_buttons_return_leads_back_to_the_caller(render: Any) -> None:
    graph = render(BUTTON_RETURN)
    assert has_edge(graph, "addr", "menu", "return") == "dashed"


TOP_LEVEL = scenario(
    {
        "menu": {"buttons": [{"text": "Address", "call": "addr"}]},
        "addr": {"ask": {"var": "address"}, "goto": "menu"},
        "help": {"say": "Help", "goto": "menu"},
    },
    on=[
        {"button": "⬅️ Menu", "goto": "menu"},
        {"command": "help", "if": "address", "goto": "help"},
        {"text": "never mind", "return": True},
    ],
)


@BOTH
def test_top_level_handlers_are_drawn_from_any_state(render: Any) -> None:
    graph = render(TOP_LEVEL)
    assert has_edge(graph, "any state", "menu", "button: ⬅️ Menu") == "solid"
    has_edge(graph, "any state", "help", "/help, if address")
    assert has_edge(graph, "any state", "menu", "return") == "dashed"  # back to the caller
    assert "unreachable: " not in graph[2]  # help is reached from any state
