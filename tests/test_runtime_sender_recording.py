"""Sends are recorded as they complete: a sending process killed with SIGKILL in the middle
of a round has the next process send again at most the messages that were sent but not yet
recorded (about BOT_SENDERS), not the whole round (up to a hundred)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import peewee
import pytest
from outbox_helpers import queue, status
from sender_crash_child import unlimited
from store_fixtures import close_all

from engine.core.effects import SendText
from engine.runtime.sender import Sender
from engine.store.database import open_database
from engine.store.migrations import migrate
from engine.store.queues import Outbox
from engine.telegram.bot_api import BotApi
from engine.testing.fake_telegram import FakeTelegram

CHILD = Path(__file__).with_name("sender_crash_child.py")
SENDERS = 8  # BOT_SENDERS
MESSAGES = 300  # three rounds of a hundred, to as many chats


def killed_sender(tmp_path: Path, url: str, fake: FakeTelegram, in_process: bool) -> list[str]:
    """Runs a sender killed after its 156th call (the 56th of its second round); the texts
    the Bot API answered inside it took (none when it sent to `fake`)."""
    sent_log = tmp_path / "sent.log"
    plan = tmp_path / "sender-plan.json"
    plan.write_text(
        json.dumps(
            {
                "url": url,
                "api": fake.url,
                "token": fake.token,
                "parallel": SENDERS,
                "kill_after": 156,
                "sent_log": str(sent_log) if in_process else None,
            }
        )
    )
    child = subprocess.run([sys.executable, str(CHILD), str(plan)], timeout=120, check=False)
    assert child.returncode == -signal.SIGKILL
    return sent_log.read_text().splitlines() if in_process else []


@pytest.mark.parametrize("in_process", [True, False], ids=["answered-at-once", "over-http"])
def test_a_kill_in_the_middle_of_a_round_repeats_only_the_sends_not_yet_recorded(
    db: peewee.Database, store_url: str, fake: FakeTelegram, tmp_path: Path, in_process: bool
) -> None:
    """Answered at once, the sender sends from one thread and records every BOT_SENDERS
    sends; over HTTP from BOT_SENDERS threads, each recording its send before the next."""
    fake.latency = 0.01  # over HTTP: calls wait, the sender uses its threads
    queue(*(SendText(1000 + n, f"m{n}") for n in range(MESSAGES)))
    before = killed_sender(tmp_path, store_url, fake, in_process)
    api = BotApi(fake.url, fake.token, read_timeout=5)
    restarted = Sender(Outbox(db), api, unlimited(), parallel=SENDERS)
    while restarted.run_once():
        pass
    sent = Counter(before + [str(c.params["text"]) for c in fake.calls_of("sendMessage")])
    assert set(sent) == {f"m{n}" for n in range(MESSAGES)}  # every message went out
    repeated = sum(sent.values()) - MESSAGES
    print(f"{'answered at once' if in_process else 'over HTTP'}: {repeated} sent again")
    assert repeated <= SENDERS  # the whole round so far (56 here) before


def test_over_the_network_only_the_senders_own_thread_uses_the_database(
    postgres_url: str, fake: FakeTelegram
) -> None:
    """The delivery threads leave the writing to the sender's thread: each would otherwise
    hold a pooled PostgreSQL connection (ten by default, shared with the workers)."""
    db = open_database(f"{postgres_url}?pool=1")  # this thread's connection, no more
    try:
        migrate(db)
        fake.latency = 0.02  # the sender uses its threads
        rows = queue(*(SendText(1000 + n, f"m{n}") for n in range(40)))
        api = BotApi(fake.url, fake.token, read_timeout=5)
        sender = Sender(Outbox(db), api, unlimited(), parallel=SENDERS)
        while sender.run_once():
            pass
        assert fake.most_in_flight > 1
        assert {status(row) for row in rows} == {"sent"}
        assert len(fake.calls_of("sendMessage")) == 40
    finally:
        close_all(db)
