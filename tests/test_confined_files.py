"""Files a scenario reaches stay inside its folder: `include:` and local media cannot read
outside it (`../`, absolute paths, symbolic links), nothing waits on a named pipe or a device,
and a media name filled from user text can send only media files, never the plugins, .env,
the database or the scenario itself. URLs and Telegram file ids keep working."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import peewee
import pytest
from outbox_helpers import Clock, queue, status

from engine.core.effects import NotifyChat, SendMedia
from engine.ops.problems import ProblemSink
from engine.runtime.config import SettingsError, read_settings
from engine.runtime.scenario_holder import ScenarioError, ScenarioHolder
from engine.runtime.sender import Limits, Sender
from engine.scenario import ValidationReport, discover, validate_file
from engine.scenario.compiler import compile_scenario
from engine.store.queues import Outbox
from engine.telegram.bot_api import BotApi
from engine.testing.fake_telegram import FakeTelegram

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


def test_an_included_file_over_the_size_cap_is_refused_unread(folder: Path) -> None:
    with open(folder / "part.yaml", "wb") as handle:
        handle.truncate(2_000_001)
    main = folder / "main.yaml"
    main.write_text(f"{HEAD}include: [part.yaml]\n{STATES}", encoding="utf-8")
    report = validate_file(str(main))
    assert ("file-too-large", "part.yaml", 1) in _errors(report)


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


# ---- local media at validate time: literal paths -----------------------------------------------


@pytest.fixture
def media_folder(folder: Path) -> Path:
    """A scenario's folder as deployed: media, plugins, .env, the database beside it."""
    (folder / "media").mkdir()
    (folder / "media" / "menu.jpg").write_bytes(b"\xff\xd8 a tiny jpeg")
    (folder / "media" / "prices.pdf").write_bytes(b"%PDF-1.4 prices")
    (folder / "main_plugins.py").write_text("TOKEN = 'plugin secret'\n")
    (folder / ".env").write_text("TELEGRAM_BOT_TOKEN=123:secret\n")
    (folder / "data").mkdir()
    (folder / "data" / "bot.db").write_bytes(b"SQLite format 3\x00")
    (folder.parent / "elsewhere.jpg").write_bytes(b"\xff\xd8 outside")
    return folder


def _say(folder: Path, message: str) -> ValidationReport:
    main = folder / "main.yaml"
    main.write_text(f"{HEAD}states:\n  a:\n    say: {message}\n    end: true\n", encoding="utf-8")
    return validate_file(str(main))


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("{photo: media/menu.jpg}", None),
        ("{document: media/prices.pdf, caption: Prices}", None),
        ("{photo: 'https://shop.example/menu.jpg'}", None),
        ("{sticker: CAACAgIAAxkBAAEBfake_sticker_id_0123}", None),
        ("{photo: '{{ user.first_name }}.jpg'}", None),  # a template: checked when sent
        ("{photo: media/missing.jpg}", "media-not-found"),
        ("{photo: ../elsewhere.jpg}", "media-outside"),
        ("{photo: /etc/hostname}", "media-outside"),
        ("{document: main_plugins.py}", "media-refused"),
        ("{document: .env}", "media-refused"),
        ("{document: main.yaml}", "media-refused"),
        ("{document: data/bot.db}", "media-refused"),
        ("{document: media}", "media-refused"),
    ],
    ids=lambda v: str(v),
)
def test_a_literal_media_path_is_checked_when_validating(
    media_folder: Path, message: str, code: str | None
) -> None:
    report = _say(media_folder, message)
    assert _errors(report) == ([(code, "main.yaml", 4)] if code else [])


def test_a_linked_media_file_must_lead_inside(media_folder: Path) -> None:
    (media_folder / "media" / "pic.jpg").symlink_to(media_folder.parent / "elsewhere.jpg")
    (media_folder / "media" / "env.jpg").symlink_to(media_folder / ".env")
    assert _errors(_say(media_folder, "{photo: media/pic.jpg}")) == [
        ("media-outside", "main.yaml", 4)
    ]
    assert _errors(_say(media_folder, "{photo: media/env.jpg}")) == [
        ("media-refused", "main.yaml", 4)
    ]


def test_a_photo_over_telegrams_limit_is_refused(media_folder: Path) -> None:
    with open(media_folder / "media" / "big.jpg", "wb") as handle:
        handle.truncate(10 * 1024 * 1024 + 1)
    report = _say(media_folder, "{photo: media/big.jpg}")
    assert _errors(report) == [("media-too-large", "main.yaml", 4)]
    assert "10 MB" in report.diagnostics[0].message
    assert _errors(_say(media_folder, "{document: media/big.jpg}")) == []  # 50 MB for files


def test_a_configured_media_folder_confines_media_to_it(media_folder: Path) -> None:
    main = media_folder / "main.yaml"
    main.write_text(f"{HEAD}states:\n  a:\n    say: {{photo: media/menu.jpg}}\n    end: true\n")
    assert _errors(validate_file(str(main), media_dir=str(media_folder / "media"))) == []
    (media_folder / "beside.jpg").write_bytes(b"\xff\xd8 beside")
    main.write_text(f"{HEAD}states:\n  a:\n    say: {{photo: beside.jpg}}\n    end: true\n")
    assert _errors(validate_file(str(main), media_dir=str(media_folder / "media"))) == [
        ("media-outside", "main.yaml", 4)
    ]


# ---- local media when sent: names filled from user text ----------------------------------------


@pytest.fixture
def db(sqlite_db: peewee.Database) -> peewee.Database:
    return sqlite_db


