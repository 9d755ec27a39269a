"""The batched transaction, on SQLite and PostgreSQL: an update is recorded once, the user's
session is loaded and stored, replies and timers are queued with it, and users and the
message log are kept as the operator expects."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import peewee
import pytest
from builders import NOW, compile_yaml
from store_fixtures import COUNTER, StoreBot, close_all, text_update

from engine.core.effects import AnswerButton, Effect
from engine.core.events import ButtonPress, Chat, Event, User
from engine.core.interpreter import StepResult, step
from engine.core.session import Session
from engine.core.store_protocol import IncomingUpdate
from engine.store.database import open_database
from engine.store.models import InboxRow, MessageLogRow, OutboxRow, SessionRow, TimerRow, UserRow
from engine.store.pipeline import Store
from engine.store.privacy import export_user
from engine.store.queues import ImmediateAnswers, Outbox
from engine.store.serialization import RecentEffects, effect_from_json

TIMED = """
bot: {name: T, start: wait}
states:
  wait:
    say: Waiting.
    on: [{text: stop, goto: stopped}]
    after: {delay: 10m, say: Ten minutes., goto: gone}
  stopped:
    say: Stopped.
  gone:
    say: Gone.
    end: true
"""


def test_a_repeated_update_id_changes_nothing_and_is_acknowledged(counter: StoreBot) -> None:
    counter.say(1, 5, "a")
    counter.say(2, 5, "b")
    again = counter.say(2, 5, "b")  # a webhook retry or a replayed poll
    assert again.duplicates == [2] and again.acknowledged == [2] and again.effects == 0
    twice = counter.send(text_update(3, 5, "c"), text_update(3, 5, "c"))  # twice in one batch
    assert twice.acknowledged == [3, 3]
    assert counter.replies() == ["Send me anything.", "1: b", "2: c"]
    session = counter.store.session(5, 5)
    assert session is not None and session.vars["n"] == 2
    assert InboxRow.select().count() == 3


def test_a_batch_around_a_recorded_update_finds_only_its_own_duplicates(
    counter: StoreBot,
) -> None:
    counter.say(11, 5, "a")  # recorded between the next batch's ids, which are not its own
    mixed = counter.send(*(text_update(i, 6, "x") for i in (10, 12, 13)))
    assert mixed.duplicates == [] and mixed.acknowledged == [10, 12, 13]
    again = counter.send(*(text_update(i, 6, "x") for i in (9, 12, 500)))  # a range, then not
    assert again.duplicates == [12] and len(counter.replies(6)) == 5  # 3, then 9 and 500
    spread = counter.send(text_update(5, 7, "y"), text_update(900, 7, "y"), text_update(13, 7, "y"))
    assert spread.duplicates == [13]


def test_a_lower_update_id_than_the_last_one_is_still_processed(counter: StoreBot) -> None:
    # Telegram starts update ids afresh after a quiet week: dedupe is by set, not by maximum
    counter.say(900_000, 5, "a")
    counter.say(7, 5, "b")
    assert counter.replies() == ["Send me anything.", "1: b"]


def test_the_session_survives_closing_the_database(
    counter: StoreBot, store_url: str, tmp_path: Path
) -> None:
    counter.say(1, 5, "a")
    counter.say(2, 5, "b")
    close_all(counter.store.db)
    reopened = open_database(store_url)
    try:
        bot = StoreBot(counter.scenario, Store(reopened, "counter"))
        bot.say(3, 5, "c")
        assert bot.replies(5)[-1] == "2: c"
        session = bot.store.session(5, 5)
        assert session is not None and (session.state, session.vars) == ("count", {"n": 2})
    finally:
        close_all(reopened)


def test_a_big_batch_keeps_each_users_messages_in_order(counter: StoreBot) -> None:
    # 1,000 updates of 450 users in one batch: more ids than one IN (...) may hold
    updates = [text_update(i, 10 + i % 450, f"m{i}") for i in range(1, 1001)]
    result = counter.send(*reversed(updates))  # the batch order does not matter
    assert sorted(result.acknowledged) == list(range(1, 1001)) and result.effects == 1000
    for user in (10, 11, 459):
        mine = [u.update_id for u in updates if u.chat_id == user]
        expected = ["Send me anything."] + [f"{n}: m{i}" for n, i in enumerate(mine[1:], 1)]
        assert counter.replies(user) == expected
    assert SessionRow.select().count() == 450
    assert InboxRow.select().where(InboxRow.status == "done").count() == 1000


def test_nothing_of_a_batch_is_kept_when_it_fails_before_the_commit(
    db: peewee.Database, tmp_path: Path
) -> None:
    scenario = compile_yaml(TIMED, tmp_path)

    def fail(point: str) -> None:
        if point == "before_commit":
            raise RuntimeError("the process dies here")

    broken = StoreBot(scenario, Store(db, "t", crash_hook=fail))
    with pytest.raises(RuntimeError):
        broken.say(1, 5, "hi")
    for table in (InboxRow, SessionRow, OutboxRow, TimerRow, UserRow, MessageLogRow):
        assert table.select().count() == 0, table
    bot = StoreBot(scenario, Store(db, "t"))
    assert bot.say(1, 5, "hi").acknowledged == [1]  # Telegram sent it again
    # the session, its reply and its timer were committed together
    assert bot.replies() == ["Waiting."]
    (timer,) = TimerRow.select()
    assert timer.state == "wait" and timer.due == NOW.replace(tzinfo=None) + dt.timedelta(
        minutes=10
    )
    session = bot.store.session(5, 5)
    assert session is not None and session.state == "wait"
    bot.say(2, 5, "stop")  # leaving the state cancels its timer in the same transaction
    assert TimerRow.get_by_id(timer.id).status == "cancelled"


def test_users_are_kept_with_64_bit_ids_names_and_language(counter: StoreBot) -> None:
    big = 2**62 + 12345  # ids beyond 32 (and 52) bits
    group = -1_001_234_567_890_123
    counter.say(1, big, "hi")
    first = UserRow.get_by_id(big)
    assert (first.first_name, first.username, first.language, first.blocked) == (
        "Ann",
        "ann",
        "en",
        False,
    )
    later = NOW + dt.timedelta(hours=2)
    counter.store.process(
        [text_update(2, big, "again", chat_id=group)], counter.handle, later
    )  # the same user in a group
    user = UserRow.get_by_id(big)
    assert user.first_seen == first.first_seen and user.updated == later.replace(tzinfo=None)
    assert {(s.chat_id, s.user_id) for s in SessionRow.select()} == {(big, big), (group, big)}
    session = counter.store.session(group, big)
    assert session is not None and session.chat_id == group


def test_the_users_row_changes_with_the_profile_and_last_seen_with_every_message(
    counter: StoreBot,
) -> None:
    counter.say(1, 5, "hi")
    written = UserRow.get_by_id(5).updated
    later = NOW + dt.timedelta(hours=3)
    counter.store.process([text_update(2, 5, "again")], counter.handle, later)
    assert UserRow.get_by_id(5).updated == written  # same name, language and roles
    assert export_user(5)["user"]["last_seen"] == later.replace(tzinfo=None).isoformat()
    renamed = text_update(3, 5, "new name")
    assert renamed.event is not None
    event = dataclasses.replace(
        renamed.event, user=dataclasses.replace(renamed.event.user, first_name="Anna")
    )
    counter.send(dataclasses.replace(renamed, event=event))
    assert (UserRow.get_by_id(5).first_name, UserRow.get_by_id(5).updated) == (
        "Anna",
        NOW.replace(tzinfo=None),
    )


def test_a_user_who_blocked_the_bot_is_unblocked_when_they_write_again(
    counter: StoreBot,
) -> None:
    counter.say(1, 5, "hi")
    UserRow.update(blocked=True).execute()  # what the sender records on a 403
    counter.say(2, 5, "back")
    assert not UserRow.get_by_id(5).blocked


def test_the_message_log_has_no_texts_unless_the_operator_turns_them_on(
    db: peewee.Database, tmp_path: Path
) -> None:
    scenario = compile_yaml(
        "bot: {name: C, start: count}\nvars: {n: 0}\nstates:\n  count:\n    say: Hi.\n"
        '    on: [{set: {n: "{{ n + 1 }}"}, say: "{{ n }}: {{ message.text }}"}]\n',
        tmp_path,
    )
    quiet = StoreBot(scenario, Store(db, "c"))
    quiet.say(1, 5, "my secret plan")
    quiet.say(2, 5, "more")
    rows = list(MessageLogRow.select().order_by(MessageLogRow.id))
    # one row per update: where it found and left the user, and how many replies it brought
    assert [(r.direction, r.kind, r.state, r.to_state, r.replies) for r in rows] == [
        ("in", "TextMessage", None, "count", 1),
        ("in", "TextMessage", "count", "count", 1),
    ]
    assert all(r.text is None and r.user_id == 5 for r in rows)
    loud = StoreBot(scenario, Store(db, "c", log_text=True))
    loud.say(3, 5, "now with text")
    rows = list(MessageLogRow.select().order_by(MessageLogRow.id))[2:]
    # with texts, each reply has its row too: it carries the text
    assert [(r.direction, r.text) for r in rows] == [
        ("in", "now with text"),
        ("out", "2: now with text"),
    ]


MENU = (
    "bot: {name: B, start: menu}\nstates:\n  menu:\n    say: Pick.\n"
    "    buttons: [{text: Go, goto: done}]\n  done:\n    say: Done.\n"
)


def press(update_id: int, data: str, user: int = 5) -> IncomingUpdate:
    event = ButtonPress(
        user=User(user, "Ann"), chat=Chat(user), data=data, callback_id=f"q{update_id}"
    )
    raw = json.dumps({"update_id": update_id, "callback_query": {"id": f"q{update_id}"}})
    return IncomingUpdate(update_id, raw, user, event)


def test_the_message_log_leaves_out_silent_answers_to_button_presses(
    db: peewee.Database, tmp_path: Path
) -> None:
    """A press is logged, and what it brings; its silent answer (the spinner stops) is not,
    an answer the user reads (the button is out of date) is."""
    bot = StoreBot(compile_yaml(MENU, tmp_path), Store(db, "b"))
    bot.say(1, 5, "hi")
    [menu] = [effect_from_json(r.payload) for r in OutboxRow.select()]
    data = menu.markup.inline[0][0].data  # type: ignore[attr-defined]
    for update_id in (2, 3):  # the second press comes too late
        bot.send(press(update_id, data))
    rows = list(MessageLogRow.select().where(MessageLogRow.id > 1).order_by(MessageLogRow.id))
    assert [(r.direction, r.kind, r.to_state, r.replies) for r in rows] == [
        ("in", "ButtonPress", "done", 1),  # "Done."; the silent answer is not counted
        ("in", "ButtonPress", "done", 1),  # "This button is out of date" (an answer read)
    ]
    kinds = [r.kind for r in OutboxRow.select().order_by(OutboxRow.id)]
    assert kinds == ["SendText", "AnswerButton", "SendText", "AnswerButton"]  # all still sent


def test_silent_answers_go_to_this_process_sender_once_committed_not_to_the_outbox(
    db: peewee.Database, tmp_path: Path
) -> None:
    answers = ImmediateAnswers()
    answers.open = True  # a sender of this process takes them
    failures = {"before_commit": 1}  # the first attempt of the batch is rolled back

    def crash(point: str) -> None:
        if failures.get(point):
            failures[point] -= 1
            raise peewee.OperationalError("database is locked")

    store = Store(db, "b", crash_hook=crash, answers=answers)
    store.sleep = lambda seconds: None
    bot = StoreBot(compile_yaml(MENU, tmp_path), store)
    bot.say(1, 5, "hi")
    [menu] = [effect_from_json(r.payload) for r in OutboxRow.select()]
    data = menu.markup.inline[0][0].data  # type: ignore[attr-defined]
    result = bot.send(press(2, data), press(3, data))  # the second one comes too late
    assert result.effects == 3  # the edited menu, the late press's notice, and q2's answer
    assert answers.take() == [AnswerButton("q2")]  # once, though the batch ran twice
    kinds = [r.kind for r in OutboxRow.select().order_by(OutboxRow.id)]
    assert kinds == ["SendText", "SendText", "AnswerButton"]  # the notice is read: a row
    answers.open = False  # no sender here any more: silent answers are rows again
    bot.say(4, 6, "hi")
    bot.send(press(5, data, user=6))  # the same menu, drawn for another user
    assert answers.take() == []
    answered = [effect_from_json(r.payload) for r in OutboxRow.select().order_by(OutboxRow.id)]
    assert AnswerButton("q5") in answered  # queued with the edited menu, for whoever sends


def test_a_pending_update_of_the_chat_is_handled_first_and_its_body_dropped(
    counter: StoreBot,
) -> None:
    """An update recorded but not handled (left by an earlier version, or another process)
    goes first when its chat writes again; once done, its raw body is not kept."""
    waiting = text_update(1, 5, "first")
    InboxRow.create(update_id=1, chat_id=5, body=waiting.raw, status="pending")
    by_id = {1: waiting}
    counter.store.process(
        [text_update(2, 5, "second")], counter.handle, NOW, parse=lambda n, body: by_id[n]
    )
    assert counter.replies() == ["Send me anything.", "1: second"]
    assert [(r.status, r.body) for r in InboxRow.select().order_by(InboxRow.update_id)] == [
        ("done", ""),
        ("done", ""),
    ]


def test_an_update_the_adapter_could_not_read_is_kept_as_failed(counter: StoreBot) -> None:
    broken = IncomingUpdate(1, '{"update_id": 1, "weird": true}', None, None, "no message")
    result = counter.send(broken, text_update(2, 5, "a"))
    assert result.failed == [1] and sorted(result.acknowledged) == [1, 2]
    row = InboxRow.get(InboxRow.update_id == 1)
    assert (row.status, row.error) == ("failed", "no message")
    assert json.loads(row.body) == {"update_id": 1, "weird": True}  # kept, to see what it was
    handled = InboxRow.get(InboxRow.update_id == 2)
    assert (handled.status, handled.body) == ("done", "")  # what the user wrote is not kept


def test_nul_characters_and_unusual_text_are_stored(db: peewee.Database, tmp_path: Path) -> None:
    # PostgreSQL's text cannot hold NUL: it is stripped, everything else is kept intact
    scenario = compile_yaml(
        "bot: {name: C, start: count}\nvars: {last: null}\nstates:\n  count:\n    say: Hi.\n"
        '    on: [{set: {last: "{{ message.text }}"}, say: "Got {{ message.text }}"}]\n',
        tmp_path,
    )
    bot = StoreBot(scenario, Store(db, "c", log_text=True))
    bot.say(1, 5, "hi")
    odd = "a\x00b \u202eevil\u202c 👩\u200d💻 <b>&'\""
    update = text_update(2, 5, odd)
    nul_name = IncomingUpdate(
        2,
        update.raw,
        5,
        update.event.__class__(  # type: ignore[union-attr]
            user=update.event.user.__class__(5, "An\x00n"),  # type: ignore[union-attr]
            chat=update.event.chat,  # type: ignore[union-attr]
            text=odd,
        ),
    )
    assert bot.send(nul_name).acknowledged == [2]
    kept = odd.replace("\x00", "")
    session = bot.store.session(5, 5)
    assert session is not None and session.vars["last"] == kept
    assert "\u202eevil\u202c 👩\u200d💻" in bot.replies()[-1]
    assert UserRow.get_by_id(5).first_name == "Ann"
    logged = MessageLogRow.get((MessageLogRow.direction == "in") & (MessageLogRow.id > 2))
    assert logged.text == kept
    raw = text_update(3, 5, odd).raw
    bot.send(IncomingUpdate(3, raw, 5, None, "ignored: too many updates"))
    body = InboxRow.get(InboxRow.update_id == 3).body  # set aside: kept as Telegram sent it
    assert json.loads(body)["message"]["text"] == odd  # (JSON escapes the NUL)


def test_the_roles_of_a_user_are_stored_with_the_profile(counter: StoreBot) -> None:
    def roles(user_id: int) -> frozenset[str]:
        return frozenset({"admin", "editor"}) if user_id == 7 else frozenset()

    counter.store.process(
        [text_update(1, 7, "hi"), text_update(2, 8, "hi")], counter.handle, NOW, roles
    )
    assert json.loads(UserRow.get_by_id(7).roles) == ["admin", "editor"]
    assert json.loads(UserRow.get_by_id(8).roles) == []
    counter.store.process([text_update(3, 7, "again")], counter.handle, NOW)  # no longer admin
    assert json.loads(UserRow.get_by_id(7).roles) == []


def test_this_process_sender_takes_the_queued_effects_another_decodes_them(
    db: peewee.Database, tmp_path: Path
) -> None:
    recent = RecentEffects()
    bot = StoreBot(compile_yaml(COUNTER, tmp_path), Store(db, "counter", recent=recent))
    produced: list[Effect] = []

    def handle(session: Session, event: Event) -> StepResult:
        result = step(bot.scenario, session, event, NOW)
        produced.extend(result.effects)
        return result

    bot.store.process([text_update(1, 5, "hi")], handle, NOW)
    later = NOW + dt.timedelta(seconds=1)
    [elsewhere] = Outbox(db).pending(later)  # another process: from the row
    [here] = Outbox(db, recent).pending(later)
    assert here.effect is produced[0]
    assert elsewhere.effect == produced[0] and elsewhere.effect is not produced[0]


def test_batches_committed_at_once_each_hand_over_their_own_silent_answers(
    db: peewee.Database, tmp_path: Path
) -> None:
    """On PostgreSQL the shards of a batch go through one Store in parallel threads: what
    one of them gathers is not another's to reset or to hand over."""
    answers = ImmediateAnswers()
    answers.open = True
    bot = StoreBot(compile_yaml(MENU, tmp_path), Store(db, "b", answers=answers))
    users = range(10, 26)
    for user in users:
        bot.say(user, user, "hi")
    [menu, *_] = [effect_from_json(r.payload) for r in OutboxRow.select()]
    data = menu.markup.inline[0][0].data  # type: ignore[attr-defined]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda user: bot.send(press(100 + user, data, user)), users))
    handed = sorted(answer.callback_id for answer in answers.take())
    assert handed == sorted(f"q{100 + user}" for user in users)


