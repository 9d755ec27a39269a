"""What the store raises when the database cannot take work now, and the small helpers
its modules share about times and causes."""

from __future__ import annotations

import datetime as dt


class StoreUnavailable(Exception):
    """The database cannot take the batch now; nothing of it was stored or acknowledged."""


def utc(moment: dt.datetime) -> dt.datetime:
    """A naive UTC moment, as the tables keep them."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def cause_of(exc: BaseException) -> BaseException:
    """The error that failed the transaction: SQLite rolls back by itself on a full disk,
    and the rollback that follows ("no transaction is active") hides the reason."""
    while "no transaction is active" in str(exc) and exc.__context__ is not None:
        exc = exc.__context__
    return exc
