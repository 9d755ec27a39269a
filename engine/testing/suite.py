"""Test files and their scenarios: finding them, checking that the names a test uses exist,
running them all, and printing the results and the coverage (`python run.py --test`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, TextIO

from engine.core.model import Scenario
from engine.i18n.catalogs import ignored_translations
from engine.scenario.compiler import compile_scenario
from engine.scenario.diagnostics import Diagnostic, error, ordered
from engine.scenario.includes import ScenarioSource
from engine.scenario.inventory import take_inventory
from engine.scenario.suggestions import did_you_mean
from engine.scenario.validation import TEST_SUFFIXES, validate_file
from engine.testing.conversation import ConversationFile, load_conversation_file
from engine.testing.coverage import ScenarioCoverage
from engine.testing.runner import run_test

EXIT_PASSED, EXIT_FAILED, EXIT_NONE_FOUND = 0, 1, 2


@dataclass(frozen=True)
class Suite:
    """A test file with its scenario, ready to run (`problems`: why it cannot run)."""

    file: ConversationFile
    scenario: Scenario | None = None
    source: ScenarioSource | None = None
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # shown before the results: translations left out

    def coverage(self) -> ScenarioCoverage | None:
        if self.scenario is None or self.source is None:
            return None
        return ScenarioCoverage(self.file.scenario_path, self.source, self.scenario)


def load_suite(path: str) -> Suite:
    """Read a test file and its scenario; every problem of either is in `problems`."""
    file = load_conversation_file(path)
    target = file.scenario_path
    if not os.path.isfile(target):
        problems = [problem.format() for problem in file.problems]
        problems.append(
            f"{path}: there is no scenario {target} beside this file "
            "(NAME.tests.yaml tests the scenario NAME.yaml)."
        )
        return Suite(file, problems=tuple(problems))
    report = validate_file(target)
    if report.errors or report.scenario is None:
        problems = [problem.format() for problem in file.problems]
        problems.append(f"{target}: the scenario has errors; the tests of {path} cannot run:")
        problems.extend(f"  {d.format()}" for d in report.diagnostics)
        return Suite(file, problems=tuple(problems))
    scenario = compile_scenario(report.scenario)
    found = ordered([*file.problems, *check_names(file, scenario, report.scenario)])
    notes = tuple(f"warning: {i.format()}" for i in ignored_translations(scenario.translator))
    return Suite(file, scenario, report.scenario, tuple(d.format() for d in found), notes)


def check_names(
    file: ConversationFile, scenario: Scenario, source: ScenarioSource
) -> list[Diagnostic]:
    """States, variables, languages and plugin actions a test names must exist in the scenario."""
    states = list(scenario.states)
    variables = [*scenario.defaults, *take_inventory(source.data).defined_vars]
    languages = [scenario.language, *scenario.languages]
    plugins = _plugin_names(source.data)
    found: list[Diagnostic] = []

    def need(name: str | None, known: list[str], place: Any, what: str) -> None:
        if name is not None and name not in known and place is not None:
            message = f"the scenario has no {what} '{name}'.{did_you_mean(name, known)}"
            if what == "language":
                message += f" Its languages: {', '.join(known)}."
            found.append(error(place, "unknown-name", message, "reference"))

    for test in file.tests:
        need(test.language, languages, test.places.get("language"), "language")
        for name in test.plugins:
            need(name, plugins, test.places.get(f"plugin:{name}"), "plugin action")
        for current in test.steps:
            checks, places = current.checks, current.places
            need(checks.state, states, places.get("expect_state"), "state")
            need(checks.language, languages, places.get("expect_language"), "language")
            for name in checks.vars:
                need(name, variables, places.get(f"var:{name}"), "variable")
    return found


def _plugin_names(data: Any) -> list[str]:
    """Names of the plugin actions (`do: [{call: name}]`) anywhere in the scenario."""
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "do" and isinstance(value, list):
                found.extend(a["call"] for a in value if isinstance(a, dict) and "call" in a)
            found.extend(_plugin_names(value))
    elif isinstance(data, list):
        for item in data:
            found.extend(_plugin_names(item))
    return found


def discover_test_files(root: str = "scenarios") -> list[str]:
    """Every conversation test file (`*.tests.yaml`) under `root`, in a stable order."""
    found: list[str] = []
    for folder, subfolders, names in os.walk(root):
        subfolders.sort()
        found.extend(os.path.join(folder, n) for n in sorted(names) if n.endswith(TEST_SUFFIXES))
    return found


def _test_files(path: str) -> list[str]:
    """A test file; a scenario's test file; or the test files in a folder."""
    if os.path.isdir(path):
        return discover_test_files(path)
    if path.endswith(TEST_SUFFIXES) or not path.endswith((".yaml", ".yml")):
        return [path]
    base = path.rsplit(".", 1)[0]
    return [p for p in (base + ".tests.yaml", base + ".tests.yml") if os.path.isfile(p)][:1]


def run_test_files(paths: list[str], stdout: TextIO) -> int:
    """Run the tests in `paths` and print results and coverage: 0 all passed, 1 a test failed
    or a file is broken, 2 no tests were found."""
    files = list(dict.fromkeys(f for path in paths for f in _test_files(path)))
    passed = failed = broken = 0
    summaries: list[list[str]] = []
    told: set[str] = set()
    for missing in (p for p in paths if not _test_files(p)):
        stdout.write(f"{missing}: no conversation tests (write them in NAME.tests.yaml)\n")
    for path in files:
        suite = load_suite(path)
        if suite.problems or suite.scenario is None:
            stdout.write("\n".join(suite.problems) + "\n")
            broken += 1
            continue
        coverage = suite.coverage()
        stdout.write("".join(f"{note}\n" for note in suite.notes if note not in told))
        told.update(suite.notes)  # once, though several test files share the scenario
        stdout.write(f"{path}\n")
        for test in suite.file.tests:
            result = run_test(suite.scenario, test, coverage)
            stdout.write(f"  {'PASS' if result.passed else 'FAIL'}  {test.name}\n")
            if result.failure is not None:
                stdout.write("".join(f"    {line}\n" for line in result.failure.splitlines()))
            passed, failed = passed + result.passed, failed + (not result.passed)
        if coverage is not None and suite.file.tests:
            summaries.append(coverage.summary().lines())
    total = passed + failed
    if total == 0 and not broken:
        stdout.write("no conversation tests found (NAME.tests.yaml beside NAME.yaml)\n")
        return EXIT_NONE_FOUND
    parts = [f"{passed} passed", *([f"{failed} failed"] if failed else [])]
    parts += [f"{broken} file{'s' * (broken != 1)} broken"] if broken else []
    plural = "s" * (total != 1)
    stdout.write(
        f"\nran {total} test{plural} in {len(files)} file{'s' * (len(files) != 1)}: {', '.join(parts)}\n"
    )
    for lines in summaries:
        stdout.write("\n".join(lines) + "\n")
    return EXIT_PASSED if not failed and not broken else EXIT_FAILED
