"""The demo's plugin action `check_stock` (scenarios/demo.yaml, state `check`): a stand-in
for the kitchen's stock system. Load it with BOT_PLUGINS=scenarios/demo_plugins.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.core.ports import register_plugin

DOUGH_LEFT = {"Small": 40, "Medium": 25, "Large": 12}
PRICES = {"Small": 6.5, "Medium": 8.0, "Large": 9.5}


@register_plugin("check_stock")
def check_stock(arguments: Any, context: Mapping[str, Any]) -> dict[str, Any]:
    size = str(arguments.get("size", ""))
    quantity = int(arguments.get("quantity") or 1)
    left = DOUGH_LEFT.get(size, 0)
    return {"available": quantity <= left, "left": left, "price": PRICES.get(size, 0.0)}
