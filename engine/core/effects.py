"""What the core asks the world to do, as plain values; adapters turn them into Bot API calls."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from engine.core.quick_init import quick_init


@quick_init
@dataclass(frozen=True)
class InlineButton:
    text: str
    data: str | None = None  # callback data (1-64 bytes), or
    url: str | None = None  # a link to open


@quick_init
@dataclass(frozen=True)
class ReplyKey:
    text: str
    request_contact: bool = False
    request_location: bool = False


@quick_init
@dataclass(frozen=True)
class Markup:
    """A message's keyboard: inline buttons, a reply keyboard, or the removal of one."""

    inline: tuple[tuple[InlineButton, ...], ...] = ()
    keyboard: tuple[tuple[ReplyKey, ...], ...] = ()
    remove_keyboard: bool = False
    # a reply keyboard's options (`keyboard_options`): hidden after one press, the hint in
    # the empty typing field (at most 64 characters), fitted to its keys (Telegram: big keys)
    one_time: bool = False
    placeholder: str = ""
    resize: bool = True

    def __bool__(self) -> bool:
        return bool(
            self.inline
            or self.keyboard
            or self.remove_keyboard
            or self.one_time
            or self.placeholder
            or not self.resize
        )


NO_MARKUP = Markup()


@quick_init
@dataclass(frozen=True)
class Effect:
    pass


@quick_init
@dataclass(frozen=True)
class SendText(Effect):
    chat_id: int
    text: str  # 1-4096 characters
    parse_mode: str | None = "HTML"
    markup: Markup = NO_MARKUP
    reply_to: int | None = None  # the user's message it quotes (`reply: true`)


@quick_init
@dataclass(frozen=True)
class SendMedia(Effect):
    chat_id: int
    kind: str  # photo, document, video, audio, voice, animation, sticker
    media: str  # URL, file_id or a path relative to the scenario
    caption: str = ""  # 0-1024 characters
    parse_mode: str | None = "HTML"
    markup: Markup = NO_MARKUP
    reply_to: int | None = None


@quick_init
@dataclass(frozen=True)
class SendLocation(Effect):
    chat_id: int
    latitude: float
    longitude: float
    markup: Markup = NO_MARKUP
    reply_to: int | None = None


@quick_init
@dataclass(frozen=True)
class EditText(Effect):
    """Replace the text and buttons of a message in place (menus reached by a button)."""

    chat_id: int
    message_id: int
    text: str
    parse_mode: str | None = "HTML"
    markup: Markup = NO_MARKUP


@quick_init
@dataclass(frozen=True)
class EditMarkup(Effect):
    """Replace only the inline buttons of a message, its text untouched (a list's page)."""

    chat_id: int
    message_id: int
    markup: Markup = NO_MARKUP


@quick_init
@dataclass(frozen=True)
class AnswerButton(Effect):
    """Every button press is answered, so the user's client stops its spinner."""

    callback_id: str
    text: str = ""
    alert: bool = False


@quick_init
@dataclass(frozen=True)
class StartTimer(Effect):
    chat_id: int
    user_id: int
    state: str
    index: int
    epoch: int
    due: dt.datetime


@quick_init
@dataclass(frozen=True)
class CancelTimers(Effect):
    """Timers of a state the user left; they would be ignored anyway (the epoch moved on)."""

    chat_id: int
    user_id: int
    state: str


@quick_init
@dataclass(frozen=True)
class NotifyChat(Effect):
    to: str | int  # "admins" or a chat id
    text: str  # the text, or the caption of `media`
    parse_mode: str | None = "HTML"
    media_kind: str | None = None
    media: str = ""


@quick_init
@dataclass(frozen=True)
class HttpRequest(Effect):
    """A call whose answer nothing waits for (no `save_as`, no `on_error`): sent by the outbox."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    json: Any = None
    form: tuple[tuple[str, str], ...] = ()
    timeout: float = 10.0


@quick_init
@dataclass(frozen=True)
class ReportProblem(Effect):
    """Something in the scenario failed at run time; operators see it in the log."""

    state: str | None
    message: str
    details: dict[str, str] = field(default_factory=dict)
    # what failed, for the log, the counters and the alerts (engine/ops/problems.py KINDS)
    kind: str = "step"


@quick_init
@dataclass(frozen=True)
class SendFile(Effect):
    """A document made by the engine (e.g. a user's data export), sent as a file."""

    chat_id: int
    filename: str
    content: str
    caption: str = ""


@quick_init
@dataclass(frozen=True)
class StartBroadcast(Effect):
    """`do: broadcast` by an admin: the store queues a broadcast job in the step's
    transaction (engine/admin/broadcasts.py); this chat is told how it goes. Either a
    text, or the name of one of the scenario's `messages:` (written for each user)."""

    chat_id: int
    user_id: int
    text: str | None
    where: str | None = None
    message: str | None = None


@quick_init
@dataclass(frozen=True)
class ExportUserData(Effect):
    """/mydata: the store answers with a SendFile of everything it holds about the user."""

    chat_id: int
    user_id: int
    caption: str = ""


@quick_init
@dataclass(frozen=True)
class AdminCommand(Effect):
    """/flag, /grant, /revoke, /roles or /stats from an admin (BOT_ADMINS): the store carries it out
    in the batch's transaction (engine.admin.chat_commands), audits it and answers."""

    chat_id: int
    user_id: int
    command: str
    args: str
    flags: tuple[str, ...] = ()  # the scenario's declared flags: others are refused


@quick_init
@dataclass(frozen=True)
class ForgetUser(Effect):
    """/forgetme, confirmed: the store deletes everything about the user (and audits it)."""

    chat_id: int
    user_id: int
