"""Two bot processes sharing one database, as behind a load balancer in webhook mode. Telegram
sends one chat's next update only after the previous one was answered, to either process, and
sometimes sends an update again while the first delivery is still being handled; a user's
timer may fire in one process while their message arrives at the other. Each user's
transcript is then in update_id order, every update applied exactly once, none lost."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from pathlib import Path

import peewee
from store_fixtures import COUNTER

from engine.store.models import OutboxRow
from engine.store.serialization import effect_from_json

CHILD = Path(__file__).with_name("store_crash_child.py")
USERS = list(range(1001, 1021))
ROUNDS = 12


def start_worker(tmp_path: Path, url: str, name: str) -> subprocess.Popen[str]:
    scenario = tmp_path / "counter.yaml"
    scenario.write_text(COUNTER, encoding="utf-8")
    plan = tmp_path / f"{name}.json"
    plan.write_text(json.dumps({"url": url, "scenario": str(scenario), "serve": True}))
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(plan)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_one_users_updates_stay_in_order_across_two_processes(
    store_url: str, db: peewee.Database, tmp_path: Path
) -> None:
    rng = random.Random(9)
    workers = [start_worker(tmp_path, store_url, name) for name in ("a", "b")]
    next_id = 1
    sent: dict[int, list[int]] = {user: [] for user in USERS}
    together: dict[int, list[int]] = {user: [] for user in USERS}  # handled concurrently
    try:
        for round_number in range(ROUNDS):
            batches: list[list[tuple[int, int, str]]] = [[], []]
            for user in USERS:  # each user's previous update was answered: the next one
                item = (next_id, user, f"m{next_id}")
                sent[user].append(next_id)
                next_id += 1
                chosen = rng.randrange(2)
                batches[chosen].append(item)
                # (in separate rounds: a retry makes the other process wait for the first)
                if round_number % 2 == 0 and rng.random() < 0.2:
                    # a webhook retry, to the other process, meanwhile
                    batches[1 - chosen].append(item)
                elif (
                    round_number % 2 and len(sent[user]) > 1 and rng.random() < 0.5
                ):  # one of the user's timers fires in the other process
                    batches[1 - chosen].append((next_id, user, f"m{next_id}"))
                    together[user].append(len(sent[user]))
                    sent[user].append(next_id)
                    next_id += 1
            for worker, batch in zip(workers, batches, strict=True):
                assert worker.stdin is not None
                worker.stdin.write(json.dumps(batch) + "\n")
                worker.stdin.flush()
            for worker, batch in zip(workers, batches, strict=True):
                assert worker.stdout is not None
                acked = json.loads(worker.stdout.readline())
                assert sorted(acked) == sorted(i for i, _, _ in batch)  # committed, answered
    finally:
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.close()
            worker.wait(timeout=30)
            if worker.stdout is not None:
                worker.stdout.close()
    assert [w.returncode for w in workers] == [0, 0]
    for user in USERS:
        rows = OutboxRow.select().where(OutboxRow.chat_id == user).order_by(OutboxRow.id)
        transcript = [str(getattr(effect_from_json(r.payload), "text", "")) for r in rows]
        assert transcript[0] == "Send me anything."
        replies = [re.fullmatch(r"(\d+): m(\d+)", line) for line in transcript[1:]]
        assert all(replies), transcript
        counts = [int(m.group(1)) for m in replies if m]
        ids = [int(m.group(2)) for m in replies if m]
        expected = list(sent[user])
        for second in together[user]:  # two updates at once: either may go first
            if ids[second - 2 : second] == [expected[second], expected[second - 1]]:
                expected[second - 1 : second + 1] = expected[second - 1 : second + 1][::-1]
        assert ids == expected[1:]  # otherwise in update_id order, each update once
        assert counts == list(range(1, len(sent[user])))  # every step saw the one before it
