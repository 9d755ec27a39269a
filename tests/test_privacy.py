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
from engine.store.models import (
    AuditRow,
    InboxRow,
    MessageLogRow,
    OutboxRow,
    SessionRow,
    TimerRow,
    UserRow,
)
from engine.store.pipeline import IncomingUpdate, Store
from engine.store.queues import Outbox, Outcome
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
        before = {(r.id, r.payload) for r in OutboxRow.select()}  # (SQLite reuses deleted ids)
        self.store.process([update], lambda s, e: step(self.scenario, s, e, NOW), NOW)
        rows = OutboxRow.select().where(OutboxRow.status == "pending").order_by(OutboxRow.id)
        return [effect_from_json(r.payload) for r in rows if (r.id, r.payload) not in before]


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
    assert "run `python3 run.py --migrate` first" in err.getvalue()
    assert run(["--migrate"], out, err) == 0 and "schema 1" in out.getvalue()


# -- issue 13: nothing about a user is kept where it should not be, everything is found ----
SECRETS = """
bot: {name: T, start: ask}
vars: {code: null}
sensitive: [code]
privacy: {mydata: true, forgetme: true}
states:
  ask:
    say: Your code word?
    ask: {var: code, min_length: 5, retry: "'{{ message.text }}' is too short."}
    goto: done
  done:
    do:
      - notify: {to: admins, say: "{{ user.first_name }} has a code."}
    say:
      - "Saved <b>{{ code }}</b>."
      - {text: "Saved *{{ code }}*", parse_mode: MarkdownV2}
    after: {delay: 1h, say: Still there?}
    on: [{text: again, goto: ask}]
"""
CODE = 'a<b&c "d" x.y'  # changed by HTML's and MarkdownV2's escaping


def asks_code(state: str | None) -> bool:
    return state == "ask"


@pytest.fixture
def secrets(db: peewee.Database, tmp_path: Path) -> Bot:
    cipher = SensitiveCipher([Fernet.generate_key().decode()])
    store = Store(
        db,
        "bot",
        sensitive=frozenset({"code"}),
        cipher=cipher,
        log_text=True,
        asks_sensitive=asks_code,
    )
    return Bot(compile_yaml(SECRETS, tmp_path), store)


def logged_texts() -> str:
    return "\n".join(r.text or "" for r in MessageLogRow.select().order_by(MessageLogRow.id))


def test_the_log_keeps_no_sensitive_value_as_any_parse_mode_escapes_it(secrets: Bot) -> None:
    secrets.send(text(ANN, "hi"))
    sent = secrets.send(text(ANN, CODE))
    shown = [e.text for e in sent if isinstance(e, SendText)]
    assert "Saved <b>a&lt;b&amp;c &#34;d&#34; x.y</b>." in shown  # the user sees their value
    assert any("x\\.y" in t for t in shown)  # and in MarkdownV2
    log = logged_texts()
    for form in ("a<b", "a&lt;b", "&amp;c", "&#34;d", "x\\.y", "x.y"):
        assert form not in log, (form, log)
    assert "Saved <b>[sensitive]</b>." in log


def test_a_refused_or_repeated_answer_to_a_sensitive_question_is_not_logged(
    secrets: Bot,
) -> None:
    secrets.send(text(ANN, "hi"))
    secrets.send(text(ANN, "se<1"))  # refused (too short), and echoed by the retry message
    secrets.send(text(ANN, CODE))
    secrets.send(text(ANN, "again"))
    secrets.send(text(ANN, CODE))  # the same answer again: no variable changes
    log = logged_texts()
    assert "se<1" not in log and "se&lt;1" not in log, log
    assert "a<b" not in log, log
    ins = [r.text for r in MessageLogRow.select().where(MessageLogRow.direction == "in")]
    assert ins == ["hi", "[sensitive]", "[sensitive]", "again", "[sensitive]"]


def test_mydata_in_a_group_sends_nothing_there_and_asks_for_a_private_chat(bot: Bot) -> None:
    group = Chat(-1001, type="group", title="Friends")
    bot.send(text(ANN, "hi"))
    bot.send(text(ANN, "+49 30 1234567"))
    bot.send(TextMessage(user=ANN, chat=group, text="hi"))
    sent = bot.send(CommandMessage(user=ANN, chat=group, command="mydata"))
    assert not [e for e in sent if isinstance(e, SendFile)]
    assert [(e.chat_id, e.text) for e in sent if isinstance(e, SendText)] == [
        (-1001, "Please ask me in a private chat: your data is sent only there.")
    ]
    to_group = OutboxRow.select().where(OutboxRow.chat_id == -1001)
    assert "1234567" not in "".join(r.payload for r in to_group)
    assert AuditRow.select().where(AuditRow.action == "export").count() == 0


