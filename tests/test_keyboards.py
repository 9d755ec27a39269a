"""Keyboards (issue 16): buttons made from a list, in pages; a reply keyboard's options
(one-time, a placeholder, its size); a message that quotes the user's. Through the
interpreter, the Bot API calls Telegram would accept, the outbox rows, the console and the
conversation tests."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

from builders import NOW, Conversation, compile_yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.console import run_chat
from engine.core import builtin_texts, callback_data
from engine.core.effects import (
    AnswerButton,
    EditMarkup,
    EditText,
    Effect,
    InlineButton,
    Markup,
    ReplyKey,
    ReportProblem,
    SendLocation,
    SendMedia,
    SendText,
)
from engine.core.events import Chat, TextMessage, User
from engine.core.interpreter import step
from engine.graph import render_graph
from engine.i18n.extraction import scenario_messages
from engine.scenario import validate_file
from engine.store.serialization import _walked_effect_json, effect_from_json, effect_to_json
from engine.telegram.calls import api_calls
from engine.telegram.updates import parse_update
from engine.testing import run_test_files
from engine.testing.bot_api_spec import check_call

SHOP = """\
bot: {name: Shop, start: menu}
vars:
  products: []
states:
  menu:
    say: Pick a fruit.
    buttons:
      - list: products
        text: "{{ number }}. {{ item.name }}"
        value: "{{ item.id }}"
        save_as: chosen
        page_size: 3
        goto: chosen
      - {text: Quit, goto: bye}
  chosen:
    say: "You chose {{ chosen }}."
    buttons: [{text: Back, goto: menu}]
  bye:
    say: Bye.
    end: true
"""


def fruits(count: int) -> list[dict[str, object]]:
    return [{"id": 100 + n, "name": f"Fruit {n + 1}"} for n in range(count)]


def shop(tmp_path: Path, count: int, extra: str = "") -> Conversation:
    text = SHOP.replace("products: []", f"products: {json.dumps(fruits(count))}") + extra
    return Conversation(compile_yaml(text, tmp_path))


def inline_of(effects: list[Effect]) -> list[list[str]]:
    """The rows of labels of the last inline keyboard among the effects."""
    rows: list[list[str]] = []
    for effect in effects:
        markup = getattr(effect, "markup", None)
        if markup is not None and markup.inline:
            rows = [[b.text for b in row] for row in markup.inline]
    return rows


def notices(effects: list[Effect]) -> list[str]:
    return [e.text for e in effects if isinstance(e, AnswerButton) and e.text]


# ---- buttons made from a list ------------------------------------------------------------


def test_a_list_shows_a_page_and_a_next_button_only_where_there_is_more(tmp_path: Path) -> None:
    chat = shop(tmp_path, 7)
    first = chat.send("/start")
    assert inline_of(first) == [["1. Fruit 1"], ["2. Fruit 2"], ["3. Fruit 3"], ["▶️"], ["Quit"]]
    second = chat.press("▶️")
    (edit,) = [e for e in second if isinstance(e, EditMarkup)]
    assert edit.message_id == 99  # the pressed message: its buttons change, its text stays
    assert not [e for e in second if isinstance(e, SendText | EditText)]
    assert inline_of(second) == [
        ["4. Fruit 4"],
        ["5. Fruit 5"],
        ["6. Fruit 6"],
        ["◀️", "▶️"],
        ["Quit"],
    ]
    last = chat.press("▶️")
    assert inline_of(last) == [["7. Fruit 7"], ["◀️"], ["Quit"]]
    assert inline_of(chat.press("◀️"))[0] == ["4. Fruit 4"]
    assert chat.session.state == "menu"


def test_a_pressed_entry_stores_its_value_and_goes_on_editing_in_place(tmp_path: Path) -> None:
    chat = shop(tmp_path, 7)
    chat.send("/start")
    chat.press("▶️")
    effects = chat.press("5. Fruit 5")
    assert chat.session.vars["chosen"] == 104  # a whole {{ }} keeps the number a number
    assert chat.session.state == "chosen"
    assert [(type(e), e.text) for e in effects if isinstance(e, EditText)] == [
        (EditText, "You chose 104.")
    ]


TICKS = """\
bot: {name: Shop, start: menu}
vars: {products: [1, 2, 3, 4, 5, 6, 7], checked: [], product: null}
states:
  menu:
    say: Tick what you want.
    buttons:
      - list: products
        text: "{% if item in checked %}✓ {% endif %}{{ item }}"
        save_as: product
        page_size: 3
        set:
          checked: "{{ checked | reject('equalto', product) | list if product in checked else checked + [product] }}"
