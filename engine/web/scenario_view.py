"""What the playground shows of the scenario file itself: its diagram (the Mermaid source
`--graph` prints, with the node id of each state so the page can highlight the current one),
the YAML lines a state was written on, and the errors of a file that does not load."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.graph import render_graph, state_node_ids
from engine.scenario import ValidationReport, validate_file


@dataclass(frozen=True)
class ScenarioView:
    """One read of the scenario's files: what loaded and what did not."""

    files: tuple[str, ...]
    mermaid: str  # "" when nothing could be read
    node_ids: dict[str, str]  # state -> the diagram's node id
    errors: tuple[dict[str, Any], ...]  # file, line, column, message, code; () when it loads
    report: ValidationReport

    @property
    def loads(self) -> bool:
        return not self.errors and self.report.scenario is not None

    def state_source(self, state: str) -> dict[str, Any] | None:
        """The lines `state` was written on (its key and what is indented under it), with
        the file and the first line's number; None for a state the scenario does not have."""
        source = self.report.scenario
        if source is None or state not in self.node_ids:
            return None
        position = source.source.key_of(("states", state))
        try:
            with open(position.file, encoding="utf-8") as file:
                lines = file.read().splitlines()
        except OSError:
            return None
        first = max(position.line, 1) - 1
        indent = _indent(lines[first]) if first < len(lines) else 0
        last = first
        for number in range(first + 1, len(lines)):
            line = lines[number]
            if line.strip() and _indent(line) <= indent:
                break
            if line.strip():
                last = number
        return {"file": position.file, "line": first + 1, "lines": lines[first : last + 1]}


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def read_scenario(path: str, media_dir: str | None = None) -> ScenarioView:
    """The scenario at `path` validated as `--validate` does; its diagram even when broken
    (missing states marked), its errors with file, line and column."""
    report = validate_file(path, media_dir=media_dir)
    errors = tuple(
        {
            "file": d.position.file,
            "line": d.position.line,
            "column": d.position.column,
            "message": d.message,
            "code": d.code,
            "where": str(d.position),
        }
        for d in report.diagnostics
        if d.is_error
    )
    data = report.scenario.data if report.scenario is not None else None
    mermaid = render_graph(data, "mermaid") if data is not None else ""
    node_ids = state_node_ids(data) if data is not None else {}
    return ScenarioView(report.files, mermaid, node_ids, errors, report)
