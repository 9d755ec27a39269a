"""Broadcasts from Telegram: the admin commands (/broadcast, /broadcasts, /cancel,
/cancel_broadcast) through the bot's own Processor, and the progress messages to the admin
who started one (at most once a minute, written with the feeder's step, never repeated by a
restart); on SQLite and PostgreSQL, sent by the real sender to the fake Bot API."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import peewee
import pytest
from outbox_helpers import T0, Clock
from store_fixtures import text_update
from test_feature_flags import command_update

from engine.admin.broadcasts import PROGRESS_SECONDS, BroadcastFeeder, report
from engine.core.ports import OfflineServices
from engine.runtime.processing import Processor
from engine.runtime.scenario_holder import ScenarioHolder
from engine.runtime.sender import Limits, Sender
from engine.store import migrations
from engine.store.database import open_database
from engine.store.models import (
    AuditRow,
    BroadcastRow,
    OutboxRow,
    SettingRow,
    UserRow,
    database_proxy,
)
from engine.store.pipeline import Store
from engine.store.queues import Outbox
from engine.store.serialization import effect_from_json
from engine.telegram.bot_api import BotApi
from engine.testing.fake_telegram import FakeTelegram

NOW = T0.replace(tzinfo=None)
ADMIN = 900
SHOP = """
bot: {name: T, start: menu}
fallback: {say: Say again?}
states:
  menu:
    say: Menu
    on: [{text: order, goto: order}]
  order:
    say: What would you like?
    on:
      - {command: cancel, say: Order cancelled., goto: menu}
"""


class Bot:
    """The bot's Processor on the test's database, an admin talking to it, and its sender."""

    def __init__(self, db: peewee.Database, tmp_path: Path, fake: FakeTelegram) -> None:
        path = tmp_path / "shop.yaml"
        path.write_text(SHOP, encoding="utf-8")
        self.db, self.fake = db, fake
        self.processor = Processor(Store(db, "shop"), ScenarioHolder(str(path)), OfflineServices())
        self.processor.admins = frozenset({ADMIN})
        self.update_id = 0
        self.clock = Clock()
        self.clock.now = dt.datetime.now(dt.UTC)  # the replies' rows are due from now on
        self.sender = self.new_sender()

    def new_sender(self) -> Sender:
        """The sender of a bot process (a new one: as after a restart)."""
        sender = Sender(
            Outbox(self.db), BotApi(self.fake.url, self.fake.token, read_timeout=1), Limits(4)
        )
        sender.clock = self.clock
        sender.feeder = BroadcastFeeder(self.db).feed
        return sender

    def command(self, user_id: int, name: str, args: str = "") -> list[str]:
        """What the bot answers `/name args` (queued; the sender is not run)."""
        before = OutboxRow.select(peewee.fn.MAX(OutboxRow.id)).scalar() or 0
        self.update_id += 1
        self.processor.process([command_update(self.update_id, user_id, name, args)])
        rows = OutboxRow.select().where((OutboxRow.id > before) & OutboxRow.broadcast_id.is_null())
        return [str(getattr(effect_from_json(r.payload), "text", "")) for r in rows]

    def seconds(self, count: int) -> None:
        for _ in range(count):
            self.sender.run_once()
            self.clock.tick(1.0)

    def told(self) -> list[str]:
        """What the admin's chat received, other than the broadcast itself."""
        return [
            str(c.params["text"])
            for c in self.fake.calls_of("sendMessage")
            if int(c.params["chat_id"]) == ADMIN and c.params["text"] != "Open on Sunday"
        ]


@pytest.fixture
def bot(db: peewee.Database, tmp_path: Path, fake: FakeTelegram) -> Iterator[Bot]:
    made = Bot(db, tmp_path, fake)
    yield made
    made.processor.close()


def customers(count: int) -> None:
    UserRow.insert_many(
        [
            {"id": i, "first_name": f"U{i}", "first_seen": NOW, "updated": NOW}
            for i in range(1, count + 1)
        ]
    ).execute()


def test_an_admin_broadcasts_lists_and_cancels_from_telegram_with_audit_rows(bot: Bot) -> None:
    customers(20)
    assert bot.command(ADMIN, "start") == ["Menu"]
    assert bot.command(ADMIN, "broadcasts") == ["No broadcasts yet."]
    assert bot.command(ADMIN, "broadcast") == [
        "Usage: /broadcast TEXT (to every user; for some of them: `where` in the scenario)"
    ]
    assert bot.command(ADMIN, "broadcast", "Open on Sunday") == [
        "Broadcast #1 queued to every user; I will tell you how it goes "
        "(/cancel_broadcast 1 stops it)."
    ]
    row = BroadcastRow.get_by_id(1)
    assert (row.text, row.created_by, row.progress_chat) == (
        "Open on Sunday",
        f"admin:{ADMIN}",
        ADMIN,
    )
    [listed] = bot.command(ADMIN, "broadcasts")
    assert listed.startswith("#1 queued: 'Open on Sunday': sent 0,")
    bot.seconds(4)  # the replies first, then some of the broadcast
    assert bot.command(ADMIN, "cancel", "one") == [
        "Usage: /cancel ID (a broadcast's number, from /broadcasts)"
    ]
    [cancelled] = bot.command(ADMIN, "cancel", "1")
    assert cancelled.startswith("#1 cancelled: 'Open on Sunday': sent ")
    sent = report(bot.db, 1).sent
    assert 0 < sent < 20
    assert bot.command(ADMIN, "cancel", "1") == ["broadcast 1 is cancelled already"]
    assert bot.command(ADMIN, "cancel", "7") == ["there is no broadcast 7"]
    bot.seconds(5)
    assert report(bot.db, 1).sent == sent  # nothing more went
    audited = [
        (a.actor, a.action, a.subject, json.loads(a.details)["via"])
        for a in AuditRow.select().order_by(AuditRow.id)
    ]
    assert audited == [
        (f"admin:{ADMIN}", "broadcast", "1", "chat"),
        (f"admin:{ADMIN}", "broadcast_cancel", "1", "chat"),
    ]


