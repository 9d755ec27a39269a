"""Template filters that format values for the user's locale (through Babel)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from babel import Locale, UnknownLocaleError, dates, numbers
from jinja2 import pass_context
from jinja2.runtime import Context

LOCALE_VARIABLE = "_locale"  # set by the renderer from the user's language
DEFAULT_LOCALE = "en"


def _locale(context: Context) -> Locale:
    value = context.get(LOCALE_VARIABLE)
    return _parsed(value if isinstance(value, str) and value else DEFAULT_LOCALE)


@lru_cache(maxsize=256)
def _parsed(identifier: str) -> Locale:
    """Babel parses a locale name on every call; users' languages repeat, so parse once."""
    try:
        return Locale.parse(identifier.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return Locale.parse(DEFAULT_LOCALE)


def _as_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    return dt.datetime.fromisoformat(str(value))


@pass_context
def date(context: Context, value: Any, format: str = "medium") -> str:
    return dates.format_date(_as_datetime(value).date(), format=format, locale=_locale(context))


@pass_context
def time(context: Context, value: Any, format: str = "short") -> str:
    return dates.format_time(_as_datetime(value), format=format, locale=_locale(context))


@pass_context
def datetime(context: Context, value: Any, format: str = "medium") -> str:
    return dates.format_datetime(_as_datetime(value), format=format, locale=_locale(context))


@pass_context
def number(context: Context, value: Any) -> str:
    return numbers.format_decimal(value, locale=_locale(context))


@pass_context
def percent(context: Context, value: Any) -> str:
    return numbers.format_percent(value, locale=_locale(context))


@pass_context
def currency(context: Context, value: Any, code: str = "EUR") -> str:
    return numbers.format_currency(value, code, locale=_locale(context))


@lru_cache(maxsize=1024)
def _format_span(unit: str, value: float, locale: Locale) -> str:
    """Spans repeat (`{{ 30 | minutes }}` in every order), and Babel is slow at them."""
    delta = dt.timedelta(**{unit: value})
    return dates.format_timedelta(delta, threshold=1.0, locale=locale)


def _span(unit: str) -> Callable[[Context, Any], str]:
    @pass_context
    def span(context: Context, value: Any) -> str:
        return _format_span(unit, float(value), _locale(context))

    return span


@pass_context
def ago(context: Context, value: Any) -> str:
    now = context.get("now")
    moment = _as_datetime(value)
    if not isinstance(now, dt.datetime):  # the core has no clock of its own: `now` is the step's
        raise ValueError("`ago` needs `now`, the time of the message")
    return dates.format_timedelta(moment - now, add_direction=True, locale=_locale(context))


def _null_safe(format_filter: Callable[..., str]) -> Callable[..., str]:
    """A variable with no value yet (null) prints as nothing, through a filter too: Babel
    raised on None, and the whole message was lost for it."""

    @functools.wraps(format_filter)  # keeps jinja's pass_context mark
    def filtered(context: Context, value: Any, *args: Any, **kwargs: Any) -> str:
        if value is None:
            return ""
        return format_filter(context, value, *args, **kwargs)

    return filtered


FILTERS: dict[str, Callable[..., str]] = {
    name: _null_safe(format_filter)
    for name, format_filter in {
        "date": date,
        "time": time,
        "datetime": datetime,
        "number": number,
        "percent": percent,
        "currency": currency,
        "minutes": _span("minutes"),
        "hours": _span("hours"),
        "days": _span("days"),
        "ago": ago,
    }.items()
}
