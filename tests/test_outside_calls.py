"""Issue 12, item 7: HTTP and plugin actions whose answer a step needs run outside the
store's write transaction. The update waits (pending, with its chat's later updates) while
the call is made, then is stepped again with the answer; other chats go on meanwhile. State
changes are applied once, also when the process stops between the call and its
continuation (the call is then made again: at least once)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import peewee
import pytest
from builders import compile_yaml
from store_fixtures import text_update

from engine.core.deferred_calls import CallNeeded, DeferredServices, plugin_key
from engine.core.ports import HttpCall, HttpResponse, PortError
from engine.core.store_protocol import IncomingUpdate
from engine.ops.problems import ProblemSink
from engine.runtime.processing import Processor
from engine.runtime.scenario_holder import ScenarioHolder
from engine.store.models import InboxRow, OutboxRow
from engine.store.pipeline import Store
from engine.store.serialization import effect_from_json
from engine.telegram.updates import parse_update

SHOP = """
bot: {name: Shop, start: menu}
vars: {order: null, count: 0}
states:
  menu:
    say: Send anything.
    on:
      - text: buy
        do:
          - set: {count: "{{ count + 1 }}"}
          - http: {method: POST, url: "https://shop.example/orders", json: {n: "{{ count }}"}, save_as: order, on_error: closed}
        say: "Order {{ order.id }} (purchase {{ count }})"
      - say: "You said {{ message.text }}"
  closed:
    say: The shop is closed.
    goto: menu
