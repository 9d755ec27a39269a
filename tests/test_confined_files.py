"""Files a scenario reaches stay inside its folder: `include:` and local media cannot read
outside it (`../`, absolute paths, symbolic links), nothing waits on a named pipe or a device,
and a media name filled from user text can send only media files, never the plugins, .env,
the database or the scenario itself. URLs and Telegram file ids keep working."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.ops.problems import ProblemSink
from engine.runtime.scenario_holder import ScenarioHolder
from engine.scenario import ValidationReport, discover, validate_file

Cli = Callable[..., Any]  # the cli fixture of conftest.py

HANG_GUARD_SECONDS = 5.0  # each check takes milliseconds; this only catches a hang
HEAD = "bot: {name: T, start: a}\n"
STATES = "states:\n  a:\n    say: Hi\n    goto: b\n"
PART = "states:\n  b:\n    say: Secret {{ 6 * 7 }}\n    end: true\n"


def _errors(report: ValidationReport) -> list[tuple[str, str, int]]:
    return [
        (d.code, os.path.basename(d.position.file), d.position.line)
        for d in report.diagnostics
        if d.is_error
    ]


def _message(report: ValidationReport, code: str) -> str:
    [message] = [d.message for d in report.diagnostics if d.code == code]
    return message


def _without_hanging(job: Callable[[], Any], pipes: tuple[Path, ...] = ()) -> Any:
    """`job()`'s result; fails instead of hanging when it blocks (on a FIFO: a writer that
    opens and closes the pipe then lets the stuck reader go, so the test run ends)."""
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(job()), daemon=True)
    worker.start()
    worker.join(HANG_GUARD_SECONDS)
    if worker.is_alive():
        for pipe in pipes:
            with contextlib.suppress(OSError):  # the reader may have stopped waiting
                os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(HANG_GUARD_SECONDS)
        pytest.fail(f"still running after {HANG_GUARD_SECONDS} s: it waits on a pipe or device")
    return result[0]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The scenario's folder, with a file beside it (outside it) that must stay unread."""
    (tmp_path / "outside.yaml").write_text(PART, encoding="utf-8")
    inner = tmp_path / "bot"
    inner.mkdir()
    return inner


# ---- include: --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry", ["../outside.yaml", "parts/../../outside.yaml", "{outside}"], ids=str
)
def test_an_include_outside_the_scenarios_folder_is_refused(folder: Path, entry: str) -> None:
    entry = entry.format(outside=folder.parent / "outside.yaml")
    main = folder / "main.yaml"
    main.write_text(f"{HEAD}include: ['{entry}']\n{STATES}", encoding="utf-8")
    report = validate_file(str(main))
    assert ("include-outside", "main.yaml", 2) in _errors(report)
    message = _message(report, "include-outside")
    assert str(folder) in message and "move the file there" in message
    assert str(folder.parent / "outside.yaml") not in report.files


def test_a_symbolic_link_that_leads_outside_is_refused(folder: Path) -> None:
    (folder / "part.yaml").symlink_to(folder.parent / "outside.yaml")
    main = folder / "main.yaml"
    main.write_text(f"{HEAD}include: [part.yaml]\n{STATES}", encoding="utf-8")
    report = validate_file(str(main))
    assert ("include-outside", "main.yaml", 2) in _errors(report)
    assert "symbolic link" in _message(report, "include-outside")


def test_includes_inside_the_folder_keep_working(folder: Path) -> None:
    """Subfolders, `../` that stays inside, and a link to a file inside are all fine."""
    (folder / "parts").mkdir()
    (folder / "parts" / "b.yaml").write_text(
        "include: [../shared/c.yaml]\nstates:\n  b: {say: B, goto: c}\n", encoding="utf-8"
    )
    (folder / "shared").mkdir()
    (folder / "shared" / "c.yaml").write_text("states:\n  c: {say: C, goto: d}\n")
    (folder / "shared" / "d.yaml").write_text("states:\n  d: {say: D, end: true}\n")
    (folder / "link.yaml").symlink_to(folder / "shared" / "d.yaml")
    main = folder / "main.yaml"
    main.write_text(f"{HEAD}include: [parts/b.yaml, link.yaml]\n{STATES}", encoding="utf-8")
    report = validate_file(str(main))
    assert _errors(report) == []
    assert len(report.files) == 4


def test_an_included_fifo_is_refused_at_once(folder: Path, cli: Cli) -> None:
    os.mkfifo(folder / "part.yaml")
    main = folder / "main.yaml"
    main.write_text(f"{HEAD}include: [part.yaml]\n{STATES}", encoding="utf-8")
    report = _without_hanging(lambda: validate_file(str(main)), (folder / "part.yaml",))
    assert ("include-not-a-file", "main.yaml", 2) in _errors(report)
    assert "named pipe" in _message(report, "include-not-a-file")
    result = _without_hanging(lambda: cli("--validate", main), (folder / "part.yaml",))
    assert result.code == 1 and "[include-not-a-file]" in result.out


def test_an_included_folder_or_device_is_refused(folder: Path) -> None:
    (folder / "part.yaml").mkdir()
    main = folder / "main.yaml"
    main.write_text(f"{HEAD}include: [part.yaml]\n{STATES}", encoding="utf-8")
    report = validate_file(str(main))
    assert ("include-not-a-file", "main.yaml", 2) in _errors(report)
    assert "a folder" in _message(report, "include-not-a-file")
    device = _without_hanging(lambda: validate_file("/dev/zero"))
    assert [d.code for d in device.diagnostics] == ["file-unreadable"]
    assert "a device" in device.diagnostics[0].message


def test_a_fifo_among_the_scenarios_does_not_stop_discovery(folder: Path) -> None:
    (folder / "main.yaml").write_text(f"{HEAD}states:\n  a: {{say: Hi, end: true}}\n")
    os.mkfifo(folder / "pipe.yaml")
    found = _without_hanging(lambda: discover(str(folder)), (folder / "pipe.yaml",))
    assert str(folder / "main.yaml") in found
    report = _without_hanging(lambda: validate_file(str(folder / "pipe.yaml")))
    assert [d.code for d in report.diagnostics] == ["file-unreadable"]
    assert "named pipe" in report.diagnostics[0].message


def test_a_reload_that_includes_a_fifo_keeps_the_running_version(folder: Path) -> None:
    main = folder / "main.yaml"
    main.write_text(f"{HEAD}states:\n  a: {{say: Hi, end: true}}\n", encoding="utf-8")
    problems = ProblemSink()
    holder = ScenarioHolder(str(main), problems)
    running = holder.current
    os.mkfifo(folder / "part.yaml")
    main.write_text(f"{HEAD}include: [part.yaml]\n{STATES}", encoding="utf-8")
    os.utime(main, (os.stat(main).st_mtime + 10,) * 2)
    assert _without_hanging(holder.reload_if_changed, (folder / "part.yaml",)) is False
    assert holder.current is running
    assert problems.counts["reload_failed"] == 1


def test_the_value_of_an_outside_file_never_reaches_a_user(folder: Path) -> None:
    """The review's finding: an included file outside the folder added a state whose text
    (read from that file) was shown to users. Now the scenario does not load at all."""
    main = folder / "main.yaml"
    main.write_text(f"{HEAD}include: [../outside.yaml]\n{STATES}", encoding="utf-8")
    with pytest.raises(Exception, match="include-outside"):
        ScenarioHolder(str(main))
