"""The data of inline buttons: what the engine writes reads back as the same button, and
anything else a client sends (Telegram passes the data through as it was sent) is not
ours, never an exception."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from engine.core.callback_data import EPOCHS, ButtonRef, button_data, decode, encode

names = st.text(st.characters(blacklist_characters=":"), min_size=1, max_size=20)


@given(names, st.integers(0, 99), st.integers(0, 10 * EPOCHS))
def test_what_the_engine_writes_reads_back(state: str, index: int, epoch: int) -> None:
    assert decode(encode(ButtonRef(state, index, epoch))) == ButtonRef(state, index, epoch % EPOCHS)


@given(names, st.integers(0, 99), st.integers(-EPOCHS, 10 * EPOCHS))
def test_drawing_a_button_writes_what_encode_writes(state: str, index: int, epoch: int) -> None:
    assert button_data(state, index, epoch) == encode(ButtonRef(state, index, epoch))


pieces = st.text(max_size=6) | st.sampled_from(["b1", "²", "٣", "0a", "ZZ", "1", ""])


@given(st.lists(pieces, max_size=6).map(":".join) | st.text(max_size=64))
def test_any_other_data_is_not_ours_never_an_error(data: str) -> None:
    ref = decode(data)
    assert ref is None or decode(encode(ref)) == ref


def test_digits_of_other_scripts_are_not_an_index() -> None:
    assert decode("b1:menu:²:00") is None  # str.isdigit() says yes, int() refuses
    assert decode("b1:menu:٣:00") is None
    assert decode("b1:menu:3:0A") is None  # the visit counter is written in lower case
    assert decode("b1:menu:3:0a") == ButtonRef("menu", 3, 10)
