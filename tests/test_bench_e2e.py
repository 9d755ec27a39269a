"""bench/e2e.py --quick runs both bots over HTTP and in-process and checks its own figures:
the same replies from both, every step of the engine persisted."""

from __future__ import annotations

import subprocess
import sys

from live_bot import ROOT


def test_the_end_to_end_bench_runs() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "e2e.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("same replies from both bots: yes") == 2, done.stdout
    assert done.stdout.count("persisted: 60 updates done") == 2, done.stdout
