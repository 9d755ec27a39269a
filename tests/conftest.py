"""Shared fixtures: scenario files written to a temporary folder, and the CLI run in-process."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from engine.cli import run

WriteFile = Callable[..., Path]

# Hypothesis's wall-clock checks (a 200 ms deadline per example, "input generation is slow")
# time the test, not the engine: on a busy machine, with a worker per core, they fail at
# random. Every property is still checked on as many examples.
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")


@pytest.fixture
def write_file(tmp_path: Path) -> WriteFile:
    """`write_file(content, name="main.yaml")`: the path of a new file in tmp_path. Text is
    written as UTF-8 bytes exactly as given (no newline translation); bytes as they are."""

    def write(content: str | bytes, name: str = "main.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return path

    return write


# -- PostgreSQL cases without a server: one line, not one SKIPPED line each ------------------
POSTGRES_NOT_RUN = "not run (no PostgreSQL)"  # the category, as the final count line shows it


def _postgresql_not_configured(report: pytest.TestReport) -> bool:
    """Whether this is a PostgreSQL case skipped because no server (or driver) is configured
    (store_fixtures.py); REQUIRE_POSTGRES=1 turns those skips into failures instead."""
    longrepr = report.longrepr
    return (
        report.skipped
        and isinstance(longrepr, tuple)
        and "PostgreSQL tests need TEST_POSTGRES_URL" in str(longrepr[2])
    )


def pytest_report_teststatus(
    report: pytest.TestReport, config: pytest.Config
) -> tuple[str, str, str] | None:
    """Counted apart from the other skips, so that `-ra` does not list them one by one."""
    if _postgresql_not_configured(report):
        return POSTGRES_NOT_RUN, "", "NOT RUN (no PostgreSQL)"
    return None


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    count = len(terminalreporter.stats.get(POSTGRES_NOT_RUN, []))
    if count:
        terminalreporter.write_line(
            f"PostgreSQL: {count} test{'s' if count != 1 else ''} not run; set TEST_POSTGRES_URL="
            "postgresql://USER:PASSWORD@HOST:5432/postgres (a superuser) to run them "
            "(CI sets REQUIRE_POSTGRES=1: there they must run)"
        )


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


@pytest.fixture
def cli() -> Callable[..., CliResult]:
    """`cli("--validate", path, ...)`: engine.cli.run in-process, with its output captured."""

    def call(*argv: str | Path) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        code = run([str(a) for a in argv], out, err)
        return CliResult(code, out.getvalue(), err.getvalue())

    return call


# the store's fixtures: every store test runs on SQLite and on PostgreSQL
# tests marked `alone` run while no other test runs, also with pytest-xdist's workers
from alone import pytest_runtest_protocol  # noqa: E402, F401

# the runtime's fixtures: the fake Bot API server, a migrated SQLite file
from runtime_fixtures import bots, fake, sqlite_db  # noqa: E402, F401
from store_fixtures import (  # noqa: E402, F401
    counter,
    db,
    fresh_store_urls,
    migrated_postgres_template,
    postgres_url,
    store_url,
)
from web_service import web  # noqa: E402, F401
