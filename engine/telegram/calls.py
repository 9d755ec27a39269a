"""Core effects turned into Bot API calls (method and parameters), nothing sent here.

Media is given by URL, by Telegram file_id, or as a file in the media folder (the rules are
in media_files); a local file is uploaded once and its file_id reused afterwards (`FileIds`
remembers them)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import Any

from engine.core.effects import (
    AnswerButton,
    EditMarkup,
    EditText,
    Effect,
    Markup,
    NotifyChat,
    ReplyKey,
    SendFile,
    SendLocation,
    SendMedia,
    SendText,
)
from engine.core.quick_init import quick_init
from engine.telegram.media_files import is_remote, local_media, read_media

MEDIA_METHODS = {
    "photo": "sendPhoto",
    "document": "sendDocument",
    "video": "sendVideo",
    "audio": "sendAudio",
    "voice": "sendVoice",
    "animation": "sendAnimation",
    "sticker": "sendSticker",
}
FileIds = MutableMapping[str, str]  # local file (path, size, mtime) -> Telegram's file_id


@quick_init
@dataclass(frozen=True)
class ApiCall:
    method: str
    params: dict[str, Any]
    files: dict[str, Any] | None = None
    upload_key: str | None = None  # set when a local file is uploaded: remember its file_id
    upload_kind: str | None = None


@dataclass
class Uploads:
    """Local media files and the file_ids Telegram gave them."""

    base_dir: str = "."  # the scenario's folder: local paths are written relative to it
    known: FileIds = field(default_factory=dict)
    media_dir: str | None = None  # the folder local media must be in (None: base_dir)

    def resolve(self, media: str, kind: str) -> str | None:
        """The local file to upload, or None for a URL or file_id (sent as it is); a
        MediaFileError when the value names a file the bot may not upload."""
        if is_remote(media):
            return None
        return local_media(media, kind, self.base_dir, self.media_dir)

    @staticmethod
    def key(path: str) -> str:
        stat = os.stat(path)
        return f"{path}:{stat.st_size}:{int(stat.st_mtime)}"


# built once: json.dumps with an option builds a new encoder on every call
_encode = json.JSONEncoder(ensure_ascii=False).encode


def _json(value: str | None) -> str:
    """A value as `_encode` writes it; a string (nearly always) without the encoder's setup."""
    return encode_basestring(value) if type(value) is str else _encode(value)


def reply_markup(markup: Markup) -> str | None:
    """The keyboard as JSON, written out here: the same text `_encode` gives for it (with
    its ", " and ": "), but an encoder call costs more than the rest of an effect's call."""
    if markup.inline:
        rows = []
        for row in markup.inline:
            buttons = []
            for b in row:
                if b.url:
                    buttons.append(f'{{"text": {_json(b.text)}, "url": {_json(b.url)}}}')
                else:
                    buttons.append(f'{{"text": {_json(b.text)}, "callback_data": {_json(b.data)}}}')
            rows.append(f"[{', '.join(buttons)}]")
        return f'{{"inline_keyboard": [{", ".join(rows)}]}}'
    if markup.keyboard:
        rows = [f"[{', '.join([_key(k) for k in row])}]" for row in markup.keyboard]
        options = ', "resize_keyboard": true' if markup.resize else ""
        if markup.one_time:
            options += ', "one_time_keyboard": true'
        if markup.placeholder:
            options += f', "input_field_placeholder": {_json(markup.placeholder)}'
        return f'{{"keyboard": [{", ".join(rows)}]{options}}}'
    if markup.remove_keyboard:
        return '{"remove_keyboard": true}'
    return None


def _key(key: ReplyKey) -> str:
    contact = ', "request_contact": true' if key.request_contact else ""
    location = ', "request_location": true' if key.request_location else ""
    return f'{{"text": {_json(key.text)}{contact}{location}}}'


def reply_parameters(reply_to: int | None) -> str | None:
    """The user's message a reply quotes; sent even if they deleted it meanwhile."""
    if reply_to is None:
        return None
    return f'{{"message_id": {int(reply_to)}, "allow_sending_without_reply": true}}'


def _text(
    chat: int | str, text: str, parse_mode: str | None, markup: Markup, reply_to: int | None = None
) -> ApiCall:
    params = {
        "chat_id": chat,
        "text": text,
        "parse_mode": parse_mode,
        "reply_markup": reply_markup(markup),
    }
    if reply_to is not None:
        params["reply_parameters"] = reply_parameters(reply_to)
    return ApiCall("sendMessage", params)


