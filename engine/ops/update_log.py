"""One INFO line per handled update, written after its batch committed (so a line means the
update is durable): what an operator greps for "what did user 42 do at 10:03". Ids, the event
kind and state names only, never what anyone wrote. BOT_LOG_UPDATES=false switches it off."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from engine.core.events import message_type
from engine.core.session import Session
from engine.core.store_protocol import IncomingUpdate

log = logging.getLogger("engine.updates")

# what became of an update: stepped and committed; its step waits for an HTTP or plugin
# answer (it is stepped again then, and logged again); Telegram sent it twice; nothing this
# bot reacts to, or over the user's flood limit; unreadable; it failed alone (the apology)
OUTCOMES = ("handled", "waiting", "duplicate", "ignored", "set_aside", "failed")


@dataclass(frozen=True)
class HandledUpdate:
    """What became of one update in a committed batch."""

    update_id: int
    outcome: str
    chat_id: int | None = None
    user_id: int | None = None
    event: str | None = None  # the event kind: text, button, contact, photo, timer, ...
    state_before: str | None = None
    state_after: str | None = None
    ms: float = 0.0  # the batch's handling time up to its commit

    def fields(self) -> dict[str, object]:
        """The line's fields, as JSON logs carry them."""
        return {
            "update_id": self.update_id,
            "chat_id": self.chat_id,
            "user_id": self.user_id,
            "event": self.event,
            "state_before": self.state_before,
            "state_after": self.state_after,
            "ms": round(self.ms, 1),
            "outcome": self.outcome,
        }


def record_of(
    update: IncomingUpdate, outcome: str, before: Session | None, after: Session | None = None
) -> HandledUpdate:
    """The record of an update that has an event (stepped, waiting or failed); no text."""
    event = update.event
    assert event is not None
    return HandledUpdate(
        update.update_id,
        outcome,
        event.chat.id,
        event.user.id,
        message_type(event),
        before.state if before is not None else None,
        after.state if after is not None else None,
    )


class UpdateLog:
    """Writes the update lines; `wanted()` is asked once per batch, so that a bot with the
    lines off (or LOG_LEVEL=WARNING) builds no record at all."""

    def __init__(self, enabled: bool = True, logger: logging.Logger = log) -> None:
        self.enabled = enabled
        self.logger = logger

    def wanted(self) -> bool:
        return self.enabled and self.logger.isEnabledFor(logging.INFO)

    def write(self, handled: Sequence[HandledUpdate]) -> None:
        for item in handled:
            self.logger.info(
                "update %s %s: chat=%s user=%s event=%s state=%s->%s %.0fms",
                item.update_id,
                item.outcome,
                item.chat_id,
                item.user_id,
                item.event,
                item.state_before,
                item.state_after,
                item.ms,
                extra=item.fields(),
            )
