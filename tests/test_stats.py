"""python3 run.py --stats on a generated database whose figures are known, on SQLite and on
PostgreSQL, in each format."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import statistics
from collections.abc import Callable

import peewee
import pytest
from conftest import CliResult
from hypothesis import given
from hypothesis import strategies as st

from engine.admin.stats import weighted_median
from engine.admin.stats_output import duration
from engine.store.models import AuditRow, MessageLogRow, SessionRow, UserRow, database_proxy

MARCH_1 = dt.datetime(2026, 3, 1, 10, 0)
MARCH_2 = dt.datetime(2026, 3, 2, 23, 59)


def _generate(db: peewee.Database) -> None:
    """Four users (one blocked the bot), five updates logged in two states (and replies,
    which are not activity), sessions waiting, and one that ended in `done`."""
    database_proxy.initialize(db)
    UserRow.insert_many(
        [
            {"id": 1, "language": "en", "first_seen": MARCH_1},
            {"id": 2, "language": "en", "first_seen": MARCH_1},
            {"id": 3, "language": "de", "first_seen": MARCH_2},
            {"id": 4, "language": None, "first_seen": MARCH_2, "blocked": True},
        ]
    ).execute()

    def log(
        user: int,
        state: str | None,
        at: dt.datetime,
        to: str | None = None,
        stayed: float | None = None,
        fallback: bool = False,
        direction: str = "in",
    ) -> dict:
        return {
            "at": at,
            "chat_id": user,
            "user_id": user,
            "direction": direction,
            "kind": "TextMessage" if direction == "in" else "Outgoing",
            "state": state,
            "to_state": to,
            "stayed": stayed,
            "fallback": fallback if direction == "in" else None,
        }

    MessageLogRow.insert_many(
        [
            log(1, None, MARCH_1, "ask_name"),  # the first /start found no state: an entry
            log(1, "ask_name", MARCH_1, "ask_age", 30.2),
            log(1, "ask_age", MARCH_1, "done", 90),
            log(1, "done", MARCH_1, direction="out"),  # a reply (texts logged): not activity
            log(2, "ask_name", MARCH_1, "ask_name", fallback=True),
            log(2, "ask_name", MARCH_2, "ask_name"),
            log(3, "ask_name", MARCH_2, "ask_name", fallback=True),
            log(4, "ask_age", MARCH_2, direction="out"),
        ]
    ).execute()
    SessionRow.insert_many(
        [
            {"chat_id": 1, "user_id": 1, "scenario": "s", "state": "done", "ended": True},
            {"chat_id": 2, "user_id": 2, "scenario": "s", "state": "ask_name"},
            {"chat_id": 3, "user_id": 3, "scenario": "s", "state": "ask_name"},
            {"chat_id": 4, "user_id": 4, "scenario": "s", "state": "ask_age"},
        ]
    ).execute()


@pytest.fixture
def stats_cli(
    db: peewee.Database,
    store_url: str,
    monkeypatch: pytest.MonkeyPatch,
    cli: Callable[..., CliResult],
) -> Callable[..., CliResult]:
    _generate(db)
    monkeypatch.setenv("DATABASE_URL", store_url)
    return cli


def test_stats_as_json_gives_the_known_figures(stats_cli: Callable[..., CliResult]) -> None:
    result = stats_cli("--stats", "--format", "json")
    assert result.code == 0, result.err
    figures = json.loads(result.out)
    assert figures["users"] == 4 and figures["blocked"] == 1
    assert figures["by_language"] == {"en": 2, "de": 1, "": 1}
    assert figures["new_per_day"] == {"2026-03-01": 2, "2026-03-02": 2}
    assert figures["active_per_day"] == {"2026-03-01": 2, "2026-03-02": 2}
    assert figures["funnel"] == [
        {
            "state": "ask_name",
            "reached": 3,
            "updates": 4,
            "waiting": 2,
            "ended": 0,
            "drop_off": 0.6667,
            "entries": 1,
            "not_understood": 2,
            "median_stay_seconds": 30.0,
        },
        {
            "state": "ask_age",
            "reached": 1,
            "updates": 1,
            "waiting": 1,
            "ended": 0,
            "drop_off": 1.0,
            "entries": 1,
            "not_understood": 0,
            "median_stay_seconds": 90.0,
        },
        {
            "state": "done",
            "reached": 0,
            "updates": 0,
            "waiting": 0,
            "ended": 1,
            "drop_off": 0.0,
            "entries": 1,
            "not_understood": 0,
            "median_stay_seconds": None,
        },
    ]
    assert [(a.actor, a.action) for a in AuditRow.select()] == [("cli", "stats")]


def test_stats_as_csv_and_as_a_table(stats_cli: Callable[..., CliResult]) -> None:
    result = stats_cli("--stats", "--format", "csv")
    assert result.code == 0, result.err
    rows = list(csv.reader(io.StringIO(result.out)))
    assert rows[0] == ["section", "key", "figure", "value"]
    assert ["users", "", "blocked", "1"] in rows
    assert ["active_per_day", "2026-03-02", "users", "2"] in rows
    assert ["funnel", "ask_name", "waiting", "2"] in rows
    assert ["funnel", "done", "ended", "1"] in rows
    table = stats_cli("--stats")  # the table is the default
    assert table.code == 0, table.err
    assert table.lines[0] == "users: 4 (1 blocked the bot)"
    words = [line.split() for line in table.lines]
    assert words[2:6] == [["language", "users"], ["en", "2"], ["(unknown)", "1"], ["de", "1"]]
    assert ["2026-03-01", "2", "2"] in words  # day, new, active
    funnel = table.lines[table.lines.index("funnel:") + 1 :]
    assert funnel[0].split() == [
        "state",
        "entries",
        "reached",
        "updates",
        "not-understood",
        "waiting",
        "ended",
        "drop-off",
        "median-stay",
    ]
    assert funnel[1].split() == ["ask_name", "1", "3", "4", "2", "2", "0", "67%", "30s"]
    assert funnel[2].split() == ["ask_age", "1", "1", "1", "0", "1", "0", "100%", "1m"]
    assert funnel[3].split() == ["done", "1", "0", "0", "0", "0", "1", "0%", "-"]


def test_days_counts_only_the_recent_updates(stats_cli: Callable[..., CliResult]) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    MessageLogRow.create(
        at=now, chat_id=3, user_id=3, direction="in", kind="TextMessage", state="ask_name"
    )
    figures = json.loads(stats_cli("--stats", "--days", "1", "--format", "json").out)
    assert figures["users"] == 4  # totals are whole
    assert figures["new_per_day"] == {}
    assert figures["active_per_day"] == {now.date().isoformat(): 1}
    assert {s["state"]: (s["reached"], s["waiting"]) for s in figures["funnel"]} == {
        "ask_name": (1, 2),  # only today's update counts; sessions are as they are now
        "ask_age": (0, 1),
        "done": (0, 0),
    }


def test_stats_refuses_what_does_not_apply(cli: Callable[..., CliResult]) -> None:
    assert cli("--stats", "--format", "svg").code == 2
    assert cli("--validate", "--days", "3").code == 2
    assert cli("--stats", "--days", "0").code == 2


@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 5)), min_size=1, max_size=30))
def test_the_median_of_counted_values_is_the_median_of_all_of_them(
    values: list[tuple[int, int]],
) -> None:
    every = [value for value, n in values for _ in range(n)]
    assert weighted_median([(float(v), n) for v, n in values]) == statistics.median(every)


def test_a_time_in_a_state_reads_as_people_say_it() -> None:
    assert [duration(s) for s in (None, 0, 44.6, 60, 3599, 3600, 3660, 86400, 93600)] == [
        "-",
        "0s",
        "45s",
        "1m",
        "59m",
        "1h",
        "1h 1m",
        "1d",
        "1d 2h",
    ]
