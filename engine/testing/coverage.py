"""Which states and transitions of a scenario the conversation tests reached.

Transitions are the edges of `take_inventory` (migrations excluded). An edge from S to T is
taken when a step's trace holds (S, T). Edges without a source are taken when T is entered by
the right event: a command's edge by that command, `start` whenever the start state is
entered, the fallback's by a message, a top-level `on` handler's by its command (or, without
one, by a message). The `goto` that follows a sub-flow's `return` enters T from the returning
state, so an edge of a calling state S is also taken when S's frame leaves the call stack in a
step that enters T."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.core.events import ButtonPress, CommandMessage, Event, TimerFired
from engine.core.interpreter import StepResult
from engine.core.model import Scenario
from engine.core.session import Frame, Session
from engine.scenario.diagnostics import Position
from engine.scenario.includes import ScenarioSource
from engine.scenario.inventory import Edge, take_inventory


@dataclass(frozen=True)
class Gap:
    """A state never entered or a transition never taken, with where it is written."""

    position: Position
    description: str

    def format(self) -> str:
        return f"  {self.position}: {self.description}"


@dataclass(frozen=True)
class CoverageSummary:
    path: str
    states: int
    states_entered: int
    transitions: int
    transitions_taken: int
    gaps: tuple[Gap, ...]

    def lines(self) -> list[str]:
        head = (
            f"coverage {self.path}: "
            f"states {self.states_entered}/{self.states} "
            f"({percent(self.states_entered, self.states)}), "
            f"transitions {self.transitions_taken}/{self.transitions} "
            f"({percent(self.transitions_taken, self.transitions)})"
        )
        return [head, *(gap.format() for gap in self.gaps)]


def percent(part: int, whole: int) -> str:
    """Rounded, but never 100% while something is missing."""
    if whole == 0 or part == whole:
        return "100%"
    return f"{min(99, int(100 * part / whole + 0.5))}%"


def describe(edge: Edge) -> str:
    """`menu -> size (button '🍕 Order a pizza')`, `check -> extras (goto if stock.available)`."""
    label = edge.label
    if edge.conditional:
        label = f"if {label}"
    elif edge.kind == "button" or (edge.kind == "call" and label and label[0] != "/"):
        label = f"'{label}'"
    how = f"{edge.kind} {label}".strip() if edge.kind != "start" else "start"
    return f"{edge.source or '(any state)'} -> {edge.target} ({how})"


class ScenarioCoverage:
    """Collects what the steps of one scenario's tests did; `summary()` tells what is missing."""

    def __init__(self, path: str, source: ScenarioSource, scenario: Scenario) -> None:
        self.path = path
        self.source = source
        self.scenario = scenario
        inventory = take_inventory(source.data)
        self.states = list(inventory.states)
        self.edges = [edge for edge in inventory.edges if edge.kind != "migration"]
        self.entered: set[str] = set()
        self.pairs: set[tuple[str, str]] = set()  # (from, to) as the traces show them
        self.commands: set[tuple[str, str]] = set()  # (command, state entered)
        self.by_message: set[str] = set()  # states entered in a step started by a message

    def record(self, event: Event, before: Session, result: StepResult) -> None:
        entered = [to for _, to in result.trace]
        self.entered.update(entered)
        self.pairs.update((s, t) for s, t in result.trace if s is not None)
        for caller in self.returned_callers(before.stack, result):
            self.pairs.update((caller, target) for target in entered)
        if isinstance(event, CommandMessage):
            self.commands.update((event.command, target) for target in entered)
        elif not isinstance(event, ButtonPress | TimerFired):
            self.by_message.update(entered)

    def returned_callers(self, stack: Iterable[Frame], result: StepResult) -> set[str]:
        """States whose own `call` came back (its `goto` follows) during this step."""
        before, after = list(stack), list(result.session.stack)
        kept = 0
        while kept < min(len(before), len(after)) and before[kept] == after[kept]:
            kept += 1
        callers = {frame.state for frame in before[kept:] if frame.follow_goto}
        still = {frame.state for frame in after if frame.follow_goto}
        for _, name in result.trace:  # called and returned within this step
            state = self.scenario.states.get(name)
            if state is not None and state.enter.call is not None and name not in still:
                callers.add(name)
        return callers

    def reached(self) -> dict[str, list[Any]]:
        """What the tests reached so far, in plain lists: pytest-xdist carries them from the
        worker that ran a test to the process that shows the summary."""
        return {
            "entered": sorted(self.entered),
            "pairs": sorted(list(pair) for pair in self.pairs),
            "commands": sorted(list(pair) for pair in self.commands),
            "by_message": sorted(self.by_message),
        }

    def add_reached(self, reached: Mapping[str, list[Any]]) -> None:
        """Adds what `reached()` gave (in this process or another): tests ran elsewhere count."""
        self.entered.update(reached["entered"])
        self.pairs.update((source, target) for source, target in reached["pairs"])
        self.commands.update((command, target) for command, target in reached["commands"])
        self.by_message.update(reached["by_message"])

    def taken(self, edge: Edge) -> bool:
        if edge.source is not None:
            return (edge.source, edge.target) in self.pairs
        if edge.kind == "command" and edge.path[:1] == ("commands",):
            # by its name: a branch of a conditional `goto` is labelled with its condition
            return (str(edge.path[1]), edge.target) in self.commands
        if edge.path[:1] == ("on",):  # a top-level handler: by its command, or by a message
            handlers = self.source.data.get("on")
            handler = handlers[int(edge.path[1])] if isinstance(handlers, list) else {}
            command = handler.get("command") if isinstance(handler, dict) else None
            if isinstance(command, str):
                return (command, edge.target) in self.commands
            return edge.target in self.by_message
        if edge.label.startswith("/"):
            return (edge.label[1:], edge.target) in self.commands
        if edge.kind == "start":
            return edge.target in self.entered
        return edge.target in self.by_message

    def summary(self) -> CoverageSummary:
        where = self.source.source
        gaps = [
            Gap(where.key_of(("states", name)), f"state '{name}' was never entered")
            for name in self.states
            if name not in self.entered
        ]
        missing = [edge for edge in self.edges if not self.taken(edge)]
        gaps.extend(
            Gap(where.of(edge.path), f"transition {describe(edge)} was never taken")
            for edge in missing
        )
        return CoverageSummary(
            self.path,
            len(self.states),
            len(self.states) - sum(1 for name in self.states if name not in self.entered),
            len(self.edges),
            len(self.edges) - len(missing),
            tuple(sorted(gaps, key=lambda gap: gap.position)),
        )
