"""Durations as authors write them: 30s, 10m, 2h, 1d, 1w, 1h30m, '2 hours'."""

from __future__ import annotations

import re

_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
}  # fmt: skip
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*")
MAX_SECONDS = 366 * 86400


class DurationError(ValueError):
    """A duration that does not parse; the message says what to write."""


def parse_duration(text: str) -> float:
    """Seconds in `text`; raises DurationError with a hint for authors."""
    if not isinstance(text, str):
        raise DurationError(
            f"'{text}' has no unit; write it with one, like {text}s, {text}m or {text}h."
        )
    cleaned = text.strip().lower()
    if cleaned.isdigit():
        raise DurationError(
            f"'{text}' has no unit; write it with one, like {cleaned}s, {cleaned}m or {cleaned}h."
        )
    total = 0.0
    position = 0
    while position < len(cleaned):
        match = _PART.match(cleaned, position)
        if match is None or match.group(2) not in _UNITS:
            raise DurationError(
                f"'{text}' is not a duration; write a number and a unit, like 30s, 10m, 2h, 1d or 1h30m."
            )
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if not cleaned or total <= 0:
        raise DurationError(f"'{text}' is not a positive duration; write one like 10m.")
    if total > MAX_SECONDS:
        raise DurationError(f"'{text}' is longer than a year; timers may be at most 366d.")
    return total