WAY_OUT = (
    "bot: {name: W, start: menu}\nstates:\n  menu:\n    say: Pick.\n"
    "    on: [{text: go, goto: done}]\n  done:\n    say: Done.\n"
)


def test_an_updates_log_row_says_how_long_the_user_stayed_and_whether_they_were_understood(
    db: peewee.Database, tmp_path: Path
) -> None:
    """What --stats reads for time in a state and 'not understood': the row of the update
    that moves a user on carries the seconds since they entered the state they leave."""
    scenario = compile_yaml(WAY_OUT, tmp_path)
    store = Store(db, "w")

    def at(seconds: int, update_id: int, words: str) -> None:
        now = NOW + dt.timedelta(seconds=seconds)
        store.process(
            [text_update(update_id, 5, words)],
            lambda session, event: step(scenario, session, event, now),
            now,
        )

    at(0, 1, "hi")  # a new user: enters menu
    at(5, 2, "what?")  # not understood: stays in menu
    at(65, 3, "go")  # leaves menu for done, 65 s after entering it
    rows = list(MessageLogRow.select().order_by(MessageLogRow.id))
    assert [(r.state, r.to_state, r.stayed, r.fallback, r.replies) for r in rows] == [
        (None, "menu", None, False, 1),
        ("menu", "menu", None, True, 1),
        ("menu", "done", 65.0, False, 1),
    ]
    assert SessionRow.get().entered == (NOW + dt.timedelta(seconds=65)).timestamp()