def _media(
    chat: int | str,
    kind: str,
    media: str,
    caption: str,
    parse_mode: str | None,
    markup: Markup,
    uploads: Uploads,
    reply_to: int | None = None,
) -> ApiCall:
    params: dict[str, Any] = {"chat_id": chat, "reply_markup": reply_markup(markup)}
    if reply_to is not None:
        params["reply_parameters"] = reply_parameters(reply_to)
    if kind != "sticker" and caption:
        params.update(caption=caption, parse_mode=parse_mode)
    path = uploads.resolve(media, kind)
    method = MEDIA_METHODS[kind]
    if path is None:
        return ApiCall(method, {**params, kind: media})
    key = uploads.key(path)
    if key in uploads.known:
        return ApiCall(method, {**params, kind: uploads.known[key]})
    content = read_media(path, kind)
    return ApiCall(method, params, {kind: (os.path.basename(path), content)}, key, kind)


def api_calls(
    effect: Effect, admins: Sequence[int] = (), uploads: Uploads | None = None
) -> list[ApiCall]:
    """The Bot API calls that carry out one effect (several for a notice to all admins).
    The effects a conversation sends most are looked for first (each is of one kind only)."""
    files = uploads or Uploads()
    if isinstance(effect, SendText):
        return [
            _text(effect.chat_id, effect.text, effect.parse_mode, effect.markup, effect.reply_to)
        ]
    if isinstance(effect, AnswerButton):
        params: dict[str, Any] = {
            "callback_query_id": effect.callback_id,
            "text": effect.text or None,
            "show_alert": True if effect.alert else None,
        }
        return [ApiCall("answerCallbackQuery", params)]
    if isinstance(effect, EditText):
        params = {
            "chat_id": effect.chat_id,
            "message_id": effect.message_id,
            "text": effect.text,
            "parse_mode": effect.parse_mode,
            "reply_markup": reply_markup(effect.markup) if effect.markup.inline else None,
        }
        return [ApiCall("editMessageText", params)]
    if isinstance(effect, SendMedia):
        return [
            _media(
                effect.chat_id,
                effect.kind,
                effect.media,
                effect.caption,
                effect.parse_mode,
                effect.markup,
                files,
                effect.reply_to,
            )
        ]
    if isinstance(effect, SendLocation):
        params = {
            "chat_id": effect.chat_id,
            "latitude": effect.latitude,
            "longitude": effect.longitude,
            "reply_markup": reply_markup(effect.markup),
        }
        if effect.reply_to is not None:
            params["reply_parameters"] = reply_parameters(effect.reply_to)
        return [ApiCall("sendLocation", params)]
    if isinstance(effect, EditMarkup):
        params = {
            "chat_id": effect.chat_id,
            "message_id": effect.message_id,
            "reply_markup": reply_markup(effect.markup) if effect.markup.inline else None,
        }
        return [ApiCall("editMessageReplyMarkup", params)]
    if isinstance(effect, NotifyChat):
        targets: Sequence[int | str] = admins if effect.to == "admins" else (effect.to,)
        if effect.media_kind and effect.media:
            return [
                _media(
                    t,
                    effect.media_kind,
                    effect.media,
                    effect.text,
                    effect.parse_mode,
                    Markup(),
                    files,
                )
                for t in targets
            ]
        return [_text(t, effect.text, effect.parse_mode, Markup()) for t in targets]
    if isinstance(effect, SendFile):
        params = {"chat_id": effect.chat_id, "caption": effect.caption or None}
        upload = {"document": (effect.filename, effect.content.encode("utf-8"))}
        return [ApiCall("sendDocument", params, upload)]
    raise TypeError(f"no Bot API call carries out {type(effect).__name__}")


def uploaded_file_id(result: Mapping[str, Any] | Any, kind: str) -> str | None:
    """The file_id Telegram gave an uploaded file, from the sent message."""
    if not isinstance(result, dict):
        return None
    media = result.get(kind)
    if kind == "photo" and isinstance(media, list) and media:
        media = media[-1]
    if isinstance(media, dict) and isinstance(media.get("file_id"), str):
        return str(media["file_id"])
    return None
