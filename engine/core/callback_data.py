"""The data an inline button carries: compact, versioned, and stable across scenario reloads.

`b1:<state>:<index>:<epoch>` names the state (not a position in a list, so an old message
still finds its state after a reload), the button's place in that state, and which visit
of the state drew it (a button of an earlier visit has expired)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.core.quick_init import quick_init

FORMAT_VERSION = "b1"
MAX_BYTES = 64  # Telegram's limit for callback_data
EPOCHS = 36 * 36  # the visit counter is kept to two base-36 digits
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
# Every visit counter as its two digits, and back: drawing a keyboard formats one per button.
_SHORT = tuple(high + low for high in _DIGITS for low in _DIGITS)
_EPOCH_OF = {short: value for value, short in enumerate(_SHORT)}


@quick_init
@dataclass(frozen=True)
class ButtonRef:
    state: str
    index: int  # the button's place among the state's inline buttons, in file order
    epoch: int = 0  # the session's visit counter when the button was drawn

    @property
    def short_epoch(self) -> str:
        return _SHORT[self.epoch % EPOCHS]


def encode(ref: ButtonRef) -> str:
    return button_data(ref.state, ref.index, ref.epoch)


def button_data(state: str, index: int, epoch: int) -> str:
    """What `encode(ButtonRef(state, index, epoch))` gives, for drawing a keyboard without
    building a ButtonRef per button."""
    return f"{FORMAT_VERSION}:{state}:{index}:{_SHORT[epoch % EPOCHS]}"


def decode(data: str) -> ButtonRef | None:
    """The button a press refers to, or None for data this engine did not write."""
    parts = data.split(":")
    if len(parts) != 4 or parts[0] != FORMAT_VERSION or not parts[1]:
        return None
    index, epoch = parts[2], _EPOCH_OF.get(parts[3])
    if not (index.isascii() and index.isdigit()) or epoch is None:  # "²" is a digit too
        return None
    return ButtonRef(parts[1], int(index), epoch)


def same_visit(ref: ButtonRef, epoch: int) -> bool:
    return ref.epoch == epoch % EPOCHS


def longest_state_name(max_index: int) -> int:
    """How long a state name may be so that its buttons' data fit Telegram's limit."""
    return MAX_BYTES - len(encode(ButtonRef("", max_index)).encode())