"""


def test_an_entry_that_only_changes_variables_redraws_its_page_in_place(tmp_path: Path) -> None:
    """A multiselect: the tick shows at once, on the page the entry was on (the buttons
    stayed as drawn before, and a `goto` to show them went back to page 1)."""
    chat = Conversation(compile_yaml(TICKS, tmp_path))
    chat.send("/start")
    chat.press("▶️")
    effects = chat.press("5")
    assert chat.session.vars["checked"] == [5]
    (edit,) = [e for e in effects if isinstance(e, EditMarkup)]
    assert [b.text for row in edit.markup.inline for b in row] == ["4", "✓ 5", "6", "◀️", "▶️"]
    assert not [e for e in effects if isinstance(e, SendText | EditText)]
    effects = chat.press("✓ 5")
    assert chat.session.vars["checked"] == []
    (edit,) = [e for e in effects if isinstance(e, EditMarkup)]
    assert [b.text for row in edit.markup.inline for b in row][:3] == ["4", "5", "6"]


def test_without_a_value_the_entry_itself_is_stored(tmp_path: Path) -> None:
    text = SHOP.replace('        value: "{{ item.id }}"\n', "").replace(
        "products: []", "products: [Apple, Pear]"
    )
    text = text.replace("{{ item.name }}", "{{ item }}")
    chat = Conversation(compile_yaml(text, tmp_path))
    assert inline_of(chat.send("/start"))[:2] == [["1. Apple"], ["2. Pear"]]
    chat.press("2. Pear")
    assert chat.session.vars["chosen"] == "Pear"


def test_an_entry_that_changed_since_it_was_drawn_is_not_guessed_at(tmp_path: Path) -> None:
    extra = "  reload:\n    set: {products: []}\n    goto: menu\n"
    chat = shop(tmp_path, 4, extra)
    chat.send("/start")
    drawn = dict(chat.buttons)
    # the list changes under the user's eyes: the first entry is gone
    chat.session = chat.session.evolve(vars={**chat.session.vars, "products": fruits(4)[1:]})
    effects = chat.press_data(drawn["1. Fruit 1"])
    assert notices(effects) == [builtin_texts.LIST_CHANGED]
    assert chat.session.vars.get("chosen") is None and chat.session.state == "menu"
    (edit,) = [e for e in effects if isinstance(e, EditMarkup)]
    assert [b.text for row in edit.markup.inline for b in row][:3] == [
        "1. Fruit 2",
        "2. Fruit 3",
        "3. Fruit 4",
    ]
    # an entry past the end of the shorter list is stale too; an unchanged one still works
    assert notices(chat.press_data(drawn["3. Fruit 3"])) == [builtin_texts.LIST_CHANGED]
    chat.send("/start")
    chat.press("1. Fruit 2")
    assert chat.session.vars["chosen"] == 101


def test_an_entry_of_an_earlier_visit_has_expired(tmp_path: Path) -> None:
    chat = shop(tmp_path, 2)
    chat.send("/start")
    old = chat.buttons["1. Fruit 1"]
    chat.press("Quit")
    chat.send("/start")
    effects = chat.press_data(old)
    assert notices(effects) == [builtin_texts.BUTTON_EXPIRED]
    assert "chosen" not in chat.session.vars or chat.session.vars["chosen"] is None


def test_made_up_list_data_is_expired_not_a_crash(tmp_path: Path) -> None:
    chat = shop(tmp_path, 2)
    chat.send("/start")
    entry = callback_data.decode(chat.buttons["1. Fruit 1"])
    assert entry is not None
    quit_ref = callback_data.decode(chat.buttons["Quit"])
    assert quit_ref is not None
    forged = [
        callback_data.encode(callback_data.ButtonRef("menu", entry.index, entry.epoch)),  # no entry
        callback_data.encode(  # an entry of a plain button
            callback_data.ButtonRef("menu", quit_ref.index, entry.epoch, entry=0, check="0000")
        ),
        callback_data.encode(  # a page of a plain button
            callback_data.ButtonRef("menu", quit_ref.index, entry.epoch, page=1)
        ),
    ]
    for data in forged:
        effects = chat.press_data(data)
        assert notices(effects) == [builtin_texts.BUTTON_EXPIRED], data
        assert chat.session.state == "menu"


def test_a_list_that_only_stores_keeps_the_user_where_they_are(tmp_path: Path) -> None:
    text = SHOP.replace("products: []", f"products: {json.dumps(fruits(3))}")
    text = text.replace("        goto: chosen\n", "", 1)  # the list's goto: it only stores
    chat = Conversation(compile_yaml(text, tmp_path))  # no "button-does-nothing"
    chat.send("/start")
    effects = chat.press("2. Fruit 2")
    assert chat.session.vars["chosen"] == 101 and chat.session.state == "menu"
    assert [e for e in effects if isinstance(e, AnswerButton)] == [AnswerButton("cb")]


def test_an_empty_or_null_list_shows_only_the_other_buttons(tmp_path: Path) -> None:
    assert inline_of(shop(tmp_path, 0).send("/start")) == [["Quit"]]
    text = SHOP.replace("products: []", "products: null")
    assert inline_of(Conversation(compile_yaml(text, tmp_path)).send("/start")) == [["Quit"]]


def test_a_list_that_is_not_a_list_is_reported(tmp_path: Path) -> None:
    text = SHOP.replace("products: []", "products: {a: 1}")
    effects = Conversation(compile_yaml(text, tmp_path)).send("/start")
    assert inline_of(effects) == [["Quit"]]
    problems = [e.message for e in effects if isinstance(e, ReportProblem)]
    assert problems == ["the buttons' list `products` is a dict, not a list: no buttons are shown"]


def test_page_labels_and_columns_and_an_http_answer_as_the_list(tmp_path: Path) -> None:
    text = """\
