"""The webhook endpoint in process on a real SQLite file: a database that cannot take the
update (a full disk) is answered 503, so Telegram delivers it again; nothing is recorded
until the update can be committed, then it is answered 200."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import peewee
import pytest
from live_bot import free_port, post_webhook

from engine.core.ports import OfflineServices
from engine.runtime.processing import Processor
from engine.runtime.scenario_holder import ScenarioHolder
from engine.runtime.webhook import make_app
from engine.store.pipeline import Store
from engine.testing.fake_telegram import text_update

ROOT = Path(__file__).resolve().parent.parent
SECRET = "in-process-secret"


@pytest.fixture
def db(sqlite_db: peewee.Database) -> peewee.Database:
    return sqlite_db  # a migrated SQLite file (tests/runtime_fixtures.py)


@pytest.fixture
def endpoint(db: peewee.Database) -> Iterator[tuple[str, asyncio.AbstractEventLoop]]:
    from aiohttp import web

    store = Store(db, "hello")
    store.sleep = lambda seconds: None
    processor = Processor(
        store, ScenarioHolder(str(ROOT / "scenarios/hello.yaml")), OfflineServices()
    )
    port = free_port()
    loop = asyncio.new_event_loop()
    loop.set_default_executor(ThreadPoolExecutor(1))  # one thread: its connection is known
    runner = web.AppRunner(make_app(processor, SECRET, "/hook"))
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield f"http://127.0.0.1:{port}/hook", loop
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()
    processor.close()


def post(url: str, update: dict[str, object]) -> int:
    return post_webhook(url, json.dumps(update).encode(), SECRET)


def limit_pages(loop: asyncio.AbstractEventLoop, db: peewee.Database, pages: int) -> None:
    """max_page_count on the committing thread's connection, and on any it reconnects with."""

    async def run() -> None:
        await loop.run_in_executor(None, lambda: db.pragma("max_page_count", pages, permanent=True))

    asyncio.run_coroutine_threadsafe(run(), loop).result(10)


def test_a_full_disk_is_answered_503_and_the_retry_200(
    endpoint: tuple[str, asyncio.AbstractEventLoop], db: peewee.Database
) -> None:
    url, loop = endpoint
    assert post(url, {"update_id": 1, **text_update(5, "/start")}) == 200
    pages = db.execute_sql("PRAGMA page_count").fetchone()[0]
    limit_pages(loop, db, pages)  # every new page is refused: the disk is full
    answers = {}
    for number in range(2, 60):  # until the free pages left in the file run out
        update = {"update_id": number, **text_update(5, "/start " + "x" * 3000)}
        answers[number] = post(url, update)
        if answers[number] != 200:
            break
    refused = max(answers)
    assert answers[refused] == 503  # Telegram will send it again
    with sqlite3.connect(db.database) as connection:
        recorded = {u for (u,) in connection.execute("SELECT update_id FROM inbox")}
    assert refused not in recorded
    limit_pages(loop, db, 1 << 30)  # space is back
    assert post(url, {"update_id": refused, **text_update(5, "/start again")}) == 200
    with sqlite3.connect(db.database) as connection:
        statuses = dict(connection.execute("SELECT update_id, status FROM inbox").fetchall())
    assert statuses[refused] == "done" and set(statuses.values()) == {"done"}
