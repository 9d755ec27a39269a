"""Broadcasts of a named text of the scenario (`messages:`, `--message NAME`): offered for
translation like every text, sent to each user in their own language with their own
variables, checked by `--validate` and by `--broadcast`; on SQLite and PostgreSQL, sent by
the real sender to the fake Bot API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import peewee
import pytest
from babel.messages.pofile import read_po, write_po
from outbox_helpers import T0, Clock
from store_fixtures import StoreBot, text_update

from engine.admin.broadcast_texts import MessageTexts
from engine.admin.broadcasts import BroadcastFeeder, create, report
from engine.core.model import Scenario
from engine.runtime.sender import Limits, Sender
from engine.scenario import validate_file
from engine.scenario.compiler import compile_scenario
from engine.store.models import AuditRow, BroadcastRow, OutboxRow, SessionRow, UserRow
from engine.store.pipeline import Store
from engine.store.queues import Outbox
from engine.telegram.bot_api import BotApi
from engine.testing.fake_telegram import FakeTelegram

NOW = T0.replace(tzinfo=None)

SHOP = """\
bot: {name: Shop, language: en, languages: [en, de], start: menu}
vars: {cart: 0}
messages:
  closed: "Hello {{ user.first_name }}, we are closed on Monday."
  cart_reminder: "{{ cart }} items wait in your cart."
  points: "{{ 100 // cart }} points for each item."
states:
  menu:
    say: Hi
    on:
      - {text: announce, goto: announce}
  announce:
    only: [admin]
    say: Which message?
    on:
      - text: closed
        do: [{broadcast: {message: closed, where: "cart > 0"}}]
        say: Queued.
        goto: menu
