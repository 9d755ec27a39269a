"""python3 run.py --stats: the figures of the database DATABASE_URL names, printed in the
chosen format or written as a page with charts (--html FILE); the look is audited like every
operator action."""

from __future__ import annotations

import datetime as dt
import os
from typing import TextIO

from engine.admin.stats import collect
from engine.admin.stats_output import render, since_days
from engine.command_name import program
from engine.store.database import write_transaction
from engine.store.migrations import open_checked
from engine.store.privacy import audit


def run_stats(
    url: str,
    form: str,
    days: int | None,
    stdout: TextIO,
    html: str | None = None,
    stderr: TextIO | None = None,
) -> int:
    """`html`: the file to write the page to (then `form` is not printed)."""
    db = open_checked(url)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    since = since_days(days, now) if days is not None else None
    details: dict[str, object] = {"format": "html" if html else form, "days": days}
    with write_transaction(db):
        stats = collect(since)
        audit("cli", "stats", None, details, now)
    if html is None:
        stdout.write(render(stats, form))
        return 0
    from engine.admin.stats_html import render_html

    page = render_html(stats, now)
    try:
        with open(html, "w", encoding="utf-8") as file:
            file.write(page)
    except OSError as exc:
        (stderr or stdout).write(f"{program()}: cannot write the report to {html}: {exc}\n")
        return 1
    stdout.write(
        f"wrote the statistics of {stats.users:,} users to {os.path.abspath(html)} "
        f"({len(page.encode('utf-8')) / 1024:.0f} kB); open it in a browser\n"
    )
    return 0
