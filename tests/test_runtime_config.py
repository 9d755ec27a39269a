"""Settings from the environment and .env, checked at start with one sentence per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.runtime.config import SettingsError, load_dotenv, read_settings

DEMO = str(Path(__file__).resolve().parents[1] / "scenarios" / "demo.yaml")


def test_defaults_need_only_a_token() -> None:
    settings = read_settings({"TELEGRAM_BOT_TOKEN": "123:abc", "BOT_SCENARIO": DEMO})
    assert settings.mode == "polling" and settings.api_url == "https://api.telegram.org"
    assert settings.database_url == "sqlite:///data/bot.db" and settings.workers == 4
    assert "123:abc" not in repr(settings)  # the token is never printed


def test_every_mistake_is_named_with_what_to_write() -> None:
    with pytest.raises(SettingsError) as caught:
        read_settings(
            {
                "BOT_MODE": "webhook",
                "WEBHOOK_URL": "http://insecure",
                "BOT_ADMINS": "12,abc",
                "BOT_WORKERS": "many",
                "TELEGRAM_API_URL": "localhost:8081",
                "BOT_SCENARIO": "missing.yaml",
            }
        )
    message = str(caught.value)
    for words in (
        "TELEGRAM_BOT_TOKEN is not set",
        "WEBHOOK_URL",
        "WEBHOOK_SECRET",
        "BOT_ADMINS: 'abc' is not a Telegram id",
        "BOT_WORKERS='many' is not a whole number",
        "TELEGRAM_API_URL must start with http",
        "BOT_SCENARIO: there is no file missing.yaml",
    ):
        assert words in message


def test_a_self_hosted_bot_api_and_config_values() -> None:
    environ = {
        "TELEGRAM_BOT_TOKEN": "1:x",
        "TELEGRAM_API_URL": "http://127.0.0.1:8081/",
        "BOT_CONFIG_VARS": "ORDERS_URL, SHOP",
        "ORDERS_URL": "https://orders.example",
        "SECRET": "never",
        "BOT_SCENARIO": DEMO,
        "BOT_ADMINS": "5, 9007199254740993",
    }
    settings = read_settings(environ)
    assert settings.api_url == "http://127.0.0.1:8081"
    assert settings.admins == (5, 9007199254740993)
    assert settings.config_values(environ) == {"ORDERS_URL": "https://orders.example", "SHOP": ""}


def test_dotenv_fills_in_without_overriding(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        '# comment\nexport A="from file"\nB=file\n\nbroken line\n', encoding="utf-8"
    )
    environ = {"B": "from environment"}
    load_dotenv(str(env_file), environ)
    assert environ == {"A": "from file", "B": "from environment"}


def test_plugins_listed_or_found_beside_the_scenario(tmp_path: Path) -> None:
    base = {"TELEGRAM_BOT_TOKEN": "1:x", "BOT_SCENARIO": DEMO}
    assert read_settings(base).plugins == (DEMO.removesuffix(".yaml") + "_plugins.py",)
    assert read_settings({**base, "BOT_PLUGINS": ""}).plugins == ()
    listed = read_settings({**base, "BOT_PLUGINS": "a.py, shop.actions"})
    assert listed.plugins == ("a.py", "shop.actions")


def test_limits_are_numbers_with_their_floor() -> None:
    base = {"TELEGRAM_BOT_TOKEN": "1:x", "BOT_SCENARIO": DEMO}
    settings = read_settings({**base, "BOT_USER_RATE": "0", "BOT_CHAT_BURST": "5"})
    assert settings.user_rate == 0 and settings.chat_burst == 5
    with pytest.raises(SettingsError, match="BOT_CHAT_BURST must be at least 1"):
        read_settings({**base, "BOT_CHAT_BURST": "0"})
    with pytest.raises(SettingsError, match="BOT_POLL_TIMEOUT='soon' is not a whole number"):
        read_settings({**base, "BOT_POLL_TIMEOUT": "soon"})


def test_a_broken_plugin_is_named_at_start(tmp_path: Path) -> None:
    from engine.runtime.plugins import PluginLoadError, load_plugins

    plugin = tmp_path / "bad_plugin.py"
    plugin.write_text("import nonexistent_module_xyz\n")
    with pytest.raises(PluginLoadError, match=r"loading .*bad_plugin\.py failed: ModuleNotFound"):
        load_plugins([str(plugin)])
    with pytest.raises(PluginLoadError, match="there is no file"):
        load_plugins([str(tmp_path / "missing.py")])


def test_secrets_are_blanked_out_of_log_records_and_tracebacks() -> None:
    import logging

    from engine.runtime.redaction import RedactSecrets

    redactor = RedactSecrets(["123:SeCrEt", "SeCrEt", "x"])
    record = logging.LogRecord("t", logging.INFO, "f", 1, "GET /bot%s/getMe", ("123:SeCrEt",), None)
    redactor.filter(record)
    assert record.getMessage() == "GET /bot[secret]/getMe"
    try:
        raise ValueError("url /bot123:SeCrEt/getMe")
    except ValueError:
        import sys

        failed = logging.LogRecord("t", logging.ERROR, "f", 1, "boom", None, sys.exc_info())
    redactor.filter(failed)
    assert "SeCrEt" not in logging.Formatter().format(failed)
    assert "[secret]" in logging.Formatter().format(failed)


@pytest.mark.parametrize(
    ("listed", "extra"),
    [
        ("TELEGRAM_BOT_TOKEN", {}),
        ("DATABASE_URL", {"DATABASE_URL": "postgresql://bot:pw@db/bot"}),
        ("BOT_ENCRYPTION_KEYS", {"BOT_ENCRYPTION_KEYS": "k1"}),
        ("WEBHOOK_SECRET", {}),
        ("MY_COPY", {"MY_COPY": "123:abc"}),  # the token under another name
        ("OLD_KEY", {"BOT_ENCRYPTION_KEYS": "new,old-key", "OLD_KEY": "old-key"}),
    ],
)
def test_config_vars_never_name_a_secret(listed: str, extra: dict[str, str]) -> None:
    environ = {"TELEGRAM_BOT_TOKEN": "123:abc", "BOT_SCENARIO": DEMO, **extra}
    with pytest.raises(SettingsError) as caught:
        read_settings({**environ, "BOT_CONFIG_VARS": f"ORDERS_URL, {listed}"})
    assert f"BOT_CONFIG_VARS names {listed}, which holds one of the bot's secrets" in str(
        caught.value
    )
    assert "123:abc" not in str(caught.value)  # the message names it, never shows it
