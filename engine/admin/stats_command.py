"""python3 run.py --stats: the figures of the database DATABASE_URL names, printed in the
chosen format; the look is audited like every operator action."""

from __future__ import annotations

import datetime as dt
from typing import TextIO

from engine.admin.stats import collect
from engine.admin.stats_output import render, since_days
from engine.store.database import write_transaction
from engine.store.migrations import open_checked
from engine.store.privacy import audit


def run_stats(url: str, form: str, days: int | None, stdout: TextIO) -> int:
    db = open_checked(url)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    since = since_days(days, now) if days is not None else None
    with write_transaction(db):
        stats = collect(since)
        audit("cli", "stats", None, {"format": form, "days": days}, now)
    stdout.write(render(stats, form))
    return 0
