"""The operations server of `python run.py`: /metrics read with prometheus-client's own parser
after a known conversation, /healthz naming a stuck loop, /readyz following the database
away and back, and each of several processes serving its own figures."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import peewee
import pytest
from live_bot import LiveBot, Person, free_port, settle
from prometheus_client.parser import text_string_to_metric_families
from store_fixtures import _admin_connection, postgres_admin_url

from engine.ops.health import Health
from engine.ops.http_routes import Operations, OperationsServer
from engine.ops.metrics import BotMetrics
from engine.testing.fake_telegram import FakeTelegram


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=20) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def samples(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics as {(name, sorted labels): value}, parsed as Prometheus does."""
    status, text = get(port, "/metrics")
    assert status == 200, text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def ops_bot(fake: FakeTelegram, tmp_path: Path) -> Iterator[tuple[LiveBot, int]]:
    port = free_port()
    live = LiveBot(
        fake, f"sqlite:///{tmp_path / 'bot.db'}", tmp_path / "bot.log", {"BOT_HTTP_PORT": str(port)}
    )
    yield live, port
    if live.alive:
        assert live.stop() == 0, live.log
    assert "Traceback" not in live.log, live.log


def test_metrics_count_a_known_conversation(
    ops_bot: tuple[LiveBot, int], fake: FakeTelegram
) -> None:
    bot, port = ops_bot
    bot.start().ready()
    ann = Person(fake, 42)
    ann.send("/start")
    ann.expect("What would you like?")
    ann.press("🍕 Order a pizza")
    ann.expect("Which size would you like?")
    ann.send("large")
    ann.expect("How many Large pizzas?")
    settle(fake)

    found = samples(port)
    assert value(found, "bot_updates_total", kind="command", outcome="handled") == 1
    assert value(found, "bot_updates_total", kind="button", outcome="handled") == 1
    assert value(found, "bot_updates_total", kind="text", outcome="handled") == 1
    assert value(found, "bot_update_seconds_count") == 3
    assert value(found, "bot_reply_seconds_count") == 3  # the first reply to each update
    assert 0 < value(found, "bot_reply_seconds_sum") < 20
    assert value(found, "bot_sends_total", method="sendMessage", result="ok") >= 3
    assert value(found, "bot_sends_total", method="getMe", result="ok") == 1
    assert value(found, "bot_outbox_pending") == 0
    assert value(found, "bot_outbox_oldest_pending_seconds") == 0
    assert value(found, "bot_timers_pending") >= 0
    sessions = {k[1]: v for k, v in found.items() if k[0] == "bot_sessions"}
    assert sum(sessions.values()) == 1, sessions  # Ann's, in the state that asks how many
    assert value(found, "bot_lease_held") == 1
    assert value(found, "bot_flood_ignored_total") == 0
    assert not [k for k in found if k[0] == "bot_problems_total"], "no problem happened"
    # no personal data: neither Ann's id nor what she wrote is in any label
    assert not any("42" in str(labels) or "large" in str(labels) for _, labels in found)

    status, body = get(port, "/healthz")
    assert status == 200, body
    loops = json.loads(body)["loops"]
    assert set(loops) == {"intake", "sender", "scheduler", "reload", "resumer"}
    status, body = get(port, "/readyz")
    assert status == 200, body
    assert json.loads(body)["lease"] == "held"


def test_readyz_follows_a_sqlite_file_away_and_back(
    ops_bot: tuple[LiveBot, int], tmp_path: Path
) -> None:
    bot, port = ops_bot
    bot.start().ready()
    assert get(port, "/readyz")[0] == 200
    database, away = tmp_path / "bot.db", tmp_path / "bot.db.away"
    os.rename(database, away)
    try:
        status, body = get(port, "/readyz")
        assert status == 503, body
        assert "the database does not answer" in json.loads(body)["problems"][0]
    finally:
        os.rename(away, database)
    status, body = get(port, "/readyz")
    assert status == 200, body
    assert bot.alive


def test_readyz_follows_postgresql_refusing_connections_and_back(
    fake: FakeTelegram, postgres_url: str, tmp_path: Path
) -> None:
    port = free_port()
    bot = LiveBot(fake, postgres_url, tmp_path / "bot.log", {"BOT_HTTP_PORT": str(port)})
    bot.start().ready()
    name = postgres_url.rpartition("/")[2]
    admin: Any = _admin_connection(postgres_admin_url())
    try:
        assert get(port, "/readyz")[0] == 200
        admin.cursor().execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        status, body = get(port, "/readyz")
        assert status == 503, body
        assert json.loads(body)["database"] == "failing"
        admin.cursor().execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        status, body = get(port, "/readyz")
        assert status == 200, body
    finally:
        admin.cursor().execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        admin.close()
        assert bot.stop() == 0, bot.log
    assert "Traceback" not in bot.log, bot.log


