"""`only:` roles against the scenario's `roles:` list: a role that nothing can grant keeps
its states and commands closed to everybody, which nothing else would point out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engine.scenario.diagnostics import Diagnostic, warning
from engine.scenario.suggestions import did_you_mean
from engine.scenario.yaml_loader import SourceMap

BUILT_IN_ROLES = frozenset({"admin"})  # BOT_ADMINS' ids


def check_roles(data: Any, source: SourceMap) -> Iterator[Diagnostic]:
    if not isinstance(data, dict):
        return
    declared_raw = data.get("roles")
    declared = (
        {r for r in declared_raw if isinstance(r, str)} if isinstance(declared_raw, list) else set()
    )
    known = declared | BUILT_IN_ROLES
    for section in ("states", "commands"):
        entries = data.get(section)
        if not isinstance(entries, dict):
            continue
        for name, entry in entries.items():
            only = entry.get("only") if isinstance(entry, dict) else None
            listed = [only] if isinstance(only, str) else only if isinstance(only, list) else []
            for index, role in enumerate(listed):
                if not isinstance(role, str) or role in known:
                    continue
                path: tuple[Any, ...] = (section, name, "only")
                if isinstance(only, list):
                    path = (*path, index)
                yield warning(
                    source.of(path),
                    "role-never-granted",
                    f"nothing can grant the role '{role}': only admin (BOT_ADMINS) and the "
                    f"roles listed under `roles:` exist, so '{name}' stays closed to everybody."
                    f"{did_you_mean(role, known)} Declare it (`roles: [{role}]`) and grant it "
                    f"with `python3 run.py --grant USER_ID {role}`.",
                )
