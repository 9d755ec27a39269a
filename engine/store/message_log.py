"""Rows of the message log: what went in and out, for the operator. Texts only when the
operator turned text logging on (BOT_LOG_TEXT), and never the value of a sensitive
variable: an answer to a sensitive question is logged as REDACTED, and so is such a value
inside a reply."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.core.events import Event
from engine.core.session import Session

REDACTED = "[sensitive]"  # what the message log shows instead of a sensitive value


def stored_text(value: Any) -> Any:
    """Text from Telegram as stored: PostgreSQL's text cannot hold NUL, so it is stripped
    (on SQLite too, so both keep the same)."""
    return value.replace("\x00", "") if isinstance(value, str) and "\x00" in value else value


class MessageLog:
    def __init__(self, log_text: bool = False, sensitive: frozenset[str] = frozenset()) -> None:
        self.log_text = log_text
        self.sensitive = sensitive

    def incoming(
        self, event: Event, before: Session, after: Session, stamp: dt.datetime
    ) -> dict[str, Any]:
        """The row of an update, with the state it found (`before`)."""
        text = None
        if self.log_text:
            text = stored_text(getattr(event, "text", None))
            if text is not None and self._answered_sensitive(before, after):
                text = REDACTED  # the answer to a sensitive question is never logged
        return {
            "at": stamp,
            "chat_id": event.chat.id,
            "user_id": event.user.id,
            "direction": "in",
            "kind": type(event).__name__,
            "state": before.state,
            "text": text,
        }

    def outgoing(
        self, chat: int | None, kind: str, text: Any, session: Session, stamp: dt.datetime
    ) -> dict[str, Any]:
        """The row of a reply queued for `chat`, in the state it leaves the user in."""
        return {
            "at": stamp,
            "chat_id": chat if chat is not None else 0,
            "user_id": session.user_id,
            "direction": "out",
            "kind": kind,
            "state": session.state,
            "text": self._redact(stored_text(text), session) if self.log_text else None,
        }

    def _answered_sensitive(self, before: Session, after: Session) -> bool:
        return any(before.vars.get(name) != after.vars.get(name) for name in self.sensitive)

    def _redact(self, text: str | None, session: Session) -> str | None:
        """A logged text without the values of the session's sensitive variables."""
        if not text:
            return text
        for name in self.sensitive:
            value = session.vars.get(name)
            if value is not None and str(value) and str(value) in text:
                text = text.replace(str(value), REDACTED)
        return text
