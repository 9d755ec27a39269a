"""`@pytest.mark.alone` (tests/alone.py): with pytest-xdist's workers, such a test runs while
no other test runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TESTS = '''
import os, time
from pathlib import Path
import pytest

RUNNING = Path(os.environ["RUNNING_FOLDER"])

def running_while(name, seconds):
    """The other tests whose files were there while this one ran."""
    mine = RUNNING / name
    mine.touch()
    seen = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen |= {p.name for p in RUNNING.iterdir()} - {name}
        time.sleep(0.01)
    mine.unlink()
    return seen

@pytest.mark.parametrize("n", range(12))
def test_shared(n):
    running_while(f"shared{n}", 0.3)

@pytest.mark.alone
@pytest.mark.parametrize("n", range(2))
def test_alone(n):
    assert running_while(f"alone{n}", 1.0) == set()
'''


def test_an_alone_test_sees_no_other_test_running_while_the_workers_run_the_others(
    tmp_path: Path,
) -> None:
    (tmp_path / "conftest.py").write_text("from alone import pytest_runtest_protocol\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers = alone: by itself\n")
    (tmp_path / "test_them.py").write_text(TESTS)
    running = tmp_path / "running"
    running.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)]),
        "RUNNING_FOLDER": str(running),
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "-q", "."],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "14 passed" in done.stdout
