"""Checks of the state graph: names that lead nowhere, states nothing leads to, dead ends
and loops that never wait for the user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engine.scenario.diagnostics import Diagnostic, error, warning
from engine.scenario.inventory import Inventory
from engine.scenario.schema_check import describe_path
from engine.scenario.suggestions import did_you_mean
from engine.scenario.yaml_loader import SourceMap

_EDGE_WORDS = {
    "start": "as the start state",
    "migration": "as a migration target",
}


def check_graph(inv: Inventory, data: Any, source: SourceMap) -> Iterator[Diagnostic]:
    yield from _start(inv, data, source)
    yield from _unknown_targets(inv, source)
    yield from _unreachable(inv, source)
    yield from _dead_ends(inv, source)
    yield from _loops(inv, source)
    yield from _migrations(inv, data, source)
    yield from _shadowed_branches(inv, source)
    yield from _answers_taken(inv, data, source)


def _start(inv: Inventory, data: Any, source: SourceMap) -> Iterator[Diagnostic]:
    bot = data.get("bot") if isinstance(data, dict) else None
    if isinstance(bot, dict) and "start" not in bot:
        first = next(iter(inv.states), "welcome")
        yield error(
            source.of(("bot",)),
            "missing-start",
            f"`start` is missing under `bot`: name the state new users begin in, like `start: {first}`.",
            "reference",
        )


def _unknown_targets(inv: Inventory, source: SourceMap) -> Iterator[Diagnostic]:
    names = list(inv.states)
    for edge in inv.edges:
        if edge.target in inv.states:
            continue
        hint = did_you_mean(edge.target, names)
        if not hint:
            known = ", ".join(names[:8]) + (", …" if len(names) > 8 else "")
            hint = (
                f" Add it under `states:`, or use one of: {known}."
                if names
                else " Add it under `states:`."
            )
        code = "missing-start" if edge.kind == "start" else "unknown-state"
        where = _EDGE_WORDS.get(edge.kind) or describe_path(edge.path)
        yield error(
            source.of(edge.path),
            code,
            f"there is no state '{edge.target}' (used {where}).{hint}",
            "reference",
        )


def _reachable(inv: Inventory) -> set[str]:
    outgoing: dict[str | None, list[str]] = {}
    for edge in inv.edges:
        if edge.kind != "migration":
            outgoing.setdefault(edge.source, []).append(edge.target)
    seen: set[str] = set()
    todo = list(outgoing.get(None, []))  # start, commands and fallback lead from anywhere
    while todo:
        name = todo.pop()
        if name in seen or name not in inv.states:
            continue
        seen.add(name)
        todo.extend(outgoing.get(name, []))
    return seen


def _unreachable(inv: Inventory, source: SourceMap) -> Iterator[Diagnostic]:
    if inv.start not in inv.states:
        return  # reported as a missing start; everything would look unreachable
    reachable = _reachable(inv)
    for name, facts in inv.states.items():
        if name not in reachable:
            yield warning(
                source.key_of(facts.path),
                "unreachable-state",
                f"state '{name}' cannot be reached from the start state '{inv.start}': nothing leads "
                "to it. Add a goto, button or command that leads here, or remove the state.",
            )


def _dead_ends(inv: Inventory, source: SourceMap) -> Iterator[Diagnostic]:
    leaving = {edge.source for edge in inv.edges}
    for name, facts in inv.states.items():
        if facts.end or facts.returns or name in leaving:
            continue
        if facts.awaits_input and not facts.asks_var:
            continue  # a hub: its handlers or buttons answer and keep the user talking here
        if inv.leaves_anywhere and not facts.asks_var:
            continue  # the top-level `on` handlers are its way out
        if facts.asks_var:
            message = (
                f"state '{name}' asks for `{facts.asks_var}` but has no `goto`: after a valid "
                "answer the user is stuck here. Add `goto:` with the next state."
            )
        else:
            message = (
                f"state '{name}' has no way out: add `goto`, buttons that go somewhere, or "
                "`end: true` if the conversation ends here."
            )
        yield warning(source.key_of(facts.path), "dead-end", message)


def _loops(inv: Inventory, source: SourceMap) -> Iterator[Diagnostic]:
    """States that pass the user on at once form a chain; a chain that closes never stops."""
    done: set[str] = set()
    for first in inv.states:
        chain: list[str] = []
        name: str | None = first
        while name is not None and name in inv.states and name not in done and name not in chain:
            chain.append(name)
            name = inv.states[name].immediate
        if name is not None and name in chain:
            cycle = [*chain[chain.index(name) :], name]
            facts = inv.states[cycle[0]]
            yield error(
                source.key_of(facts.path),
                "loop-without-input",
                f"states {' → '.join(cycle)} pass the user on without waiting for any input, so the "
                "bot would loop forever. Give one of them `ask`, `buttons` or `on`, or end the loop.",
                "reference",
            )
        done.update(chain)


def _migrations(inv: Inventory, data: Any, source: SourceMap) -> Iterator[Diagnostic]:
    migrations = data.get("migrations") if isinstance(data, dict) else None
    if not isinstance(migrations, dict):
        return
    for old in migrations:
        if old in inv.states:
            yield warning(
                source.key_of(("migrations", old)),
                "migration-never-used",
                f"the migration of '{old}' never applies: state '{old}' still exists. Remove the entry "
                "once you keep the state, or rename the state.",
            )


def _shadowed_branches(inv: Inventory, source: SourceMap) -> Iterator[Diagnostic]:
    for path, branches in inv.goto_lists:
        for i, branch in enumerate(branches[:-1]):
            if isinstance(branch, dict) and "if" not in branch:
                yield warning(
                    source.of((*path, i + 1)),
                    "unreachable-branch",
                    f"this branch is never taken: the branch before it {describe_path(path)} has no "
                    "`if`, so it always applies. Put the branch without `if` last.",
                )
                break
    for path, handlers in inv.handler_lists:
        for i, handler in enumerate(handlers[:-1]):
            matchers = ("command", "text", "match", "button", "type", "if")
            if isinstance(handler, dict) and not any(k in handler for k in matchers):
                yield warning(
                    source.of((*path, i + 1)),
                    "unreachable-handler",
                    f"this handler is never tried: the handler before it {describe_path(path)} "
                    "matches every message. Move the catch-all handler last.",
                )
                break


_NAMES_INPUT = ("command", "text", "match", "button", "if")


def _answers_taken(inv: Inventory, data: Any, source: SourceMap) -> Iterator[Diagnostic]:
    """A top-level handler for every typed text is tried before a state's question: it would
    take every answer before it is checked (documented; easy to write by accident)."""
    handlers = data.get("on") if isinstance(data, dict) else None
    asking = sorted(name for name, facts in inv.states.items() if facts.asks_var is not None)
    if not isinstance(handlers, list) or not asking:
        return
    for i, handler in enumerate(handlers):
        if not isinstance(handler, dict) or any(k in handler for k in _NAMES_INPUT):
            continue
        if handler.get("type", "any") not in ("any", "text"):
            continue
        shown = ", ".join(f"'{name}'" for name in asking[:3]) + (", …" if len(asking) > 3 else "")
        yield warning(
            source.of(("on", i)),
            "answers-taken",
            f"this top-level handler takes every typed message in every state, before a "
            f"question checks it: the answers to {shown} would never be read. Say what it "
            "is for (`text`, `match`, `command` or `button`), or write it as `fallback:`, "
            "which answers only what nothing else understood.",
        )
        return
