"""The data an inline button carries: compact, versioned, and stable across scenario reloads.

`b1:<home>:<index>:<epoch>[:<tag>]` names where the button was written (a state, `/command`
or `~fallback`: a name, not a position in a list, so an old message still finds its home
after a reload), the button's place there, which visit of the state drew it (a button of an
earlier visit has expired), and in groups whom it was sent to (a short tag of the user's id:
someone else's press is refused)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from engine.core.quick_init import quick_init

FORMAT_VERSION = "b1"
MAX_BYTES = 64  # Telegram's limit for callback_data
EPOCHS = 36 * 36  # the visit counter is kept to two base-36 digits
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
# Every visit counter as its two digits, and back: drawing a keyboard formats one per button.
_SHORT = tuple(high + low for high in _DIGITS for low in _DIGITS)
_EPOCH_OF = {short: value for value, short in enumerate(_SHORT)}
# homes other than states (no state can be named so: letters, digits, _ and - only)
FALLBACK_HOME = "~fallback"
HANDLERS_HOME = "~on"  # buttons in the messages of the top-level `on` handlers
NOTIFY_HOME = "~notify"  # buttons in notices to admins: validation refuses them; never pressed
TAG_LENGTH = 4  # base-36 digits: one user in 1.7 million shares another's tag
_TAGS = 36**TAG_LENGTH


@quick_init
@dataclass(frozen=True)
class ButtonRef:
    state: str
    index: int  # the button's place among the state's inline buttons, in file order
    epoch: int = 0  # the session's visit counter when the button was drawn
    tag: str = ""  # user_tag() of whom it was sent to, in a group; "" in a private chat

    @property
    def short_epoch(self) -> str:
        return _SHORT[self.epoch % EPOCHS]


def encode(ref: ButtonRef) -> str:
    return button_data(ref.state, ref.index, ref.epoch, ref.tag)


def button_data(state: str, index: int, epoch: int, tag: str = "") -> str:
    """What `encode(ButtonRef(state, index, epoch, tag))` gives, for drawing a keyboard
    without building a ButtonRef per button."""
    data = f"{FORMAT_VERSION}:{state}:{index}:{_SHORT[epoch % EPOCHS]}"
    return f"{data}:{tag}" if tag else data


def command_home(name: str) -> str:
    return f"/{name}"


def user_tag(user_id: int) -> str:
    """A short mark of a user, for the buttons sent to them in a group."""
    value = zlib.crc32(str(user_id).encode()) % _TAGS
    digits = []
    for _ in range(TAG_LENGTH):
        value, digit = divmod(value, 36)
        digits.append(_DIGITS[digit])
    return "".join(digits)


def decode(data: str) -> ButtonRef | None:
    """The button a press refers to, or None for data this engine did not write."""
    parts = data.split(":")
    if len(parts) not in (4, 5) or parts[0] != FORMAT_VERSION or not parts[1]:
        return None
    index, epoch = parts[2], _EPOCH_OF.get(parts[3])
    if not (index.isascii() and index.isdigit()) or epoch is None:  # "²" is a digit too
        return None
    tag = parts[4] if len(parts) == 5 else ""
    if len(parts) == 5 and not (len(tag) == TAG_LENGTH and all(c in _DIGITS for c in tag)):
        return None
    return ButtonRef(parts[1], int(index), epoch, tag)


def same_visit(ref: ButtonRef, epoch: int) -> bool:
    return ref.epoch == epoch % EPOCHS


def longest_state_name(max_index: int) -> int:
    """How long a state name may be so that its buttons' data fit Telegram's limit (with the
    tag they carry in groups)."""
    return MAX_BYTES - len(encode(ButtonRef("", max_index, 0, "0" * TAG_LENGTH)).encode())
