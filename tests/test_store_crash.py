"""A bot process killed with SIGKILL at each point of the transaction: after a restart, and
Telegram sending every unacknowledged update again, no acknowledged update is lost, no state
change is applied twice, and the SQLite file passes its integrity check."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import peewee
import pytest
from builders import compile_yaml
from store_fixtures import COUNTER, StoreBot, close_all, text_update

from engine.store.database import open_database
from engine.store.models import InboxRow
from engine.store.pipeline import Store

CHILD = Path(__file__).with_name("store_crash_child.py")
POINTS = ["after_inbox", "after_step", "after_session", "before_commit", "after_commit"]
USERS = (5, 6, 2**40 + 7)


def plan(batches: int, size: int = 6) -> list[list[tuple[int, int, str]]]:
    """Batches of updates of three users, update ids 1, 2, 3 … in arrival order."""
    ids = iter(range(1, batches * size + 1))
    return [
        [(i, USERS[i % len(USERS)], f"m{i}") for i in (next(ids) for _ in range(size))]
        for _ in range(batches)
    ]


def expected_replies(batches: list[list[tuple[int, int, str]]], user: int) -> list[str]:
    """The model: each update of the user applied exactly once, in update_id order."""
    mine = [text for items in batches for (_, who, text) in items if who == user]
    return ["Send me anything."] + [f"{n}: {text}" for n, text in enumerate(mine[1:], 1)]


def run_child(tmp_path: Path, url: str, batches: list, **crash: object) -> tuple[int, list[int]]:
    acks = tmp_path / "acks.jsonl"
    acks.write_text("")
    scenario = tmp_path / "counter.yaml"
    scenario.write_text(COUNTER, encoding="utf-8")
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(
        json.dumps(
            {"url": url, "scenario": str(scenario), "acks": str(acks), "batches": batches, **crash}
        )
    )
    child = subprocess.run([sys.executable, str(CHILD), str(plan_file)], timeout=60, check=False)
    return child.returncode, acknowledged(acks)


def acknowledged(acks: Path) -> list[int]:
    return [i for line in acks.read_text().splitlines() for i in json.loads(line)]


def check_after_restart(
    url: str, tmp_path: Path, batches: list[list[tuple[int, int, str]]], acked: list[int]
) -> None:
    if url.startswith("sqlite:///"):
        raw = sqlite3.connect(url.removeprefix("sqlite:///"))
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        raw.close()
    db = open_database(url)
    try:
        bot = StoreBot(compile_yaml(COUNTER, tmp_path), Store(db, "counter"))
        done = {r.update_id for r in InboxRow.select().where(InboxRow.status == "done")}
        assert set(acked) <= done  # nothing acknowledged was lost
        # Telegram sends again what was not acknowledged (and a replay of what was)
        for items in batches:
            result = bot.send(*(text_update(*item) for item in items))
            assert sorted(result.acknowledged) == sorted(i for i, _, _ in items)
        for user in USERS:
            assert bot.replies(user) == expected_replies(batches, user)
            session = bot.store.session(user, user)
            assert session is not None
            assert session.vars["n"] == len(expected_replies(batches, user)) - 1
        assert InboxRow.select().count() == sum(len(b) for b in batches)
    finally:
        close_all(db)


@pytest.mark.parametrize("point", POINTS)
def test_killed_at_each_point_of_the_transaction(
    point: str, store_url: str, db: peewee.Database, tmp_path: Path
) -> None:
    batches = plan(3)
    code, acked = run_child(tmp_path, store_url, batches, crash_point=point, crash_batch=1)
    assert code == -signal.SIGKILL
    assert acked == [i for i, _, _ in batches[0]]  # the first batch was acknowledged, no more
    check_after_restart(store_url, tmp_path, batches, acked)


def test_killed_from_outside_at_any_moment(
    store_url: str, db: peewee.Database, tmp_path: Path
) -> None:
    batches = plan(400, size=10)
    acks = tmp_path / "acks.jsonl"
    scenario = tmp_path / "counter.yaml"
    scenario.write_text(COUNTER, encoding="utf-8")
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(
        json.dumps(
            {"url": store_url, "scenario": str(scenario), "acks": str(acks), "batches": batches}
        )
    )
    acks.write_text("")
    child = subprocess.Popen([sys.executable, str(CHILD), str(plan_file)])
    deadline = time.monotonic() + 30
    while len(acks.read_text().splitlines()) < 5 and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.05)
    child.send_signal(signal.SIGKILL)  # somewhere in the middle of a batch, or between two
    assert child.wait(timeout=10) == -signal.SIGKILL
    acked = acknowledged(acks)
    assert 50 <= len(acked) < 4000
    check_after_restart(store_url, tmp_path, batches, acked)
