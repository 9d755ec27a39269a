"""What happens to a conversation, as plain values: the core never sees a Telegram type."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.core.quick_init import quick_init


@quick_init
@dataclass(frozen=True)
class User:
    id: int
    first_name: str = ""
    last_name: str = ""
    username: str = ""
    language: str = ""  # Telegram's language_code, e.g. "pt-br"


@quick_init
@dataclass(frozen=True)
class Chat:
    id: int
    type: str = "private"
    title: str = ""


@quick_init
@dataclass(frozen=True, kw_only=True)
class Event:
    user: User
    chat: Chat
    seed: int = 0  # picks `random:` variants deterministically (adapters pass the update id)
    # the user's message (a reply quotes it); a press: the bot's message whose button it was
    message_id: int | None = None


@quick_init
@dataclass(frozen=True, kw_only=True)
class TextMessage(Event):
    text: str


@quick_init
@dataclass(frozen=True, kw_only=True)
class CommandMessage(Event):
    """`/name args`; for /start the args are the deep-link payload."""

    command: str
    args: str = ""


@quick_init
@dataclass(frozen=True, kw_only=True)
class ButtonPress(Event):
    data: str
    callback_id: str


@quick_init
@dataclass(frozen=True, kw_only=True)
class ContactShared(Event):
    phone_number: str
    first_name: str = ""
    last_name: str = ""
    contact_user_id: int | None = None


@quick_init
@dataclass(frozen=True, kw_only=True)
class LocationShared(Event):
    latitude: float
    longitude: float


MEDIA_KINDS = ("photo", "document", "voice", "sticker", "video", "audio", "animation")


@quick_init
@dataclass(frozen=True, kw_only=True)
class MediaMessage(Event):
    kind: str  # one of MEDIA_KINDS
    file_id: str
    caption: str = ""


@quick_init
@dataclass(frozen=True, kw_only=True)
class TimerFired(Event):
    state: str
    index: int
    epoch: int


@quick_init
@dataclass(frozen=True, kw_only=True)
class OtherMessage(Event):
    """A message of a kind scenarios cannot react to (a poll, a dice, an edit): it gets the fallback."""

    kind: str = "other"
    details: dict[str, str] = field(default_factory=dict)


def message_type(event: Event) -> str:
    """The `type` an `on` handler matches and `message.type` shows."""
    if isinstance(event, TextMessage | CommandMessage):
        return "text"
    if isinstance(event, ContactShared):
        return "contact"
    if isinstance(event, LocationShared):
        return "location"
    if isinstance(event, MediaMessage):
        return event.kind
    if isinstance(event, ButtonPress):
        return "button"
    if isinstance(event, TimerFired):
        return "timer"
    return "other"


def event_id(event: Event) -> str:
    """The same text every time this event is handled again (the update's id; a timer's
    own): an idempotency key for the web services an HTTP action calls, which may be called
    more than once for one message (docs/scenario-language.md, `http`)."""
    return f"timer-{event.seed}" if isinstance(event, TimerFired) else str(event.seed)


_ABSENT: dict[str, Any] = dict.fromkeys(
    ("command", "args", "payload", "file_id", "caption", "contact", "location")
)


def message_view(event: Event) -> dict[str, Any]:
    """`message` in templates: the current input as data (never as a template)."""
    view: dict[str, Any] = {
        "type": message_type(event),
        "text": "",
        "id": event_id(event),
        # every field is there, null where it does not apply: `message.command != "start"`
        # on a text, or `{{ message.args }}` in a handler for any message, must not fail
        **_ABSENT,
    }
    if isinstance(event, TextMessage):
        view["text"] = event.text
    elif isinstance(event, CommandMessage):
        view["text"] = f"/{event.command} {event.args}".strip()
        view["command"] = event.command
        view["args"] = view["payload"] = event.args
    elif isinstance(event, MediaMessage):
        view.update(file_id=event.file_id, caption=event.caption, text=event.caption)
    elif isinstance(event, ContactShared):
        view["contact"] = {
            "phone_number": event.phone_number,
            "first_name": event.first_name,
            "last_name": event.last_name,
            "user_id": event.contact_user_id,
        }
    elif isinstance(event, LocationShared):
        view["location"] = {"latitude": event.latitude, "longitude": event.longitude}
    return view
