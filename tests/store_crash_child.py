"""A bot process for the crash tests: it commits batches of updates through the store and
records each batch it may acknowledge (as a poller moves its offset) in a file, then dies by
SIGKILL at the named point of the named batch's transaction.

python tests/store_crash_child.py PLAN.json: {"url", "scenario", "acks", "batches":
[[[update_id, user_id, text], ...], ...], "crash_point", "crash_batch"}; with "serve": true
it reads batches from stdin instead and answers each with the ids it acknowledged."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from engine.core.events import Chat, TextMessage, User
from engine.core.interpreter import step
from engine.core.store_protocol import IncomingUpdate
from engine.scenario import validate_file
from engine.scenario.compiler import compile_scenario
from engine.store.database import open_database
from engine.store.pipeline import Store

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def update(update_id: int, user_id: int, text: str) -> IncomingUpdate:
    event = TextMessage(user=User(user_id, "Ann"), chat=Chat(user_id), text=text)
    return IncomingUpdate(update_id, json.dumps({"update_id": update_id}), user_id, event)


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as handle:
        plan = json.load(handle)
    report = validate_file(plan["scenario"])
    assert report.scenario is not None
    scenario = compile_scenario(report.scenario)
    batch_number = {"n": -1}

    def crash(point: str) -> None:
        if point == plan.get("crash_point") and batch_number["n"] == plan.get("crash_batch"):
            os.kill(os.getpid(), signal.SIGKILL)

    store = Store(open_database(plan["url"]), "counter", crash_hook=crash)
    if plan.get("serve"):  # a webhook process: a batch per line in, what it acknowledged out
        for line in sys.stdin:
            items = [update(*item) for item in json.loads(line)]
            result = store.process(items, lambda s, e: step(scenario, s, e, NOW), NOW)
            sys.stdout.write(json.dumps(result.acknowledged) + "\n")
            sys.stdout.flush()
        return
    with open(plan["acks"], "a", encoding="utf-8") as acks:
        for number, items in enumerate(plan["batches"]):
            batch_number["n"] = number
            result = store.process(
                [update(*item) for item in items], lambda s, e: step(scenario, s, e, NOW), NOW
            )
            acks.write(json.dumps(result.acknowledged) + "\n")  # the offset moves
            acks.flush()
            os.fsync(acks.fileno())


if __name__ == "__main__":
    main()
