"""The data an inline button carries: compact, versioned, and stable across scenario reloads
(it names the state, not a position in a list, so an old message still finds its state)."""

from __future__ import annotations

from dataclasses import dataclass

FORMAT_VERSION = "b1"
MAX_BYTES = 64  # Telegram's limit for callback_data


@dataclass(frozen=True)
class ButtonRef:
    state: str
    index: int  # position of the button in the state's keyboard, counted row by row


def encode(ref: ButtonRef) -> str:
    return f"{FORMAT_VERSION}:{ref.state}:{ref.index}"


def decode(data: str) -> ButtonRef | None:
    """The button a press refers to, or None for data this engine did not write."""
    version, _, rest = data.partition(":")
    state, _, index = rest.rpartition(":")
    if version != FORMAT_VERSION or not state or not index.isdigit():
        return None
    return ButtonRef(state, int(index))


def longest_state_name(max_index: int) -> int:
    """How long a state name may be so that its buttons' data fit Telegram's limit."""
    return MAX_BYTES - len(encode(ButtonRef("", max_index)).encode())
