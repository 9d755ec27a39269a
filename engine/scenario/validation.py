"""Validating scenario files: loading, schema, then the semantic checks, every problem reported."""

from __future__ import annotations

import os
from dataclasses import dataclass

from engine.command_name import command
from engine.scenario.content_checks import check_content
from engine.scenario.diagnostics import Diagnostic, Position, error, ordered
from engine.scenario.graph_checks import check_graph
from engine.scenario.includes import ScenarioSource, assemble, include_paths
from engine.scenario.inventory import take_inventory
from engine.scenario.media_checks import check_media, scenario_folder
from engine.scenario.null_checks import check_null_filters
from engine.scenario.schema_check import check_schema
from engine.scenario.shown_values import check_shown_values
from engine.scenario.template_checks import check_templates
from engine.scenario.yaml_loader import DEFAULT_LIMITS, LoaderLimits, load_yaml_file

SCENARIO_SUFFIXES = (".yaml", ".yml")
TEST_SUFFIXES = (".tests.yaml", ".tests.yml")


@dataclass(frozen=True)
class ValidationReport:
    path: str
    files: tuple[str, ...]
    diagnostics: tuple[Diagnostic, ...]
    scenario: ScenarioSource | None

    @property
    def errors(self) -> int:
        return sum(1 for d in self.diagnostics if d.is_error)

    @property
    def warnings(self) -> int:
        return len(self.diagnostics) - self.errors


def validate_file(
    path: str, limits: LoaderLimits = DEFAULT_LIMITS, media_dir: str | None = None
) -> ValidationReport:
    """Every problem of the scenario at `path`; `media_dir` is BOT_MEDIA_DIR (None: local
    media must be in the scenario's folder)."""
    if path.endswith(TEST_SUFFIXES):
        return ValidationReport(path, (path,), (_tests_file(path),), None)
    scenario, problems = assemble(path, limits)
    if scenario is None:
        return ValidationReport(path, (path,), tuple(ordered(problems)), None)
    inventory = take_inventory(scenario.data)
    problems.extend(check_schema(scenario.data, scenario.source))
    problems.extend(check_graph(inventory, scenario.data, scenario.source))
    problems.extend(check_templates(inventory, scenario.source))
    problems.extend(check_content(inventory, scenario.data, scenario.source))
    problems.extend(check_shown_values(inventory, scenario.data, scenario.source))
    problems.extend(check_null_filters(inventory, scenario.data, scenario.source))
    problems.extend(check_media(inventory, scenario.source, scenario_folder(path), media_dir))
    return ValidationReport(path, scenario.files, tuple(ordered(problems)), scenario)


def _tests_file(path: str) -> Diagnostic:
    """A conversation tests file given to --validate: not a scenario, and not an error of one."""
    scenario = path[: -len(next(s for s in TEST_SUFFIXES if path.endswith(s)))] + ".yaml"
    return error(
        Position(path, 1, 1),
        "tests-file",
        f"this is a file of conversation tests, not a scenario: run them with "
        f"`{command()} --test {path}`, and check the scenario they test with "
        f"`{command()} --validate {scenario}`.",
        "file",
    )


def discover(root: str) -> list[str]:
    """Scenario files under `root`: YAML files that are not conversation tests and are not
    included by another scenario (an included file is checked as part of its includer)."""
    candidates: list[str] = []
    for folder, subfolders, names in os.walk(root):
        subfolders.sort()
        for name in sorted(names):
            if name.endswith(SCENARIO_SUFFIXES) and not name.endswith(TEST_SUFFIXES):
                candidates.append(os.path.join(folder, name))
    included: set[str] = set()
    for candidate in candidates:
        document, _ = load_yaml_file(candidate)
        if document is not None:
            included.update(os.path.realpath(target) for target, _ in include_paths(document))
    return [c for c in candidates if os.path.realpath(c) not in included]
