"""The operations routes, /healthz, /readyz and /metrics (aiohttp), and the server that serves
them on BOT_HTTP_HOST:BOT_HTTP_PORT in a thread of its own. In webhook mode the routes are
added to the webhook's app as well, so that one port is enough. Every check that may block
(the database, the Bot API) runs on a thread of the routes' own, never on a thread the bot
handles updates with."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import peewee
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from engine.ops.health import API_RECENT, Health, database_answers
from engine.ops.metrics import BotMetrics

log = logging.getLogger("engine.ops")
PROBE_WAIT = 5.0  # seconds /readyz waits for the Bot API when it has not answered recently


@dataclass
class Operations:
    """What the routes read: the loops' health, the metrics, and the parts readiness asks."""

    health: Health
    metrics: BotMetrics
    db: peewee.Database
    scenario_version: Callable[[], str]
    lease_held: Callable[[], bool]
    ask_bot_api: Callable[[], object] | None = None  # getMe, when it has not answered lately
    # more routes on the same server (the admin panel), each with its own close
    extra: list[tuple[Callable[[web.Application], None], Callable[[], None]]] = field(
        default_factory=list
    )

    def __post_init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ops")
        self._probe: asyncio.Future[object] | None = None

    def healthz(self) -> tuple[int, dict[str, Any]]:
        loops = self.health.loops()
        stuck = [state.name for state in loops if not state.ok]
        body = {
            "status": "stuck" if stuck else "ok",
            "stuck": stuck,
            "loops": {state.name: state.as_json() for state in loops},
        }
        return (503 if stuck else 200), body

    async def readyz(self) -> tuple[int, dict[str, Any]]:
        loop = asyncio.get_running_loop()
        problems: list[str] = []
        database = await loop.run_in_executor(self.pool, database_answers, self.db)
        if database is not None:
            problems.append(f"the database does not answer: {database}")
        version = self.scenario_version()
        if not version:
            problems.append("no scenario is loaded")
        age = await self._bot_api_age()
        if age is None or age > API_RECENT:
            when = "never" if age is None else f"{age:.0f}s ago"
            problems.append(f"the Bot API has not answered recently (last answer: {when})")
        body = {
            "status": "not ready" if problems else "ready",
            "problems": problems,
            "database": "ok" if database is None else "failing",
            "scenario_version": version,
            "bot_api_answered_seconds_ago": None if age is None else round(age, 1),
            "lease": "held" if self.lease_held() else "waiting",
        }
        return (503 if problems else 200), body

    def _api_age(self) -> float | None:
        last = self.metrics.last_answer
        return None if last is None else self.metrics.clock() - last

    async def _bot_api_age(self) -> float | None:
        """Seconds since the Bot API answered; asks it (getMe, one call at a time) first if
        that was long ago, as in webhook mode with nobody writing to the bot."""
        age = self._api_age()
        if self.ask_bot_api is None or (age is not None and age <= API_RECENT):
            return age
        if self._probe is None or self._probe.done():
            loop = asyncio.get_running_loop()
            self._probe = asyncio.ensure_future(loop.run_in_executor(self.pool, self._ask))
        with contextlib.suppress(TimeoutError):  # readiness then says how long ago
            await asyncio.wait_for(asyncio.shield(self._probe), PROBE_WAIT)
        return self._api_age()

    def _ask(self) -> object:
        try:
            return self.ask_bot_api() if self.ask_bot_api is not None else None
        except Exception as exc:  # counted by the Bot API's metrics; readiness says "not"
            return exc

    def add_routes(self, app: web.Application) -> None:
        async def healthz(request: web.Request) -> web.Response:
            status, body = self.healthz()
            return _json(status, body)

        async def readyz(request: web.Request) -> web.Response:
            status, body = await self.readyz()
            return _json(status, body)

        async def metrics(request: web.Request) -> web.Response:
            text = await asyncio.get_running_loop().run_in_executor(
                self.pool, self.metrics.exposition
            )
            return web.Response(body=text, headers={"Content-Type": CONTENT_TYPE_LATEST})

        app.router.add_get("/healthz", healthz)
        app.router.add_get("/readyz", readyz)
        app.router.add_get("/metrics", metrics)
        for add, _ in self.extra:
            add(app)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        for _, close in self.extra:
            close()


def _json(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(body, ensure_ascii=False), content_type="application/json"
    )


class OperationsServer:
    """The routes on host:port, served by an event loop in a daemon thread."""

    def __init__(self, operations: Operations, host: str, port: int) -> None:
        self.operations = operations
        self.host, self.port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Listening once this returns; OSError (the port taken, say) if it cannot."""
        started = threading.Event()
        failure: list[BaseException] = []

        async def serve() -> None:
            app = web.Application()
            self.operations.add_routes(app)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            try:
                await web.TCPSite(runner, self.host, self.port).start()
            except OSError as exc:
                failure.append(exc)
                started.set()
                await runner.cleanup()
                return
            self._loop = asyncio.get_running_loop()
            self._stopped = asyncio.Event()
            started.set()
            await self._stopped.wait()
            await runner.cleanup()

        self._thread = threading.Thread(target=asyncio.run, args=(serve(),), name="ops-http")
        self._thread.daemon = True
        self._thread.start()
        started.wait(timeout)
        if failure:
            raise failure[0]
        log.info(
            "operations server on http://%s:%s (/healthz /readyz /metrics)", self.host, self.port
        )

    def stop(self) -> None:
        loop, stopped = self._loop, self._stopped
        if loop is not None and stopped is not None:
            loop.call_soon_threadsafe(stopped.set)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.operations.close()
