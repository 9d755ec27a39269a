"""The interpreter's semantics, driven through step() without any I/O."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from builders import Conversation, compile_yaml, texts

from engine.core.effects import (
    AnswerButton,
    CancelTimers,
    EditText,
    HttpRequest,
    NotifyChat,
    ReportProblem,
    SendText,
    StartTimer,
)
from engine.core.events import Chat, TextMessage, User
from engine.core.interpreter import step
from engine.core.ports import HttpResponse, OfflineServices
from engine.core.session import new_session

MENU = """
bot: {name: T, start: menu}
vars: {count: 0, size: null}
commands:
  start: {description: Start, goto: menu}
fallback: {say: Sorry?, repeat: true}
states:
  menu:
    say: "Menu ({{ count }})"
    buttons:
      - [{text: Add, set: {count: "{{ count + 1 }}"}, goto: menu}, {text: Size, goto: size}]
  size:
    say: Which size?
    ask:
      var: size
      choices: [Small, {text: Big one, value: large}]
      retry: [Tap a key., Please tap Small or Big one.]
      max_attempts: 3
      on_fail: help
    goto:
      - {if: size == "large", to: big}
      - {to: done}
  big:
    say: Big it is.
    goto: done
  done:
    say: "Done: {{ size }}"
    end: true
  help:
    say: Let me help.
    goto: menu
"""


def test_a_new_user_enters_the_start_state(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(MENU, tmp_path))
    assert texts(chat.send("hello")) == ["Menu (0)"]
    assert chat.session.state == "menu"


def test_a_button_edits_the_menu_in_place_and_keeps_numbers_numbers(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(MENU, tmp_path))
    chat.send("/start")
    effects = chat.press("Add")
    assert isinstance(effects[0], AnswerButton) and effects[0].text == ""
    assert (
        isinstance(effects[1], EditText)
        and effects[1].text == "Menu (1)"
        and effects[1].message_id == 99
    )
    chat.press("Add")
    assert chat.session.vars["count"] == 2  # "{{ count + 1 }}" keeps the type


def test_a_button_of_an_earlier_visit_has_expired(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(MENU, tmp_path))
    chat.send("/start")
    old = dict(chat.buttons)
    chat.press("Size")
    before = chat.session
    effects = chat.press_data(old["Add"])
    assert effects == [AnswerButton("cb", "This button has expired.")]
    assert chat.session.state == before.state and chat.session.vars == before.vars
    assert chat.press_data("not ours") == [AnswerButton("cb", "This button has expired.")]


def test_answers_are_checked_with_a_retry_ladder_then_on_fail(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(MENU, tmp_path))
    chat.send("/start")
    chat.press("Size")
    assert texts(chat.send("huge")) == ["Tap a key."]
    assert texts(chat.send("huger")) == ["Please tap Small or Big one."]
    assert texts(chat.send("hugest")) == ["Let me help.", "Menu (0)"]
    assert chat.session.state == "menu"


def test_a_choice_stores_its_value_and_a_conditional_goto_follows(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(MENU, tmp_path))
    chat.send("/start")
    sent = chat.press("Size")
    keys = [
        k.text
        for effect in sent
        if isinstance(effect, SendText)
        for row in effect.markup.keyboard
        for k in row
    ]
    assert keys == ["Small", "Big one"]
    effects = chat.send("big ONE")
    assert texts(effects) == ["Big it is.", "Done: large"]
    assert chat.session.ended and chat.session.vars["size"] == "large"
    assert any(isinstance(e, SendText) and e.markup.remove_keyboard for e in effects)
    assert texts(chat.send("again")) == ["Menu (0)"]  # after the end, a new conversation


def test_the_fallback_repeats_the_question_and_stickers_get_it(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(MENU, tmp_path))
    chat.send("/start")
    chat.press("Size")
    assert texts(chat.media("sticker")) == ["Sorry?", "Which size?"]
    assert chat.session.attempts == 0


SUBFLOW = """
bot: {name: T, start: a}
vars: {address: null}
states:
  a:
    call: ask_address
    goto: b
  b:
    say: "Shipping to {{ address }}"
    buttons: [{text: Change, call: ask_address}]
  ask_address:
    say: Address?
    ask: {var: address, min_length: 3}
    return: true
"""


def test_call_and_return_follow_the_callers_goto_or_come_back(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(SUBFLOW, tmp_path))
    assert texts(chat.send("hi")) == ["Address?"]
    assert texts(chat.send("Main St 1")) == ["Shipping to Main St 1"]
    assert chat.session.stack == ()
    chat.press("Change")
    assert texts(chat.send("Elm St 2")) == ["Shipping to Elm St 2"]
    assert chat.session.state == "b"


TIMERS = """
bot: {name: T, start: wait}
states:
  wait:
    say: Still there?
    buttons: [{text: Yes, goto: gone}]
    after: {delay: 10m, say: Bye., goto: gone}
  gone:
    say: Gone.
    end: true
