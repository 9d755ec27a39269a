"""Hot reload of translations: a changed catalog is swapped in with its scenario; an entry
that breaks a placeholder is left out of it (users read the original) and logged."""

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


def test_a_catalog_that_drops_a_placeholder_is_swapped_in_without_that_entry(
    project: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The one rule for a broken translation (docs/translating.md): the entry is left out,
    users read the original, the log says where; the rest of the change is used."""
    monkeypatch.delenv("BOT_LOCALES", raising=False)
    holder = ScenarioHolder(str(project / "scenarios" / "demo.yaml"))
    catalog = project / "locales/de/LC_MESSAGES/demo.po"
    edit(catalog, 'msgstr "Hi {{ user.first_name }}! Willkommen', 'msgstr "Hi! Willkommen')
    edit(catalog, '"Neu starten"', '"Von vorn beginnen"')
    assert holder.reload_if_changed() is True
    assert german_start(holder) == "Von vorn beginnen"
    line = next(
        i
        for i, text in enumerate(catalog.read_text(encoding="utf-8").splitlines(), 1)
        if text.startswith('msgstr "Hi! Willkommen')
    )
    assert f"demo.po:{line}: the translation of 'Hi {{{{ user.first_name }}}}!" in caplog.text
    assert "drops {{ user.first_name }}" in caplog.text and "users see the original" in caplog.text