def test_healthz_names_the_loop_that_is_stuck(sqlite_db: peewee.Database) -> None:
    now = [1000.0]
    health = Health(clock=lambda: now[0])
    health.expect("sender", 120)
    health.expect("scheduler", 120)
    operations = Operations(
        health, BotMetrics(), sqlite_db, lambda: "v1", lambda: True, ask_bot_api=None
    )
    port = free_port()
    server = OperationsServer(operations, "127.0.0.1", port)
    server.start()
    try:
        assert get(port, "/healthz")[0] == 200
        now[0] += 100
        health.beat("scheduler")
        now[0] += 30  # the sender's last round is 130 s ago, the scheduler's 30 s
        status, body = get(port, "/healthz")
        assert status == 503, body
        answer = json.loads(body)
        assert answer["stuck"] == ["sender"]
        assert answer["loops"]["sender"]["seconds_since_round"] == 130
        health.waiting("sender", "for the lease another process holds")
        assert get(port, "/healthz")[0] == 200  # waiting on purpose is not stuck
    finally:
        server.stop()


def test_each_process_serves_its_own_figures(fake: FakeTelegram, tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'bot.db'}"
    ports = free_port(), free_port()
    first = LiveBot(fake, database, tmp_path / "first.log", {"BOT_HTTP_PORT": str(ports[0])})
    second = LiveBot(fake, database, tmp_path / "second.log", {"BOT_HTTP_PORT": str(ports[1])})
    first.start().ready()
    second.start()
    try:
        assert fake.wait_for(lambda: "another process of this bot" in second.log, 20), second.log
        assert value(samples(ports[0]), "bot_lease_held") == 1
        assert value(samples(ports[1]), "bot_lease_held") == 0
        status, body = get(ports[1], "/readyz")
        assert json.loads(body)["lease"] == "waiting", body
        status, body = get(ports[1], "/healthz")
        assert status == 200, body
        assert json.loads(body)["loops"]["sender"]["waiting"]
    finally:
        for bot in (first, second):
            if bot.alive:
                assert bot.stop() == 0, bot.log
    assert "Traceback" not in first.log + second.log


def test_a_loop_that_took_the_lease_is_not_shown_waiting_for_it(tmp_path: Path) -> None:
    """/healthz said the intake loop waited for 'the lease another process holds' after it
    had taken it, until its first round ended (a long poll: up to a minute)."""
    from engine.runtime.app import Bot
    from engine.runtime.config import read_settings

    env = {
        "TELEGRAM_BOT_TOKEN": "1:x",
        "TELEGRAM_API_URL": "http://127.0.0.1:9",  # never called here
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "BOT_SCENARIO": "scenarios/hello.yaml",
    }
    bot = Bot(read_settings(env))
    try:
        bot.health.expect("intake", 120)
        assert bot.wait_for_lease("intake")
        (intake,) = bot.health.loops()
        assert intake.ok and intake.waiting is None, intake
    finally:
        bot.lease.release()
        bot.db.close()


def test_the_admin_panel_of_a_running_bot_shows_its_users_after_the_password(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    """Only with BOT_ADMIN_PASSWORD_HASH, on the operations server: the overview and a
    user's page read the running bot's store and counters."""
    import requests

    from engine.web.admin_auth import hash_password

    port = free_port()
    env = {"BOT_HTTP_PORT": str(port), "BOT_ADMIN_PASSWORD_HASH": hash_password("open sesame!")}
    bot = LiveBot(fake, f"sqlite:///{tmp_path / 'bot.db'}", tmp_path / "bot.log", env)
    bot.start().ready()
    try:
        ann = Person(fake, 42)
        ann.send("/start")
        ann.expect("What would you like?")
        settle(fake)
        base = f"http://127.0.0.1:{port}"
        browser = requests.Session()
        browser.headers["Origin"] = base
        assert browser.get(f"{base}/admin", timeout=20).url.endswith("/admin/login")
        browser.post(f"{base}/admin/login", data={"password": "open sesame!"}, timeout=20)
        overview = browser.get(f"{base}/admin", timeout=20).text
        assert "1</strong> user<" in overview and "1</strong> active today" in overview
        assert "0.0</strong> updates a minute" not in overview  # Ann's /start counted
        assert "42" in browser.get(f"{base}/admin/users/42", timeout=20).text
    finally:
        assert bot.stop() == 0, bot.log
    assert "Traceback" not in bot.log, bot.log


def test_without_a_password_hash_there_is_no_admin_panel(ops_bot: tuple[LiveBot, int]) -> None:
    bot, port = ops_bot
    bot.start().ready()
    assert get(port, "/admin")[0] == 404
    assert get(port, "/admin/login")[0] == 404
