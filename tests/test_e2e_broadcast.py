"""A broadcast to 2,000 users, queued with `run.py --broadcast` and sent by `python run.py`
against the fake Bot API: within the global limit, killed half-way (SIGKILL) and started
again, it reaches everybody, and repeats no message beyond those in flight at the kill."""

from __future__ import annotations

import io
import time
from collections import Counter
from pathlib import Path

import pytest
from live_bot import LiveBot, Person

from engine.admin.broadcasts import report
from engine.cli import run
from engine.store.database import open_database
from engine.store.migrations import migrate
from engine.store.models import OutboxRow, UserRow
from engine.testing.fake_telegram import FakeTelegram

USERS = 2000
RATE = 400  # BOT_RATE_GLOBAL: messages a second in all
TEXT = "Big news: we deliver on Sundays now"


def broadcast_calls(fake: FakeTelegram) -> list[tuple[int, float]]:
    return [
        (int(c.params["chat_id"]), c.at)
        for c in fake.calls_of("sendMessage")
        if c.params.get("text") == TEXT
    ]


def busiest_second(moments: list[float]) -> int:
    """The most messages in any one second (a window starting at each message)."""
    moments = sorted(moments)
    most, start = 0, 0
    for end, moment in enumerate(moments):
        while moment - moments[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def test_a_broadcast_killed_half_way_resumes_and_reaches_everybody_once(
    fake: FakeTelegram, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = open_database(store_url)
    migrate(db)
    for first in range(1, USERS + 1, 500):
        UserRow.insert_many(
            [
                {"id": 10_000 + i, "first_name": f"U{i}", "language": "en"}
                for i in range(first, first + 500)
            ]
        ).execute()
    monkeypatch.setenv("DATABASE_URL", store_url)
    out, err = io.StringIO(), io.StringIO()
    assert run(["--broadcast", "--text", TEXT], out, err) == 0, err.getvalue()
    assert out.getvalue().startswith("broadcast #1 queued")
    settings = {"BOT_RATE_GLOBAL": str(RATE)}
    bot = LiveBot(fake, store_url, tmp_path / "bot.log", env=settings).start().ready()
    try:
        assert fake.wait_for(lambda: len(broadcast_calls(fake)) >= USERS // 2, 60), bot.log
        bot.kill()
        time.sleep(0.3)  # calls on their way to the fake are recorded
        reached = len(broadcast_calls(fake))
        recorded = (
            OutboxRow.select()
            .where((OutboxRow.broadcast_id == 1) & (OutboxRow.status == "sent"))
            .count()
        )
        in_flight = reached - recorded  # sent, not yet written down when killed
        assert reached < USERS, "killed too late to test a resume"
        bot.start().ready()
        assert fake.wait_for(lambda: report(db, 1).status == "done", 60), bot.log
    finally:
        if bot.alive:
            assert bot.stop() == 0, bot.log
    calls = broadcast_calls(fake)
    chats = Counter(chat for chat, _ in calls)
    assert set(chats) == {10_000 + i for i in range(1, USERS + 1)}
    repeated = len(calls) - len(chats)
    assert repeated <= max(in_flight, 0), (repeated, in_flight)
    done = report(db, 1)
    assert (done.sent, done.blocked, done.failed, done.pending) == (USERS, 0, 0, 0)
    # within the limit: the sender admits RATE in any second (RateWindow) at each round's
    # moment; measured at the fake, a round's calls spread over the time they take, so the
    # ends of two rounds' may meet within one second
    assert busiest_second([at for _, at in calls]) <= 2 * RATE
    first, last = min(at for _, at in calls), max(at for _, at in calls)
    assert last - first >= (USERS - 2 * RATE) / RATE  # not faster than the limit allows
    db.close()


def test_an_admin_lists_starts_and_follows_a_broadcast_in_telegram_through_the_live_bot(
    fake: FakeTelegram, store_url: str, tmp_path: Path
) -> None:
    """The admin commands end to end: `python run.py` with BOT_ADMINS, the admin and two
    customers talking to it through the fake Bot API."""
    admin, ann, bob = Person(fake, 900, "Ada"), Person(fake, 501, "Ann"), Person(fake, 502, "Bob")
    bot = LiveBot(fake, store_url, tmp_path / "bot.log", env={"BOT_ADMINS": "900"})
    bot.start().ready()
    try:
        for person in (admin, ann, bob):
            person.send("/start")
            person.expect("What would you like?")
        admin.send("/broadcasts")
        assert admin.expect("No broadcasts yet.")[-1] == "No broadcasts yet."
        bob.send("/broadcasts")  # not an admin: an unknown command to him
        assert "No broadcasts yet." not in bob.expect("")
        admin.send("/broadcast We deliver on Sundays now")
        admin.expect("Broadcast #1 queued to every user")
        admin.expect("broadcast #1 started")
        for person in (ann, bob):
            person.expect("We deliver on Sundays now")
        done = admin.expect("#1 done:")[-1]
        assert done.startswith("#1 done: 'We deliver on Sundays now': sent 3, blocked 0, failed 0")
        admin.send("/broadcasts")
        assert admin.expect("#1 done:")[-1].startswith("#1 done:")
    finally:
        assert bot.stop() == 0, bot.log
