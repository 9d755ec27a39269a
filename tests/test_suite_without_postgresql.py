"""The test command after the README's install, where no PostgreSQL server is configured: the
PostgreSQL cases are summed up in one line instead of a SKIPPED line each, and
REQUIRE_POSTGRES=1 (CI) still makes them fail."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from builders import ROOT

STORE_TESTS = "tests/test_store_queues.py"  # runs each case on SQLite and on PostgreSQL


def _pytest(**settings: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("TEST_POSTGRES_URL", "REQUIRE_POSTGRES")
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", STORE_TESTS],
        cwd=ROOT,
        env={**env, **settings},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_postgresql_cases_not_run_are_one_line_not_one_each() -> None:
    result = _pytest()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SKIPPED" not in result.stdout
    summary = re.search(
        r"^PostgreSQL: (\d+) tests? not run; set TEST_POSTGRES_URL=\S+ \(a superuser\) to run them",
        result.stdout,
        re.MULTILINE,
    )
    assert summary, result.stdout
    assert int(summary[1]) > 0
    assert re.search(rf"\d+ passed, {summary[1]} not run \(no PostgreSQL\) in ", result.stdout)


def test_require_postgres_still_fails_them() -> None:
    result = _pytest(REQUIRE_POSTGRES="1")
    assert result.returncode == 1, result.stdout
    assert "REQUIRE_POSTGRES=1 but PostgreSQL tests need TEST_POSTGRES_URL" in result.stdout
    assert "not run;" not in result.stdout
