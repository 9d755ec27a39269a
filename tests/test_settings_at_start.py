"""`python run.py` as an operator starts it: every wrong setting is named in a sentence, all
at once, with exit code 2 and no traceback; the store commands read .env like the bot; with
neither a token nor a terminal the bot refuses instead of running the terminal demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import peewee
import pytest
from builders import NOW, ROOT, compile_yaml
from store_fixtures import require_postgresql_driver

from engine.core.events import Chat, TextMessage, User
from engine.core.interpreter import step
from engine.runtime.setting_values import CHECKED_PREFIXES
from engine.store.models import SessionRow
from engine.store.pipeline import IncomingUpdate, Store

DEMO = str(ROOT / "scenarios" / "demo.yaml")
KEY = "x" * 43 + "="  # 44 characters of URL-safe base64: a well-formed Fernet key


def run_py(
    workdir: Path, env: dict[str, str], *argv: str, dotenv: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`python run.py ARGS` started from `workdir` by a supervisor (no terminal), with an
    environment holding none of the bot's settings but `env`."""
    if dotenv is not None:
        (workdir / ".env").write_text(dotenv, encoding="utf-8")
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(CHECKED_PREFIXES) and k not in ("DATABASE_URL", "SENTRY_DSN")
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *argv],
        cwd=workdir,
        env={**clean, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def bot_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """Settings that start the bot but for the ones under test (the Bot API address is
    closed: nothing may reach the network before the settings are checked)."""
    return {
        "TELEGRAM_BOT_TOKEN": "123:abc",
        "TELEGRAM_API_URL": "http://127.0.0.1:9",
        "BOT_SCENARIO": DEMO,
        "BOT_ENCRYPTION_KEYS": KEY,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        **settings,
    }


def assert_refused(result: subprocess.CompletedProcess[str], *sentences: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output, output
    for sentence in sentences:
        assert sentence in output, output


@pytest.mark.parametrize(
    ("setting", "value", "sentence"),
    [
        ("LOG_LEVEL", "verbose", "LOG_LEVEL='VERBOSE' is not a level; write one of DEBUG, INFO"),
        ("LOG_LEVEL", "infoo", "Did you mean 'INFO'?"),
        (
            "DATABASE_URL",
            "mysql://bot:pw@127.0.0.1/bot",
            "DATABASE_URL must start with sqlite:/// or postgresql://, not 'mysql'",
        ),
        (
            "DATABASE_URL",
            "postgresql://bot:hunter2@127.0.0.1/bot?pool=ten",
            "DATABASE_URL: pool='ten' is not a whole number of at least 1; write connections",
        ),
        (
            "DATABASE_URL",
            "postgresql://bot:hunter2@127.0.0.1:port/bot",
            "DATABASE_URL: the port after the host must be a number",
        ),
        (
            "DATABASE_URL",
            "postgresql://bot:hunter2@127.0.0.1/bot?sslmod=require",
            "DATABASE_URL: 'sslmod' is not an option of PostgreSQL's connection",
        ),
        (
            "DATABASE_URL",
            "sqlite:///data/bot.db?busy_timeout=soon",
            "DATABASE_URL: busy_timeout='soon' is not a whole number of at least 0",
        ),
        (
            "DATABASE_URL",
            "sqlite:///data/bot.db?pool=5",
            "DATABASE_URL: a sqlite URL takes the options busy_timeout and synchronous, not 'pool'",
        ),
        (
            "BOT_ENCRYPTION_KEYS",
            f"{KEY},not-a-key",
            "BOT_ENCRYPTION_KEYS: key 2 of 2 is not a Fernet key",
        ),
        (
            "BOT_LOG_RETENTION_DAYS",
            "-5",
            "BOT_LOG_RETENTION_DAYS=-5 would make --prune delete all history; write a number "
            "of days of at least 1",
        ),
        ("BOT_LOG_TEXT", "ture", "BOT_LOG_TEXT='ture' is neither true nor false"),
        ("BOT_WORKERS", "2.5", "BOT_WORKERS='2.5' is not a whole number; write e.g. BOT_WORKERS=4"),
        ("WEBHOOK_PORT", "80800", "WEBHOOK_PORT must be from 1 to 65535, not 80800"),
        ("BOT_RATE_GLOBAL", "nan", "BOT_RATE_GLOBAL='nan' is not a number"),
        (
            "BOT_WORKES",
            "2",
            "BOT_WORKES is not a setting of the bot; remove it, or list it in BOT_CONFIG_VARS "
            "if templates should read it. Did you mean 'BOT_WORKERS'?",
        ),
        ("TELEGRAM_TOKEN", "1:x", "Did you mean 'TELEGRAM_BOT_TOKEN'?"),
        ("LOG_LEVE", "INFO", "Did you mean 'LOG_LEVEL'?"),
    ],
)
def test_a_wrong_setting_is_one_sentence_and_exit_2(
    tmp_path: Path, setting: str, value: str, sentence: str
) -> None:
    if "sslmod" in value:
        require_postgresql_driver()  # libpq itself names the options it knows
    result = run_py(tmp_path, bot_env(tmp_path, **{setting: value}))
    assert_refused(result, "run.py: the settings need fixing:", sentence)
    assert "hunter2" not in result.stderr  # the password is never repeated


def test_a_missing_postgresql_driver_is_one_sentence(tmp_path: Path) -> None:
    """A `pip install scenario-bot-engine` without the postgres extra, pointed at PostgreSQL:
    what to install, not a traceback."""
    hidden = tmp_path / "hidden"
    (hidden / "psycopg2").mkdir(parents=True)
    (hidden / "psycopg2" / "__init__.py").write_text("raise ImportError('not installed')\n")
    path = os.pathsep.join(p for p in (str(hidden), os.environ.get("PYTHONPATH", "")) if p)
    url = "postgresql://bot:hunter2@127.0.0.1:9/bot"
    for argv in ((), ("--migrate",)):
        result = run_py(
            tmp_path, {**bot_env(tmp_path, DATABASE_URL=url), "PYTHONPATH": path}, *argv
        )
        assert result.returncode == 1, result.stderr
        assert result.stderr.splitlines()[-1] == (
            "run.py: PostgreSQL needs psycopg2, which is not installed: install the engine with "
            "its postgres extra (pip install 'scenario-bot-engine[postgres]', or pip install "
            "-e '.[postgres]' in a checkout)"
        )
        assert "Traceback" not in result.stderr


def test_every_mistake_is_named_at_once_with_where_it_was_written(tmp_path: Path) -> None:
    result = run_py(
        tmp_path,
        bot_env(tmp_path, BOT_WORKERS="2.5", LOG_LEVEL="loud"),
        dotenv="# settings\nBOT_LOG_TEXT=ture\nBOT_SENDRS=4\n123:secret-token-pasted-alone\n",
    )
    assert_refused(
        result,
        "BOT_WORKERS='2.5' is not a whole number",
        "LOG_LEVEL='LOUD' is not a level",
        "BOT_LOG_TEXT='ture' is neither true nor false",
        "BOT_SENDRS (.env line 3) is not a setting of the bot",
        "Did you mean 'BOT_SENDERS'?",
        ".env line 4 is not NAME=value",
    )
    assert "secret-token" not in result.stderr  # a broken line may be a secret: not shown


def test_names_listed_in_config_vars_are_the_operators_own(tmp_path: Path) -> None:
    from engine.runtime.config import read_settings

    environ = {"TELEGRAM_BOT_TOKEN": "1:x", "BOT_SCENARIO": DEMO, "BOT_SUPPORT_URL": "https://x"}
    with pytest.raises(Exception, match="BOT_SUPPORT_URL is not a setting"):
        read_settings(environ)
    settings = read_settings({**environ, "BOT_CONFIG_VARS": "BOT_SUPPORT_URL"})
    assert settings.config_vars == ("BOT_SUPPORT_URL",)


def test_strict_values_that_are_right_are_read(tmp_path: Path) -> None:
    from engine.runtime.config import read_settings

    settings = read_settings(
        {
            "TELEGRAM_BOT_TOKEN": "1:x",
            "BOT_SCENARIO": DEMO,
            "BOT_LOG_TEXT": "Yes",
            "BOT_WORKERS": " 6 ",
            "LOG_LEVEL": "warn",
            "BOT_LOG_RETENTION_DAYS": "1",
            "DATABASE_URL": "postgresql://bot@db/bot?pool=5&pool_wait=2.5&sslmode=require",
        }
    )
    assert settings.log_text is True and settings.workers == 6
    assert settings.log_level == "WARNING" and settings.log_retention_days == 1


def test_without_token_or_terminal_the_bot_refuses_instead_of_the_demo(tmp_path: Path) -> None:
    env = bot_env(tmp_path)
    del env["TELEGRAM_BOT_TOKEN"]
    result = run_py(tmp_path, env)
    assert_refused(
        result,
        "run.py: TELEGRAM_BOT_TOKEN is not set and standard input is not a terminal",
        "set TELEGRAM_BOT_TOKEN (in .env in the working directory, or in the environment)",
    )
    assert "No TELEGRAM_BOT_TOKEN set" not in result.stdout  # the terminal demo did not run
    assert not (tmp_path / "bot.db").exists()


def test_prune_refuses_a_retention_that_would_delete_all_history(tmp_path: Path) -> None:
    result = run_py(tmp_path, {"BOT_LOG_RETENTION_DAYS": "-5"}, "--prune")
    assert_refused(result, "BOT_LOG_RETENTION_DAYS=-5 would make --prune delete all history")
    assert not (tmp_path / "data").exists()  # no database was opened


COUNTER = """
bot: {name: Counter, start: count}
states:
  count:
    say: Send me anything.
"""


def test_delete_user_acts_on_the_database_of_dotenv(
    db: peewee.Database, store_url: str, tmp_path: Path
) -> None:
    scenario = compile_yaml(COUNTER, tmp_path)
    store = Store(db, "bot")
    for user_id in (42, 7):
        event = TextMessage(user=User(user_id, "U"), chat=Chat(user_id), text="hi")
        update = IncomingUpdate(user_id, json.dumps({"update_id": user_id}), user_id, event)
        store.process([update], lambda s, e: step(scenario, s, e, NOW), NOW)
    workdir = tmp_path / "operator"
    workdir.mkdir()
    result = run_py(workdir, {}, "--delete-user", "42", dotenv=f"DATABASE_URL={store_url}\n")
    assert result.returncode == 0, result.stderr
    assert "deleted user 42: 1 sessions" in result.stdout
    assert SessionRow.select().where(SessionRow.user_id == 42).count() == 0
    assert SessionRow.select().where(SessionRow.user_id == 7).count() == 1
    assert not (workdir / "data").exists()  # not the default SQLite file


def test_store_commands_check_the_settings_they_use(tmp_path: Path) -> None:
    result = run_py(
        tmp_path, {}, "--migrate", dotenv="DATABASE_URL=postgresql://bot:pw@db/bot?pool=ten\n"
    )
    assert_refused(result, "DATABASE_URL: pool='ten' is not a whole number")