"""


def test_timers_fire_in_their_state_and_expire_when_it_is_left(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(TIMERS, tmp_path))
    effects = chat.send("hi")
    timer = next(e for e in effects if isinstance(e, StartTimer))
    assert timer.due == chat.now + dt.timedelta(minutes=10) and timer.state == "wait"
    assert texts(chat.fire("wait", 0, timer.epoch)) == ["Bye.", "Gone."]
    chat2 = Conversation(compile_yaml(TIMERS, tmp_path))
    chat2.send("hi")
    left = chat2.press("Yes")
    assert any(isinstance(e, CancelTimers) for e in left)
    assert chat2.fire("wait", 0, timer.epoch) == []


ORDER = """
bot: {name: T, start: order}
vars: {result: null, stock: null}
states:
  order:
    do:
      - call: stock
        with: {item: pizza}
        save_as: stock
      - http: {url: "https://shop.example/orders", json: {n: "{{ stock.left }}"}, save_as: result, on_error: failed}
      - notify: {to: admins, say: "Order {{ result.id }}"}
      - http: {url: "https://shop.example/ping"}
    say: "Order {{ result.id }}, {{ stock.left }} left"
    end: true
  failed:
    say: The shop is closed.
    end: true
"""


def test_http_and_plugins_go_through_the_port(tmp_path: Path) -> None:
    services = OfflineServices(
        responses={"POST https://shop.example/orders": HttpResponse(201, {"id": 42})},
        plugins={"stock": lambda arguments, context: {"left": 3, "asked": arguments["item"]}},
    )
    chat = Conversation(compile_yaml(ORDER, tmp_path), services)
    effects = chat.send("go")
    assert texts(effects) == ["Order 42, 3 left"]
    assert services.calls[0].json == {"n": 3} and services.calls[0].method == "POST"
    assert NotifyChat("admins", "Order 42", "HTML") in effects
    assert (
        HttpRequest("GET", "https://shop.example/ping") in effects
    )  # nothing waits: the outbox sends it


def test_a_failing_http_call_goes_to_on_error(tmp_path: Path) -> None:
    services = OfflineServices(plugins={"stock": lambda arguments, context: {"left": 1}})
    chat = Conversation(compile_yaml(ORDER, tmp_path), services)
    effects = chat.send("go")
    assert texts(effects) == ["The shop is closed."]
    assert any(isinstance(e, ReportProblem) for e in effects)


ROLES = """
bot: {name: T, start: menu}
commands:
  admin: {description: Panel, goto: panel, only: [admin], hidden: true}
fallback: Not for you.
states:
  menu:
    say: Menu
    on: [{text: panel, goto: panel}]
  panel:
    only: [admin]
    say: Secret panel
    buttons: [{text: Back, goto: menu}]
"""


def test_only_roles_keep_others_out(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(ROLES, tmp_path))
    chat.send("hi")
    assert texts(chat.send("/admin")) == ["Not for you."]
    assert texts(chat.send("panel")) == ["Not for you."]
    assert chat.session.state == "menu"
    admin = Conversation(compile_yaml(ROLES, tmp_path), roles=frozenset({"admin"}))
    admin.send("hi")
    assert texts(admin.send("/admin")) == ["Secret panel"]


def test_a_removed_state_follows_migrations(tmp_path: Path) -> None:
    scenario = compile_yaml(
        ROLES.replace("states:", "migrations: {old_menu: panel}\nstates:"), tmp_path
    )
    user, chat = User(1, "A"), Chat(1)
    session = new_session(1, 1).evolve(state="old_menu")
    result = step(
        scenario, session, TextMessage(user=user, chat=chat, text="panel"), dt.datetime(2026, 1, 1)
    )
    # a migration cannot move a user into a state they may not be in: they start over
    assert result.session.state == "menu"
    assert texts(list(result.effects)) == ["Menu"]
    admin = new_session(1, 1, frozenset({"admin"})).evolve(state="old_menu")
    result = step(
        scenario, admin, TextMessage(user=user, chat=chat, text="x"), dt.datetime(2026, 1, 1)
    )
    assert result.session.state == "panel"  # an admin is migrated there; "x": the fallback
    session = new_session(1, 1).evolve(state="vanished")
    result = step(
        scenario, session, TextMessage(user=user, chat=chat, text="panel"), dt.datetime(2026, 1, 1)
    )
    assert result.session.state == "menu"  # to start, then "panel" → panel is refused (not admin)


def test_a_conditional_loop_is_stopped_not_run_forever(tmp_path: Path) -> None:
    scenario = compile_yaml(
        "bot: {name: T, start: a}\nvars: {n: 0}\nstates:\n"
        "  a:\n    set: {n: '{{ n + 1 }}'}\n    goto: [{if: n < 1000, to: b}, {to: c}]\n"
        "  b:\n    goto: [{if: 'true', to: a}]\n"
        "  c:\n    say: done\n    end: true\n",
        tmp_path,
    )
    chat = Conversation(scenario)
    effects = chat.send("go")
    assert any(isinstance(e, ReportProblem) and "too many moves" in e.message for e in effects)


def test_same_inputs_give_the_same_outputs(tmp_path: Path) -> None:
    scenario = compile_yaml(
        "bot: {name: T, start: a}\nstates:\n  a:\n    say: {random: [One, Two, Three, Four, Five]}\n    end: true\n",
        tmp_path,
    )
    session, user, chat = new_session(1, 1), User(1), Chat(1)
    outputs = set()
    for seed in range(20):
        event = TextMessage(user=user, chat=chat, text="x", seed=seed)
        first = step(scenario, session, event, dt.datetime(2026, 1, 1))
        assert first == step(scenario, session, event, dt.datetime(2026, 1, 1))
        outputs.add(texts(list(first.effects))[0])
    assert len(outputs) > 1  # the seed picks different variants


def test_a_long_text_is_split_at_paragraphs(tmp_path: Path) -> None:
    scenario = compile_yaml(
        "bot: {name: T, start: a}\nvars: {p: null}\nstates:\n  a:\n"
        "    set: {p: \"{{ 'word ' * 500 }}\"}\n"
        '    say: "{{ p }}\\n\\n{{ p }}\\n\\n{{ p }}"\n    end: true\n',
        tmp_path,
    )
    pieces = texts(Conversation(scenario).send("x"))
    assert len(pieces) == 3 and all(0 < len(p) <= 4096 for p in pieces)
    assert all(p.startswith("word") and p.endswith("word") for p in pieces)


EDGES = """
bot: {name: T, start: phone}
vars: {p: null, stock: null, photo: null}
fallback: Hm?
states:
  phone:
    remove_keyboard: true
    say: Type it.
    ask: {var: p, type: contact, max_attempts: 2, on_fail: broken}
    goto: broken
  broken:
    say: "Only {{ stock.left }} left."
    buttons: [{text: Both, goto: both}]
  both:
    say: Pick one.
    keyboard: [[A, B]]
    buttons: [{text: Again, goto: tell}]
  tell:
    do: [{notify: {to: admins, say: {photo: "{{ photo }}", caption: New photo}}}]
    say: Sent.
    end: true
