"""Memory over a bot's life: what is loaded at start is left out of the collector's full
passes, and a reload does not leave the replaced version behind for ever."""

from __future__ import annotations

import gc
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.runtime.memory import settle_memory
from engine.runtime.scenario_holder import ScenarioHolder

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()  # the rest of the test run collects as usual


def edit(path: Path, number: int) -> None:
    with path.open("a", encoding="utf-8") as file:
        file.write(f"\n# edit {number}\n")
    stamp = time.time() + 10 + number  # a newer mtime, whatever the file system's resolution
    os.utime(path, (stamp, stamp))


def test_what_is_loaded_stays_frozen_and_reloads_do_not_pile_up(
    tmp_path: Path, unfrozen: None
) -> None:
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    shutil.copytree(ROOT / "locales", tmp_path / "locales")
    scenario = tmp_path / "scenarios" / "demo.yaml"
    holder = ScenarioHolder(str(scenario))
    settle_memory()
    assert gc.get_freeze_count() > 0  # left out of full collections from now on
    kept = []
    for number in range(4):
        edit(scenario, number)
        assert holder.reload_if_changed()
        settle_memory()  # what Bot.run does after each reload
        kept.append(gc.get_freeze_count())
    # freezing without collecting first kept each replaced version's cycles: ~400 objects
    assert kept[-1] - kept[0] < 100, kept
