"""The playground's conversation: the terminal bot's StoredChat (the real pipeline, a SQLite
store, replies read back from the outbox) whose effects are kept as a view the page draws
(bubbles, buttons under their message, the reply keyboard) instead of printed lines, and
whose steps are kept so the conversation can be saved as a test case."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import os
from typing import Any

from engine.console import DEFAULT_LOCATION, DEFAULT_PHONE
from engine.core.effects import (
    AnswerButton,
    EditMarkup,
    EditText,
    Effect,
    Markup,
    NotifyChat,
    ReportProblem,
    SendLocation,
    SendMedia,
    SendText,
)
from engine.core.events import ButtonPress
from engine.runtime.app import Bot
from engine.runtime.local_chat import StoredChat
from engine.store.queues import Timers
from engine.telegram.media_files import MediaFileError, is_remote, local_media
from engine.testing.checks import visible_text
from engine.web.telegram_html import as_html

MASK = "••••••"  # a sensitive variable's value on the page
# the local files the page shows as pictures, by their ending
PREVIEW_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}


class _Notes(io.StringIO):
    """The console's side remarks ("(you share the phone number …)") as notes in the view."""

    def __init__(self, chat: PlayChat) -> None:
        super().__init__()
        self.chat = chat

    def write(self, text: str, /) -> int:
        for line in text.strip().splitlines():
            if line.strip():
                self.chat.add({"from": "note", "html": as_html(line.strip(), None)})
        return len(text)

    def flush(self) -> None:
        """Nothing is buffered: each line is in the view as soon as it is written."""


