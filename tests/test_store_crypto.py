"""Sensitive variables: encrypted at rest with keys from the environment, readable after a key
rotation, and never in a log, the message log or the raw updates kept in the inbox."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import peewee
import pytest
from builders import compile_yaml
from cryptography.fernet import Fernet
from store_fixtures import StoreBot

from engine.store.crypto import EncryptionKeyError, SensitiveCipher
from engine.store.models import InboxRow, MessageLogRow, OutboxRow, SessionRow
from engine.store.pipeline import Store

BOT = """
bot: {name: T, start: ask}
vars: {phone: null, name: null}
sensitive: [phone]
states:
  ask:
    say: Your name?
    ask: {var: name}
    goto: phone
  phone:
    say: Your phone, {{ name }}?
    ask: {var: phone}
    goto: done
  done:
    say: "Saved {{ phone }} for {{ name }}."
    on: [{say: "Still {{ phone }}."}]
"""
PHONE = "+49 30 9876543"
OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def bot_with(db: peewee.Database, tmp_path: Path, *keys: str, log_text: bool = True) -> StoreBot:
    cipher = SensitiveCipher(list(keys)) if keys else None
    store = Store(db, "t", frozenset({"phone"}), cipher, log_text=log_text)
    return StoreBot(compile_yaml(BOT, tmp_path), store)


def raw_vars(db: peewee.Database) -> str:
    return str(db.execute_sql('SELECT vars FROM "sessions"').fetchone()[0])


def answer_everything(bot: StoreBot) -> None:
    bot.say(1, 5, "hi")
    bot.say(2, 5, "Ann")
    bot.say(3, 5, PHONE)


def test_a_sensitive_variable_is_encrypted_in_the_database(
    db: peewee.Database, tmp_path: Path
) -> None:
    bot = bot_with(db, tmp_path, OLD)
    answer_everything(bot)
    stored = raw_vars(db)
    assert PHONE not in stored and "9876543" not in stored
    assert json.loads(stored)["name"] == "Ann"  # only what is marked sensitive
    session = bot.store.session(5, 5)
    assert session is not None and session.vars["phone"] == PHONE
    assert bot.replies()[-1] == f"Saved {PHONE} for Ann."  # the user sees their own value


def test_keys_rotate_new_first_old_still_read(db: peewee.Database, tmp_path: Path) -> None:
    answer_everything(bot_with(db, tmp_path, OLD))
    rotated = bot_with(db, tmp_path, NEW, OLD)
    rotated.say(4, 5, "again")  # read with the old key, written again with the new one
    assert rotated.replies()[-1] == f"Still {PHONE}."
    only_new = bot_with(db, tmp_path, NEW)
    session = only_new.store.session(5, 5)
    assert session is not None and session.vars["phone"] == PHONE
    only_old = bot_with(db, tmp_path, OLD)
    with pytest.raises(EncryptionKeyError, match="cannot decrypt the variable 'phone'"):
        only_old.store.session(5, 5)


def test_without_the_key_the_bot_refuses_rather_than_showing_ciphertext(
    db: peewee.Database, tmp_path: Path
) -> None:
    answer_everything(bot_with(db, tmp_path, OLD))
    with pytest.raises(EncryptionKeyError, match="'phone' is stored encrypted"):
        bot_with(db, tmp_path).store.session(5, 5)
    with pytest.raises(EncryptionKeyError, match="keep old keys listed"):
        bot_with(db, tmp_path, NEW).store.session(5, 5)


def test_a_key_that_is_not_a_fernet_key_is_refused_with_advice() -> None:
    with pytest.raises(EncryptionKeyError, match="make one with: python -c"):
        SensitiveCipher(["not-a-key"])
    with pytest.raises(EncryptionKeyError, match="is empty"):
        SensitiveCipher([])


def test_a_sensitive_value_is_never_logged(
    db: peewee.Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # peewee logs its queries with their values at DEBUG
    bot = bot_with(db, tmp_path, OLD, log_text=True)  # even with texts in the message log
    answer_everything(bot)
    bot.say(4, 5, "more")
    assert PHONE not in caplog.text
    logged = [r.text for r in MessageLogRow.select().order_by(MessageLogRow.id)]
    assert "Ann" in logged  # texts are logged: the operator turned that on
    assert not [t for t in logged if t and PHONE in t]
    assert "Saved [sensitive] for Ann." in logged and "[sensitive]" in logged
    assert [r.body for r in InboxRow.select()] == [""] * 4  # handled: no raw update is kept
    assert SessionRow.select().count() == 1 and OutboxRow.select().count() == 4
