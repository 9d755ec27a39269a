"""`run.py --validate`: exit codes, text and JSON output, and which files it checks by default."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.cli import run
from engine.scenario.validation import discover

ROOT = Path(__file__).resolve().parents[1]
WriteFile = Callable[..., Path]  # fixtures of conftest.py
Cli = Callable[..., Any]

CLEAN = "bot: {name: T, start: a}\nstates:\n  a:\n    say: Hi\n    end: true\n"
BROKEN = "bot: {name: T, start: a}\nstates:\n  a:\n    say: Hi\n    goto: nowhere\n"
WARNS = CLEAN + "  lonely:\n    say: Nobody comes here\n    end: true\n"  # unreachable-state
LINE = re.compile(r"^(.+):(\d+):(\d+): (error|warning): (.+) \[([a-z-]+)\]$")


def test_a_clean_scenario_exits_0(write_file: WriteFile, cli: Cli) -> None:
    result = cli("--validate", write_file(CLEAN))
    assert (result.code, result.err) == (0, "")
    assert result.lines == ["checked 1 scenario (1 file): no problems found"]


def test_errors_exit_1_with_one_line_each(write_file: WriteFile, cli: Cli) -> None:
    path = write_file(BROKEN)
    result = cli("--validate", path)
    assert (result.code, result.err) == (1, "")
    *problems, summary = result.lines
    assert len(problems) == 1
    match = LINE.match(problems[0])
    assert match, problems[0]
    assert match.groups()[:4] == (str(path), "5", "11", "error")
    assert match[6] == "unknown-state"
    assert summary == "checked 1 scenario (1 file): 1 error, 0 warnings"


def test_warnings_exit_0_but_1_with_strict(write_file: WriteFile, cli: Cli) -> None:
    path = write_file(WARNS)
    relaxed = cli("--validate", path)
    assert relaxed.code == 0
    assert "warning:" in relaxed.out and "[unreachable-state]" in relaxed.out
    assert relaxed.lines[-1] == "checked 1 scenario (1 file): 0 errors, 1 warning"
    strict = cli("--validate", "--strict", path)
    assert strict.code == 1
    assert strict.out == relaxed.out


def test_several_files_are_checked_together(write_file: WriteFile, cli: Cli) -> None:
    clean, broken = write_file(CLEAN, "clean.yaml"), write_file(BROKEN, "broken.yaml")
    result = cli("--validate", clean, broken)
    assert result.code == 1
    assert result.lines[-1] == "checked 2 scenarios (2 files): 1 error, 0 warnings"
    assert result.lines[0].startswith(f"{broken}:5:11: error:")


def test_a_folder_stands_for_the_scenarios_in_it(
    tmp_path: Path, write_file: WriteFile, cli: Cli
) -> None:
    """`--test scenarios/examples/` worked, `--validate scenarios/examples/` said "no such
    file"; the tests files in the folder are not read as scenarios."""
    clean, broken = write_file(CLEAN, "clean.yaml"), write_file(BROKEN, "broken.yaml")
    (clean.parent / "clean.tests.yaml").write_text("- name: x\n  steps: []\n", "utf-8")
    result = cli("--validate", clean.parent)
    assert result.code == 1, result.err
    assert result.lines[-1] == "checked 2 scenarios (2 files): 1 error, 0 warnings"
    assert result.lines[0].startswith(f"{broken}:5:11: error:")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli("--validate", empty).code == 2


def test_an_unknown_option_exits_2(cli: Cli) -> None:
    result = cli("--validate", "--colour")
    assert result.code == 2
    assert result.out == ""
    assert "unrecognized arguments: --colour" in result.err
    assert result.err.startswith("usage: run.py ")
    assert "\nrun.py: error: unrecognized arguments" in result.err


def test_the_installed_command_names_itself_scenario_bot() -> None:
    """The console script's usage line and errors say scenario-bot (tests/test_wheel.py runs
    the installed script itself); run.py keeps its own name."""
    out, err = io.StringIO(), io.StringIO()
    assert run(["--colour"], out, err, prog="scenario-bot") == 2
    assert err.getvalue().startswith("usage: scenario-bot ")
    assert "\nscenario-bot: error: unrecognized arguments: --colour" in err.getvalue()
    assert run(["--help"], out, err, prog="scenario-bot") == 0
    assert out.getvalue().startswith("usage: scenario-bot ")


