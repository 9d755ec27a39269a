"""Hot reload of translations: a changed catalog is checked and swapped in with its scenario;
a catalog that breaks a placeholder is refused and the running version stays."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from engine.i18n import command_menus
from engine.runtime.scenario_holder import ScenarioHolder

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    shutil.copytree(ROOT / "locales", tmp_path / "locales")
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    stamp = time.time() + 10
    os.utime(path, (stamp, stamp))


def german_start(holder: ScenarioHolder) -> str:
    return dict(command_menus(holder.current)["de"])["start"]


def test_a_changed_translation_is_swapped_in(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BOT_LOCALES", raising=False)
    holder = ScenarioHolder(str(project / "scenarios" / "demo.yaml"))
    assert german_start(holder) == "Neu starten"
    assert holder.reload_if_changed() is False  # nothing changed
    edit(project / "locales/de/LC_MESSAGES/demo.po", '"Neu starten"', '"Von vorn beginnen"')
    assert holder.reload_if_changed() is True
    assert german_start(holder) == "Von vorn beginnen"


def test_a_catalog_that_drops_a_placeholder_is_refused(
    project: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("BOT_LOCALES", raising=False)
    holder = ScenarioHolder(str(project / "scenarios" / "demo.yaml"))
    running = holder.current
    catalog = project / "locales/de/LC_MESSAGES/demo.po"
    edit(catalog, 'msgstr "Hi {{ user.first_name }}! Willkommen', 'msgstr "Hi! Willkommen')
    edit(catalog, '"Neu starten"', '"Von vorn beginnen"')
    assert holder.reload_if_changed() is False
    assert holder.current is running
    assert german_start(holder) == "Neu starten"
    assert "still running the previous version" in caplog.text
    assert "demo.po:" in caplog.text  # where the mistake is
