"""--stats as the operator reads it: a table for the terminal, CSV for a spreadsheet, JSON for
a program. Each shows every figure of `Stats`; only the layout differs."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

from engine.admin.stats import Stats

FORMATS = ("table", "csv", "json")


def as_json(stats: Stats) -> str:
    return json.dumps(_plain(stats), ensure_ascii=False, indent=2) + "\n"


def _plain(stats: Stats) -> dict[str, Any]:
    return {
        "since": stats.since.isoformat() if stats.since else None,
        "users": stats.users,
        "blocked": stats.blocked,
        "by_language": {row.language: row.users for row in stats.by_language},
        "new_per_day": {row.day: row.users for row in stats.new_per_day},
        "active_per_day": {row.day: row.users for row in stats.active_per_day},
        "funnel": [
            {
                "state": row.state,
                "reached": row.reached,
                "updates": row.updates,
                "waiting": row.waiting,
                "ended": row.ended,
                "drop_off": round(row.drop_off, 4),
                "entries": row.entries,
                "not_understood": row.not_understood,
                "median_stay_seconds": row.median_stay,
            }
            for row in stats.funnel
        ],
    }


def as_csv(stats: Stats) -> str:
    """One long table (section, key, figure, value): the sections differ in shape, and a
    spreadsheet pivots this form easily."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "key", "figure", "value"])
    writer.writerow(["users", "", "users", stats.users])
    writer.writerow(["users", "", "blocked", stats.blocked])
    for lang in stats.by_language:
        writer.writerow(["language", lang.language, "users", lang.users])
    for day in stats.new_per_day:
        writer.writerow(["new_per_day", day.day, "users", day.users])
    for day in stats.active_per_day:
        writer.writerow(["active_per_day", day.day, "users", day.users])
    for row in stats.funnel:
        for figure in ("reached", "updates", "waiting", "ended"):
            writer.writerow(["funnel", row.state, figure, getattr(row, figure)])
        writer.writerow(["funnel", row.state, "drop_off", f"{row.drop_off:.4f}"])
        writer.writerow(["funnel", row.state, "entries", row.entries])
        writer.writerow(["funnel", row.state, "not_understood", row.not_understood])
        stay = "" if row.median_stay is None else f"{row.median_stay:g}"
        writer.writerow(["funnel", row.state, "median_stay_seconds", stay])
    return out.getvalue()


def as_table(stats: Stats) -> str:
    since = f" since {stats.since:%Y-%m-%d %H:%M} UTC" if stats.since else ""
    lines = [f"users: {stats.users} ({stats.blocked} blocked the bot)", ""]
    lines += _grid(
        ["language", "users"],
        [[lang.language or "(unknown)", str(lang.users)] for lang in stats.by_language],
    )
    days = sorted({d.day for d in stats.new_per_day} | {d.day for d in stats.active_per_day})
    new = {d.day: d.users for d in stats.new_per_day}
    active = {d.day: d.users for d in stats.active_per_day}
    lines += ["", f"per day{since}:"]
    lines += _grid(
        ["day", "new", "active"], [[d, str(new.get(d, 0)), str(active.get(d, 0))] for d in days]
    )
    lines += ["", f"funnel{since}:"]
    lines += _grid(
        [
            "state",
            "entries",
            "reached",
            "updates",
            "not-understood",
            "waiting",
            "ended",
            "drop-off",
            "median-stay",
        ],
        [
            [
                r.state,
                str(r.entries),
                str(r.reached),
                str(r.updates),
                str(r.not_understood),
                str(r.waiting),
                str(r.ended),
                f"{r.drop_off:.0%}",
                duration(r.median_stay),
            ]
            for r in stats.funnel
        ],
    )
    return "\n".join(lines) + "\n"


def _grid(header: list[str], rows: list[list[str]]) -> list[str]:
    """Columns padded to their widest cell; numbers right-aligned. `(none)` for no rows, so
    an empty section still shows it was looked at."""
    if not rows:
        return ["  ".join(header), "(none)"]
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=False)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(header)] + [line(row) for row in rows]


def render(stats: Stats, form: str) -> str:
    return {"table": as_table, "csv": as_csv, "json": as_json}[form](stats)


def since_days(days: int, now: dt.datetime) -> dt.datetime:
    """The start of the window of the last `days` days, today included (UTC midnight)."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return today - dt.timedelta(days=days - 1)


def duration(seconds: float | None) -> str:
    """A time in a state as people read it: 45s, 12m, 3h 5m, 2d 4h; '-' when unknown."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, hours, days = whole // 60, whole // 3600, whole // 86400
    if whole < 3600:
        return f"{minutes}m"
    if whole < 86400:
        return f"{hours}h {minutes % 60}m" if minutes % 60 else f"{hours}h"
    return f"{days}d {hours % 24}h" if hours % 24 else f"{days}d"
