"""Checking answers to `ask` questions: each type says what it accepts and what it stores."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.core.events import ContactShared, Event, LocationShared, MediaMessage, TextMessage
from engine.core.model import Ask

PATTERN_TIMEOUT = 0.05  # seconds; a pattern that backtracks longer counts as no match
MAX_EMAIL = 254  # characters in an address (RFC 5321): checked before anything else
_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-.]{5,20}[0-9]$")
_YES = {
    "yes",
    "y",
    "true",
    "ok",
    "sure",
    "да",
    "д",
    "ja",
    "j",
    "oui",
    "si",
    "sí",
    "sim",
    "так",
    "evet",
    "tak",
}
_NO = {"no", "n", "false", "nope", "нет", "н", "nein", "non", "não", "нi", "ні", "hayır", "nie"}
_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%d.%m.%y")


@dataclass(frozen=True)
class Answer:
    valid: bool
    value: Any = None


INVALID = Answer(False)


def check_answer(ask: Ask, event: Event, today: dt.date) -> Answer:
    checker = _CHECKS.get(ask.type, _text)
    return checker(ask, event, today)


def _words(event: Event) -> str | None:
    return event.text.strip() if isinstance(event, TextMessage) else None


def _text(ask: Ask, event: Event, today: dt.date) -> Answer:
    text = _words(event)
    if text is None or not text:
        return INVALID
    if ask.min_length is not None and len(text) < ask.min_length:
        return INVALID
    if ask.max_length is not None and len(text) > ask.max_length:
        return INVALID
    if ask.pattern is not None:
        try:
            if ask.pattern.fullmatch(text, timeout=PATTERN_TIMEOUT) is None:
                return INVALID
        except TimeoutError:
            return INVALID
    return Answer(True, text)


def _in_range(ask: Ask, value: Any) -> bool:
    low, high = ask.minimum, ask.maximum
    return (low is None or value >= low) and (high is None or value <= high)


def _number(ask: Ask, event: Event, today: dt.date) -> Answer:
    text = _words(event)
    if text is None:
        return INVALID
    cleaned = text.replace(" ", "").replace("\u00a0", "").replace(",", ".")
    try:
        value: float | int = int(cleaned) if ask.type == "integer" else float(cleaned)
    except ValueError:
        return INVALID
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return INVALID
        if value.is_integer():
            value = int(value)
    return Answer(True, value) if _in_range(ask, value) else INVALID


def looks_like_email(text: str) -> bool:
    """`name@domain.tld`: one `@`, no spaces, a dot inside the domain. The length first and
    then one pass (a pattern for this backtracked: 19.5 s for 65,536 characters)."""
    if len(text) > MAX_EMAIL or any(c.isspace() for c in text):
        return False
    name, _, domain = text.partition("@")
    return bool(name) and "@" not in domain and "." in domain[1:-1]


def _email(ask: Ask, event: Event, today: dt.date) -> Answer:
    text = _words(event)
    if text is None or not looks_like_email(text):
        return INVALID
    return _text(ask, event, today) if ask.min_length or ask.max_length else Answer(True, text)


def _phone(ask: Ask, event: Event, today: dt.date) -> Answer:
    if isinstance(event, ContactShared):
        return Answer(True, event.phone_number)
    text = _words(event)
    if text is None or not _PHONE.match(text):
        return INVALID
    return Answer(True, text)


def date_bound(bound: Any, today: dt.date) -> dt.date | None:
    """A date question's `min` or `max` (`today` or YYYY-MM-DD); None: no bound it can read
    (--validate refuses those, content_checks)."""
    if bound is None:
        return None
    if bound == "today":
        return today
    try:
        return dt.date.fromisoformat(str(bound))
    except ValueError:
        return None


def _date(ask: Ask, event: Event, today: dt.date) -> Answer:
    text = _words(event)
    if text is None:
        return INVALID
    for form in _DATE_FORMATS:
        try:
            value = dt.datetime.strptime(text, form).date()
            break
        except ValueError:
            continue
    else:
        return INVALID
    low, high = date_bound(ask.minimum, today), date_bound(ask.maximum, today)
    if (low and value < low) or (high and value > high):
        return INVALID
    return Answer(True, value.isoformat())


def _yes_no(ask: Ask, event: Event, today: dt.date) -> Answer:
    text = (_words(event) or "").casefold().strip(" .!")
    if text in _YES:
        return Answer(True, True)
    if text in _NO:
        return Answer(True, False)
    return INVALID


def _choice(ask: Ask, event: Event, today: dt.date) -> Answer:
    text = (_words(event) or "").casefold()
    for choice in ask.choices:
        if choice.match == text:
            return Answer(True, choice.value)
    return INVALID


def _contact(ask: Ask, event: Event, today: dt.date) -> Answer:
    if isinstance(event, ContactShared):
        return Answer(True, event.phone_number)
    return INVALID


def _location(ask: Ask, event: Event, today: dt.date) -> Answer:
    if isinstance(event, LocationShared):
        return Answer(True, {"latitude": event.latitude, "longitude": event.longitude})
    return INVALID


def _media(kind: str) -> Callable[[Ask, Event, dt.date], Answer]:
    def check(ask: Ask, event: Event, today: dt.date) -> Answer:
        if isinstance(event, MediaMessage) and event.kind == kind:
            return Answer(True, event.file_id)
        return INVALID

    return check


_CHECKS: dict[str, Callable[[Ask, Event, dt.date], Answer]] = {
    "text": _text,
    "number": _number,
    "integer": _number,
    "email": _email,
    "phone": _phone,
    "date": _date,
    "yes_no": _yes_no,
    "choice": _choice,
    "contact": _contact,
    "location": _location,
    "photo": _media("photo"),
    "document": _media("document"),
}
