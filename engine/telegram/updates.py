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
MAX_UPDATE_ID = 2**63 - 1  # what the inbox's BIGINT holds; negative ids are the bot's timers
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


def valid_update_id(value: Any) -> bool:
    """Telegram's update ids count up from 0; a boolean, a negative id (the inbox keeps
    timers under those) or one past a BIGINT is not from Telegram and is set aside."""
    return type(value) is int and 0 <= value <= MAX_UPDATE_ID


class NotOurs(Exception):
    """A message meant for another bot (`/start@OtherBot` in a group): nothing to answer."""


class Unreadable(ValueError):
    """The update is not what the Bot API sends; the message says which field."""

    def inside(self, where: str) -> Unreadable:
        """The same error, the field named from the object that holds it (`message.`)."""
        return Unreadable(f"{where}.{self}")


# The readers name a field relative to the object being read (`chat.id`); read_update adds
# the update's key when a field is wrong. The names are put together only for an error:
# building them for every field of every update cost more than checking the fields.
def _name(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _dict(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise Unreadable(f"{where} is not an object")
    return value


def _int(data: Mapping[str, Any], key: str, where: str = "") -> int:
    value = data.get(key)
    if type(value) is int:  # what JSON gives: one test
        return value
    if not isinstance(value, int) or isinstance(value, bool):
        raise Unreadable(f"{_name(where, key)} is not an integer")
    return value


def _str(data: Mapping[str, Any], key: str, where: str = "", default: str = "") -> str:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise Unreadable(f"{_name(where, key)} is not a string")
    if len(value) > MAX_TEXT:
        raise Unreadable(f"{_name(where, key)} is {len(value)} characters long")
    return value.replace("\x00", "")  # PostgreSQL text cannot hold NUL


def _float(data: Mapping[str, Any], key: str, where: str) -> float:
    value = data.get(key)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise Unreadable(f"{_name(where, key)} is not a number")
    return float(value)


def _strs(data: Mapping[str, Any], keys: tuple[str, ...], where: str) -> list[str]:
    """Several `_str`s in one call (a user's names: four per update). A usual value (a
    short string without NUL, or none) is taken here; any other goes through `_str`."""
    values = []
    for key in keys:
        value = data.get(key)
        if value is None:
            value = ""
        elif type(value) is not str or len(value) > MAX_TEXT or "\x00" in value:
            value = _str(data, key, where)
        values.append(value)
    return values


_USER_NAMES = ("first_name", "last_name", "username", "language_code")
_CHAT_NAMES = ("type", "title")


def _user(value: Any, where: str) -> User:
    if not isinstance(value, dict):
        raise Unreadable(f"{where} is not an object")
    data: Mapping[str, Any] = value
    return User(_int(data, "id", where), *_strs(data, _USER_NAMES, where))


def _chat(value: Any, where: str) -> Chat:
    if not isinstance(value, dict):
        raise Unreadable(f"{where} is not an object")
    data: Mapping[str, Any] = value
    kind, title = _strs(data, _CHAT_NAMES, where)
    return Chat(_int(data, "id", where), kind or _str(data, "type", where, "private"), title)


def _sender(message: Mapping[str, Any], chat: Chat) -> User:
    """For a message without `from` (a channel post: `sender_chat`), the chat that posted."""
    sender = message.get("sender_chat")
    if sender is not None:
        sender_chat = _chat(sender, "sender_chat")
        return User(sender_chat.id, sender_chat.title)
    return User(chat.id, chat.title)


def _command(text: str, message: Mapping[str, Any], username: str) -> tuple[str, str] | None:
    """(`name`, args) when the text starts with a bot command (`/start@MyBot payload`).
    Raises NotOurs for a command addressed to a bot other than `username` (when known)."""
    if len(text) < 2 or text[0] != "/":
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
    name, _, addressed = head.partition("@")
    if not name:
        return None
    if addressed and username and addressed.lower() != username.lower():
        raise NotOurs(f"ignored: a command for @{addressed[:64]}")
    return name.lower(), args.strip()


def _message_event(
    message: Mapping[str, Any], seed: int, edited: bool, username: str = ""
) -> Event | None:
    """The event of a message; Unreadable names fields from the message (`chat.id`)."""
    chat = _chat(message.get("chat"), "chat")
    sender = message.get("from")
    user = _user(sender, "from") if sender is not None else _sender(message, chat)
    if edited:
        return OtherMessage(user=user, chat=chat, seed=seed, kind="edit")
    written = message.get("message_id")
    message_id = written if type(written) is int else None  # a reply (`reply: true`) quotes it
    if "text" in message:
        text = _str(message, "text")
        command = _command(text, message, username)
        if command is not None:
            return CommandMessage(
                user=user,
                chat=chat,
                seed=seed,
                message_id=message_id,
                command=command[0],
                args=command[1],
            )
        return TextMessage(user=user, chat=chat, seed=seed, message_id=message_id, text=text)
    if "contact" in message:
        contact = _dict(message["contact"], "contact")
        contact_user = contact.get("user_id")
        return ContactShared(
            user=user,
            chat=chat,
            seed=seed,
            message_id=message_id,
            phone_number=_str(contact, "phone_number", "contact"),
            first_name=_str(contact, "first_name", "contact"),
            last_name=_str(contact, "last_name", "contact"),
            contact_user_id=None if contact_user is None else _int(contact, "user_id", "contact"),
        )
    if "location" in message and "venue" not in message:
        location = _dict(message["location"], "location")
        return LocationShared(
            user=user,
            chat=chat,
            seed=seed,
            message_id=message_id,
            latitude=_float(location, "latitude", "location"),
            longitude=_float(location, "longitude", "location"),
        )
    for kind in _MEDIA:
        if kind in message:
            media = message[kind]
            if kind == "photo":  # sizes, smallest first: the largest is kept
                if not isinstance(media, list) or not media:
                    raise Unreadable("photo is not a list of sizes")
                media = media[-1]
            media = _dict(media, kind)
            return MediaMessage(
                user=user,
                chat=chat,
                seed=seed,
                message_id=message_id,
                kind=kind,
                file_id=_str(media, "file_id", kind),
                caption=_str(message, "caption"),
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
    return OtherMessage(user=user, chat=chat, seed=seed, message_id=message_id, kind=kind)


def _button_event(query: Mapping[str, Any], seed: int) -> tuple[Event | None, int | None]:
    """The press of one of our buttons; Unreadable names fields from the query (`from.id`)."""
    user = _user(query.get("from"), "from")
    query_id = _str(query, "id")
    message = query.get("message")
    data = query.get("data")
    if message is None or data is None:  # from inline mode or a game: not ours
        return None, None
    message = _dict(message, "message")
    chat = _chat(message.get("chat"), "message.chat")
    event = ButtonPress(
        user=user,
        chat=chat,
        seed=seed,
        data=_str(query, "data"),
        callback_id=query_id,
        message_id=_int(message, "message_id", "message"),
    )
    return event, chat.id


_MESSAGES = (
    ("message", False),
    ("business_message", False),
    ("edited_message", True),
    ("channel_post", False),
)


def read_update(
    data: Mapping[str, Any], username: str = ""
) -> tuple[Event | None, int | None, str | None]:
    """(event, chat id, why it is ignored) of one update already known to be an object with
    an integer update_id. Raises Unreadable for fields of the wrong shape. `username` is
    the bot's own (from getMe): commands addressed to another bot are ignored."""
    seed = data["update_id"]
    for key, edited in _MESSAGES:
        if key in data:
            message = data[key]
            if not isinstance(message, dict):
                raise Unreadable(f"{key} is not an object")
            try:
                event = _message_event(message, seed, edited, username)
            except Unreadable as exc:
                raise exc.inside(key) from None
            except NotOurs as exc:
                return None, _chat(message.get("chat"), key).id, str(exc)
            if event is None:  # its chat was read without fault already
                return None, _chat(message.get("chat"), key).id, "ignored: a service message"
            return event, event.chat.id, None
    if "callback_query" in data:
        query = _dict(data["callback_query"], "callback_query")
        try:
            press, press_chat = _button_event(query, seed)
        except Unreadable as exc:
            raise exc.inside("callback_query") from None
        return press, press_chat, None if press is not None else "ignored: not a button of ours"
    kinds = sorted(k for k in data if k != "update_id")
    return None, None, f"ignored: {', '.join(kinds) or 'an empty update'} is not handled"


def parse_update(raw: Any, update_id: int | None = None, username: str = "") -> IncomingUpdate:
    """One update as the pipeline records it; never raises. `event` is None when the update
    is set aside: `error` then says why ("malformed: ..." or "ignored: ..."). `username`:
    the bot's own, once getMe told it (commands for other bots are then ignored)."""
    if isinstance(raw, (bytes, str)):  # a tuple: quicker to test than the union
        body = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        try:
            data: Any = json.loads(body)
        except (ValueError, RecursionError) as exc:
            return IncomingUpdate(update_id or 0, body, error=f"malformed: not JSON ({exc})")
    else:  # decoded already (getUpdates): encoded again only if the inbox keeps it
        data, body = raw, ""
    kept = None if body else data  # IncomingUpdate.body() encodes it when it is kept
    if not isinstance(data, dict) or not valid_update_id(data.get("update_id")):
        return IncomingUpdate(update_id or 0, body, error="malformed: no update_id", data=kept)
    number = data["update_id"] if update_id is None else update_id
    try:
        event, chat, ignored = read_update(data, username)
    except Unreadable as exc:
        return IncomingUpdate(number, body, error=f"malformed: {exc}", data=kept)
    except RecursionError:
        return IncomingUpdate(number, body, error="malformed: nested too deeply", data=kept)
    return IncomingUpdate(number, body, chat, event, ignored, kept)  # positional: quicker


def allowed_updates(scenario: Scenario) -> list[str]:
    """The update kinds to ask Telegram for: only what the scenario can react to."""
    kinds = ["message", "edited_message"]
    if (
        any(state.all_buttons for state in scenario.states.values())
        or any(command.all_buttons for command in scenario.commands.values())
        or scenario.fallback.all_buttons
        or "forgetme" in scenario.privacy  # its question is asked with buttons
    ):
        kinds.append("callback_query")
    return kinds
