"""The data an inline button carries: compact, versioned, and stable across scenario reloads.

`b1:<home>:<index>:<epoch>[:<tag>]` names where the button was written (a state, `/command`
or `~fallback`: a name, not a position in a list, so an old message still finds its home
after a reload), the button's place there, which visit of the state drew it (a button of an
earlier visit has expired), and in groups whom it was sent to (a short tag of the user's id:
someone else's press is refused).

A button made from a list (`list:`) writes its index as `<index>.<entry>.<check>`: the
entry's place in the list and a short hash of its value, so that a press of an entry that
changed since it was drawn is told apart; its page buttons write `<index>~<page>`. Values
never travel in the data (64 bytes would not hold them)."""

from __future__ import annotations

import json
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
CHECK_LENGTH = 4  # base-36 digits of an entry's value check
ENTRY_DIGITS = 4  # a list offers at most 10,000 entries (engine.core.output)
# what a list button's index part adds at most: ".<entry>.<check>"
LIST_ROOM = 2 + ENTRY_DIGITS + CHECK_LENGTH


@quick_init
@dataclass(frozen=True)
class ButtonRef:
    state: str
    index: int  # the button's place among the state's inline buttons, in file order
    epoch: int = 0  # the session's visit counter when the button was drawn
    tag: str = ""  # user_tag() of whom it was sent to, in a group; "" in a private chat
    entry: int = -1  # a list button: the entry pressed (its place in the list), or
    check: str = ""  # … with entry_check() of its value when drawn
    page: int = -1  # a list button: the page to show

    @property
    def short_epoch(self) -> str:
        return _SHORT[self.epoch % EPOCHS]


def encode(ref: ButtonRef) -> str:
    if ref.entry >= 0:
        return entry_data(ref.state, ref.index, ref.epoch, ref.tag, ref.entry, ref.check)
    if ref.page >= 0:
        return page_data(ref.state, ref.index, ref.epoch, ref.tag, ref.page)
    return button_data(ref.state, ref.index, ref.epoch, ref.tag)


def button_data(state: str, index: int | str, epoch: int, tag: str = "") -> str:
    """What `encode(ButtonRef(state, index, epoch, tag))` gives, for drawing a keyboard
    without building a ButtonRef per button."""
    data = f"{FORMAT_VERSION}:{state}:{index}:{_SHORT[epoch % EPOCHS]}"
    return f"{data}:{tag}" if tag else data


def entry_data(state: str, index: int, epoch: int, tag: str, entry: int, check: str) -> str:
    """The data of one entry of a list button."""
    return button_data(state, f"{index}.{entry}.{check}", epoch, tag)


def page_data(state: str, index: int, epoch: int, tag: str, page: int) -> str:
    """The data of a list button's page button."""
    return button_data(state, f"{index}~{page}", epoch, tag)


def entry_check(value: object) -> str:
    """A short hash of an entry's value: a press whose entry no longer has it is stale."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    number = zlib.crc32(text.encode()) % 36**CHECK_LENGTH
    digits = []
    for _ in range(CHECK_LENGTH):
        number, digit = divmod(number, 36)
        digits.append(_DIGITS[digit])
    return "".join(digits)


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
    if epoch is None:
        return None
    tag = parts[4] if len(parts) == 5 else ""
    if len(parts) == 5 and not (len(tag) == TAG_LENGTH and all(c in _DIGITS for c in tag)):
        return None
    if index.isascii() and index.isdigit():  # the usual button ("²" is a digit too)
        return ButtonRef(parts[1], int(index), epoch, tag)
    entry = index.split(".")
    if len(entry) == 3 and _number(entry[0]) and _number(entry[1]):
        check = entry[2]
        if len(check) == CHECK_LENGTH and all(c in _DIGITS for c in check):
            return ButtonRef(parts[1], int(entry[0]), epoch, tag, int(entry[1]), check)
        return None
    turn = index.split("~")
    if len(turn) == 2 and _number(turn[0]) and _number(turn[1]):
        return ButtonRef(parts[1], int(turn[0]), epoch, tag, page=int(turn[1]))
    return None


def _number(text: str) -> bool:
    return text.isascii() and text.isdigit()  # "²" is a digit too


def same_visit(ref: ButtonRef, epoch: int) -> bool:
    return ref.epoch == epoch % EPOCHS


def longest_state_name(max_index: int, listed: bool = False) -> int:
    """How long a state name may be so that its buttons' data fit Telegram's limit (with the
    tag they carry in groups, and an entry's place and check when it has a list button)."""
    room = LIST_ROOM if listed else 0
    return MAX_BYTES - room - len(encode(ButtonRef("", max_index, 0, "0" * TAG_LENGTH)).encode())
