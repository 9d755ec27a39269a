"""pytest collects conversation tests: each test of a `*.tests.yaml` file is one pytest item.

Enable with `-p engine.testing.pytest_plugin` (or `addopts` in pyproject.toml). A broken
test file or scenario is a collection error listing its problems; a failing test shows the
step, what was sent and the diff. When every test of a file ran, the terminal summary shows
the scenario's coverage, also when pytest-xdist ran the tests in several workers: each test's
report carries what its scenario's tests reached so far (a user property), and the process that
prints the summary adds those up."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from _pytest._code.code import TerminalRepr, TracebackStyle

from engine.scenario.validation import TEST_SUFFIXES
from engine.testing.conversation import ConversationTest
from engine.testing.coverage import ScenarioCoverage
from engine.testing.runner import run_test
from engine.testing.suite import Suite, load_suite


class ConversationError(Exception):
    """A test file that cannot run, or a conversation test that failed: the message says why."""


_RUNS = pytest.StashKey[dict[str, "_FileRun"]]()
REACHED = "conversation coverage"  # the user property: (file's node id, its path, reached)


class _FileRun:
    """Coverage of one file's tests, shown once every one of them has run."""

    def __init__(self, coverage: ScenarioCoverage | None, tests: int) -> None:
        self.coverage = coverage
        self.tests = tests
        self.ran = 0


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_RUNS] = {}
    config.pluginmanager.register(_CoverageTally(config.stash[_RUNS]), "conversation-coverage")


class _CoverageTally:
    """Adds up the tests' reports where the summary is printed (with pytest-xdist, a process
    that collected nothing: a file it has not seen is loaded from the path a report names)."""

    def __init__(self, runs: dict[str, _FileRun]) -> None:
        self.runs = runs

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for name, value in report.user_properties:
            if name != REACHED:
                continue
            file_id, path, reached = cast(tuple[str, str, dict[str, list[Any]]], value)
            run = self.runs.get(file_id)
            if run is None:
                suite = load_suite(_shown(Path(path)))
                run = self.runs[file_id] = _FileRun(suite.coverage(), len(suite.file.tests))
            if run.coverage is not None:
                run.coverage.add_reached(reached)
            run.ran += 1


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name.endswith(TEST_SUFFIXES):
        found: ConversationCollector = ConversationCollector.from_parent(parent, path=file_path)
        return found
    return None


class ConversationCollector(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        suite = load_suite(_shown(self.path))
        if suite.problems or suite.scenario is None:
            raise ConversationError("\n".join(suite.problems))
        runs = self.config.stash[_RUNS]
        runs[self.nodeid] = _FileRun(suite.coverage(), len(suite.file.tests))
        for test in suite.file.tests:
            yield ConversationItem.from_parent(self, name=test.name, suite=suite, test=test)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: TracebackStyle | None = None
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, ConversationError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


def _shown(path: Path) -> str:
    """The path relative to the working folder, as messages show it (absolute if it cannot)."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive
        return str(path)


class ConversationItem(pytest.Item):
    def __init__(self, *, suite: Suite, test: ConversationTest, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite = suite
        self.test = test

    def runtest(self) -> None:
        assert self.suite.scenario is not None
        assert self.parent is not None
        run = self.config.stash[_RUNS].get(self.parent.nodeid)
        coverage = run.coverage if run else None
        result = run_test(self.suite.scenario, self.test, coverage)
        if coverage is not None:
            reached = (self.parent.nodeid, str(self.path), coverage.reached())
            self.user_properties.append((REACHED, reached))
        if result.failure is not None:
            raise ConversationError(result.failure)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: TracebackStyle | None = None
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, ConversationError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.test.position.line - 1, f"conversation test: {self.test.name}"


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    done = [run for run in config.stash.get(_RUNS, {}).values() if run.ran == run.tests > 0]
    if not done:
        return
    terminalreporter.section("conversation coverage")
    for run in done:
        if run.coverage is not None:
            for line in run.coverage.summary().lines():
                terminalreporter.write_line(line)
