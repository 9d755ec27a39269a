"""`broadcast: {message: NAME}` against the scenario's `messages:`: a name that is not there
would be found only when an admin starts the broadcast, with nothing sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engine.scenario.diagnostics import Diagnostic, error
from engine.scenario.inventory import Inventory
from engine.scenario.suggestions import did_you_mean
from engine.scenario.yaml_loader import SourceMap


def check_broadcast_messages(inv: Inventory, data: Any, source: SourceMap) -> Iterator[Diagnostic]:
    raw = data.get("messages") if isinstance(data, dict) else None
    declared = [str(name) for name in raw] if isinstance(raw, dict) else []
    for name in inv.broadcast_messages:
        if name.name in declared:
            continue
        listed = ", ".join(declared) or "none"
        yield error(
            source.of(name.path),
            "unknown-message",
            f"there is no message '{name.name}' under `messages:` to broadcast (its messages: "
            f"{listed}).{did_you_mean(name.name, declared)} Write it there, e.g. "
            f"`messages: {{{name.name}: Hello!}}`.",
            "reference",
        )