def test_the_installed_command_suggests_its_own_name_in_every_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wheel user has no run.py: the engine's messages outside the parser (the database,
    the terminal refusal) named `run.py` all the same."""
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody:wrong@127.0.0.1:1/none")
    out, err = io.StringIO(), io.StringIO()
    assert run(["--migrate"], out, err, prog="scenario-bot") == 1
    assert err.getvalue().startswith("scenario-bot: cannot use the database of DATABASE_URL:")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    err = io.StringIO()
    try:
        assert run([], out, err, io.StringIO(""), prog="scenario-bot") == 2
    finally:  # the name is the process's: the next tests run as run.py again
        run(["--help"], io.StringIO(), io.StringIO())
    assert "start `scenario-bot` in a terminal" in err.getvalue()
    assert "run.py" not in err.getvalue()


def test_validate_given_a_tests_file_points_to_test(cli: Cli) -> None:
    """It was read as a broken scenario ("a scenario must be a mapping with `bot:` ...")."""
    result = cli("--validate", "scenarios/hello.tests.yaml")
    assert result.code == 1
    assert result.lines[0] == (
        "scenarios/hello.tests.yaml:1:1: error: this is a file of conversation tests, not a "
        "scenario: run them with `python3 run.py --test scenarios/hello.tests.yaml`, and check "
        "the scenario they test with `python3 run.py --validate scenarios/hello.yaml`. [tests-file]"
    )


def test_a_missing_file_exits_2(tmp_path: Path, cli: Cli) -> None:
    missing = tmp_path / "nope.yaml"
    result = cli("--validate", missing)
    assert result.code == 2
    assert result.out == ""
    assert f"no such file: {missing}" in result.err


def test_an_unknown_format_exits_2(write_file: WriteFile, cli: Cli) -> None:
    result = cli("--validate", "--format", "xml", write_file(CLEAN))
    assert result.code == 2
    assert result.out == ""
    assert "xml" in result.err


def test_json_output(write_file: WriteFile, cli: Cli) -> None:
    broken, warns = write_file(BROKEN, "broken.yaml"), write_file(WARNS, "warns.yaml")
    result = cli("--validate", "--format", "json", warns, broken)
    assert result.code == 1
    document = json.loads(result.out)
    assert document["files"] == [str(warns), str(broken)]
    assert (document["errors"], document["warnings"]) == (1, 1)
    first, second = document["diagnostics"]
    assert first == {
        "file": str(broken),
        "line": 5,
        "column": 11,
        "severity": "error",
        "code": "unknown-state",
        "message": first["message"],
    }
    assert "there is no state 'nowhere'" in first["message"]
    assert set(second) == {"file", "line", "column", "severity", "code", "message"}
    assert (second["severity"], second["code"], second["line"]) == (
        "warning",
        "unreachable-state",
        6,
    )


def test_json_output_of_a_clean_file(write_file: WriteFile, cli: Cli) -> None:
    path = write_file(CLEAN)
    result = cli("--validate", "--format", "json", path)
    assert result.code == 0
    assert json.loads(result.out) == {
        "files": [str(path)],
        "errors": 0,
        "warnings": 0,
        "diagnostics": [],
        "translated": {},  # a bot in one language
    }


def test_json_with_strict_exits_1_on_warnings(write_file: WriteFile, cli: Cli) -> None:
    result = cli("--validate", "--format", "json", "--strict", write_file(WARNS))
    assert result.code == 1
    assert json.loads(result.out)["warnings"] == 1


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A bot folder: scenarios/main.yaml includes part.yaml; main.tests.yaml holds tests."""
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "main.yaml").write_text(
        "bot: {name: T, start: a}\ninclude: [part.yaml]\n"
        "states:\n  a: {say: Hi, buttons: [{text: Help, goto: help}]}\n",
        encoding="utf-8",
    )
    # Checked on its own, the part would fail (no `bot:`; `a` is in main.yaml).
    (folder / "part.yaml").write_text("states:\n  help: {say: Ask us, goto: a}\n", encoding="utf-8")
    # Conversation tests are a list: checked as a scenario they would fail.
    (folder / "main.tests.yaml").write_text(
        "- name: greets\n  steps:\n    - send: /start\n      expect: Hi\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    return folder


def test_without_paths_the_scenarios_folder_is_checked(project: Path, cli: Cli) -> None:
    result = cli("--validate")
    assert (result.code, result.err) == (0, "")
    assert result.lines == ["checked 1 scenario (2 files): no problems found"]
    as_json = json.loads(cli("--validate", "--format", "json").out)
    assert as_json["files"] == [
        str(Path("scenarios") / "main.yaml"),
        str(Path("scenarios") / "part.yaml"),
    ]


def test_without_paths_a_mistake_in_an_included_file_is_found(project: Path, cli: Cli) -> None:
    (project / "part.yaml").write_text("states:\n  help: {say: Ask us, goto: b}\n")
    result = cli("--validate")
    assert result.code == 1
    assert result.lines[0].startswith(str(Path("scenarios") / "part.yaml") + ":2:")
    assert result.lines[0].endswith("[unknown-state]")


def test_without_a_scenarios_folder_the_bundled_demo_is_checked_and_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    """A fresh install in an empty folder: the demo shipped with the engine, named on stderr
    so that a wrong working directory is noticed."""
    monkeypatch.chdir(tmp_path)
    result = cli("--validate")
    assert result.code == 0, result.out + result.err
    bundled = ROOT / "scenarios"  # in a checkout the bundled demo is the repository's
    assert result.err == (
        f"run.py: note: there is no scenarios/ folder in {tmp_path}: using the bundled demo in "
        f"{bundled} (give scenario paths, set BOT_SCENARIO, or start in the folder that holds "
        "your scenarios/)\n"
    )
    # the demo (with its included file), hello, and in a checkout the ported examples
    # (scenarios/examples/, which the wheel does not carry: tests/test_wheel.py)
    scenarios = len(discover(str(bundled)))
    assert scenarios >= 2
    expected = f"checked {scenarios} scenarios ({scenarios + 1} files): no problems found"
    assert result.lines[-1] == expected
    assert list(tmp_path.iterdir()) == []


def test_without_a_scenarios_folder_chat_and_test_use_the_bundled_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOT_SCENARIO", raising=False)
    out, err = io.StringIO(), io.StringIO()
    assert run(["--chat"], out, err, io.StringIO("/start\n/quit\n")) == 0, err.getvalue()
    assert "Pizza Planet" in out.getvalue()
    assert "using the bundled demo" in err.getvalue()
    out, err = io.StringIO(), io.StringIO()
    assert run(["--test"], out, err) == 0, out.getvalue() + err.getvalue()
    assert "demo.tests.yaml" in out.getvalue()
    assert "using the bundled demo" in err.getvalue()


def test_catalog_commands_never_write_into_the_bundled_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    """--extract and --update write files: without scenarios/ there is nothing of the
    operator's to write for, and the engine's own files are not theirs to change."""
    monkeypatch.chdir(tmp_path)
    pot = ROOT / "locales" / "demo.pot"
    before = pot.stat().st_mtime_ns
    for command in ("--extract", "--update", "--compile"):
        result = cli(command)
        assert result.code == 2, command
        assert "none found under scenarios/" in result.err
    assert pot.stat().st_mtime_ns == before


def test_without_paths_and_an_empty_scenarios_folder_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    (tmp_path / "scenarios").mkdir()
    monkeypatch.chdir(tmp_path)
    result = cli("--validate")
    assert result.code == 2
    assert "no scenario files" in result.err


def test_run_py_validates_the_bundled_scenarios() -> None:
    """The real command, in a real process, from the repository root."""
    completed = subprocess.run(
        [sys.executable, "run.py", "--validate"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stderr == ""
    assert completed.stdout.strip().endswith("no problems found")


def test_json_output_carries_each_languages_translated_share(cli: Cli) -> None:
    demo = Path(__file__).resolve().parents[1] / "scenarios" / "demo.yaml"
    as_json = json.loads(cli("--validate", "--format", "json", demo).out)
    assert as_json["translated"] == {str(demo): {"ru": "128/128 (100%)", "de": "128/128 (100%)"}}
