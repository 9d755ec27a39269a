"""Raw Telegram updates turned into core events, one update at a time.

Each update is read on its own from its JSON, with every field checked for its type: an
update that cannot be read is set aside with its reason (kept in the inbox as failed) and
the rest go on. This is where pyTelegramBotAPI's own parser is not used: it reads a whole
batch in one go, and one update it does not know (a `purchased_paid_media` it reads as
`from_user`) would stall polling forever at the same offset."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from engine.core.events import (
    ButtonPress,
    Chat,
    CommandMessage,
    ContactShared,
    Event,
    LocationShared,
    MediaMessage,
    OtherMessage,
    TextMessage,
    User,
)
from engine.core.model import Scenario
from engine.core.store_protocol import IncomingUpdate

MAX_TEXT = 65_536  # Telegram sends at most 4096 characters; anything longer is not Telegram
# message kinds a scenario can react to, in the order they are looked for (an animation
# also carries a `document`, so it comes first)
_MEDIA = ("animation", "photo", "video", "audio", "voice", "document", "sticker")
# service messages about the chat itself: not something a user said to the bot
_SERVICE = frozenset(
    {
        "new_chat_members",
        "left_chat_member",
        "new_chat_title",
        "new_chat_photo",
        "delete_chat_photo",
        "group_chat_created",
        "supergroup_chat_created",
        "channel_chat_created",
        "migrate_to_chat_id",
        "migrate_from_chat_id",
        "pinned_message",
        "message_auto_delete_timer_changed",
        "forum_topic_created",
        "forum_topic_edited",
        "forum_topic_closed",
        "forum_topic_reopened",
        "video_chat_started",
        "video_chat_ended",
        "video_chat_scheduled",
        "video_chat_participants_invited",
        "boost_added",
        "chat_background_set",
        "write_access_allowed",
    }
)


class Unreadable(ValueError):
    """The update is not what the Bot API sends; the message says which field."""


def _dict(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise Unreadable(f"{where} is not an object")
    return value


def _int(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise Unreadable(f"{where} is not an integer")
    return value


def _str(value: Any, where: str, default: str = "") -> str:
    if value is None:
        return default
    if not isinstance(value, str):
        raise Unreadable(f"{where} is not a string")
    if len(value) > MAX_TEXT:
        raise Unreadable(f"{where} is {len(value)} characters long")
    return value.replace("\x00", "")  # PostgreSQL text cannot hold NUL


def _float(value: Any, where: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise Unreadable(f"{where} is not a number")
    return float(value)


def _user(value: Any, where: str) -> User:
    data = _dict(value, where)
    return User(
        id=_int(data.get("id"), f"{where}.id"),
        first_name=_str(data.get("first_name"), f"{where}.first_name"),
        last_name=_str(data.get("last_name"), f"{where}.last_name"),
        username=_str(data.get("username"), f"{where}.username"),
        language=_str(data.get("language_code"), f"{where}.language_code"),
    )


def _chat(value: Any, where: str) -> Chat:
    data = _dict(value, where)
    return Chat(
        id=_int(data.get("id"), f"{where}.id"),
        type=_str(data.get("type"), f"{where}.type", "private"),
        title=_str(data.get("title"), f"{where}.title"),
    )


def _sender(message: Mapping[str, Any], chat: Chat, where: str) -> User:
    """`from`, or for a channel post (`sender_chat` without `from`) the chat that posted."""
    if message.get("from") is not None:
        return _user(message["from"], f"{where}.from")
    if message.get("sender_chat") is not None:
        sender = _chat(message["sender_chat"], f"{where}.sender_chat")
        return User(id=sender.id, first_name=sender.title)
    return User(id=chat.id, first_name=chat.title)


def _command(text: str, message: Mapping[str, Any]) -> tuple[str, str] | None:
    """(`name`, args) when the text starts with a bot command (`/start@MyBot payload`)."""
    if not text.startswith("/") or len(text) < 2:
        return None
    entities = message.get("entities")
    if isinstance(entities, list) and entities:
        first = entities[0]
        if not (
            isinstance(first, dict)
            and first.get("type") == "bot_command"
            and first.get("offset") == 0
        ):
            return None
    head, _, args = text[1:].partition(" ")
    name = head.split("@", 1)[0].lower()
    if not name:
        return None
    return name, args.strip()


def _message_event(message: Mapping[str, Any], where: str, seed: int, edited: bool) -> Event | None:
    chat = _chat(message.get("chat"), f"{where}.chat")
    user = _sender(message, chat, where)
    base: dict[str, Any] = {"user": user, "chat": chat, "seed": seed}
    if edited:
        return OtherMessage(kind="edit", **base)
    if "text" in message:
        text = _str(message["text"], f"{where}.text")
        command = _command(text, message)
        if command is not None:
            return CommandMessage(command=command[0], args=command[1], **base)
        return TextMessage(text=text, **base)
    if "contact" in message:
        contact = _dict(message["contact"], f"{where}.contact")
        contact_user = contact.get("user_id")
        return ContactShared(
            phone_number=_str(contact.get("phone_number"), f"{where}.contact.phone_number"),
            first_name=_str(contact.get("first_name"), f"{where}.contact.first_name"),
            last_name=_str(contact.get("last_name"), f"{where}.contact.last_name"),
            contact_user_id=None
            if contact_user is None
            else _int(contact_user, f"{where}.contact.user_id"),
            **base,
        )
    if "location" in message and "venue" not in message:
        location = _dict(message["location"], f"{where}.location")
        return LocationShared(
            latitude=_float(location.get("latitude"), f"{where}.location.latitude"),
            longitude=_float(location.get("longitude"), f"{where}.location.longitude"),
            **base,
        )
    for kind in _MEDIA:
        if kind in message:
            media = message[kind]
            if kind == "photo":  # sizes, smallest first: the largest is kept
                if not isinstance(media, list) or not media:
                    raise Unreadable(f"{where}.photo is not a list of sizes")
                media = media[-1]
            media = _dict(media, f"{where}.{kind}")
            return MediaMessage(
                kind=kind,
                file_id=_str(media.get("file_id"), f"{where}.{kind}.file_id"),
                caption=_str(message.get("caption"), f"{where}.caption"),
                **base,
            )
    present = set(message) & _SERVICE
    if present or (message.get("from") or {}).get("is_bot") is True:
        return None  # a change to the chat, or another bot speaking: nothing to answer
    kind = next(
        (
            k
            for k in ("venue", "poll", "dice", "game", "web_app_data", "video_note")
            if k in message
        ),
        "other",
    )
    return OtherMessage(kind=kind, **base)


def _button_event(query: Mapping[str, Any], seed: int) -> tuple[Event | None, int | None]:
    user = _user(query.get("from"), "callback_query.from")
    query_id = _str(query.get("id"), "callback_query.id")
    message = query.get("message")
    data = query.get("data")
    if message is None or data is None:  # from inline mode or a game: not ours
        return None, None
    message = _dict(message, "callback_query.message")
    chat = _chat(message.get("chat"), "callback_query.message.chat")
    message_id = message.get("message_id")
    event = ButtonPress(
        user=user,
        chat=chat,
        seed=seed,
        data=_str(data, "callback_query.data"),
        callback_id=query_id,
        message_id=_int(message_id, "callback_query.message.message_id"),
    )
    return event, chat.id


def read_update(data: Mapping[str, Any]) -> tuple[Event | None, int | None, str | None]:
    """(event, chat id, why it is ignored) of one update already known to be an object with
    an integer update_id. Raises Unreadable for fields of the wrong shape."""
    seed = data["update_id"]
    for key, edited in (
        ("message", False),
        ("business_message", False),
        ("edited_message", True),
        ("channel_post", False),
    ):
        if key in data:
            message = _dict(data[key], key)
            event = _message_event(message, key, seed, edited)
            chat = event.chat.id if event is not None else _chat(message.get("chat"), key).id
            return event, chat, None if event is not None else "ignored: a service message"
    if "callback_query" in data:
        press, press_chat = _button_event(_dict(data["callback_query"], "callback_query"), seed)
        return press, press_chat, None if press is not None else "ignored: not a button of ours"
    kinds = sorted(k for k in data if k != "update_id")
    return None, None, f"ignored: {', '.join(kinds) or 'an empty update'} is not handled"


def parse_update(raw: Any, update_id: int | None = None) -> IncomingUpdate:
    """One update as the pipeline records it; never raises. `event` is None when the update
    is set aside: `error` then says why ("malformed: ..." or "ignored: ...")."""
    if isinstance(raw, bytes | str):
        body = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        try:
            data: Any = json.loads(body)
        except (ValueError, RecursionError) as exc:
            return IncomingUpdate(update_id or 0, body, error=f"malformed: not JSON ({exc})")
    else:  # decoded already (getUpdates): encoded again only if the inbox keeps it
        data, body = raw, ""
    kept = None if body else data  # IncomingUpdate.body() encodes it when it is kept
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        return IncomingUpdate(update_id or 0, body, error="malformed: no update_id", data=kept)
    number = data["update_id"] if update_id is None else update_id
    try:
        event, chat, ignored = read_update(data)
    except Unreadable as exc:
        return IncomingUpdate(number, body, error=f"malformed: {exc}", data=kept)
    except RecursionError:
        return IncomingUpdate(number, body, error="malformed: nested too deeply", data=kept)
    return IncomingUpdate(number, body, chat, event, ignored, data=kept)


def allowed_updates(scenario: Scenario) -> list[str]:
    """The update kinds to ask Telegram for: only what the scenario can react to."""
    kinds = ["message", "edited_message"]
    if any(state.all_buttons or state.buttons for state in scenario.states.values()):
        kinds.append("callback_query")
    return kinds
