"""Outbox payloads: every effect the sender delivers survives its JSON row (a restarted
process decodes what the previous one queued), and the effects this process queued are
handed back as they were, without decoding."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from engine.core.effects import (
    AnswerButton,
    EditText,
    Effect,
    HttpRequest,
    InlineButton,
    Markup,
    NotifyChat,
    ReplyKey,
    SendFile,
    SendLocation,
    SendMedia,
    SendText,
)
from engine.store.serialization import (
    RecentEffects,
    _walked_effect_json,
    effect_from_json,
    effect_to_json,
)

texts = st.text(max_size=30)
ids = st.integers(min_value=-(2**52), max_value=2**52)
modes = st.sampled_from([None, "HTML", "MarkdownV2"])
buttons = st.builds(InlineButton, texts, st.one_of(st.none(), texts), st.one_of(st.none(), texts))
keys = st.builds(ReplyKey, texts, st.booleans(), st.booleans())
markups = st.builds(
    Markup,
    st.lists(st.lists(buttons, max_size=3).map(tuple), max_size=3).map(tuple),
    st.lists(st.lists(keys, max_size=3).map(tuple), max_size=3).map(tuple),
    st.booleans(),
)
pairs = st.lists(st.tuples(texts, texts), max_size=3).map(tuple)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), texts),
    lambda inner: st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
sent_effects: st.SearchStrategy[Effect] = st.one_of(
    st.builds(SendText, ids, texts, modes, markups),
    st.builds(SendMedia, ids, st.sampled_from(["photo", "document"]), texts, texts, modes, markups),
    st.builds(
        SendLocation,
        ids,
        st.floats(-90, 90, allow_nan=False),
        st.floats(-180, 180, allow_nan=False),
        markups,
    ),
    st.builds(EditText, ids, ids, texts, modes, markups),
    st.builds(AnswerButton, texts, texts, st.booleans()),
    st.builds(NotifyChat, st.one_of(st.just("admins"), ids), texts, modes),
    st.builds(SendFile, ids, texts, texts, texts),
    st.builds(
        HttpRequest,
        st.sampled_from(["GET", "POST"]),
        texts,
        pairs,
        st.dictionaries(texts, json_values, max_size=3),
        pairs,
    ),
)


@given(sent_effects)
def test_a_payload_decodes_to_the_effect_that_was_queued(effect: Effect) -> None:
    assert effect_from_json(effect_to_json(effect)) == effect


@given(sent_effects)
def test_the_queued_effect_comes_back_once_then_the_row_is_decoded(effect: Effect) -> None:
    recent = RecentEffects()
    payload = recent.queued_json(effect)
    assert payload == effect_to_json(effect)
    assert recent.effect_of(payload) is effect
    again = recent.effect_of(payload)  # read again (a retry): decoded from the row
    assert again == effect


def test_effects_kept_for_the_sender_are_bounded() -> None:
    kept = RecentEffects(size=10)
    effects = [SendText(n, "hi") for n in range(100)]
    payloads = [kept.queued_json(effect) for effect in effects]
    assert kept.effect_of(payloads[5]) is not effects[5]  # long gone: decoded from the row
    assert kept.effect_of(payloads[5]) == effects[5]
    assert kept.effect_of(payloads[99]) is effects[99]


def test_a_payload_queued_before_defaults_were_left_out_still_decodes() -> None:
    """Rows queued by an earlier version spell every field out; they are sent after an upgrade."""
    empty = '{"inline": [], "keyboard": [], "remove_keyboard": false}'
    row = '{"type": "SendText", "chat_id": 1, "text": "hi", "parse_mode": "HTML", "markup": %s}'
    assert effect_from_json(row % empty) == SendText(1, "hi")
    full = '{"inline": [[{"text": "A", "data": "x", "url": null}]], "keyboard": [[{"text": "K", "request_contact": true, "request_location": false}]], "remove_keyboard": false}'
    assert effect_from_json(row % full) == SendText(
        1,
        "hi",
        markup=Markup(inline=((InlineButton("A", "x"),),), keyboard=((ReplyKey("K", True),),)),
    )


@given(
    st.one_of(
        st.builds(SendText, ids, st.text(), modes, markups),
        st.builds(EditText, ids, ids, st.text(), modes, markups),
        st.builds(AnswerButton, st.text(), st.text(), st.booleans()),
    )
)
def test_the_usual_payloads_are_written_as_the_general_walk_writes_them(effect: Effect) -> None:
    # texts, edits and answers are written out directly (each queued message pays it): the
    # same JSON text as every other effect's, control characters and quotes included
    payload = effect_to_json(effect)
    assert payload == _walked_effect_json(effect)
    assert json.loads(payload)["type"] == type(effect).__name__
