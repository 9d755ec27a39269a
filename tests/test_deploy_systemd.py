"""deploy/scenario-bot.service as systemd reads it: `systemd-analyze verify` finds no mistake
(a misspelt key or value is only a warning to systemd, so any line about the unit fails the
test), and the unit restarts on failure, reloads with SIGHUP and writes only its data folder.
verify also wants ExecStart's program to exist: the check runs on a copy whose venv path is
rewritten to a stand-in program in a temporary folder, the one change made."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "scenario-bot.service"
VENV = "/opt/scenario-bot/venv"

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (Debian package systemd; .ci/run installs it)",
)


def verify(text: str, tmp_path: Path) -> list[str]:
    """The lines systemd-analyze verify prints about this unit (none when it is right)."""
    program = tmp_path / "venv" / "bin" / "scenario-bot"
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    assert VENV in text
    unit = tmp_path / "scenario-bot.service"
    unit.write_text(text.replace(VENV, str(tmp_path / "venv")), encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    said = (result.stdout + result.stderr).splitlines()
    about_unit = [line for line in said if str(unit) in line or "scenario-bot.service" in line]
    if result.returncode != 0:
        about_unit.append(f"exit code {result.returncode}: {said}")
    return about_unit


def test_systemd_finds_no_mistake_in_the_unit(tmp_path: Path) -> None:
    assert verify(UNIT.read_text(encoding="utf-8"), tmp_path) == []


@pytest.mark.parametrize(
    ("right", "wrong"),
    [("Restart=on-failure", "Restart=on-failur"), ("ProtectHome=yes", "ProtectHom=yes")],
)
def test_a_misspelt_line_is_reported(tmp_path: Path, right: str, wrong: str) -> None:
    text = UNIT.read_text(encoding="utf-8")
    assert right in text
    assert verify(text.replace(right, wrong), tmp_path) != []


def service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser["Service"]


def test_the_unit_restarts_reloads_and_writes_only_its_data() -> None:
    unit = service()
    assert unit["Restart"] == "on-failure"
    assert unit["RestartPreventExitStatus"] == "2"  # a setting to fix: no restart loop
    assert unit["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert unit["User"] not in ("root", "0")
    assert unit["EnvironmentFile"] == f"{unit['WorkingDirectory']}/.env"
    assert unit["ProtectSystem"] == "strict" and unit["NoNewPrivileges"] == "yes"
    assert unit["ReadWritePaths"] == f"{unit['WorkingDirectory']}/data"  # sqlite:///data/bot.db


def test_the_unit_is_rated_well_exposed_by_systemd(tmp_path: Path) -> None:
    unit = tmp_path / "scenario-bot.service"
    unit.write_text(UNIT.read_text(encoding="utf-8"), encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--threshold=20", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Overall exposure level for scenario-bot.service: 1." in result.stdout, result.stdout
