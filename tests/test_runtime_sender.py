"""The sender draining a real outbox (SQLite file) to the fake Bot API server through the real
client: Telegram's limits, 429 for one chat only, 5xx backoff, 403, timeouts that may have
been delivered, media by URL, file_id or local file (uploaded once), harmless refusals."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import peewee
import pytest
from outbox_helpers import T0, Clock, queue, status
from telebot import apihelper

from engine.core.effects import (
    AnswerButton,
    EditText,
    HttpRequest,
    InlineButton,
    Markup,
    NotifyChat,
    SendMedia,
    SendText,
)
from engine.runtime.sender import CallWaits, Limits, Sender
from engine.runtime.services import LiveServices
from engine.runtime.web_addresses import AddressPolicy
from engine.store.database import open_database
from engine.store.migrations import migrate
from engine.store.models import OutboxRow, UserRow
from engine.store.queues import ImmediateAnswers, Outbox
from engine.store.uploads import UploadedFiles
from engine.telegram.bot_api import BotApi
from engine.testing.fake_telegram import FakeTelegram


@pytest.fixture
def db(sqlite_db: peewee.Database) -> peewee.Database:
    return sqlite_db  # a migrated SQLite file (tests/runtime_fixtures.py)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def sender(
    db: peewee.Database,
    fake: FakeTelegram,
    clock: Clock,
    base_dir: str = ".",
    file_ids: UploadedFiles | None = None,
    **limits: float,
) -> Sender:
    api = BotApi(fake.url, fake.token, read_timeout=1)
    return Sender(
        Outbox(db),
        api,
        Limits(**limits),
        admins=(901, 902),
        base_dir=base_dir,
        clock=clock,
        file_ids=file_ids,
        services=LiveServices({}, AddressPolicy.parse("127.0.0.1")[0]),  # the fake's /shop
    )


def test_a_message_is_sent_with_its_buttons_and_marked_sent(
    db: peewee.Database, fake: FakeTelegram, clock: Clock
) -> None:
    markup = Markup(
        inline=(
            (InlineButton("Yes", data="b1:s:0:01"), InlineButton("Site", url="https://x.example")),
        )
    )
    [row] = queue(SendText(10, "Pick <b>one</b>", markup=markup))
    assert sender(db, fake, clock).run_once() == 1
    [call] = fake.calls_of("sendMessage")
    assert call.params["text"] == "Pick <b>one</b>"
    assert '"callback_data": "b1:s:0:01"' in call.params["reply_markup"]
    assert status(row) == "sent"
    assert OutboxRow.get_by_id(row).message_id == call.answer["message_id"]


def test_one_message_per_second_per_chat_other_chats_go_on(
    db: peewee.Database, fake: FakeTelegram, clock: Clock
) -> None:
    queue(SendText(10, "a1"), SendText(10, "a2"), SendText(11, "b1"), SendText(10, "a3"))
    send = sender(db, fake, clock, chat_interval=1.0, chat_burst=1)
    send.run_once()
    assert fake.texts_to(10) == ["a1"] and fake.texts_to(11) == ["b1"]
    clock.tick(0.5)
    send.run_once()
    assert fake.texts_to(10) == ["a1"]
    clock.tick(0.5)
    send.run_once()
    clock.tick(1)
    send.run_once()
    assert fake.texts_to(10) == ["a1", "a2", "a3"]  # in order


def test_a_short_burst_per_chat_then_one_a_second(
    db: peewee.Database, fake: FakeTelegram, clock: Clock
) -> None:
    queue(*(SendText(10, f"m{n}") for n in range(6)))
    send = sender(db, fake, clock, chat_interval=1.0, chat_burst=3)
    send.run_once()
    assert fake.texts_to(10) == ["m0", "m1", "m2"]  # a state's messages arrive together
    clock.tick(1)
    send.run_once()
    assert fake.texts_to(10) == ["m0", "m1", "m2", "m3"]
    clock.tick(0.5)
    send.run_once()
    assert len(fake.texts_to(10)) == 4
    clock.tick(0.5)
    send.run_once()
    assert len(fake.texts_to(10)) == 5


def test_the_global_limit_caps_messages_per_second(
    db: peewee.Database, fake: FakeTelegram, clock: Clock
) -> None:
    queue(*(SendText(100 + n, f"m{n}") for n in range(40)))
    send = sender(db, fake, clock, per_second=30)
    assert send.run_once() == 30
    clock.tick(1)
    assert send.run_once() == 10


def test_groups_get_twenty_messages_a_minute(
    db: peewee.Database, fake: FakeTelegram, clock: Clock
) -> None:
    queue(SendText(-100, "g1"), SendText(-100, "g2"))
    send = sender(db, fake, clock, chat_burst=1)
    send.run_once()
    clock.tick(2)
    send.run_once()
    assert fake.texts_to(-100) == ["g1"]
    clock.tick(1)
    send.run_once()
    assert fake.texts_to(-100) == ["g1", "g2"]


def test_429_waits_retry_after_for_that_chat_only(
    db: peewee.Database, fake: FakeTelegram, clock: Clock
) -> None:
    [a, b] = queue(SendText(10, "to a"), SendText(11, "to b"))
    fake.fail("sendMessage", 429, times=1, retry_after=7)
    send = sender(db, fake, clock)
    send.run_once()
    assert status(a) == "pending" and status(b) == "sent"
    clock.tick(6)
    send.run_once()
    assert status(a) == "pending"
    clock.tick(1.5)
    send.run_once()
    assert status(a) == "sent"
    assert fake.texts_to(10) == ["to a"]


def test_5xx_is_retried_later_with_backoff(
    db: peewee.Database, fake: FakeTelegram, clock: Clock
) -> None:
    [row] = queue(SendText(10, "hello"))
    fake.fail("sendMessage", 502, times=2)
    send = sender(db, fake, clock)
    send.run_once()
    first = OutboxRow.get_by_id(row)
    assert first.status == "pending" and first.attempts == 1
    assert first.not_before > T0.replace(tzinfo=None)
    for _ in range(20):
        clock.tick(30)
        send.run_once()
    assert status(row) == "sent"
    assert fake.texts_to(10) == ["hello"]


def test_403_marks_the_user_as_blocked_and_drops_their_queue(
    db: peewee.Database, fake: FakeTelegram, clock: Clock
) -> None:
    UserRow.create(id=10, first_name="A", first_seen=T0, updated=T0)
    rows = queue(SendText(10, "one"), SendText(10, "two"))
    fake.fail("sendMessage", 403, description="Forbidden: bot was blocked by the user")
    send = sender(db, fake, clock)
    send.run_once()
    assert UserRow.get_by_id(10).blocked
    assert [status(r) for r in rows] == ["failed", "failed"]
    clock.tick(5)
    send.run_once()
    assert fake.texts_to(10) == []


def test_a_timeout_is_recorded_as_uncertain_not_sent_again(
    db: peewee.Database, fake: FakeTelegram, clock: Clock
) -> None:
    [row] = queue(SendText(10, "maybe"))
    fake.fail("sendMessage", 0, delay=2.5, carried_out=True)  # delivered, but no answer in time
    send = sender(db, fake, clock)
    send.run_once()
    assert status(row) == "uncertain"
    clock.tick(60)
    send.run_once()
    assert fake.texts_to(10) == ["maybe"]  # once


def test_media_by_url_file_id_and_a_local_file_uploaded_once(
    db: peewee.Database, fake: FakeTelegram, clock: Clock, tmp_path: Path
) -> None:
    (tmp_path / "menu.jpg").write_bytes(b"\xff\xd8 a tiny jpeg")
    queue(
        SendMedia(10, "photo", "https://pizza.example/menu.jpg", caption="By URL"),
        SendMedia(10, "photo", "AgACAgIAAxkBAAIBQ2Wfake_file_id_0123456789"),
        SendMedia(11, "photo", "menu.jpg", caption="Uploaded"),
        SendMedia(12, "photo", "menu.jpg", caption="Reused"),
        SendMedia(13, "photo", "../outside.jpg"),
    )
    send = sender(db, fake, clock, base_dir=str(tmp_path), chat_interval=0)
    send.run_once()
    photos = fake.calls_of("sendPhoto")
    assert photos[0].params["photo"] == "https://pizza.example/menu.jpg"
    assert photos[1].params["photo"] == "AgACAgIAAxkBAAIBQ2Wfake_file_id_0123456789"
    assert photos[2].files == ("photo",)  # uploaded as a file
    uploaded = photos[2].answer["photo"][0]["file_id"]
    assert photos[3].files == () and photos[3].params["photo"] == uploaded
    assert len(photos) == 4  # the file outside the scenario's folder was refused
    assert OutboxRow.select().where(OutboxRow.status == "failed").count() == 1


def test_an_uploaded_file_is_not_uploaded_again_after_a_restart(
    db: peewee.Database, fake: FakeTelegram, clock: Clock, tmp_path: Path
) -> None:
    (tmp_path / "menu.jpg").write_bytes(b"\xff\xd8 a tiny jpeg")
    queue(SendMedia(10, "photo", "menu.jpg"))
    sender(db, fake, clock, base_dir=str(tmp_path), file_ids=UploadedFiles(db)).run_once()
    queue(SendMedia(11, "photo", "menu.jpg"))
    # a new process: the file_id comes from the database
    sender(db, fake, clock, base_dir=str(tmp_path), file_ids=UploadedFiles(db)).run_once()
    first, second = fake.calls_of("sendPhoto")
    assert first.files == ("photo",) and second.files == ()
    assert second.params["photo"] == first.answer["photo"][0]["file_id"]


def test_edits_that_change_nothing_and_late_answers_count_as_done(
    db: peewee.Database, fake: FakeTelegram, clock: Clock
) -> None:
    rows = queue(
        EditText(10, 5, "Same text"),
        AnswerButton("cb-1", "Done"),
    )
    fake.fail("editMessageText", 400, description="Bad Request: message is not modified")
    fake.fail("answerCallbackQuery", 400, description="Bad Request: query is too old")
    sender(db, fake, clock).run_once()
    assert [status(r) for r in rows] == ["sent", "sent"]


def test_a_notice_to_admins_goes_to_each_admin(
    db: peewee.Database, fake: FakeTelegram, clock: Clock
) -> None:
    queue(NotifyChat("admins", "New order"))
    sender(db, fake, clock).run_once()
    assert fake.texts_to(901) == ["New order"] and fake.texts_to(902) == ["New order"]


def test_sends_are_recorded_even_when_the_database_is_busy_a_while(
    fake: FakeTelegram, clock: Clock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import sqlite3
    import threading

    database = open_database(f"sqlite:///{tmp_path / 'busy.db'}?busy_timeout=50")
    migrate(database)
    send = sender(database, fake, clock)  # the outbox of this database
    [row] = queue(SendText(10, "once"))
    other = sqlite3.connect(database.database, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock for a second
    threading.Timer(1.0, other.commit).start()
    assert send.run_once() == 1
    assert "the outbox is busy" in caplog.text  # it had to wait
    assert status(row) == "sent"
    clock.tick(5)
    send.run_once()
    assert fake.texts_to(10) == ["once"]  # recorded: not sent again
    other.close()
    database.close()


def test_a_fire_and_forget_http_call_is_made_once_and_a_failure_recorded(
    db: peewee.Database, fake: FakeTelegram, clock: Clock
) -> None:
    sent, failing = queue(
        HttpRequest("POST", f"{fake.url}/shop/orders", json={"pizza": "Large"}),
        HttpRequest("POST", "http://127.0.0.1:1/nothing-listens", timeout=1),
    )
    send = sender(db, fake, clock)
    send.run_once()
    assert fake.orders == [{"pizza": "Large"}]
    assert (status(sent), status(failing)) == ("sent", "failed")
    clock.tick(60)
    send.run_once()
    assert len(fake.orders) == 1


def test_calls_that_wait_for_the_network_go_out_in_parallel_each_chat_in_order(
    db: peewee.Database, fake: FakeTelegram, clock: Clock
) -> None:
    fake.latency = 0.05  # Telegram far away
    chats = range(10, 16)
    queue(*(SendText(chat, f"{chat}-{n}") for n in range(2) for chat in chats))
    api = BotApi(fake.url, fake.token, read_timeout=5)
    send = Sender(Outbox(db), api, Limits(chat_burst=3), clock=clock, parallel=4)
    assert send.run_once() == 12
    assert fake.most_in_flight > 1
    for chat in chats:
        assert fake.texts_to(chat) == [f"{chat}-0", f"{chat}-1"]


class InProcessAnswer:
    """What requests hands telebot, for a Bot API answered inside this process."""

    status_code = 200

    def __init__(self, result: object) -> None:
        self.text = json.dumps({"ok": True, "result": result})

    def json(self) -> object:
        return json.loads(self.text)


@pytest.mark.alone  # busy cores would look like a network that waits
def test_a_bot_api_that_answers_at_once_is_called_from_the_sending_thread(
    db: peewee.Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Threads only queue for the interpreter then; when the calls wait again, they are used."""
    callers: list[str] = []
    network = {"wait": 0.01}

    def bot_api(http_method: str, url: str, params: object = None, **_: object) -> InProcessAnswer:
        callers.append(threading.current_thread().name)
        time.sleep(network["wait"])
        chat = {"id": 1, "type": "private"}
        return InProcessAnswer({"message_id": len(callers), "date": 0, "chat": chat})

    monkeypatch.setattr(apihelper, "CUSTOM_REQUEST_SENDER", bot_api)
    api = BotApi("http://in-process", "1:x")
    send = Sender(Outbox(db), api, Limits(), clock=clock, parallel=4)
    # 2 ms, not 0.2: a loaded machine (parallel test workers) can pause a thread between a
    # call's clock reads; the calls that wait here wait 10 ms
    send.waits = CallWaits(worth_a_thread=0.002)

    def round_of_callers() -> set[str]:
        callers.clear()
        clock.tick(1)  # within Telegram's limits
        queue(*(SendText(chat, "hi") for chat in range(10, 20)))
        assert send.run_once() == 10
        return set(callers)

    main = threading.current_thread().name
    assert round_of_callers() != {main}  # waiting calls: the delivery threads
    network["wait"] = 0.0  # after a few rounds (one odd round does not switch)
    assert [round_of_callers() for _ in range(4)][-1] == {main}
    network["wait"] = 0.01
    assert [round_of_callers() for _ in range(4)][-1] != {main}


def test_silent_answers_handed_over_are_sent_without_rows_and_flushed_on_close(
    db: peewee.Database, fake: FakeTelegram, clock: Clock
) -> None:
    answers = ImmediateAnswers()
    api = BotApi(fake.url, fake.token, read_timeout=1)
    send = Sender(Outbox(db), api, Limits(), clock=clock, answers=answers)
    assert not answers.open  # until the sender runs, the store queues them as rows
    [row] = queue(SendText(10, "edited menu"))
    answers.offer([AnswerButton("q1"), AnswerButton("q2")])
    assert send.run_once() == 3
    assert answers.open
    answered = [c.params["callback_query_id"] for c in fake.calls_of("answerCallbackQuery")]
    assert answered == ["q1", "q2"] and fake.texts_to(10) == ["edited menu"]
    assert status(row) == "sent" and OutboxRow.select().count() == 1
    answers.offer([AnswerButton("q3")])  # handed over just before SIGTERM
    send.close()
    assert not answers.open
    assert [c.params["callback_query_id"] for c in fake.calls_of("answerCallbackQuery")][-1] == "q3"