"""


class Shop:
    """The shop's web service: answers each order with the next id once `release` is set
    (or at once), and counts the calls it got."""

    def __init__(self, wait: bool = False) -> None:
        self.config: Mapping[str, str] = {}
        self.calls: list[HttpCall] = []
        self.release = threading.Event()
        self.called = threading.Event()
        if not wait:
            self.release.set()
        self.fail = False

    def http(self, call: HttpCall) -> HttpResponse:
        self.calls.append(call)
        self.called.set()
        assert self.release.wait(20), "the test never answered the call"
        if self.fail:
            raise PortError("connection refused")
        return HttpResponse(200, {"id": 100 + len(self.calls)})

    def plugin(self, name: str, arguments: Any, context: Mapping[str, Any]) -> Any:
        raise PortError("no plugins here")


def _parse(update_id: int, body: str) -> IncomingUpdate:
    return parse_update(body, update_id=update_id)


def telegram_text(update_id: int, user: int, text: str) -> IncomingUpdate:
    """As the Telegram adapter hands it over (a body the store can parse back)."""
    body = (
        f'{{"update_id": {update_id}, "message": {{"message_id": {update_id}, "date": 0, '
        f'"chat": {{"id": {user}, "type": "private"}}, '
        f'"from": {{"id": {user}, "is_bot": false, "first_name": "Ann"}}, "text": "{text}"}}}}'
    )
    return _parse(update_id, body)


@pytest.fixture
def shop_file(tmp_path: Path) -> Path:
    compile_yaml(SHOP, tmp_path)
    return tmp_path / "bot.yaml"


def processor_for(db: peewee.Database, path: Path, shop: Shop) -> Processor:
    store = Store(db, "shop", problems=ProblemSink())
    store.sleep = lambda seconds: None
    return Processor(
        store, ScenarioHolder(str(path)), shop, workers=2, parse=_parse, call_workers=2
    )


@pytest.fixture
def running(db: peewee.Database, shop_file: Path) -> Iterator[tuple[Processor, Shop]]:
    shop = Shop(wait=True)
    processor = processor_for(db, shop_file, shop)
    yield processor, shop
    shop.release.set()
    processor.close()


def replies(chat_id: int) -> list[str]:
    rows = OutboxRow.select().where(OutboxRow.chat_id == chat_id).order_by(OutboxRow.id)
    return [str(getattr(effect_from_json(r.payload), "text", "")) for r in rows]


def wait_for(predicate: Any, timeout: float = 20) -> bool:
    done = threading.Event()
    for _ in range(int(timeout * 50)):
        if predicate():
            return True
        done.wait(0.02)
    return False


def test_other_chats_are_answered_while_a_call_is_under_way(
    running: tuple[Processor, Shop],
) -> None:
    processor, shop = running
    processor.process([telegram_text(1, 5, "hi"), telegram_text(2, 6, "hi")])
    finished = threading.Event()

    def batch() -> None:
        processor.process([telegram_text(3, 5, "buy"), telegram_text(4, 6, "hello")])
        finished.set()

    threading.Thread(target=batch, daemon=True).start()
    assert finished.wait(15), "the batch waited for user 5's call to end"
    assert shop.called.wait(15)
    assert replies(6)[-1] == "You said hello"  # committed while the shop still thinks
    assert replies(5) == ["Send anything."]  # nothing of the purchase yet
    assert InboxRow.get(InboxRow.update_id == 3).status == "pending"
    processor.process([telegram_text(5, 5, "later")])  # waits behind the purchase
    assert replies(5) == ["Send anything."]
    shop.release.set()
    assert wait_for(lambda: len(replies(5)) == 3)
    assert replies(5) == ["Send anything.", "Order 101 (purchase 1)", "You said later"]
    assert len(shop.calls) == 1 and shop.calls[0].json == {"n": 1}
    assert {r.status for r in InboxRow.select()} == {"done"}


def test_a_failed_call_takes_the_on_error_way_once(running: tuple[Processor, Shop]) -> None:
    processor, shop = running
    shop.fail = True
    shop.release.set()
    processor.process([telegram_text(1, 5, "hi")])
    processor.process([telegram_text(2, 5, "buy")])
    assert wait_for(lambda: len(replies(5)) == 3)
    assert replies(5) == ["Send anything.", "The shop is closed.", "Send anything."]
    session = processor.store.session(5, 5)
    assert session is not None and session.vars["count"] == 1 and session.vars["order"] is None


def test_a_stop_between_the_call_and_its_continuation_applies_the_change_once(
    db: peewee.Database, shop_file: Path
) -> None:
    shop = Shop(wait=True)
    first = processor_for(db, shop_file, shop)
    first.process([telegram_text(1, 5, "hi")])
    first.process([telegram_text(2, 5, "buy")])
    assert shop.called.wait(15)
    first.calls.closed = True  # type: ignore[union-attr]  # the process is going away:
    first.calls.resume = lambda chat: None  # type: ignore[union-attr]  # no continuation
    shop.release.set()
    first.close()
    assert InboxRow.get(InboxRow.update_id == 2).status == "pending"
    assert replies(5) == ["Send anything."]
    again = Shop()  # the next start: the pending update is stepped, its call made again
    second = processor_for(db, shop_file, again)
    try:
        assert second.resume_orphans(older_than=0) == 1
        assert wait_for(lambda: len(replies(5)) == 2)
    finally:
        second.close()
    assert replies(5) == ["Send anything.", "Order 101 (purchase 1)"]
    session = second.store.session(5, 5)
    assert session is not None and session.vars["count"] == 1  # not 2: applied once
    assert len(shop.calls) + len(again.calls) == 2  # the call itself: at least once


def test_deferred_services_answer_in_order_and_ask_again_when_the_path_changed() -> None:
    services = DeferredServices({})
    with pytest.raises(CallNeeded) as first:
        services.plugin("price", {"item": "tea"}, {})
    assert first.value.call.index == 0 and first.value.call.plugin == "price"
    from engine.core.deferred_calls import Answer

    answered = DeferredServices({}, (Answer(plugin_key("price", {"item": "tea"}), 3),))
    assert answered.plugin("price", {"item": "tea"}, {}) == 3
    with pytest.raises(CallNeeded) as second:
        answered.plugin("price", {"item": "tea"}, {})  # the same call again: asked again
    assert second.value.call.index == 1
    other = DeferredServices({}, (Answer(plugin_key("price", {"item": "tea"}), 3),))
    with pytest.raises(CallNeeded) as changed:
        other.plugin("price", {"item": "coffee"}, {})  # another path: not tea's answer
    assert changed.value.call.index == 0


def test_without_deferred_calls_the_store_steps_as_before(
    db: peewee.Database, shop_file: Path
) -> None:
    """Conversation tests and the console call inline; the store's own tests too."""
    shop = Shop()
    store = Store(db, "shop")
    processor = Processor(store, ScenarioHolder(str(shop_file)), shop, parse=_parse)
    try:
        processor.process([text_update(1, 5, "hi")])
        processor.process([text_update(2, 5, "buy")])
    finally:
        processor.close()
    assert replies(5) == ["Send anything.", "Order 101 (purchase 1)"]


def test_message_id_is_the_same_each_time_a_message_or_timer_is_handled(tmp_path: Path) -> None:
    """The idempotency key an author gives a web service that must not act twice."""
    import datetime as dt

    from builders import NOW

    from engine.core.events import Chat, TextMessage, TimerFired, User
    from engine.core.interpreter import step
    from engine.core.session import new_session

    scenario = compile_yaml(
        """
bot: {name: Ids, start: a}
states:
  a:
    say: "id {{ message.id }}"
    on: [{say: "id {{ message.id }}"}]
    after: {delay: 1m, say: "timer {{ message.id }}"}
""",
        tmp_path,
    )
    ann, chat = User(5, "Ann"), Chat(5)
    first = step(
        scenario, new_session(5, 5), TextMessage(user=ann, chat=chat, seed=1001, text="hi"), NOW
    )
    texts = []
    for _ in range(2):  # the same update handled twice: the same id
        again = step(
            scenario, first.session, TextMessage(user=ann, chat=chat, seed=1002, text="x"), NOW
        )
        texts.append(again.effects[0].text)  # type: ignore[attr-defined]
    assert texts == ["id 1002", "id 1002"]
    timer = TimerFired(user=ann, chat=chat, seed=9, state="a", index=0, epoch=first.session.epoch)
    fired = step(scenario, first.session, timer, NOW + dt.timedelta(minutes=2))
    assert next(getattr(e, "text", None) for e in fired.effects) == "timer timer-9"
