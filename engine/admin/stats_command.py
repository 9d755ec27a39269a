"""python3 run.py --stats: the figures of the database DATABASE_URL names, printed in the
chosen format or written as a page with charts (--html FILE); the look is audited like every
operator action."""

from __future__ import annotations

import os
import time
from typing import TextIO

from engine.admin.stats import collect
from engine.admin.stats_output import render, since_days
from engine.command_name import program
from engine.store.database import write_transaction
from engine.store.migrations import open_checked
from engine.store.models import stored_now
from engine.store.privacy import audit
from engine.store.stats_indexes import (
    create_stats_indexes,
    drop_stats_indexes,
    stats_indexes_present,
)

SLOW = 5.0  # seconds of --stats after which it suggests the indexes


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
    now = stored_now()
    since = since_days(days, now) if days is not None else None
    details: dict[str, object] = {"format": "html" if html else form, "days": days}
    started = time.monotonic()
    with write_transaction(db):
        stats = collect(since)
        audit("cli", "stats", None, details, now)
    took = time.monotonic() - started
    if took > SLOW and stderr is not None and not stats_indexes_present(db):
        stderr.write(
            f"{program()}: --stats read the whole message log ({took:.0f} s); "
            f"`{program()} --stats-indexes on` makes it several times faster, for an index "
            "entry more per update (docs/operations.md, Statistics)\n"
        )
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


def run_stats_indexes(url: str, switch: str, stdout: TextIO) -> int:
    """--stats-indexes on|off: build or drop the message log's indexes for --stats; audited.
    Building reads the whole log once (a minute or two for ten million rows), while the bot
    may run: SQLite makes its writes wait meanwhile."""
    db = open_checked(url)
    now = stored_now()
    before = stats_indexes_present(db)
    started = time.monotonic()
    with write_transaction(db):
        if switch == "on":
            create_stats_indexes(db)
        else:
            drop_stats_indexes(db)
        audit("cli", "stats_indexes", switch, {"before": "on" if before else "off"}, now)
    took = time.monotonic() - started
    if switch == "on":
        stdout.write(
            f"the --stats indexes are on ({'were already' if before else f'built in {took:.1f} s'}); "
            "each update now writes four index entries more\n"
        )
    else:
        stdout.write(
            f"the --stats indexes are off{' (there were none)' if not before else ''}; "
            "--stats gives the same figures, reading the whole message log\n"
        )
    return 0
