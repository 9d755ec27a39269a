"""The Telegram adapter on its own: raw updates into events (the real corpus, mutated
copies of it, arbitrary JSON), and effects into Bot API calls that the specification
accepts."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from builders import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.core.effects import (
    AnswerButton,
    EditText,
    InlineButton,
    Markup,
    NotifyChat,
    ReplyKey,
    SendFile,
    SendLocation,
    SendMedia,
    SendText,
)
from engine.core.events import (
    ButtonPress,
    CommandMessage,
    ContactShared,
    LocationShared,
    MediaMessage,
    OtherMessage,
    TextMessage,
)
from engine.telegram.calls import api_calls, reply_markup
from engine.telegram.updates import parse_update
from engine.testing.bot_api_spec import SpecViolation, check_call

CORPUS = json.loads((ROOT / "engine/testing/data/updates-corpus.json").read_text())
EXPECTED = {
    "nutgram/text": TextMessage,
    "nutgram/command": CommandMessage,
    "nutgram/command_with_parameters": CommandMessage,
    "nutgram/not_command": TextMessage,
    "nutgram/photo": MediaMessage,
    "nutgram/document": MediaMessage,
    "nutgram/voice": MediaMessage,
    "nutgram/sticker": MediaMessage,
    "nutgram/contact": ContactShared,
    "nutgram/location": LocationShared,
    "nutgram/venue": OtherMessage,
    "nutgram/edited_message": OtherMessage,
    "nutgram/callback_query": ButtonPress,
    "nutgram/callback_query_inaccessible_message": ButtonPress,
    "nutgram/new_chat_members": type(None),
    "nutgram/inline_query": type(None),
    "nutgram/paid_media_purchased": type(None),
    "teloxide/update.rs:864": type(None),
}


@pytest.mark.parametrize("entry", CORPUS, ids=[e["id"] for e in CORPUS])
def test_every_real_update_is_read_or_set_aside_with_a_reason(entry: dict[str, Any]) -> None:
    incoming = parse_update(entry["update"])
    assert incoming.update_id == entry["update"]["update_id"]
    if incoming.event is None:
        assert incoming.error and incoming.error.startswith(("ignored:", "malformed:"))
    else:
        assert incoming.error is None
        assert incoming.chat_id == incoming.event.chat.id
    if entry["id"] in EXPECTED:
        assert type(incoming.event) is EXPECTED[entry["id"]]


def test_the_poison_update_is_ignored_not_a_crash() -> None:
    [poison] = [e for e in CORPUS if "poison" in e.get("flags", [])]
    incoming = parse_update(json.dumps(poison["update"]))
    assert incoming.error == "ignored: purchased_paid_media is not handled"


def test_commands_with_the_bot_name_and_a_payload() -> None:
    update = {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": 5, "type": "private"},
            "from": {"id": 5, "is_bot": False, "first_name": "A"},
            "text": "/Start@test_bot from-a-flyer",
            "entities": [{"type": "bot_command", "offset": 0, "length": 15}],
        },
    }
    event = parse_update(update).event
    assert isinstance(event, CommandMessage)
    assert (event.command, event.args) == ("start", "from-a-flyer")


def test_a_channel_post_without_from_is_the_channel_speaking() -> None:
    update = {
        "update_id": 2,
        "channel_post": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": -100123, "type": "channel", "title": "News"},
            "sender_chat": {"id": -100123, "type": "channel", "title": "News"},
            "text": "hello",
        },
    }
    event = parse_update(update).event
    assert event is not None and event.user.id == -100123 and event.user.first_name == "News"


def test_nul_is_stripped_and_huge_or_mistyped_fields_are_malformed() -> None:
    base = {
        "update_id": 3,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": 5, "type": "private"},
            "from": {"id": 5, "is_bot": False, "first_name": "A\x00B"},
            "text": "hi\x00there \u202e\u200d👩‍👩‍👧",
        },
    }
    event = parse_update(base).event
    assert isinstance(event, TextMessage)
    assert event.text == "hithere \u202e\u200d👩‍👩‍👧" and event.user.first_name == "AB"
    huge = copy.deepcopy(base)
    huge["message"]["text"] = "x" * 70_000
    assert (parse_update(huge).error or "").startswith("malformed: message.text is 70000")
    wrong = copy.deepcopy(base)
    wrong["message"]["chat"]["id"] = "5"
    assert parse_update(wrong).error == "malformed: message.chat.id is not an integer"
    assert parse_update("{").error is not None
    assert parse_update("[1, 2]").error == "malformed: no update_id"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_real_updates_never_crash_the_parser(data: st.DataObject) -> None:
    entry = data.draw(st.sampled_from(CORPUS))
    update = copy.deepcopy(entry["update"])
    paths = [p for p in _paths(update) if p and p != ("update_id",)]
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        parent = update
        for key in path[:-1]:
            parent = parent[key]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = data.draw(json_values)
        paths = [p for p in _paths(update) if p and p != ("update_id",)] or [("x",)]
    incoming = parse_update(update)
    assert (incoming.event is None) == (incoming.error is not None)
    if incoming.error:
        assert incoming.error.startswith(("ignored:", "malformed:"))


@given(json_values)
def test_arbitrary_json_never_crashes_the_parser(value: Any) -> None:
    incoming = parse_update(json.dumps(value))
    assert incoming.event is None or isinstance(value, dict)


texts = st.text(min_size=1, max_size=300).map(
    lambda t: t.replace("<", "&lt;").replace("&", "&amp;")
)
data_bytes = st.text(alphabet="abcdef0123456789:", min_size=1, max_size=64)
inline = st.lists(
    st.lists(
        st.builds(InlineButton, st.text(min_size=1, max_size=20), data_bytes),
        min_size=1,
        max_size=3,
    ),
    max_size=3,
)
keys = st.lists(
    st.lists(
        st.builds(ReplyKey, st.text(min_size=1, max_size=20), st.booleans()), min_size=1, max_size=3
    ),
    min_size=1,
    max_size=3,
)
markups = st.one_of(
    st.just(Markup()),
    inline.map(lambda rows: Markup(inline=tuple(map(tuple, rows)))),
    keys.map(lambda rows: Markup(keyboard=tuple(map(tuple, rows)))),
    st.just(Markup(remove_keyboard=True)),
)
effects = st.one_of(
    st.builds(SendText, st.integers(1, 2**40), texts, st.just(None), markups),
    st.builds(
        SendMedia,
        st.integers(-(2**40), 2**40),
        st.sampled_from(["photo", "document", "video", "audio", "voice", "animation", "sticker"]),
        st.just("https://example.com/a.jpg"),
        st.text(max_size=100),
        st.just(None),
    ),
    st.builds(SendLocation, st.integers(1, 99), st.floats(-90, 90), st.floats(-180, 180)),
    st.builds(EditText, st.integers(1, 99), st.integers(1, 99), texts, st.just(None)),
    st.builds(AnswerButton, st.text(min_size=1, max_size=30), st.text(max_size=100), st.booleans()),
    st.builds(NotifyChat, st.just("admins"), texts, st.just(None)),
    st.builds(SendFile, st.integers(1, 99), st.just("my-data.json"), st.text(max_size=50)),
)


@given(effects)
def test_every_effect_becomes_calls_the_specification_accepts(effect: Any) -> None:
    calls = api_calls(effect, admins=(7, 8))
    assert calls
    for call in calls:
        # as they go over the wire: strings, booleans as JSON, uploads as multipart parts
        params = {
            k: v if isinstance(v, str) else json.dumps(v) if isinstance(v, bool) else str(v)
            for k, v in call.params.items()
            if v is not None
        }
        uploads = tuple(call.files or ())
        params.update({name: f"attach://{name}" for name in uploads})
        check_call(call.method, params, uploads)


def test_the_checker_refuses_what_telegram_refuses() -> None:
    with pytest.raises(SpecViolation, match="needs the parameter 'text'"):
        check_call("sendMessage", {"chat_id": "1"})
    with pytest.raises(SpecViolation, match="has no parameter 'txt'"):
        check_call("sendMessage", {"chat_id": "1", "text": "a", "txt": "b"})
    with pytest.raises(SpecViolation, match="4097 characters"):
        check_call("sendMessage", {"chat_id": "1", "text": "x" * 4097})
    with pytest.raises(SpecViolation, match="callback_data is 65 bytes"):
        markup = {"inline_keyboard": [[{"text": "a", "callback_data": "x" * 65}]]}
        check_call("sendMessage", {"chat_id": "1", "text": "a", "reply_markup": json.dumps(markup)})
    with pytest.raises(SpecViolation, match="can't parse entities"):
        check_call("sendMessage", {"chat_id": "1", "text": "<b>bold", "parse_mode": "HTML"})
    with pytest.raises(SpecViolation, match="reserved"):
        check_call("sendMessage", {"chat_id": "1", "text": "1.5", "parse_mode": "MarkdownV2"})
    check_call("sendMessage", {"chat_id": "1", "text": "1\\.5 *bold*", "parse_mode": "MarkdownV2"})


tricky = st.text(max_size=20) | st.sampled_from(
    ['"', "\\", "\x00\x1f\x7f", "\u2028", "é😀", "\ud800"]
)
any_inline = st.lists(
    st.lists(
        st.builds(InlineButton, tricky, st.none() | tricky, st.none() | tricky),
        min_size=1,
        max_size=3,
    ),
    max_size=3,
)
any_keys = st.lists(
    st.lists(st.builds(ReplyKey, tricky, st.booleans(), st.booleans()), min_size=1, max_size=3),
    max_size=3,
)


@given(any_inline, any_keys, st.booleans())
def test_keyboards_are_the_json_the_encoder_writes(
    inline: list[list[InlineButton]], keys: list[list[ReplyKey]], remove: bool
) -> None:
    """reply_markup writes its JSON itself: the very text json.dumps gives, escapes and all."""
    markup = Markup(tuple(map(tuple, inline)), tuple(map(tuple, keys)), remove)
    expected: dict[str, Any] | None = None
    if inline:
        expected = {
            "inline_keyboard": [
                [
                    {"text": b.text, "url": b.url}
                    if b.url
                    else {"text": b.text, "callback_data": b.data}
                    for b in row
                ]
                for row in inline
            ]
        }
    elif keys:
        expected = {
            "keyboard": [
                [
                    {"text": k.text}
                    | ({"request_contact": True} if k.request_contact else {})
                    | ({"request_location": True} if k.request_location else {})
                    for k in row
                ]
                for row in keys
            ],
            "resize_keyboard": True,
        }
    elif remove:
        expected = {"remove_keyboard": True}
    written = reply_markup(markup)
    assert written == (None if expected is None else json.dumps(expected, ensure_ascii=False))
