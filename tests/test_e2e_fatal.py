"""Issue 12, item 1, from outside: `python run.py` against the fake Bot API. An update that
fails alone does not stop the bot (its user gets the apology, the others their replies);
the database gone for good stops it with exit code 1 and a last log line naming why."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cryptography.fernet import Fernet
from live_bot import LiveBot, Person, free_port, order_up_to_the_address, settle

from engine.testing.fake_telegram import FakeTelegram, text_update


def test_a_user_on_a_dropped_key_gets_the_apology_and_everyone_else_goes_on(
    fake: FakeTelegram, tmp_path: Path, bots: list[LiveBot]
) -> None:
    database = f"sqlite:///{tmp_path / 'bot.db'}"
    old_key = Fernet.generate_key().decode()
    first = LiveBot(fake, database, tmp_path / "bot.log", {"BOT_ENCRYPTION_KEYS": old_key})
    bots.append(first.start().ready())
    ann, bob = Person(fake, 501, "Ann"), Person(fake, 502, "Bob")
    order_up_to_the_address(ann)
    ann.send("Hauptstraße 5")  # sensitive: sealed with the old key
    ann.expect("Anything the courier should know?")
    assert first.stop() == 0
    # the operator rotates the key but forgets to keep the old one listed
    new_key = Fernet.generate_key().decode()
    second = LiveBot(fake, database, tmp_path / "bot.log", {"BOT_ENCRYPTION_KEYS": new_key})
    bots.append(second.start().ready())
    fake.push(*[_text(ann, "Ring twice"), _text(bob, "/start")])  # one batch
    bob.expect("What would you like?")
    ann.expect("Sorry, something went wrong")
    settle(fake)
    assert second.alive
    bob.press("🍕 Order a pizza")
    bob.expect("Which size would you like?")
    log = second.log
    assert "update_failed: set aside: EncryptionKeyError: cannot decrypt the variable" in log
    assert "state=addr_note event=text user=501" in log
    assert "Traceback" not in log
    assert second.stop() == 0


def _text(person: Person, text: str) -> dict[str, object]:
    return text_update(person.user_id, text, person.first_name, person.language)


def test_the_database_gone_for_good_stops_the_bot_with_exit_code_1(
    fake: FakeTelegram, tmp_path: Path, bots: list[LiveBot]
) -> None:
    path = tmp_path / "bot.db"
    bot = LiveBot(fake, f"sqlite:///{path}", tmp_path / "bot.log")
    bots.append(bot.start().ready())
    ann = Person(fake, 501)
    ann.send("/start")
    ann.expect("What would you like?")
    with sqlite3.connect(path) as connection:  # someone drops the bot's tables
        connection.execute("DROP TABLE inbox")
    ann.send("hello")
    assert bot.process is not None
    assert bot.process.wait(30) == 1, bot.log
    last = bot.log.strip().splitlines()[-1]
    assert "CRITICAL engine: stopped on a fatal error (exit code 1): the poller" in last
    assert "no such table: inbox" in last
    assert fake.pending_updates() == 1  # not acknowledged: Telegram keeps it


def test_telegram_failing_at_start_is_waited_out_in_polling_and_webhook_mode(
    fake: FakeTelegram, tmp_path: Path, bots: list[LiveBot]
) -> None:
    """A 429 or 5xx on deleteWebhook or setWebhook used to stop the bot at start."""
    fake.fail("deleteWebhook", 502, times=2)
    polling = LiveBot(fake, f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "a.log")
    bots.append(polling.start().ready())
    ann = Person(fake, 501)
    ann.send("/start")
    ann.expect("What would you like?")
    assert "deleteWebhook failed (server); trying again" in polling.log
    assert polling.stop() == 0
    fake.fail("setWebhook", 429, times=1, retry_after=1)
    port = free_port()
    webhook = LiveBot(
        fake,
        f"sqlite:///{tmp_path / 'b.db'}",
        tmp_path / "b.log",
        {
            "BOT_MODE": "webhook",
            "WEBHOOK_URL": "https://bot.example.com/hook",
            "WEBHOOK_SECRET": "s3cret_webhook-token",
            "WEBHOOK_HOST": "127.0.0.1",
            "WEBHOOK_PORT": str(port),
        },
    )
    bots.append(webhook.start())
    assert fake.wait_for(
        lambda: fake.webhook.get("url") == "https://bot.example.com/hook" or not webhook.alive
    ), webhook.log
    assert webhook.alive, webhook.log
    assert "setWebhook failed (rate_limited); trying again in 1s" in webhook.log
    assert webhook.stop() == 0