@pytest.fixture
def problems() -> Iterator[ProblemSink]:
    yield ProblemSink()


def _sender(
    db: peewee.Database, fake: FakeTelegram, folder: Path, problems: ProblemSink, **kw: Any
) -> Sender:
    api = BotApi(fake.url, fake.token, read_timeout=1)
    return Sender(
        Outbox(db),
        api,
        Limits(chat_interval=0),
        admins=(901,),
        base_dir=str(folder),
        clock=Clock(),
        problems=problems,
        **kw,
    )


HOSTILE_NAMES = [
    "main_plugins.py",
    ".env",
    "main.yaml",
    "data/bot.db",
    "media/../main_plugins.py",
    "../elsewhere.jpg",
    "/etc/hostname",
    "media",
    "media/env.jpg",  # a link to .env
    "media/pipe.jpg",  # a named pipe
    "media/big.jpg",  # over the 10 MB a photo may have
    "file:///etc/hostname",  # a local Bot API server would read it
    "media/menu.jpg\x00.py",
]


def test_a_media_name_from_user_text_sends_only_media_files(
    db: peewee.Database, fake: FakeTelegram, media_folder: Path, problems: ProblemSink
) -> None:
    (media_folder / "main.yaml").write_text(f"{HEAD}states:\n  a: {{say: Hi, end: true}}\n")
    (media_folder / "media" / "env.jpg").symlink_to(media_folder / ".env")
    os.mkfifo(media_folder / "media" / "pipe.jpg")
    with open(media_folder / "media" / "big.jpg", "wb") as handle:
        handle.truncate(10 * 1024 * 1024 + 1)
    rows = queue(*(SendMedia(10 + i, "photo", name) for i, name in enumerate(HOSTILE_NAMES)))
    kept = queue(
        SendMedia(40, "photo", "media/menu.jpg"),
        SendMedia(41, "document", "media/prices.pdf"),
        SendMedia(42, "photo", "https://shop.example/menu.jpg"),
        SendMedia(43, "photo", "AgACAgIAAxkBAAIBQ2Wfake_file_id_0123456789"),
        NotifyChat("admins", "for admins", media_kind="document", media=".env"),
    )
    send = _sender(db, fake, media_folder, problems)
    _without_hanging(send.run_once, (media_folder / "media" / "pipe.jpg",))
    assert [status(r) for r in rows] == ["failed"] * len(HOSTILE_NAMES)
    assert [status(r) for r in kept] == ["sent"] * 4 + ["failed"]
    uploads = [c for c in fake.calls_of("sendPhoto", "sendDocument") if c.files]
    assert [c.params["chat_id"] for c in uploads] == ["40", "41"]
    assert problems.counts["send_failed"] == len(HOSTILE_NAMES) + 1


def test_a_configured_media_folder_is_the_only_one_sent_from(
    db: peewee.Database, fake: FakeTelegram, media_folder: Path, problems: ProblemSink
) -> None:
    (media_folder / "beside.jpg").write_bytes(b"\xff\xd8 beside")
    rows = queue(SendMedia(10, "photo", "media/menu.jpg"), SendMedia(11, "photo", "beside.jpg"))
    _sender(db, fake, media_folder, problems, media_dir=str(media_folder / "media")).run_once()
    assert [status(r) for r in rows] == ["sent", "failed"]


# ---- the operator's setting ----------------------------------------------------------------------


def test_bot_media_dir_is_checked_at_start_and_used_by_validate_and_start(
    media_folder: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    main = media_folder / "main.yaml"
    (media_folder / "beside.jpg").write_bytes(b"\xff\xd8 beside")
    main.write_text(f"{HEAD}states:\n  a:\n    say: {{photo: beside.jpg}}\n    end: true\n")
    env = {"TELEGRAM_BOT_TOKEN": "1:a", "BOT_SCENARIO": str(main)}
    with pytest.raises(SettingsError, match="BOT_MEDIA_DIR: there is no folder"):
        read_settings({**env, "BOT_MEDIA_DIR": str(media_folder / "nowhere")})
    settings = read_settings({**env, "BOT_MEDIA_DIR": str(media_folder / "media")})
    assert settings.media_dir == str(media_folder / "media")
    assert read_settings(env).media_dir is None
    assert cli("--validate", main).code == 0
    monkeypatch.setenv("BOT_MEDIA_DIR", str(media_folder / "media"))
    result = cli("--validate", main)
    assert result.code == 1 and "[media-outside]" in result.out
    with pytest.raises(ScenarioError, match="media-outside"):
        ScenarioHolder(str(main), media_dir=settings.media_dir)


def test_a_translation_that_is_a_fifo_hangs_nothing(folder: Path, cli: Cli) -> None:
    main = folder / "main.yaml"
    main.write_text(
        "bot: {name: T, start: a, languages: [en, de]}\nstates:\n  a: {say: Hi, end: true}\n",
        encoding="utf-8",
    )
    catalogs = folder / "locales" / "de" / "LC_MESSAGES"
    catalogs.mkdir(parents=True)
    pipe = catalogs / "main.po"
    os.mkfifo(pipe)
    result = _without_hanging(lambda: cli("--validate", main), (pipe,))
    assert "main.po" in result.out and "named pipe" in result.out
    report = _without_hanging(lambda: validate_file(str(main)), (pipe,))
    assert report.scenario is not None
    scenario = _without_hanging(lambda: compile_scenario(report.scenario), (pipe,))
    assert scenario.name == "T"  # loaded, with the catalog left out