def test_the_scenarios_own_cancel_wins_and_cancel_broadcast_always_works(bot: Bot) -> None:
    customers(5)
    assert bot.command(ADMIN, "start") == ["Menu"]
    bot.command(ADMIN, "broadcast", "Open on Sunday")
    bot.update_id += 1
    bot.processor.process([text_update(bot.update_id, ADMIN, "order")])
    assert bot.command(ADMIN, "cancel", "1") == ["Order cancelled.", "Menu"]  # the flow's own
    assert BroadcastRow.get_by_id(1).status == "queued"
    [stopped] = bot.command(ADMIN, "cancel_broadcast", "1")
    assert stopped.startswith("#1 cancelled:")


def test_for_anybody_else_the_admin_commands_do_not_exist(bot: Bot) -> None:
    customers(5)
    assert bot.command(7, "start") == ["Menu"]
    assert bot.command(7, "broadcast", "Free pizza") == ["Say again?"]
    assert bot.command(7, "broadcasts") == ["Say again?"]
    assert BroadcastRow.select().count() == 0


def test_the_admin_is_told_how_it_goes_once_a_minute_and_a_restart_tells_it_no_twice(
    bot: Bot,
) -> None:
    customers(150)  # about two a second (a round a second: queued, then sent): 75 seconds
    bot.command(ADMIN, "start")
    bot.command(ADMIN, "broadcast", "Open on Sunday")
    bot.seconds(PROGRESS_SECONDS - 5)
    assert bot.told()[2:] == ["broadcast #1 started"]  # after "Menu" and "Broadcast #1 queued"
    bot.seconds(7)  # a minute after the start
    told = bot.told()[2:]
    assert len(told) == 2 and told[1].startswith("#1 running: 'Open on Sunday': sent ")
    sent = int(told[1].split("sent ")[1].split(",")[0])
    texts = [str(c.params["text"]) for c in bot.fake.calls_of("sendMessage")]
    before = texts[: texts.index(told[1])].count("Open on Sunday")
    assert 0 < sent <= before <= sent + 4 < 151  # the counts then; those waiting go first
    bot.sender = bot.new_sender()  # a restart: nothing of the last message kept in memory
    bot.seconds(30)
    told = bot.told()[2:]
    assert len(told) == 3  # no progress repeated: the done report only
    assert told[2].startswith("#1 done: 'Open on Sunday': sent 151,")  # the admin too
    assert report(bot.db, 1).status == "done"


def test_a_schema_9_database_gets_the_progress_column_and_keeps_its_broadcasts(
    store_url: str,
) -> None:
    db = open_database(store_url)
    try:
        database_proxy.initialize(db)
        steps = [step for step in migrations.MIGRATIONS if step[0] <= 9]
        for _, _, step in steps:
            with db.atomic():
                step(db)
        with db.atomic():
            db.execute_sql('ALTER TABLE "broadcasts" DROP COLUMN "told"')  # as 9 made it
            SettingRow.insert(key=migrations.VERSION_KEY, value="9").execute()
            db.execute_sql(
                'INSERT INTO "broadcasts" (text, status, cursor, queued, skipped, sent, blocked, '
                "failed, created, created_by) VALUES ('Hi', 'done', 0, 1, 0, 1, 0, 0, "
                "'2026-01-05 12:00:00', 'cli')"
            )
        assert "schema 11: broadcasts remember when their progress was last told" in (
            migrations.migrate(db)  # and the later steps
        )
        migrations.check(db)
        done = report(db, 1)
        assert (done.status, done.sent) == ("done", 1)
        assert BroadcastRow.get_by_id(1).told is None
    finally:
        db.close()


def test_an_admins_export_lists_their_roles_and_broadcasts_and_deleting_them_lets_it_run_on(
    bot: Bot, store_url: str, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", store_url)
    customers(40)
    bot.command(ADMIN, "start")
    bot.command(ADMIN, "broadcast", "Open on Sunday")
    assert cli("--grant", str(ADMIN), "staff").code == 0
    database_proxy.initialize(bot.db)  # the command used its own connection, as a process
    bot.seconds(4)
    exported = cli("--export-user", str(ADMIN))
    database_proxy.initialize(bot.db)
    data = json.loads(exported.out)
    assert [(r["role"], r["granted_by"]) for r in data["granted_roles"]] == [("staff", "cli")]
    [started] = data["broadcasts_started"]
    assert (started["id"], started["text"], started["status"]) == (1, "Open on Sunday", "running")
    assert json.loads(cli("--export-user", "7").out)["broadcasts_started"] == []
    database_proxy.initialize(bot.db)
    deleted = cli("--delete-user", str(ADMIN))
    database_proxy.initialize(bot.db)
    assert deleted.code == 0 and "1 broadcasts_untold" in deleted.out and "1 roles" in deleted.out
    told_before = len(bot.told())
    bot.seconds(40)
    done = report(bot.db, 1)
    assert (done.status, done.sent) == ("done", 40)  # every customer; the admin is gone
    assert len(bot.told()) == told_before  # not even the report: they asked to be forgotten
    row = BroadcastRow.get_by_id(1)
    assert (row.text, row.created_by, row.progress_chat) == ("Open on Sunday", "admin:900", None)
