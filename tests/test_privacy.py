"""/mydata, /forgetme and the operator's --export-user, --delete-user and --prune: what a
user asks for happens, and every export and deletion is in the audit log."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import peewee
import pytest
from builders import NOW, compile_yaml
from cryptography.fernet import Fernet

from engine.cli import run
from engine.core.effects import SendFile, SendText
from engine.core.events import ButtonPress, Chat, CommandMessage, Event, TextMessage, User
from engine.core.interpreter import step
from engine.core.model import Scenario
from engine.store.crypto import SensitiveCipher
from engine.store.models import AuditRow, InboxRow, MessageLogRow, OutboxRow, SessionRow, UserRow
from engine.store.pipeline import IncomingUpdate, Store
from engine.store.serialization import effect_from_json

BOT = """
bot: {name: T, start: ask}
vars: {phone: null}
sensitive: [phone]
privacy: {mydata: true, forgetme: true}
states:
  ask:
    say: Your phone?
    ask: {var: phone, type: phone}
    goto: done
  done:
    say: "Saved {{ phone }}."
    end: true
"""
ANN = User(42, "Ann", language="en")


class Bot:
    def __init__(self, scenario: Scenario, store: Store) -> None:
        self.scenario, self.store, self.next_id = scenario, store, 1

    def send(self, event: Event) -> list[object]:
        update = IncomingUpdate(
            self.next_id, json.dumps({"update_id": self.next_id}), event.chat.id, event
        )
        self.next_id += 1
        before = OutboxRow.select().count()
        self.store.process([update], lambda s, e: step(self.scenario, s, e, NOW), NOW)
        rows = OutboxRow.select().order_by(OutboxRow.id).offset(before)
        return [effect_from_json(r.payload) for r in rows]


@pytest.fixture
def bot(db: peewee.Database, tmp_path: Path) -> Bot:
    # on SQLite and on PostgreSQL (tests/store_fixtures.py)
    cipher = SensitiveCipher([Fernet.generate_key().decode()])
    store = Store(db, "bot", sensitive=frozenset({"phone"}), cipher=cipher, log_text=True)
    return Bot(compile_yaml(BOT, tmp_path), store)


def text(user: User, words: str) -> Event:
    if words.startswith("/"):
        return CommandMessage(user=user, chat=Chat(user.id), command=words[1:])
    return TextMessage(user=user, chat=Chat(user.id), text=words)


def test_mydata_sends_everything_stored_as_a_json_file(bot: Bot) -> None:
    bot.send(text(ANN, "hi"))
    bot.send(text(ANN, "+49 30 1234567"))
    sent = bot.send(text(ANN, "/mydata"))
    files = [e for e in sent if isinstance(e, SendFile)]
    assert len(files) == 1 and files[0].filename == "my-data.json"
    data = json.loads(files[0].content)
    assert data["user"]["first_name"] == "Ann"
    assert data["conversations"][0]["variables"]["phone"] == "+49 30 1234567"  # decrypted: theirs
    assert [m["text"] for m in data["message_log"] if m["direction"] == "in"][:2] == [
        "hi",
        "[sensitive]",  # texts are logged here, but never a sensitive answer
    ]
    assert AuditRow.select().where(AuditRow.action == "export").count() == 1
    assert "+49 30 1234567" not in SessionRow.get().vars  # encrypted at rest


def test_forgetme_asks_first_then_deletes_everything(bot: Bot) -> None:
    bot.send(text(ANN, "hi"))
    bot.send(text(ANN, "+49 30 1234567"))
    other = User(7, "Bob")
    bot.send(text(other, "hi"))
    question = next(e for e in bot.send(text(ANN, "/forgetme")) if isinstance(e, SendText))
    assert "cannot be undone" in question.text
    cancel, delete = question.markup.inline[1][0], question.markup.inline[0][0]
    bot.send(ButtonPress(user=ANN, chat=Chat(42), data=cancel.data or "", callback_id="c"))
    assert SessionRow.select().where(SessionRow.user_id == 42).count() == 1
    sent = bot.send(ButtonPress(user=ANN, chat=Chat(42), data=delete.data or "", callback_id="c"))
    assert any(isinstance(e, SendText) and "deleted" in e.text for e in sent)
    for table, column in (
        (SessionRow, SessionRow.user_id),
        (MessageLogRow, MessageLogRow.user_id),
        (UserRow, UserRow.id),
        (InboxRow, InboxRow.chat_id),
    ):
        assert table.select().where(column == 42).count() == 0, table
    assert SessionRow.select().where(SessionRow.user_id == 7).count() == 1  # others untouched
    entry = AuditRow.get(AuditRow.action == "delete")
    assert entry.subject == "42" and json.loads(entry.details)["sessions"] == 1


def test_the_operator_exports_deletes_and_prunes_from_the_command_line(
    bot: Bot, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot.send(text(ANN, "hi"))
    monkeypatch.setenv("DATABASE_URL", store_url)
    out, err = io.StringIO(), io.StringIO()
    assert run(["--export-user", "42"], out, err) == 0
    assert json.loads(out.getvalue())["user"]["id"] == 42
    MessageLogRow.update(at=NOW.replace(tzinfo=None) - dt.timedelta(days=90)).execute()
    out = io.StringIO()
    assert run(["--prune"], out, err) == 0 and "older than 30 days" in out.getvalue()
    assert MessageLogRow.select().count() == 0
    out = io.StringIO()
    assert run(["--delete-user", "42"], out, err) == 0 and "1 sessions" in out.getvalue()
    assert [a.action for a in AuditRow.select().order_by(AuditRow.id)] == [
        "export",
        "prune",
        "delete",
    ]


def test_an_unmigrated_database_is_refused_with_advice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    out, err = io.StringIO(), io.StringIO()
    assert run(["--export-user", "1"], out, err) == 1
    assert "run `python run.py --migrate` first" in err.getvalue()
    assert run(["--migrate"], out, err) == 0 and "schema 1" in out.getvalue()
