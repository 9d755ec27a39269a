"""One bad outgoing message fails alone: whatever goes wrong while building or sending it
(a media path with a NUL from an HTTP answer, an HTTP action's URL with a space, Telegram's
refusal) marks that message failed with its reason in the row and reports it; the rest of
the round goes out and is recorded, and nothing is sent twice."""

from __future__ import annotations

import peewee
import pytest
from outbox_helpers import Clock, queue, status

from engine.core.effects import HttpRequest, NotifyChat, SendMedia, SendText
from engine.ops.problems import Problem
from engine.runtime.sender import Limits, Sender
from engine.store.models import OutboxRow
from engine.store.queues import Outbox
from engine.telegram.bot_api import BotApi
from engine.testing.fake_telegram import FakeTelegram


@pytest.fixture
def db(sqlite_db: peewee.Database) -> peewee.Database:
    return sqlite_db


@pytest.fixture
def clock() -> Clock:
    return Clock()


def sender(db: peewee.Database, fake: FakeTelegram, clock: Clock) -> Sender:
    api = BotApi(fake.url, fake.token, read_timeout=1)
    return Sender(Outbox(db), api, Limits(), admins=(901,), clock=clock)


def error(row_id: int) -> str:
    return str(OutboxRow.get_by_id(row_id).error)


def reported(send: Sender) -> list[Problem]:
    seen: list[Problem] = []
    send.problems.listeners.append(seen.append)
    return seen


def test_a_media_path_with_a_nul_fails_that_message_and_the_others_go_out_once(
    db: peewee.Database, fake: FakeTelegram, clock: Clock
) -> None:
    """The path came from an HTTP answer through a template; os.path raised ValueError and
    every round aborted: the other user got nothing, the sent reply went out every second."""
    first, bad, other = queue(
        SendText(10, "Your order is in."),
        SendMedia(10, "photo", "receipts/\x00.jpg", caption="Receipt"),
        SendText(11, "Hello"),
    )
    send = sender(db, fake, clock)
    assert send.run_once() == 3
    assert (status(first), status(bad), status(other)) == ("sent", "failed", "sent")
    assert "null byte" in error(bad)
    assert send.problems.counts["send_failed"] == 1
    for _ in range(3):
        clock.tick(2)
        send.run_once()
    assert fake.texts_to(10) == ["Your order is in."] and fake.texts_to(11) == ["Hello"]


def test_each_failure_is_reported_with_its_chat_and_kept_in_the_row(
    db: peewee.Database, fake: FakeTelegram, clock: Clock
) -> None:
    refused, missing, uncertain = queue(
        SendText(12, "Too <b long"),
        SendMedia(13, "photo", "no-such-file.jpg"),
        SendText(14, "Maybe"),
    )
    fake.fail("sendMessage", 400, description="Bad Request: can't parse entities")
    send = sender(db, fake, clock)
    seen = reported(send)
    fake.fail("sendMessage", 0, delay=1.5, carried_out=True)  # the second sendMessage
    send.run_once()
    assert [status(r) for r in (refused, missing, uncertain)] == ["failed", "failed", "uncertain"]
    assert error(refused) == "Telegram refused sendMessage: Bad Request: can't parse entities"
    assert error(missing) == "there is no media file no-such-file.jpg in the media folder"
    assert error(uncertain).startswith("no answer in time (it may have arrived")
    assert [(p.kind, p.chat_id) for p in seen] == [
        ("send_failed", 12),
        ("send_failed", 13),
        ("send_failed", 14),
    ]
    assert "Too <b long" not in " ".join(p.cause for p in seen)  # never the message's text


def test_an_http_action_whose_url_no_request_can_carry_fails_alone(
    db: peewee.Database, fake: FakeTelegram, clock: Clock
) -> None:
    """A URL built by a template with a space in it: http.client raised InvalidURL."""
    bad, reply = queue(
        HttpRequest("POST", f"{fake.url}/shop/orders?name=Ann Lee", json={"pizza": "Large"}),
        SendText(10, "Ordered."),
    )
    send = sender(db, fake, clock)
    assert send.run_once() == 2
    assert (status(bad), status(reply)) == ("failed", "sent")
    assert "InvalidURL" in error(bad)
    assert send.problems.counts == {"http_failed": 1}
    clock.tick(5)
    send.run_once()
    assert fake.texts_to(10) == ["Ordered."] and fake.orders == []


def test_a_notice_that_cannot_be_built_fails_without_stopping_the_round(
    db: peewee.Database, fake: FakeTelegram, clock: Clock
) -> None:
    bad, fine = queue(
        NotifyChat("admins", "New order", media_kind="photo", media="\x00"),
        SendText(10, "Thanks!"),
    )
    send = sender(db, fake, clock)
    send.run_once()
    assert (status(bad), status(fine)) == ("failed", "sent")
    assert fake.texts_to(901) == []


def test_what_was_sent_is_recorded_when_the_round_stops_on_an_error(
    db: peewee.Database, fake: FakeTelegram, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database refused to mark a blocked user in the middle of a round: the messages
    sent before it are recorded all the same, so they do not go out again."""
    sent, blocked = queue(
        SendText(10, "Sent before the error"),
        SendMedia(12, "photo", "https://pizza.example/menu.jpg"),
    )
    fake.fail("sendPhoto", 403, description="Forbidden: bot was blocked by the user")
    send = sender(db, fake, clock)

    def database_gone(user_id: int) -> None:
        raise peewee.OperationalError("database is locked")

    monkeypatch.setattr(send.outbox, "blocked_by", database_gone)
    with pytest.raises(peewee.OperationalError):
        send.run_once()
    assert (status(sent), status(blocked)) == ("sent", "pending")
    monkeypatch.undo()
    clock.tick(5)
    send.run_once()
    assert fake.texts_to(10) == ["Sent before the error"]
