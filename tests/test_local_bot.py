"""`python run.py` without a token: the bot in the terminal through the real pipeline (inbox,
sessions, outbox and timers in a SQLite file), so a conversation survives a restart."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from builders import ROOT
from store_fixtures import require_postgresql_driver

from engine.cli import run


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no .env here
    for name in ("TELEGRAM_BOT_TOKEN", "BOT_PLUGINS", "BOT_LOCALES", "BOT_ENCRYPTION_KEYS"):
        monkeypatch.delenv(name, raising=False)
    database = tmp_path / "data" / "bot.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("BOT_SCENARIO", str(ROOT / "scenarios" / "demo.yaml"))
    return database


class Terminal(io.StringIO):
    """What a person types: the terminal demo runs only with a terminal on standard input."""

    def isatty(self) -> bool:
        return True


def talk(*lines: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    code = run([], out, err, Terminal("".join(f"{line}\n" for line in lines)))
    assert code == 0, err.getvalue()
    return out.getvalue()


def test_the_demo_runs_in_the_terminal_through_the_database(environment: Path) -> None:
    output = talk("1")
    assert "No TELEGRAM_BOT_TOKEN set" in output
    assert "What would you like?" in output  # /start was sent for a new user
    assert "Which size would you like?" in output  # "1" pressed the first button
    with sqlite3.connect(environment) as db:
        assert db.execute("SELECT state FROM sessions").fetchall() == [("size",)]
        statuses = {s for (s,) in db.execute("SELECT status FROM outbox")}
        assert statuses == {"sent"}


def test_the_conversation_continues_after_a_restart(environment: Path) -> None:
    talk("1")
    output = talk("Large", "/debug")
    assert "What would you like?" not in output  # not started over
    assert "How many Large pizzas?" in output
    assert "state: quantity" in output


def test_the_bundled_plugin_answers_in_the_terminal(environment: Path) -> None:
    output = talk("1", "Small", "2")
    assert "Anything extra on your Small pizza?" in output  # check_stock said available


def test_a_broken_scenario_is_reported_not_run(environment: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("bot: {name: X, start: nowhere}\nstates: {a: {say: Hi}}\n")
    out, err = io.StringIO(), io.StringIO()
    assert run([str(broken)], out, err, Terminal("")) == 1
    assert "broken.yaml:1:" in err.getvalue()
    assert "has errors" in err.getvalue()


def test_an_unreachable_database_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    require_postgresql_driver()  # without it, the line says to install it (test_settings_at_start)
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody:wrong@127.0.0.1:1/none")
    out, err = io.StringIO(), io.StringIO()
    assert run(["--migrate"], out, err) == 1
    assert err.getvalue().startswith("run.py: cannot use the database of DATABASE_URL:")
    assert "Traceback" not in err.getvalue() and len(err.getvalue().splitlines()) == 1


def test_the_terminal_chat_does_not_show_the_database_password(
    environment: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/storage.md: the password of DATABASE_URL is never repeated (the chat's first
    line showed the URL as it was given)."""
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    password = urlsplit(postgres_url).password
    assert password, "the test needs a TEST_POSTGRES_URL with a password"
    output = talk()
    assert "No TELEGRAM_BOT_TOKEN set" in output
    assert f":{password}@" not in output and ":***@" in output


def test_wait_in_the_terminal_says_what_fired(
    environment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The timers are rows here, fired by the scheduler; /wait said nothing either way."""
    bot = tmp_path / "bot.yaml"
    bot.write_text(
        "bot: {name: T, start: a}\nstates:\n  a:\n    say: Hello.\n"
        "    buttons: [{text: Stay, say: OK}]\n    after: {delay: 10m, say: Still there?}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("BOT_SCENARIO", str(bot))
    replies = talk("/wait 5m", "/wait 5m").split("you: ")
    assert replies[1] == "(after 5m: nothing was due)\n"
    assert replies[2] == "(after 5m: a timer fired)\nbot: Still there?\n"


def test_after_a_restart_the_current_message_and_its_buttons_are_shown_again(
    environment: Path,
) -> None:
    """Issue 16: a restart showed nothing, and the numbers pressed no button."""
    talk("2")  # "About us" replaces the menu
    replies = talk("1", "/debug").split("you: ")
    assert replies[0].endswith(
        "(continuing in state 'about'; its message again:)\n"
        "bot: Pizza Planet 🪐 wood-fired pizza since 1999.\n"
        "Open every day 11:00–23:00. Free delivery from €20.00.\n"
        "   [1] ⬅️ Back  [2] 🌐 Language\n"
    )
    assert replies[1].startswith("bot (edits): What would you like?")  # [1] pressed Back
    assert "state: menu" in replies[2]
    with sqlite3.connect(environment) as db:  # shown again, not sent again
        assert db.execute("SELECT count(*) FROM outbox WHERE status != 'sent'").fetchone() == (0,)


def test_after_a_restart_an_ended_conversation_says_so(
    environment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = tmp_path / "bot.yaml"
    bot.write_text(
        "bot: {name: T, start: a}\nstates:\n  a:\n    say: Hello {{ user.first_name }}.\n    end: true\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("BOT_SCENARIO", str(bot))
    out, err = io.StringIO(), io.StringIO()
    assert run(["--name", "Ann"], out, err, Terminal("")) == 0, err.getvalue()
    assert "bot: Hello Ann." in out.getvalue()
    restarted = talk("hi")
    assert "(the conversation ended in state 'a'; your next message starts it again)" in restarted
    assert restarted.endswith("you: bot: Hello Alex.\nyou: \n")
