"""Schema migrations: `python run.py --migrate` creates and upgrades the schema step by step,
and the engine refuses, with a sentence saying what to do, a schema older or newer than it."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import peewee
import pytest
from builders import compile_yaml
from store_fixtures import StoreBot, close_all

from engine.core.effects import SendText
from engine.store import migrations
from engine.store.database import open_database
from engine.store.migrations import LATEST, SchemaError, check, current_version, migrate
from engine.store.models import (
    ALL_MODELS,
    AuditRow,
    InboxRow,
    MessageLogRow,
    OutboxRow,
    SessionRow,
    SettingRow,
    UserRow,
    database_proxy,
)
from engine.store.pipeline import Store
from engine.store.queues import Outbox, Outcome
from engine.store.serialization import effect_to_json

TIME_INDEXES_OF_SCHEMA_4 = (
    'CREATE INDEX "inbox_received" ON "inbox" ("received")',
    'CREATE INDEX "message_log_at" ON "message_log" ("at")',
)
ROOT = Path(__file__).resolve().parents[1]
OUTBOX_INDEX_OF_SCHEMA_3 = (
    'CREATE INDEX "outbox_status_not_before" ON "outbox" ("status", "not_before")'
)


def run_py(store_url: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """`python run.py ARGS` as an operator types it, with DATABASE_URL set."""
    env = {**os.environ, "DATABASE_URL": store_url}
    return subprocess.run(
        [sys.executable, "run.py", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_migrate_creates_the_schema_once_and_says_so(store_url: str) -> None:
    first = run_py(store_url, "--migrate")
    assert first.returncode == 0, first.stderr
    assert first.stdout == (
        "schema 1: create the tables\n"
        "schema 2: sessions stored by their key (SQLite), no index on inbox status\n"
        "schema 3: fewer indexes written per update, users row only when it changes\n"
        "schema 4: the outbox indexed only while pending\n"
        "schema 5: the inbox and the message log not indexed by time\n"
        "schema 6: the outbox keeps why a message failed\n"
        "schema 7: inbox and outbox rows name their user; sent messages are not kept\n"
        "schema 8: roles granted in the database and feature flags\n"
        "schema 9: broadcast jobs; outbox rows name their broadcast\n"
        "schema 10: one message log row per update; sessions keep when they entered\n"
        "schema 11: broadcasts remember when their progress was last told\n"
    )
    again = run_py(store_url, "--migrate")
    assert (again.returncode, again.stdout) == (0, "the schema is up to date\n")
    db = open_database(store_url)
    try:
        assert current_version(db) == LATEST
        check(db)  # the bot starts
        assert all(db.table_exists(m._meta.table_name) for m in ALL_MODELS)
        assert [a.action for a in AuditRow.select()] == ["migrate"]
    finally:
        close_all(db)


def test_a_newer_schema_is_refused_with_a_clear_message(
    db: peewee.Database, store_url: str
) -> None:
    SettingRow.update(value=str(LATEST + 1)).where(
        SettingRow.key == migrations.VERSION_KEY
    ).execute()
    with pytest.raises(SchemaError, match="newer than this engine knows"):
        check(db)
    for argv in (["--migrate"], ["--export-user", "1"], ["--prune"]):
        result = run_py(store_url, *argv)
        assert result.returncode == 1, argv
        assert result.stderr == (
            f"run.py: the database schema is version {LATEST + 1}, newer than this engine "
            f"knows ({LATEST}): it was migrated by a newer version. Run that version, or "
            "restore a backup.\n"
        )
        assert "Traceback" not in result.stderr
    assert SettingRow.get(SettingRow.key == migrations.VERSION_KEY).value == str(LATEST + 1)


def test_an_empty_database_asks_for_migrate(store_url: str) -> None:
    db = open_database(store_url)
    try:
        assert current_version(db) == 0
        with pytest.raises(SchemaError, match=r"run `python3 run.py --migrate` first"):
            check(db)
    finally:
        close_all(db)
    result = run_py(store_url, "--delete-user", "1")
    assert result.returncode == 1
    assert (
        f"version 0, this engine needs {LATEST}: run `python3 run.py --migrate` first"
        in result.stderr
    )


Step = Callable[[peewee.Database], None]


def _with_steps(monkeypatch: pytest.MonkeyPatch, *steps: tuple[int, str, Step]) -> None:
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, *steps])
    monkeypatch.setattr(migrations, "LATEST", steps[-1][0])


def test_a_later_step_is_applied_on_top_and_recorded(
    db: peewee.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    def add_table(database: peewee.Database) -> None:
        database.execute_sql('CREATE TABLE "notes" (id INTEGER PRIMARY KEY, text TEXT)')

    later = LATEST + 1
    _with_steps(monkeypatch, (later, "add notes", add_table))
    with pytest.raises(SchemaError, match=f"version {LATEST}, this engine needs {later}"):
        check(db)
    assert migrate(db) == [f"schema {later}: add notes"]
    assert current_version(db) == later and db.table_exists("notes")
    check(db)
    assert migrate(db) == []


def test_a_failing_step_leaves_the_schema_as_it_was(
    db: peewee.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_done(database: peewee.Database) -> None:
        database.execute_sql('CREATE TABLE "notes" (id INTEGER PRIMARY KEY)')
        raise RuntimeError("the disk filled up")

    _with_steps(monkeypatch, (LATEST + 1, "add notes", half_done))
    with pytest.raises(RuntimeError):
        migrate(db)
    database_proxy.initialize(db)
    assert current_version(db) == LATEST and not db.table_exists("notes")


def test_a_schema_1_database_keeps_its_sessions_when_upgraded(store_url: str) -> None:
    db = open_database(store_url)
    try:
        database_proxy.initialize(db)
        with db.atomic():
            db.create_tables(ALL_MODELS)
            db.execute_sql('DROP INDEX IF EXISTS "sessions_user_id"')  # as schema 1 made it
            SettingRow.create(key=migrations.VERSION_KEY, value="1")
            for user in (1, 2, 2**62):
                SessionRow.create(chat_id=user, user_id=user, scenario="s", state="a", vars="{}")
        assert migrate(db)[0].startswith("schema 2: ")
        check(db)
        assert sorted(s.user_id for s in SessionRow.select()) == [1, 2, 2**62]
        SessionRow.update(state="b").where(SessionRow.chat_id == 2).execute()
        assert SessionRow.get(SessionRow.chat_id == 2).state == "b"
        if isinstance(db, peewee.SqliteDatabase):
            create = db.execute_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'sessions'"
            ).fetchone()[0]
            assert create.endswith("WITHOUT ROWID")
            assert db.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert "sessions_user_id" in {i.name for i in db.get_indexes("sessions")}
        assert "inbox_status" not in {i.name for i in db.get_indexes("inbox")}
    finally:
        close_all(db)


def test_a_schema_2_database_keeps_its_users_and_pending_updates_when_upgraded(
    store_url: str,
) -> None:
    db = open_database(store_url)
    try:
        database_proxy.initialize(db)
        with db.atomic():  # the tables as schema 2 left them
            db.create_tables(ALL_MODELS)
            db.execute_sql('ALTER TABLE "users" RENAME COLUMN "updated" TO "last_seen"')
            db.execute_sql('CREATE INDEX "inbox_chat_id" ON "inbox" ("chat_id")')
            db.execute_sql('CREATE INDEX "message_log_user_id" ON "message_log" ("user_id")')
            db.execute_sql(OUTBOX_INDEX_OF_SCHEMA_3)
            SettingRow.create(key=migrations.VERSION_KEY, value="2")
            db.execute_sql(
                'INSERT INTO "users" (id, first_name, last_name, username, roles, first_seen, '
                "last_seen, blocked) VALUES (7, 'Ann', '', '', '[]', '2026-01-01 10:00:00', "
                "'2026-03-04 05:06:07', false)"
            )
            for update_id, status in ((1, "done"), (2, "pending")):
                InboxRow.create(update_id=update_id, chat_id=7, body="{}", status=status)
        assert migrate(db) == [
            "schema 3: fewer indexes written per update, users row only when it changes",
            "schema 4: the outbox indexed only while pending",
            "schema 5: the inbox and the message log not indexed by time",
            "schema 6: the outbox keeps why a message failed",
            "schema 7: inbox and outbox rows name their user; sent messages are not kept",
            "schema 8: roles granted in the database and feature flags",
            "schema 9: broadcast jobs; outbox rows name their broadcast",
            "schema 10: one message log row per update; sessions keep when they entered",
            "schema 11: broadcasts remember when their progress was last told",
        ]
        check(db)
        user = UserRow.get_by_id(7)
        assert (user.first_name, user.updated) == ("Ann", dt.datetime(2026, 3, 4, 5, 6, 7))
        indexes = {i.name for i in db.get_indexes("inbox")}
        assert "inbox_pending_chat_id" in indexes and "inbox_chat_id" not in indexes
        assert "message_log_user_id" not in {i.name for i in db.get_indexes("message_log")}
        pending = "SELECT update_id FROM inbox WHERE status = 'pending' AND chat_id IN (7)"
        assert [r[0] for r in db.execute_sql(pending).fetchall()] == [2]
        if isinstance(db, peewee.SqliteDatabase):  # the pipeline's look-up uses the index
            plan = " ".join(str(r) for r in db.execute_sql("EXPLAIN QUERY PLAN " + pending))
            assert "inbox_pending_chat_id" in plan, plan
    finally:
        close_all(db)


def test_a_schema_3_outbox_is_indexed_only_while_pending_after_the_upgrade(
    store_url: str,
) -> None:
    db = open_database(store_url)
    try:
        database_proxy.initialize(db)
        stamp = dt.datetime(2026, 1, 1, 10, 0)
        with db.atomic():  # the tables as schema 3 left them, a message sent, one waiting
            db.create_tables(ALL_MODELS)
            for table in ("inbox", "outbox"):
                db.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "user_id"')
            db.execute_sql(OUTBOX_INDEX_OF_SCHEMA_3)
            for sql in TIME_INDEXES_OF_SCHEMA_4:
                db.execute_sql(sql)
            SettingRow.create(key=migrations.VERSION_KEY, value="3")
            for status, text in (("sent", "old"), ("pending", "waiting")):
                OutboxRow.create(
                    chat_id=7,
                    kind="SendText",
                    payload=effect_to_json(SendText(7, text)),
                    status=status,
                    not_before=stamp,
                    created=stamp,
                )
        assert migrate(db) == [
            "schema 4: the outbox indexed only while pending",
            "schema 5: the inbox and the message log not indexed by time",
            "schema 6: the outbox keeps why a message failed",
            "schema 7: inbox and outbox rows name their user; sent messages are not kept",
            "schema 8: roles granted in the database and feature flags",
            "schema 9: broadcast jobs; outbox rows name their broadcast",
            "schema 10: one message log row per update; sessions keep when they entered",
            "schema 11: broadcasts remember when their progress was last told",
        ]
        check(db)
        indexes = {i.name for i in db.get_indexes("outbox")}
        assert "outbox_pending" in indexes and "outbox_status_not_before" not in indexes
        assert "inbox_received" not in {i.name for i in db.get_indexes("inbox")}
        assert "message_log_at" not in {i.name for i in db.get_indexes("message_log")}
        [waiting] = Outbox(db).pending(stamp + dt.timedelta(seconds=1))
        assert waiting.effect == SendText(7, "waiting")
        if isinstance(db, peewee.SqliteDatabase):  # the sender's look-up uses the index
            sql = (
                "EXPLAIN QUERY PLAN SELECT id FROM outbox WHERE status = 'pending' "
                "AND not_before <= '2026-01-01 10:00:01' ORDER BY id LIMIT 100"
            )
            plan = " ".join(str(r) for r in db.execute_sql(sql))
            assert "USING INDEX outbox_pending" in plan, plan  # not the whole table
        Outbox(db).blocked_by(7)  # a 403: what waits for the chat is dropped, nothing else
        assert [r.status for r in OutboxRow.select().order_by(OutboxRow.id)] == ["sent", "failed"]
    finally:
        close_all(db)


def test_a_schema_5_outbox_keeps_its_messages_and_gets_a_column_for_why_one_failed(
    store_url: str,
) -> None:
    db = open_database(store_url)
    try:
        database_proxy.initialize(db)
        stamp = dt.datetime(2026, 1, 1, 10, 0)
        with db.atomic():  # the outbox as schema 5 left it: no error column
            db.create_tables(ALL_MODELS)
            db.execute_sql('ALTER TABLE "outbox" DROP COLUMN "error"')
            for table in ("inbox", "outbox"):
                db.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "user_id"')
            SettingRow.create(key=migrations.VERSION_KEY, value="5")
            OutboxRow.create(  # the columns it names are those of schema 5
                chat_id=7,
                kind="SendText",
                payload=effect_to_json(SendText(7, "waiting")),
                not_before=stamp,
                created=stamp,
            )
        assert migrate(db) == [
            "schema 6: the outbox keeps why a message failed",
            "schema 7: inbox and outbox rows name their user; sent messages are not kept",
            "schema 8: roles granted in the database and feature flags",
            "schema 9: broadcast jobs; outbox rows name their broadcast",
            "schema 10: one message log row per update; sessions keep when they entered",
            "schema 11: broadcasts remember when their progress was last told",
        ]
        check(db)
        outbox = Outbox(db)
        [waiting] = outbox.pending(stamp + dt.timedelta(seconds=1))
        assert waiting.effect == SendText(7, "waiting")
        outbox.record([Outcome(waiting.id, "failed", error="Bad Request: chat not found")])
        row = OutboxRow.get_by_id(waiting.id)
        assert (row.status, row.error) == ("failed", "Bad Request: chat not found")
    finally:
        close_all(db)


def test_a_schema_6_database_names_the_user_of_its_rows_and_forgets_what_was_sent(
    store_url: str,
) -> None:
    db = open_database(store_url)
    try:
        database_proxy.initialize(db)
        stamp = dt.datetime(2026, 1, 1, 10, 0)
        with db.atomic():  # inbox and outbox as schema 6 left them: no user_id
            db.create_tables(ALL_MODELS)
            for table in ("inbox", "outbox"):
                db.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "user_id"')
            SettingRow.create(key=migrations.VERSION_KEY, value="6")
            for chat, status, text in ((7, "sent", "Your code is 1234"), (-100, "pending", "hi")):
                db.execute_sql(
                    "INSERT INTO outbox (chat_id, kind, payload, status, attempts, not_before, "
                    "created) VALUES (%s, 'SendText', %s, %s, 0, %s, %s)".replace("%s", db.param),
                    (chat, effect_to_json(SendText(chat, text)), status, stamp, stamp),
                )
            set_aside = '{"update_id": 2, "message": {"from": {"id": 9}, "chat": {"id": -100}}}'
            for update_id, chat, body, status in (
                (1, 7, "", "done"),
                (2, -100, set_aside, "failed"),
                (3, -100, "", "done"),
            ):
                db.execute_sql(
                    "INSERT INTO inbox (update_id, chat_id, body, status, attempts, received) "
                    "VALUES (%s, %s, %s, %s, 1, %s)".replace("%s", db.param),
                    (update_id, chat, body, status, stamp),
                )
        assert migrate(db) == [
            "schema 7: inbox and outbox rows name their user; sent messages are not kept",
            "schema 8: roles granted in the database and feature flags",
            "schema 9: broadcast jobs; outbox rows name their broadcast",
            "schema 10: one message log row per update; sessions keep when they entered",
            "schema 11: broadcasts remember when their progress was last told",
        ]
        check(db)
        inbox = {r.update_id: r.user_id for r in InboxRow.select()}
        assert inbox == {1: 7, 2: 9, 3: None}  # a private chat's, a sender's, unknown
        rows = list(OutboxRow.select().order_by(OutboxRow.id))
        assert [(r.user_id, r.status) for r in rows] == [(7, "sent"), (None, "pending")]
        assert "1234" not in rows[0].payload  # sent: no longer kept
        [waiting] = Outbox(db).pending(stamp + dt.timedelta(seconds=1))
        assert waiting.effect == SendText(-100, "hi")  # waiting: sent as it was
    finally:
        close_all(db)


WAY_OUT = (
    "bot: {name: W, start: menu}\nstates:\n  menu:\n    say: Pick.\n"
    "    on: [{text: go, goto: done}]\n  done:\n    say: Done.\n"
    "    on: [{text: back, goto: menu}]\n"
)


def test_a_schema_9_database_logs_one_row_per_update_after_the_upgrade(
    store_url: str, tmp_path: Path
) -> None:
    """Sessions stored before schema 10 do not know when they entered their state: the
    first move out of it has no time; the next one has."""
    db = open_database(store_url)
    try:
        database_proxy.initialize(db)
        with db.atomic():  # as schema 9 left them
            db.create_tables(ALL_MODELS)
            migrations._broadcasts_v9(db)
            for table, column in (
                ("message_log", "to_state"),
                ("message_log", "stayed"),
                ("message_log", "fallback"),
                ("message_log", "replies"),
                ("sessions", "entered"),
            ):
                db.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
            SettingRow.create(key=migrations.VERSION_KEY, value="9")
            db.execute_sql(  # a user waiting in menu, as schema 9 stored them
                "INSERT INTO sessions (chat_id, user_id, scenario, state, vars, stack, attempts, "
                "epoch, ended, scenario_version, updated) "
                "VALUES (5, 5, 'w', 'menu', '{}', '[]', 0, 1, %s, '', %s)".replace("%s", db.param),
                (False, dt.datetime(2026, 1, 1, 10, 0)),
            )
        bot = StoreBot(compile_yaml(WAY_OUT, tmp_path), Store(db, "w"))
        assert migrate(db) == [
            "schema 10: one message log row per update; sessions keep when they entered",
            "schema 11: broadcasts remember when their progress was last told",
        ]
        check(db)
        bot.say(2, 5, "go")
        bot.say(3, 5, "back")
        rows = MessageLogRow.select().order_by(MessageLogRow.id)
        assert [(r.state, r.to_state, r.stayed) for r in rows] == [
            ("menu", "done", None),  # entered before schema 10: when is not known
            ("done", "menu", 0.0),  # entered at the last update (the same moment here)
        ]
    finally:
        close_all(db)
