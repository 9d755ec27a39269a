"""Issue 12, item 1: a failure that concerns one update, one session or one timer fails that
one alone. It is set aside with its reason, its user gets the apology, it is reported, and
the rest of the batch goes on; a value from outside is made storable before it is stored,
and `$enc` is decoded only for variables declared sensitive."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import peewee
from builders import NOW, compile_yaml
from cryptography.fernet import Fernet
from store_fixtures import text_update

from engine.core.events import Event
from engine.core.interpreter import StepResult, apology, step
from engine.core.model import Scenario
from engine.core.ports import HttpResponse, OfflineServices
from engine.core.session import Session
from engine.core.store_protocol import BatchResult, IncomingUpdate
from engine.ops.problems import ProblemSink
from engine.runtime.processing import Processor
from engine.runtime.scenario_holder import ScenarioHolder
from engine.runtime.scheduler import Scheduler
from engine.store.crypto import SensitiveCipher
from engine.store.models import InboxRow, OutboxRow, TimerRow
from engine.store.pipeline import Store
from engine.store.queues import Timers
from engine.store.serialization import effect_from_json

LOOKUP = """
bot: {name: Lookup, start: ask}
vars: {answer: null, card: null}
sensitive: [card]
states:
  ask:
    say: Send a word.
    on:
      - text: lookup
        do: [{http: {url: "https://api.example/lookup", save_as: answer}}]
        say: "Found {{ answer }}"
      - text: card
        set: {card: "4111"}
        say: Card kept.
      - say: "You said {{ message.text }}, answer {{ answer }}"
"""
APOLOGY = "Sorry, something went wrong. Please try again."


class Bot:
    def __init__(self, scenario: Scenario, store: Store, answer: Any = None) -> None:
        self.scenario, self.store = scenario, store
        self.services = OfflineServices(
            responses={"https://api.example/lookup": HttpResponse(200, answer)}
        )

    def handle(self, session: Session, event: Event) -> StepResult:
        return step(self.scenario, session, event, NOW, self.services)

    def send(self, *updates: IncomingUpdate) -> BatchResult:
        return self.store.process(
            list(updates), self.handle, NOW, apology=lambda e: apology(self.scenario, e)
        )


def replies(chat_id: int) -> list[str]:
    rows = OutboxRow.select().where(OutboxRow.chat_id == chat_id).order_by(OutboxRow.id)
    return [str(getattr(effect_from_json(r.payload), "text", "")) for r in rows]


def cipher() -> SensitiveCipher:
    return SensitiveCipher([Fernet.generate_key().decode()])


def test_an_enc_mapping_from_an_http_answer_is_data_not_a_sealed_value(
    db: peewee.Database, tmp_path: Path
) -> None:
    scenario = compile_yaml(LOOKUP, tmp_path)
    store = Store(db, "lookup", scenario.sensitive, cipher())
    bot = Bot(scenario, store, answer={"$enc": "x"})
    bot.send(text_update(1, 5, "hi"), text_update(2, 6, "hi"))
    bot.send(text_update(3, 5, "lookup"))
    result = bot.send(text_update(4, 5, "again"), text_update(5, 6, "hello"))
    assert result.acknowledged == [4, 5] and result.failed == []
    assert replies(6)[-1] == "You said hello, answer"
    assert replies(5)[-1].startswith("You said again, answer {")
    session = store.session(5, 5)
    assert session is not None and session.vars["answer"] == {"$enc": "x"}


def test_a_lone_surrogate_in_an_http_answer_is_stored_as_a_replacement_character(
    db: peewee.Database, tmp_path: Path
) -> None:
    scenario = compile_yaml(LOOKUP, tmp_path)
    store = Store(db, "lookup")
    bot = Bot(scenario, store, answer={"name": "Ann\ud800", "nul": "a\x00b"})
    bot.send(text_update(1, 5, "hi"), text_update(2, 6, "hi"))
    result = bot.send(text_update(3, 5, "lookup"), text_update(4, 6, "hello"))
    assert result.acknowledged == [3, 4] and result.failed == []
    assert replies(6)[-1] == "You said hello, answer"
    session = store.session(5, 5)
    assert session is not None and session.vars["answer"] == {"name": "Ann\ufffd", "nul": "ab"}


def test_a_user_on_a_dropped_key_fails_alone_set_aside_apologized_and_reported(
    db: peewee.Database, tmp_path: Path
) -> None:
    scenario = compile_yaml(LOOKUP, tmp_path)
    old = Bot(scenario, Store(db, "lookup", scenario.sensitive, cipher()))
    old.send(text_update(1, 5, "hi"), text_update(2, 6, "hi"))
    old.send(text_update(3, 5, "card"))
    sink = ProblemSink()  # the key was dropped from BOT_ENCRYPTION_KEYS:
    bot = Bot(scenario, Store(db, "lookup", scenario.sensitive, cipher(), problems=sink))
    result = bot.send(text_update(4, 5, "x"), text_update(5, 6, "y"), text_update(6, 6, "z"))
    assert result.acknowledged == [4, 5, 6] and result.failed == [4]
    assert replies(6)[-2:] == ["You said y, answer", "You said z, answer"]
    assert replies(5)[-1] == APOLOGY
    row = InboxRow.get(InboxRow.update_id == 4)
    assert row.status == "failed"
    assert "cannot decrypt the variable 'card'" in row.error
    assert '"text": "x"' in row.body  # kept for the operator, as a set-aside update is
    assert sink.counts["update_failed"] == 1
    session = bot.store.rows.state_of(5, 5)
    assert session == "ask"  # nothing of the failed update was applied


def test_a_session_that_cannot_be_stored_fails_alone(db: peewee.Database, tmp_path: Path) -> None:
    """Whatever the database refuses, and whatever a bug raises, for one update only."""
    scenario = compile_yaml(LOOKUP, tmp_path)
    sink = ProblemSink()
    store = Store(db, "lookup", problems=sink)
    bot = Bot(scenario, store)
    bot.send(text_update(1, 5, "hi"), text_update(2, 6, "hi"))
    real = store.rows.vars_json

    def refuse_user_5(values: dict[str, Any]) -> str:
        if values.get("answer") == "poison":
            raise ValueError("the database refuses this value")
        return real(values)

    store.rows.vars_json = refuse_user_5  # type: ignore[method-assign]
    bot.services.responses = {"https://api.example/lookup": HttpResponse(200, "poison")}
    result = bot.send(text_update(3, 6, "a"), text_update(4, 5, "lookup"), text_update(5, 6, "b"))
    assert result.acknowledged == [3, 4, 5] and result.failed == [4]
    assert replies(6)[-2:] == ["You said a, answer", "You said b, answer"]
    assert replies(5)[-1] == APOLOGY
    assert sink.counts == {"update_failed": 1}
    assert bot.send(text_update(4, 5, "lookup")).duplicates == [4]  # Telegram's retry: no-op


TIMED = """
bot: {name: T, start: wait}
vars: {card: null}
sensitive: [card]
states:
  wait:
    say: Waiting.
    set: {card: "4111"}
    after: {delay: 10m, say: Ten minutes., goto: gone}
  gone:
    say: Gone.
    end: true
