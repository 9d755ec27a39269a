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