bot: {name: Shop, start: menu}
vars: {answer: {items: [a, b, c, d, e]}}
states:
  menu:
    say: Pick.
    buttons:
      - list: answer['items']
        text: "{{ item | upper }}"
        save_as: letter
        page_size: 4
        columns: 2
        previous: Back
        next: "More ({{ answer['items'] | length }})"
        say: "Got {{ letter }}."
"""
    chat = Conversation(compile_yaml(text, tmp_path))
    assert inline_of(chat.send("/start")) == [["A", "B"], ["C", "D"], ["More (5)"]]
    assert inline_of(chat.press("More (5)")) == [["E"], ["Back"]]
    effects = chat.press("E")
    assert [e.text for e in effects if isinstance(e, SendText)] == ["Got e."]
    assert chat.session.state == "menu"  # no goto: the user stays


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    count=st.integers(0, 40),
    page_size=st.integers(1, 7),
    columns=st.integers(1, 3),
    name=st.text("abcdefghijklmnopqrstuvwxyz_-0123456789", max_size=29),
)
def test_paging_shows_every_entry_once_in_order(
    tmp_path: Path, count: int, page_size: int, columns: int, name: str
) -> None:
    """Walking the pages with ▶️ shows each entry exactly once, in order, each page full but
    the last; ◀️ is there exactly when a page comes before, ▶️ when one comes after; every
    button's data fits Telegram's 64 bytes (in a group, with the tag) and names its entry."""
    text = (
        SHOP.replace("products: []", f"products: {json.dumps(fruits(count))}")
        .replace("page_size: 3", f"page_size: {page_size}\n        columns: {columns}")
        .replace("menu", f"m{name}")  # never a YAML word (null, true)
    )
    chat = Conversation(compile_yaml(text, tmp_path))
    chat.chat = Chat(-100)  # a group: the data carries the user's tag
    effects = chat.send("/start")
    seen: list[str] = []
    pages = max(1, math.ceil(count / page_size))
    for page in range(pages):
        markup = next(e.markup for e in reversed(effects) if getattr(e, "markup", None))
        rows = markup.inline
        entries = [b for row in rows for b in row if b.text[0].isdigit()]
        turns = [b.text for row in rows for b in row if b.text in ("◀️", "▶️")]
        assert turns == (["◀️"] if page > 0 else []) + (["▶️"] if page < pages - 1 else [])
        assert all(len(row) <= columns for row in rows if row[0] in entries)
        if page < pages - 1:
            assert len(entries) == page_size
        for button in (b for row in rows for b in row):
            assert button.data is not None and len(button.data.encode()) <= 64
        for button in entries:
            ref = callback_data.decode(button.data or "")
            assert ref is not None and ref.entry == int(button.text.split(".")[0]) - 1
        seen.extend(b.text for b in entries)
        if page < pages - 1:
            effects = chat.press("▶️")
    assert seen == [f"{n + 1}. Fruit {n + 1}" for n in range(count)]


def test_a_state_name_leaves_room_for_a_lists_data(tmp_path: Path) -> None:
    """The validator's limit for a state's name is what the data of a list's entries need."""
    room = callback_data.longest_state_name(1, listed=True)
    assert room < callback_data.longest_state_name(1)
    for length, fits in ((room, True), (room + 1, False)):
        name = "m" * length
        path = tmp_path / f"bot{length}.yaml"
        path.write_text(SHOP.replace("menu", name), encoding="utf-8")
        codes = [d.code for d in validate_file(str(path)).diagnostics]
        assert ("button-data-too-long" not in codes) is fits, codes