"""

GERMAN = {
    "Hello {{ user.first_name }}, we are closed on Monday.": (
        "Hallo {{ user.first_name }}, am Montag haben wir geschlossen."
    ),
    "{{ cart }} items wait in your cart.": "{{ cart }} Artikel warten in Ihrem Warenkorb.",
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Any) -> Path:
    """A bot folder with the scenario and its German catalog, translated."""
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "shop.yaml").write_text(SHOP, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOT_LOCALES", raising=False)
    monkeypatch.setenv("BOT_SCENARIO", str(tmp_path / "scenarios" / "shop.yaml"))
    assert cli("--init", "de", "scenarios/shop.yaml").code == 0
    po = tmp_path / "locales" / "de" / "LC_MESSAGES" / "shop.po"
    with open(po, "rb") as handle:
        catalog = read_po(handle)
    for message in catalog:
        if message.id in GERMAN:
            message.string = GERMAN[message.id]
    with open(po, "wb") as handle:
        write_po(handle, catalog)
    return tmp_path


def shop(project: Path) -> Scenario:
    found = validate_file(str(project / "scenarios" / "shop.yaml"))
    assert found.scenario is not None, [d.format() for d in found.diagnostics]
    return compile_scenario(found.scenario)


def users() -> None:
    """1 speaks German (their session's language), 2 English, 3 has no session yet and a
    Telegram language of de-AT; 1 and 3 have things in their cart, 2 has none."""
    for user_id, name, language in [(1, "Jonas", "de"), (2, "Ann", "en"), (3, "Lena", "de-AT")]:
        UserRow.create(id=user_id, first_name=name, language=language, first_seen=NOW, updated=NOW)
    for user_id, language, cart in [(1, "de", 2), (2, "en", 0)]:
        SessionRow.create(
            chat_id=user_id,
            user_id=user_id,
            scenario="shop",
            state="menu",
            language=language,
            vars=json.dumps({"cart": cart}),
            updated=NOW,
        )


def send_all(db: peewee.Database, fake: FakeTelegram, scenario: Scenario) -> dict[int, str]:
    """Run the sender (with the bot's feeder) until the broadcasts are sent: each chat's
    texts, the last one per chat."""
    clock = Clock()
    sender = Sender(Outbox(db), BotApi(fake.url, fake.token, read_timeout=1), Limits(30))
    sender.clock = clock
    sender.feeder = BroadcastFeeder(db, MessageTexts(lambda: scenario)).feed
    for _ in range(6):
        sender.run_once()
        clock.tick(1.0)
    return {int(c.params["chat_id"]): str(c.params["text"]) for c in fake.calls_of("sendMessage")}


def test_each_user_gets_the_message_in_their_language_with_their_name(
    project: Path, db: peewee.Database, fake: FakeTelegram
) -> None:
    users()
    broadcast = create(db, text=None, message_key="closed", where=None, actor="cli", now=NOW)
    got = send_all(db, fake, shop(project))
    assert got == {
        1: "Hallo Jonas, am Montag haben wir geschlossen.",
        2: "Hello Ann, we are closed on Monday.",
        3: "Hallo Lena, am Montag haben wir geschlossen.",  # Telegram's de-AT: German
    }
    done = report(db, broadcast)
    assert (done.status, done.sent, done.failed, done.what) == ("done", 3, 0, "message closed")


def test_the_users_variables_fill_the_message_the_scenarios_defaults_those_without(
    project: Path, db: peewee.Database, fake: FakeTelegram
) -> None:
    users()
    create(db, text=None, message_key="cart_reminder", where=None, actor="cli", now=NOW)
    assert send_all(db, fake, shop(project)) == {
        1: "2 Artikel warten in Ihrem Warenkorb.",
        2: "0 items wait in your cart.",
        3: "0 Artikel warten in Ihrem Warenkorb.",  # no session yet: `vars:` says 0
    }


def test_a_user_the_message_cannot_be_written_for_fails_alone_with_why(
    project: Path, db: peewee.Database, fake: FakeTelegram
) -> None:
    users()
    broadcast = create(db, text=None, message_key="points", where=None, actor="cli", now=NOW)
    got = send_all(db, fake, shop(project))
    assert got == {1: "50 points for each item."}  # 2 and 3 have 0 items: 100 // 0 fails
    done = report(db, broadcast)
    assert (done.status, done.sent, done.failed) == ("done", 1, 2)
    failed = OutboxRow.get((OutboxRow.broadcast_id == broadcast) & (OutboxRow.user_id == 2))
    assert failed.status == "failed"
    assert failed.error.startswith("the message could not be written for this user: ")
    assert "ZeroDivisionError" in failed.error


def test_a_message_the_scenario_no_longer_has_stops_the_broadcast_and_says_why(
    project: Path, db: peewee.Database, fake: FakeTelegram
) -> None:
    users()
    broadcast = create(db, text=None, message_key="sale", where=None, actor="cli", now=NOW)
    got = send_all(db, fake, shop(project))
    assert got == {}
    done = report(db, broadcast)
    assert (done.status, done.queued) == ("cancelled", 0)
    audit = AuditRow.get(AuditRow.action == "broadcast_cancel")
    assert audit.actor == "bot" and "no message 'sale'" in json.loads(audit.details)["why"]


def test_the_message_is_offered_for_translation(project: Path, cli: Any) -> None:
    assert cli("--extract").code == 0
    with open(project / "locales" / "shop.pot", "rb") as handle:
        catalog = read_po(handle)
    closed = catalog.get("Hello {{ user.first_name }}, we are closed on Monday.")
    assert closed is not None and closed.auto_comments == ["broadcast message closed"]


def test_the_command_line_refuses_an_unknown_message_with_a_suggestion(
    project: Path, db: peewee.Database, store_url: str, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    users()
    monkeypatch.setenv("DATABASE_URL", store_url)
    wrong = cli("--broadcast", "--message", "closd")
    assert wrong.code == 1 and "no message 'closd'" in wrong.err
    assert "Did you mean 'closed'?" in wrong.err
    assert BroadcastRow.select().count() == 0
    dry = cli("--broadcast", "--message", "closed", "--where", "language == 'de'", "--dry-run")
    assert (dry.code, dry.out) == (0, "1 users would get this broadcast (nothing was sent)\n")
    queued = cli("--broadcast", "--message", "closed")
    assert queued.code == 0 and queued.out.startswith("broadcast #1 queued"), queued.err
    [row] = BroadcastRow.select()
    assert (row.text, row.message_key) == (None, "closed")
    assert cli("--broadcasts").lines[0].startswith("#1 queued: 'message closed': sent 0,")
    both = cli("--broadcast", "--message", "closed", "--text", "Hi")
    assert both.code == 2 and "not both" in both.err


def test_an_admin_broadcasts_a_message_from_telegram_and_each_user_reads_their_language(
    project: Path, db: peewee.Database, fake: FakeTelegram
) -> None:
    users()
    scenario = shop(project)
    bot = StoreBot(scenario, Store(db, "shop"))
    admins = {900: frozenset({"admin"})}
    for update_id, words in enumerate(["/start", "announce", "closed"], 1):
        update = text_update(update_id, 900, words)
        bot.store.process([update], bot.handle, NOW, lambda u: admins.get(u, frozenset()))
    assert bot.replies(900)[-2:] == ["Queued.", "Hi"]
    [row] = BroadcastRow.select()
    assert (row.text, row.message_key, row.condition) == (None, "closed", "cart > 0")
    got = send_all(db, fake, scenario)
    assert got[1] == "Hallo Jonas, am Montag haben wir geschlossen."
    assert 2 not in got  # nothing in the cart
    assert got[900].startswith("#1 done: 'message closed' where cart > 0: sent 1,")


def test_validate_reports_a_broadcast_of_a_message_that_is_not_there(
    tmp_path: Path, cli: Any
) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(SHOP.replace("{message: closed,", "{message: clsed,"), encoding="utf-8")
    result = cli("--validate", path)
    assert result.code == 1
    assert "there is no message 'clsed' under `messages:`" in result.out
    assert "Did you mean 'closed'?" in result.out and "[unknown-message]" in result.out