"""


def test_a_timer_that_fails_fails_alone_and_the_others_fire(
    db: peewee.Database, tmp_path: Path
) -> None:
    scenario = compile_yaml(TIMED, tmp_path)
    path = tmp_path / "bot.yaml"
    first = Bot(scenario, Store(db, "t", scenario.sensitive, cipher()))
    first.send(text_update(1, 5, "hi"))  # user 5's timer comes first, under an old key
    key = cipher()
    Bot(scenario, Store(db, "t", scenario.sensitive, key)).send(text_update(2, 6, "hi"))
    sink = ProblemSink()
    store = Store(db, "t", scenario.sensitive, key, problems=sink)
    later = NOW + dt.timedelta(minutes=11)
    processor = Processor(store, ScenarioHolder(str(path)), OfflineServices(), clock=lambda: later)
    try:
        assert Scheduler(Timers(db), processor).run_once() == 2
    finally:
        processor.close()
    assert replies(6)[-2:] == ["Ten minutes.", "Gone."]
    assert replies(5)[-1] == APOLOGY
    assert [t for t in TimerRow.select() if t.status == "pending"] == []  # none fires again
    assert sink.counts == {"update_failed": 1}


def test_a_timer_that_cannot_even_be_fired_is_marked_failed_and_the_rest_fire(
    db: peewee.Database, tmp_path: Path
) -> None:
    scenario = compile_yaml(TIMED, tmp_path)
    key = cipher()
    bot = Bot(scenario, Store(db, "t", scenario.sensitive, key))
    bot.send(text_update(1, 5, "hi"), text_update(2, 6, "hi"))
    sink = ProblemSink()
    store = Store(db, "t", scenario.sensitive, key, problems=sink)
    later = NOW + dt.timedelta(minutes=11)
    holder = ScenarioHolder(str(tmp_path / "bot.yaml"))
    processor = Processor(store, holder, OfflineServices(), clock=lambda: later)
    fire = processor.fire

    def broken_for_user_5(timer, user):  # type: ignore[no-untyped-def]
        if timer.user_id == 5:  # a fault outside the store (a bug, say)
            raise RuntimeError("cannot build the event")
        return fire(timer, user)

    processor.fire = broken_for_user_5  # type: ignore[method-assign]
    try:
        assert Scheduler(Timers(db), processor).run_once() == 2
        assert Scheduler(Timers(db), processor).run_once() == 0  # not tried again and again
    finally:
        processor.close()
    assert replies(6)[-2:] == ["Ten minutes.", "Gone."]
    [failed] = [t for t in TimerRow.select() if t.user_id == 5]
    assert failed.status == "failed"
    assert sink.counts == {"timer_failed": 1}


def test_every_pooled_connection_busy_for_a_moment_is_waited_for_not_set_aside(
    postgres_url: str, tmp_path: Path
) -> None:
    """A burst of webhook requests can take every connection of the pool for a moment:
    that is no fault of the update (it was once set aside, its user apologized to)."""
    from store_fixtures import close_all

    from engine.store.database import open_database
    from engine.store.migrations import migrate

    db = open_database(postgres_url + "?pool=1")
    migrate(db)
    db.close()
    scenario = compile_yaml(LOOKUP, tmp_path)
    bot = Bot(scenario, Store(db, "lookup", problems=ProblemSink()))
    taken, release = threading.Event(), threading.Event()

    def hold_the_only_connection() -> None:
        with db.connection_context():
            taken.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_only_connection)
    holder.start()
    assert taken.wait(10)
    threading.Timer(0.5, release.set).start()
    try:
        result = bot.send(text_update(1, 5, "hi"))
    finally:
        release.set()
        holder.join(10)
        close_all(db)
    assert result.acknowledged == [1] and result.failed == []
    assert replies(5) == ["Send a word."]