"""


def test_a_removed_keyboard_stays_removed_on_a_question(tmp_path: Path) -> None:
    effects = Conversation(compile_yaml(EDGES, tmp_path)).send("hi")
    message = next(e for e in effects if isinstance(e, SendText))
    assert message.markup.remove_keyboard and not message.markup.keyboard


def test_unknown_commands_in_a_question_get_the_fallback_not_an_attempt(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(EDGES, tmp_path))
    chat.send("hi")
    assert texts(chat.send("/foo")) == ["Hm?"]
    assert texts(chat.send("/bar")) == ["Hm?"]
    assert chat.session.state == "phone" and chat.session.attempts == 0


def test_a_failed_text_keeps_the_states_buttons_and_keys_are_not_dropped(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(EDGES, tmp_path))
    chat.send("hi")
    effects = chat.contact("+4930123")
    assert any(isinstance(e, ReportProblem) for e in effects)
    assert texts(effects) == ["👇"] and "Both" in chat.buttons
    effects = chat.press("Both")
    sent = [e for e in effects if isinstance(e, SendText | EditText)]
    assert [k.text for k in sent[0].markup.keyboard[0]] == ["A", "B"]
    assert sent[1].text == "Pick one." and sent[1].markup.inline


def test_notify_carries_media(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(EDGES.replace("photo: null", "photo: PHOTO_ID"), tmp_path))
    chat.send("hi")
    chat.contact("+4930123")
    chat.press("Both")
    effects = chat.press("Again")
    assert NotifyChat("admins", "New photo", "HTML", "photo", "PHOTO_ID") in effects


RESTART_FLOW = """
bot: {name: T, start: menu}
states:
  menu:
    say: Menu
    buttons:
      - [{text: Address, call: address}]
  address:
    say: Your street?
    ask: {var: street, type: text}
    return: true
"""


def test_start_in_the_middle_of_a_conversation_begins_it_anew(tmp_path: Path) -> None:
    """/start is how Telegram users restart a bot: without a `start` command of the
    author's it leads to `bot.start` at any time (it was answered with the fallback)."""
    chat = Conversation(compile_yaml(RESTART_FLOW, tmp_path))
    chat.send("/start")
    chat.press("Address")
    assert chat.session.state == "address" and chat.session.stack
    assert texts(chat.send("/start")) == ["Menu"]
    assert chat.session.state == "menu" and not chat.session.stack  # the call is forgotten


def test_an_authors_start_command_still_decides_where_start_leads(tmp_path: Path) -> None:
    scenario = RESTART_FLOW.replace(
        "states:", "commands:\n  start: {description: Start, say: Welcome back}\nstates:"
    )
    chat = Conversation(compile_yaml(scenario, tmp_path))
    chat.send("/start")
    chat.press("Address")
    assert texts(chat.send("/start")) == ["Welcome back"]