class PlayChat(StoredChat):
    def __init__(self, bot: Bot, name: str | None = None, language: str | None = None) -> None:
        self.view: list[dict[str, Any]] = []  # bubbles and notes, oldest first
        self.steps: list[dict[str, Any]] = []  # what the user did, with what the bot answered
        self.keyboard: list[list[dict[str, Any]]] = []
        self.placeholder = ""
        self.previews: dict[str, str] = {}  # "1.png" -> the file a message showed
        super().__init__(bot, _Notes(self), name)
        if language:
            self.user = dataclasses.replace(self.user, language=language)
        self.started = self.clock
        self.first_language = self.user.language  # a saved test speaks it from its start

    def add(self, item: dict[str, Any]) -> None:
        self.view.append(item)

    def _step(self, action: dict[str, Any]) -> None:
        self.steps.append({**action, "expect": []})

    def _bubble(self, text: str) -> None:
        self.add({"from": "user", "html": as_html(text, None)})

    # what the user does on the page

    def type_text(self, text: str) -> None:
        """A message typed or a reply key tapped; a sharing key shares as the phone would."""
        text = text.strip()
        if not text:
            return
        key = next((k for k in self.keys if k.text == text), None)
        if key is not None and (key.request_contact or key.request_location):
            self.share_kind("contact" if key.request_contact else "location")
            return
        self._step({"send": text})
        self._bubble(text)
        self.type_line(text)

    def press(self, message_id: int, row: int, column: int) -> None:
        """An inline button of a message on the page (any message, as in Telegram)."""
        message = next((m for m in self.view if m.get("id") == message_id), None)
        try:
            button = message["buttons"][row][column] if message else None
        except IndexError:
            button = None
        if button is None:
            self.add({"from": "note", "html": "(that button is gone)"})
            return
        if button["url"]:
            self.out.write(f"(opens {button['url']})\n")
            return
        with_buttons = [m["id"] for m in self.view if m.get("buttons")]
        back = len(with_buttons) - with_buttons.index(message_id)
        self._step(
            {"press": button["text"] if back == 1 else {"text": button["text"], "message": back}}
        )
        self.send(
            ButtonPress(
                **self.sender(),
                data=button["data"],
                callback_id=str(self.seed),
                message_id=message_id,
            )
        )

    def share_kind(self, kind: str) -> None:
        """The phone's share buttons: a made-up contact, a location in Berlin, a photo."""
        if kind == "contact":
            self._step({"share_contact": {"phone": DEFAULT_PHONE}})
        elif kind == "location":
            latitude, longitude = DEFAULT_LOCATION
            self._step({"share_location": {"latitude": latitude, "longitude": longitude}})
        else:
            self._step({f"send_{kind}": {"file_id": f"{kind}-{self.media_sent + 1}"}})
        self.share(kind, "")

    def wait_for(self, duration: str) -> None:
        self._step({"wait": duration})
        self.wait(duration)

    # what the bot does, as the page shows it

    def show(self, effect: Effect) -> None:
        if isinstance(effect, SendText | SendMedia | SendLocation):
            self.messages += 1
            item: dict[str, Any] = {"from": "bot", "id": self.messages, "edited": False}
            if isinstance(effect, SendText):
                item["html"] = as_html(effect.text, effect.parse_mode)
                self._expect(visible_text(effect.text, effect.parse_mode))
            elif isinstance(effect, SendMedia):
                item["media"] = {"kind": effect.kind, "name": effect.media, **self._file(effect)}
                item["html"] = as_html(effect.caption, effect.parse_mode)
                self._expect(visible_text(effect.caption, effect.parse_mode))
            else:
                item["location"] = [effect.latitude, effect.longitude]
                item["html"] = ""
            self.add(item)
            self._markup(item, effect.markup)
        elif isinstance(effect, EditText | EditMarkup):
            found = next((m for m in self.view if m.get("id") == effect.message_id), None)
            if found is None:
                return
            if isinstance(effect, EditText):
                found["html"] = as_html(effect.text, effect.parse_mode)
                found["edited"] = True
                self._expect(visible_text(effect.text, effect.parse_mode))
            self._markup(found, effect.markup)
        elif isinstance(effect, AnswerButton) and effect.text:
            self.add({"from": "notice", "html": as_html(effect.text, None)})
        elif isinstance(effect, NotifyChat):
            text = visible_text(effect.text, effect.parse_mode)
            self.add({"from": "note", "html": as_html(f"(to {effect.to}): {text}", None)})
        elif isinstance(effect, ReportProblem):
            problem = f"problem in state {effect.state}: {effect.message}"
            self.add({"from": "problem", "html": as_html(problem, None)})

    def _file(self, effect: SendMedia) -> dict[str, str]:
        """A local file's preview address (images only), or why the bot could not send it,
        as the sender would find; nothing for a web address or a Telegram file id."""
        if is_remote(effect.media):
            return {}
        settings = self.bot.settings
        folder = os.path.dirname(os.path.abspath(settings.scenario))
        try:
            path = local_media(effect.media, effect.kind, folder, settings.media_dir)
        except MediaFileError as exc:
            return {"problem": f"the bot cannot send this file: {exc}"}
        extension = os.path.splitext(path)[1].lower()
        if extension not in PREVIEW_TYPES:
            return {}
        name = f"{len(self.previews) + 1}{extension}"
        self.previews[name] = path
        return {"preview": f"/media/{name}"}

    def _expect(self, text: str) -> None:
        if self.steps and text:
            self.steps[-1]["expect"].append(text)

    def _markup(self, item: dict[str, Any], markup: Markup) -> None:
        item["buttons"] = [
            [{"text": b.text, "data": b.data or "", "url": b.url or ""} for b in row]
            for row in markup.inline
        ]
        if markup.keyboard:
            self.keys = [k for row in markup.keyboard for k in row]
            self.keyboard = [
                [
                    {
                        "text": k.text,
                        "shares": "contact"
                        if k.request_contact
                        else "location"
                        if k.request_location
                        else "",
                    }
                    for k in row
                ]
                for row in markup.keyboard
            ]
            self.placeholder = markup.placeholder
        elif markup.remove_keyboard:
            self.keys, self.keyboard, self.placeholder = [], [], ""

    def next_timer(self) -> float | None:
        """Seconds until the next timer fires on the playground's clock; None without one."""
        due = Timers(self.bot.db).next_due()
        if due is None:
            return None
        if due.tzinfo is None:  # SQLite gives back the UTC time it was given, without a zone
            due = due.replace(tzinfo=dt.UTC)
        return max(0.0, (due - self.clock).total_seconds())

    def variables(self) -> dict[str, Any]:
        """The session's variables, the scenario's sensitive ones masked once they hold
        something (an empty one shows as empty: nothing is hidden there)."""
        sensitive = self.bot.holder.current.sensitive
        return {
            k: MASK if k in sensitive and v is not None else v for k, v in self.session.vars.items()
        }