def sent_all(db: peewee.Database) -> None:
    """What the sender does: every pending row sent, its outcome recorded."""
    outbox = Outbox(db)
    due = outbox.pending(NOW + dt.timedelta(days=1), limit=1000)
    outbox.record([Outcome(q.id, "sent", message_id=q.id) for q in due])


def test_the_export_and_sensitive_values_are_not_kept_in_the_outbox_once_sent(
    bot: Bot, db: peewee.Database
) -> None:
    bot.send(text(ANN, "hi"))
    bot.send(text(ANN, "+49 30 1234567"))
    bot.send(text(ANN, "/mydata"))
    assert OutboxRow.select().where(OutboxRow.kind == "SendFile").count() == 1
    sent_all(db)
    rows = list(OutboxRow.select())
    assert {r.status for r in rows} == {"sent"}
    assert not [r.payload for r in rows if "1234567" in r.payload or "Ann" in r.payload]
    assert all(json.loads(r.payload) == {"redacted": "sent"} for r in rows)


def every_row_of(user: int) -> dict[str, int]:
    return {
        "users": UserRow.select().where(UserRow.id == user).count(),
        "sessions": SessionRow.select().where(SessionRow.user_id == user).count(),
        "timers": TimerRow.select().where(TimerRow.user_id == user).count(),
        "message_log": MessageLogRow.select().where(MessageLogRow.user_id == user).count(),
        "inbox": InboxRow.select().where(InboxRow.user_id == user).count(),
        "outbox": OutboxRow.select().where(OutboxRow.user_id == user).count(),
    }


def fill_every_table(bot: Bot) -> None:
    """Ann (42) in her private chat and in a group, with an admin notice, a timer, a reply
    in the group and an update set aside; Bob (7) beside her."""
    group = Chat(-1001, type="group", title="Friends")
    for user in (ANN, User(7, "Bob")):
        bot.send(text(user, "hi"))
        bot.send(text(user, CODE))  # a notice to the admins, a timer
        bot.send(TextMessage(user=user, chat=group, text="hi"))  # a reply in the group
    body = {"update_id": 99, "message": {"from": {"id": 42}, "chat": {"id": -1001}, "x": 1}}
    unreadable = IncomingUpdate(99, json.dumps(body), -1001, None, error="unreadable")
    bot.store.process([unreadable], lambda s, e: step(bot.scenario, s, e, NOW), NOW)


def test_every_row_about_a_user_is_found_by_their_id_exported_and_deleted(
    secrets: Bot, db: peewee.Database, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill_every_table(secrets)
    sent_all(db)  # the admin notice too: a row to no chat of Ann's, about her
    assert all(every_row_of(42).values()), every_row_of(42)
    notices = OutboxRow.select().where((OutboxRow.kind == "NotifyChat") & (OutboxRow.user_id == 42))
    assert notices.count() == 1
    monkeypatch.setenv("DATABASE_URL", store_url)
    out, err = io.StringIO(), io.StringIO()
    assert run(["--export-user", "42"], out, err) == 0, err.getvalue()
    data = json.loads(out.getvalue())
    assert {r["update_id"] for r in data["inbox"]} >= {99}
    assert {r["chat_id"] for r in data["inbox"]} == {42, -1001}
    assert {r["kind"] for r in data["outbox"]} >= {"SendText", "NotifyChat"}
    assert {r["chat_id"] for r in data["outbox"]} >= {42, -1001}
    assert data["timers"] and data["message_log"] and data["conversations"]
    bob = every_row_of(7)
    out = io.StringIO()
    assert run(["--delete-user", "42"], out, err) == 0, err.getvalue()
    assert every_row_of(42) == dict.fromkeys(every_row_of(42), 0)
    assert every_row_of(7) == bob  # others untouched
    assert '"id": 42' not in " ".join(r.body for r in InboxRow.select())


def test_forgetme_deletes_the_rows_about_the_user_in_groups_and_admin_notices(
    secrets: Bot, db: peewee.Database
) -> None:
    fill_every_table(secrets)
    question = next(e for e in secrets.send(text(ANN, "/forgetme")) if isinstance(e, SendText))
    yes = question.markup.inline[0][0].data or ""
    secrets.send(ButtonPress(user=ANN, chat=Chat(42), data=yes, callback_id="c"))
    left = every_row_of(42)
    # what stays: the confirmation that everything is deleted, waiting to be sent to her
    assert left == {**dict.fromkeys(left, 0), "outbox": 2}, left
    kinds = {r.kind for r in OutboxRow.select().where(OutboxRow.user_id == 42)}
    assert kinds == {"SendText", "AnswerButton"}
    assert (
        OutboxRow.select().where(OutboxRow.chat_id == -1001, OutboxRow.user_id == 42).count() == 0
    )
    assert every_row_of(7)["outbox"] > 0 and every_row_of(7)["inbox"] > 0