def test_the_diagram_names_the_list_a_press_comes_from(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(SHOP, encoding="utf-8")
    report = validate_file(str(path))
    assert report.scenario is not None
    graph = render_graph(report.scenario.data)
    assert '-->|"an entry of products"|' in graph
    assert "item.name" not in graph


def test_list_data_decodes_as_written_and_junk_is_refused() -> None:
    ref = callback_data.ButtonRef("menu", 3, 17, "ab12", entry=9999, check="zz09")
    assert callback_data.decode(callback_data.encode(ref)) == ref
    page = callback_data.ButtonRef("menu", 3, 17, page=12)
    assert callback_data.decode(callback_data.encode(page)) == page
    for junk in (
        "b1:menu:3.1:00",
        "b1:menu:3.1.abc:00",
        "b1:menu:3.x.abcd:00",
        "b1:menu:3~:00",
        "b1:menu:~2:00",
        "b1:menu:3.1.ABCD:00",
        "b1:menu:3~2~1:00",
        "b1:menu:3.².abcd:00",
    ):
        assert callback_data.decode(junk) is None, junk


def test_the_page_labels_and_the_placeholder_are_offered_for_translation(tmp_path: Path) -> None:
    from engine.i18n.extraction import translatable_role

    page = ("states", "menu", "buttons", 0, "previous")
    assert translatable_role(page) == "button"
    assert translatable_role(("states", "menu", "buttons", 0, "next")) == "button"
    assert translatable_role(("states", "a", "keyboard_options", "placeholder")) == "key"
    assert translatable_role(("states", "menu", "buttons", 0, "value")) is None


# ---- reply keyboard options --------------------------------------------------------------

OPTIONS = """\
bot: {name: Sizes, start: size}
states:
  size:
    say: Which size?
    ask: {var: size, choices: [Small, Large]}
    keyboard_options: {one_time: true, placeholder: "Pick one, {{ user.first_name }}", resize: false}
    goto: city
  city:
    say:
      - text: Got it.
        reply: true
      - text: Your city?
        keyboard: [[Berlin, Paris]]
        keyboard_options: {placeholder: "A city"}
    ask: {var: city}
    goto: done
  done:
    say: Thanks.
    end: true
"""


def test_a_questions_keys_carry_the_options_to_telegram(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(OPTIONS, tmp_path))
    (sent,) = [e for e in chat.send("/start") if isinstance(e, SendText)]
    assert sent.markup.keyboard == ((ReplyKey("Small"), ReplyKey("Large")),)
    assert (sent.markup.one_time, sent.markup.placeholder, sent.markup.resize) == (
        True,
        "Pick one, Ann",
        False,
    )
    (call,) = api_calls(sent)
    check_call(call.method, call.params)  # as Telegram would check it
    assert json.loads(call.params["reply_markup"]) == {
        "keyboard": [[{"text": "Small"}, {"text": "Large"}]],
        "one_time_keyboard": True,
        "input_field_placeholder": "Pick one, Ann",
    }


def test_a_message_keyboard_has_its_own_options_and_the_default_size(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(OPTIONS, tmp_path))
    chat.send("/start")
    sent = [e for e in chat.send("Small") if isinstance(e, SendText)]
    assert sent[1].markup.placeholder == "A city" and not sent[1].markup.one_time
    (call,) = api_calls(sent[1])
    check_call(call.method, call.params)
    assert json.loads(call.params["reply_markup"]) == {
        "keyboard": [[{"text": "Berlin"}, {"text": "Paris"}]],
        "resize_keyboard": True,
        "input_field_placeholder": "A city",
    }


def test_options_are_checked_where_a_keyboard_is_shown(tmp_path: Path) -> None:
    """A question with keys, a state's or a message's `keyboard`: no warning; a message or a
    state (or a question without keys) that shows none: `keyboard-options-unused`, there."""
    path = tmp_path / "sizes.yaml"
    path.write_text(OPTIONS, encoding="utf-8")
    assert validate_file(str(path)).diagnostics == ()
    unused = OPTIONS.replace(
        "      - text: Got it.\n",
        "      - text: Got it.\n        keyboard_options: {one_time: true}\n",
    ).replace("ask: {var: size, choices: [Small, Large]}", "ask: {var: size}")
    path.write_text(unused, encoding="utf-8")
    found = [(d.code, d.position.line) for d in validate_file(str(path)).diagnostics]
    assert found == [("keyboard-options-unused", 6), ("keyboard-options-unused", 11)]


def test_a_placeholder_made_long_by_a_template_is_cut_to_telegrams_64(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(OPTIONS, tmp_path))
    chat.user = User(7, "A" * 100, language="en")
    (sent,) = [e for e in chat.send("/start") if isinstance(e, SendText)]
    assert sent.markup.placeholder == ("Pick one, " + "A" * 100)[:64]
    (call,) = api_calls(sent)
    check_call(call.method, call.params)


def test_a_reply_quotes_the_users_message_as_telegram_delivered_it(tmp_path: Path) -> None:
    scenario = compile_yaml(OPTIONS, tmp_path)
    chat = Conversation(scenario)
    chat.send("/start")
    raw = {
        "update_id": 5,
        "message": {
            "message_id": 4242,
            "date": 0,
            "chat": {"id": 7, "type": "private"},
            "from": {"id": 7, "is_bot": False, "first_name": "Ann"},
            "text": "Large",
        },
    }
    event = parse_update(raw).event
    assert isinstance(event, TextMessage) and event.message_id == 4242
    result = step(scenario, chat.session, event, NOW)
    quoted, asked = [e for e in result.effects if isinstance(e, SendText)]
    assert quoted.text == "Got it." and quoted.reply_to == 4242
    assert asked.reply_to is None  # only the message that says `reply: true`
    (call,) = api_calls(quoted)
    check_call(call.method, call.params)
    assert json.loads(call.params["reply_parameters"]) == {
        "message_id": 4242,
        "allow_sending_without_reply": True,
    }


def test_a_reply_after_a_button_press_quotes_nothing(tmp_path: Path) -> None:
    text = """\
bot: {name: T, start: a}
states:
  a:
    say: Hi
    buttons: [{text: Go, goto: b}]
  b:
    edit: false
    say: {text: Went., reply: true}
    end: true
"""
    chat = Conversation(compile_yaml(text, tmp_path))
    chat.send("/start")
    (sent,) = [e for e in chat.press("Go") if isinstance(e, SendText)]
    assert sent.reply_to is None


# ---- the outbox rows ---------------------------------------------------------------------

texts = st.text(max_size=20)
ids = st.integers(min_value=-(2**52), max_value=2**52)
keys = st.builds(ReplyKey, texts, st.booleans(), st.booleans())
markups = st.builds(
    Markup,
    st.lists(
        st.lists(st.builds(InlineButton, texts, st.one_of(st.none(), texts)), max_size=2).map(
            tuple
        ),
        max_size=2,
    ).map(tuple),
    st.lists(st.lists(keys, max_size=2).map(tuple), max_size=2).map(tuple),
    st.booleans(),
    st.booleans(),
    texts,
    st.booleans(),
)
quotes = st.one_of(st.none(), ids)
sent = st.one_of(
    st.builds(SendText, ids, texts, st.sampled_from([None, "HTML"]), markups, quotes),
    st.builds(SendMedia, ids, st.just("photo"), texts, texts, st.just("HTML"), markups, quotes),
    st.builds(SendLocation, ids, st.just(1.5), st.just(2.5), markups, quotes),
    st.builds(EditMarkup, ids, ids, markups),
)


@given(sent)
def test_options_and_quotes_survive_the_outbox_row(effect: Effect) -> None:
    payload = effect_to_json(effect)
    assert effect_from_json(payload) == effect
    assert payload == _walked_effect_json(effect)  # the quick path writes what the walk does


def test_rows_queued_before_these_options_still_decode() -> None:
    row = (
        '{"type": "SendText", "chat_id": 1, "text": "hi", "parse_mode": "HTML", '
        '"markup": {"keyboard": [[{"text": "K"}]]}}'
    )
    decoded = effect_from_json(row)
    assert decoded == SendText(1, "hi", markup=Markup(keyboard=((ReplyKey("K"),),)))
    assert isinstance(decoded, SendText) and decoded.markup.resize and decoded.reply_to is None
    (call,) = api_calls(decoded)
    assert json.loads(call.params["reply_markup"])["resize_keyboard"] is True


def test_a_page_turn_is_an_edit_of_the_buttons_telegram_accepts() -> None:
    markup = Markup(inline=((InlineButton("1. A", "b1:menu:0.0.abcd:01"),),))
    (call,) = api_calls(EditMarkup(7, 99, markup))
    assert call.method == "editMessageReplyMarkup"
    check_call(call.method, call.params)


# ---- the console and the conversation tests -----------------------------------------------


def test_the_console_shows_the_options_the_quote_and_the_new_page(tmp_path: Path) -> None:
    out = io.StringIO()
    run_chat(compile_yaml(OPTIONS, tmp_path), io.StringIO("Large\n"), out)  # it starts itself
    shown = out.getvalue()
    assert "keys: Small | Large  (hidden after one press; typing field: Pick one, " in shown
    assert "bot (replying to you): Got it." in shown
    out = io.StringIO()
    text = SHOP.replace("products: []", f"products: {json.dumps(fruits(4))}")
    run_chat(compile_yaml(text, tmp_path), io.StringIO("4\n"), out)
    assert (
        "bot (changes the buttons):\n   [1] 4. Fruit 4\n   [2] ◀️\n   [3] Quit\n" in out.getvalue()
    )


def test_conversation_tests_turn_the_pages_and_press_an_entry(tmp_path: Path) -> None:
    text = SHOP.replace("products: []", f"products: {json.dumps(fruits(4))}")
    (tmp_path / "shop.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "shop.tests.yaml").write_text(
        """\
- name: picks from the second page
  steps:
    - send: /start
      buttons: [1. Fruit 1, 2. Fruit 2, 3. Fruit 3, ▶️, Quit]
    - press: ▶️
      expect: Pick a fruit.
      edited: true
      buttons: [4. Fruit 4, ◀️, Quit]
    - press: 4. Fruit 4
      expect: You chose 103.
      expect_state: chosen
""",
        encoding="utf-8",
    )
    out = io.StringIO()
    assert run_test_files([str(tmp_path / "shop.tests.yaml")], out) == 0, out.getvalue()


# ---- the "👇" filler: only where Telegram leaves no other way ------------------------------

CARRIER = builtin_texts.KEYBOARD_CARRIER
FILLER = """\
bot: {name: T, start: menu}
states:
  menu:
    say: Menu.
    buttons:
      - {text: Confirm, say: Noted., goto: confirm}
      - {text: Options, goto: options}
      - {text: Twice, goto: twice}
    on:
      - {text: options, say: Here are the options., goto: options}
  confirm:
    remove_keyboard: true
    say: Here is your order.
    buttons: [{text: Place it, goto: menu}]
  options:
    buttons: [{text: Back, goto: menu}]
  twice:
    keyboard: [[Yes, No]]
    say:
      - First.
      - {text: Second., buttons: [{text: Own, goto: menu}]}
      - Third.
    buttons: [{text: Back, goto: menu}]
"""


def sent_messages(effects: list[Effect]) -> list[SendText | EditText | EditMarkup]:
    return [e for e in effects if isinstance(e, SendText | EditText | EditMarkup)]


def test_a_reply_keyboard_rides_on_the_message_just_before(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(FILLER, tmp_path))
    chat.send("/start")
    noted, order = sent_messages(chat.press("Confirm"))
    assert isinstance(noted, SendText) and noted.text == "Noted."
    assert noted.markup == Markup(remove_keyboard=True)
    # the inline buttons alone: the pressed menu becomes the order, as any button's goto
    assert isinstance(order, EditText) and order.text == "Here is your order."
    assert [b.text for row in order.markup.inline for b in row] == ["Place it"]


def test_the_filler_is_sent_only_when_nothing_else_can_carry_the_keys(tmp_path: Path) -> None:
    text = FILLER.replace("start: menu", "start: confirm")
    carrier, order = sent_messages(Conversation(compile_yaml(text, tmp_path)).send("/start"))
    assert isinstance(carrier, SendText) and carrier.text == CARRIER
    assert carrier.markup == Markup(remove_keyboard=True)
    assert isinstance(order, SendText) and order.markup.inline


def test_buttons_without_a_text_change_the_pressed_message_in_place(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(FILLER, tmp_path))
    chat.send("/start")
    (edit,) = sent_messages(chat.press("Options"))
    assert isinstance(edit, EditMarkup) and edit.message_id == 99
    assert [b.text for row in edit.markup.inline for b in row] == ["Back"]
    assert chat.press("Back") and chat.session.state == "menu"


def test_buttons_without_a_text_go_under_the_message_just_before(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(FILLER, tmp_path))
    chat.send("/start")
    (said,) = sent_messages(chat.send("options"))
    assert isinstance(said, SendText) and said.text == "Here are the options."
    assert [b.text for row in said.markup.inline for b in row] == ["Back"]


def test_a_reply_keyboard_skips_a_message_with_buttons_of_its_own(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(FILLER.replace("start: menu", "start: twice"), tmp_path))
    first, second, third = sent_messages(chat.send("/start"))
    assert isinstance(first, SendText) and first.text == "First."
    assert [k.text for k in first.markup.keyboard[0]] == ["Yes", "No"]
    assert isinstance(second, SendText) and [b.text for b in second.markup.inline[0]] == ["Own"]
    assert isinstance(third, SendText) and [b.text for b in third.markup.inline[0]] == ["Back"]
    assert CARRIER not in [m.text for m in (first, second, third)]


def test_a_label_that_is_only_a_value_is_not_offered_for_translation(tmp_path: Path) -> None:
    """`{{ number }}. {{ item.name }}` has nothing to translate: it was in every catalog."""
    path = tmp_path / "shop.yaml"
    path.write_text(SHOP.replace('"{{ number }}. {{ item.name }}"', '"{{ item.name }}"'), "utf-8")
    report = validate_file(str(path))
    assert report.scenario is not None
    msgids = {m.msgid for m in scenario_messages(report.scenario.data, report.scenario.source)}
    assert "{{ item.name }}" not in msgids
    assert {"Pick a fruit.", "You chose {{ chosen }}.", "Quit"} <= msgids
