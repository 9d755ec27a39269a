"""Rows of the message log: what went in and out, for the operator and the statistics: one
row per update (where it found and left the user, how long they had stayed, whether they were
understood, how many replies), and a row per reply only while texts are logged. Texts only when the
operator turned text logging on (BOT_LOG_TEXT), and never the value of a sensitive
variable, by variable: the step's sensitive values (before and after it) are blanked out of
each reply in every form a parse mode gives them (as written, HTML-escaped, MarkdownV2-
escaped), and a text sent in a state that asks a sensitive question is logged as REDACTED
whether it was accepted, refused or the same answer again (and blanked out of the replies,
which may repeat it)."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable, Iterable
from typing import Any

import markupsafe

from engine.core.events import Event
from engine.core.model import Scenario
from engine.core.session import Session
from engine.core.templating import escape_markdown

REDACTED = "[sensitive]"  # what the message log shows instead of a sensitive value

AsksSensitive = Callable[[str | None], bool]  # whether a state asks a sensitive question
Hidden = re.Pattern[str] | None  # what a step's logged replies must not show


def stored_text(value: Any) -> Any:
    """Text from Telegram as stored: PostgreSQL's text cannot hold NUL, so it is stripped
    (on SQLite too, so both keep the same)."""
    return value.replace("\x00", "") if isinstance(value, str) and "\x00" in value else value


def asks_sensitive(scenario: Scenario, state: str | None) -> bool:
    """Whether `state` of `scenario` asks for a sensitive variable: any text a user sends
    there may be the answer, valid or not."""
    found = scenario.states.get(state) if state is not None else None
    return found is not None and found.ask is not None and found.ask.var in scenario.sensitive


def _never(state: str | None) -> bool:
    return False


def _leaves(value: Any) -> Iterable[str]:
    """The texts a value can show as in a message: itself, or the parts of a list or mapping
    (`{{ contact.phone_number }}`)."""
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item)
    else:
        text = str(value).strip()
        if text:
            yield text


def _forms(text: str) -> set[str]:
    """`text` as each parse mode renders a value: as written, escaped by Jinja's HTML
    autoescape (markupsafe) or by Python's html.escape, escaped for MarkdownV2."""
    return {text, str(markupsafe.escape(text)), html.escape(text), escape_markdown(text)}


class MessageLog:
    def __init__(
        self,
        log_text: bool = False,
        sensitive: frozenset[str] = frozenset(),
        asks: AsksSensitive | None = None,
    ) -> None:
        self.log_text = log_text
        self.sensitive = sensitive
        self.asks = asks or _never

    def hidden(self, event: Event, before: Session, after: Session) -> Hidden:
        """What this step's replies must not show: every form of the sensitive values before
        and after the step, and of the user's text when it answered (or tried to answer) a
        sensitive question; one pattern, longest first, so a value is replaced once and a
        shorter one never inside it or inside the marker. None while texts are not logged."""
        if not self.log_text or not (self.sensitive or self.asks is not _never):
            return None
        values: set[str] = set()
        for name in self.sensitive:
            for session in (before, after):
                for leaf in _leaves(session.vars.get(name)):
                    values |= _forms(leaf)
        text = getattr(event, "text", None)
        if isinstance(text, str) and text.strip() and self._answers(before, after):
            values |= _forms(text.strip())
        if not values:
            return None
        return re.compile("|".join(re.escape(v) for v in sorted(values, key=len, reverse=True)))

    def incoming(
        self,
        event: Event,
        before: Session,
        after: Session,
        stamp: dt.datetime,
        stayed: float | None = None,
        fallback: bool = False,
    ) -> dict[str, Any]:
        """The row of an update: the state it found (`before`) and the one it left (`after`),
        the seconds the user had stayed in a state it moved them out of, whether the fallback
        answered. `replies` is counted by the caller once they are queued."""
        text = None
        if self.log_text:
            text = stored_text(getattr(event, "text", None))
            if text is not None and self._answers(before, after):
                text = REDACTED  # an answer to a sensitive question, even a refused one
        return {
            "at": stamp,
            "chat_id": event.chat.id,
            "user_id": event.user.id,
            "direction": "in",
            "kind": type(event).__name__,
            "state": before.state,
            "text": text,
            "to_state": after.state,
            "stayed": stayed,
            "fallback": fallback,
            "replies": 0,
        }

    def outgoing(
        self,
        chat: int | None,
        kind: str,
        text: Any,
        session: Session,
        stamp: dt.datetime,
        hidden: Hidden = None,
    ) -> dict[str, Any]:
        """The row of a reply queued for `chat`, in the state it leaves the user in, without
        what `hidden` names. Written only while texts are logged: without its text, a reply is
        the count on its update's row (one row per update, schema 10)."""
        return {
            "at": stamp,
            "chat_id": chat if chat is not None else 0,
            "user_id": session.user_id,
            "direction": "out",
            "kind": kind,
            "state": session.state,
            "text": _redacted(stored_text(text), hidden) if self.log_text else None,
            "to_state": None,  # the columns of an update's row (all rows of a batch have all)
            "stayed": None,
            "fallback": None,
            "replies": None,
        }

    def _answers(self, before: Session, after: Session) -> bool:
        """Whether the user's text was (or tried to be) the answer to a sensitive question:
        sent where one is asked, or a sensitive variable changed with it (a handler's `set`)."""
        return self.asks(before.state) or any(
            before.vars.get(name) != after.vars.get(name) for name in self.sensitive
        )


def _redacted(text: str | None, hidden: Hidden) -> str | None:
    if not text or hidden is None:
        return text
    return hidden.sub(REDACTED, text)
