"""Tests marked `alone` run while no other test runs, also with pytest-xdist's workers.

Such a test checks a decision the engine takes from its own timing (a call's wall time less
its CPU time): another worker's test, or the bot it started, keeping the cores busy would look
like a slow network. Under xdist every test holds a lock file of this run shared and an
`alone` test holds it alone; a second file, taken first and let go at once, makes a waiting
`alone` test go before tests that ask later (it would otherwise wait for a gap between the
other workers' tests that may never come)."""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Generator
from pathlib import Path

import pytest


def _locked(path: Path, mode: int) -> int:
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(handle, mode)
    return handle


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run is None:  # one process: its tests run one at a time anyway
        return (yield)
    # a worker's basetemp is a folder of the run's (pytest removes it with the run's others)
    worker_temp = item.config.option.basetemp
    folder = Path(worker_temp).parent if worker_temp else Path(tempfile.gettempdir())
    base = folder / f"pytest-alone-{run}"
    alone = item.get_closest_marker("alone") is not None
    turn = _locked(base.with_suffix(".turn"), fcntl.LOCK_EX)
    try:
        held = _locked(base.with_suffix(".lock"), fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
    finally:
        os.close(turn)
    try:
        return (yield)
    finally:
        os.close(held)
