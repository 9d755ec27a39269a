"""A fake Bot API server on 127.0.0.1 for end-to-end tests and benchmarks: the real
pyTelegramBotAPI client (inside the engine) talks HTTP to it as it would to Telegram.

It answers the methods a bot calls, rejects (400, as Telegram would) any call whose
parameters do not match the Bot API specification (data/bot-api-spec.min.json: unknown or
missing parameters, wrong types, texts over their limits, HTML that Telegram could not
parse), serves getUpdates with offsets and long polling, and on demand answers 429, 5xx or
nothing at all (a timeout), or 429 and 5xx at random rates as a busy Telegram does (for
fault campaigns). Everything it was asked is kept in `calls` for assertions."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from engine.testing.bot_api_spec import SpecViolation, check_call

TOKEN = "123456789:TEST-token_for-the-fake-server"
BOT_USER = {
    "id": 123456789,
    "is_bot": True,
    "first_name": "Test Bot",
    "username": "test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, Any]
    files: tuple[str, ...] = ()
    at: float = 0.0
    answer: dict[str, Any] = field(default_factory=dict)  # the message sent, once answered


@dataclass
class Fault:
    """The next `times` calls of `method` (or of any method, "*") answer with `status`."""

    method: str
    status: int  # 429, 5xx, or 0 for no answer until `delay` seconds passed
    times: int = 1
    retry_after: int = 1
    delay: float = 0.0
    carried_out: bool = False  # for a timeout: the call still takes effect (it was delivered)
    description: str = ""  # for a 4xx: what Telegram says


@dataclass(frozen=True)
class RandomFaults:
    """Each call of `methods` (all when empty) is answered 429 (with `retry_after`) with
    probability `rate_429`, else a 5xx with probability `rate_5xx`; neither is carried out."""

    rate_429: float = 0.0
    rate_5xx: float = 0.0
    retry_after: int = 1
    methods: tuple[str, ...] = ()

    def pick(self, method: str, rng: random.Random) -> Fault | None:
        if not (self.rate_429 or self.rate_5xx) or (self.methods and method not in self.methods):
            return None
        draw = rng.random()
        if draw < self.rate_429:
            return Fault(method, 429, retry_after=self.retry_after)
        if draw < self.rate_429 + self.rate_5xx:
            return Fault(method, rng.choice((500, 502, 503)))
        return None


@dataclass
class FakeTelegram:
    token: str = TOKEN
    host: str = "127.0.0.1"
    port: int = 0
    poll_cap: float = 2.0  # longest wait of a long poll, so tests end quickly
    calls: list[Call] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    webhook: dict[str, Any] = field(default_factory=dict)
    orders: list[Any] = field(default_factory=list)  # what `http:` actions posted to /shop/orders
    latency: float = 0.0  # seconds before each answer, as over a network to Telegram
    most_in_flight: int = 0  # the most calls answered at the same time so far
    injected: dict[int, int] = field(default_factory=dict)  # status -> random faults answered

    def __post_init__(self) -> None:
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1000
        self._message_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._faults: list[Fault] = []
        self._random_faults = RandomFaults()
        self._rng = random.Random()
        self._in_flight = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._new_update: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._runner: web.AppRunner | None = None
        self.on_call: Callable[[Call], None] | None = None
        self.uploads: list[tuple[str, bytes]] = []  # (file name as sent, content) of each file

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FakeTelegram:
        self._thread = threading.Thread(target=self._serve, name="fake-telegram", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake Bot API server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self._new_update = asyncio.Event()
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_post("/shop/orders", self._order)  # a web service for `http:` actions
        self._runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, self.host, self.port)
        loop.run_until_complete(site.start())
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        self._ready.set()
        loop.run_forever()
        loop.close()

    # -- what the tests do -----------------------------------------------------------------
    def push(self, *updates: Mapping[str, Any]) -> list[int]:
        """Queue updates for getUpdates; those without an update_id get the next one."""
        ids = []
        with self._lock:
            for update in updates:
                item = dict(update)
                if "update_id" not in item:
                    item["update_id"] = self._next_update_id
                self._next_update_id = max(self._next_update_id, int(item["update_id"])) + 1
                self._updates.append(item)
                ids.append(int(item["update_id"]))
        if self._loop is not None and self._new_update is not None:
            self._loop.call_soon_threadsafe(self._new_update.set)
        return ids

    def next_update_id(self) -> int:
        with self._lock:
            self._next_update_id += 1
            return self._next_update_id - 1

    def fail(
        self,
        method: str,
        status: int,
        times: int = 1,
        retry_after: int = 1,
        delay: float = 0.0,
        carried_out: bool = False,
        description: str = "",
    ) -> None:
        with self._lock:
            self._faults.append(
                Fault(method, status, times, retry_after, delay, carried_out, description)
            )

    def fail_at_random(self, faults: RandomFaults, seed: int | None = None) -> None:
        """From now on answer calls with 429 and 5xx at the given rates (after the faults
        `fail` queued); `RandomFaults()` stops it. The count of each is kept in `injected`."""
        with self._lock:
            self._random_faults, self._rng = faults, random.Random(seed)

    def pending_updates(self) -> int:
        with self._lock:
            return len(self._updates)

    def calls_of(self, *methods: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method in methods]

    def texts_to(self, chat_id: int) -> list[str]:
        """Texts and captions the bot sent or edited into this chat, in order."""
        sent = self.calls_of("sendMessage", "editMessageText", "sendPhoto", "sendDocument")
        return [
            str(c.params.get("text", c.params.get("caption", "")))
            for c in sent
            if str(c.params.get("chat_id")) == str(chat_id)
        ]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return predicate()

    # -- the server ------------------------------------------------------------------------
    async def _params(self, request: web.Request) -> tuple[dict[str, Any], tuple[str, ...]]:
        params: dict[str, Any] = dict(request.query)
        files: list[str] = []
        ctype = request.content_type
        if ctype == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(
                    {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
                )
        elif ctype == "multipart/form-data":
            reader = await request.multipart()
            while True:
                part: Any = await reader.next()
                if part is None:
                    break
                if part.filename:
                    content = bytes(await part.read())
                    with self._lock:
                        self.uploads.append((part.filename, content))
                    files.append(part.name)
                    params[part.name] = f"attach://{part.name}"
                else:
                    params[part.name] = await part.text()
        elif request.can_read_body:
            form = await request.post()
            params.update({k: str(v) for k, v in form.items()})
        return params, tuple(files)

    def _fault_for(self, method: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and fault.method in (method, "*"):
                    fault.times -= 1
                    return fault
            chance = self._random_faults.pick(method, self._rng)
            if chance is not None:
                self.injected[chance.status] = self.injected.get(chance.status, 0) + 1
            return chance

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        if self.latency and method != "getUpdates":
            self._in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self._in_flight)
            try:
                await asyncio.sleep(self.latency)
            finally:
                self._in_flight -= 1
        try:
            params, files = await self._params(request)
        except (ValueError, UnicodeDecodeError) as exc:
            return _error(400, f"Bad Request: cannot read the parameters: {exc}")
        fault = self._fault_for(method)
        if fault is not None:
            if fault.status == 0:
                if fault.carried_out:
                    await self._answer(method, params, files, self._record(method, params, files))
                await asyncio.sleep(fault.delay)
                return _error(504, "Gateway Timeout")
            if fault.status == 429:
                return _error(
                    429,
                    f"Too Many Requests: retry after {fault.retry_after}",
                    {"retry_after": fault.retry_after},
                )
            if fault.status < 500:
                return _error(fault.status, fault.description or f"Error {fault.status}")
            return web.Response(status=fault.status, text="<html>Bad Gateway</html>")
        try:
            check_call(method, params, files)
        except SpecViolation as exc:
            with self._lock:
                self.rejected.append((method, str(exc)))
            return _error(400, f"Bad Request: {exc}")
        call = self._record(method, params, files)
        return await self._answer(method, params, files, call)

    async def _order(self, request: web.Request) -> web.Response:
        """A stand-in order system for scenarios' `http:` actions: numbers each order."""
        body = await request.json()
        with self._lock:
            self.orders.append(body)
            number = 1041 + len(self.orders)
        return web.json_response({"id": number})

    def _record(self, method: str, params: dict[str, Any], files: tuple[str, ...]) -> Call:
        call = Call(method, params, files, time.monotonic())
        with self._lock:
            self.calls.append(call)
        if self.on_call is not None:
            self.on_call(call)
        return call

    async def _answer(
        self,
        method: str,
        params: dict[str, Any],
        files: tuple[str, ...],
        call: Call | None = None,
    ) -> web.Response:
        if method == "getUpdates":
            return await self._get_updates(params)
        if method == "getMe":
            return _ok(BOT_USER)
        if method == "setWebhook":
            with self._lock:
                self.webhook = dict(params)
            return _ok(True)
        if method == "deleteWebhook":
            with self._lock:
                self.webhook = {}
                if params.get("drop_pending_updates") in ("true", "True"):
                    self._updates.clear()
            return _ok(True)
        if method == "getWebhookInfo":
            return _ok({"url": self.webhook.get("url", ""), "pending_update_count": 0})
        if method.startswith("send") or method == "editMessageText":
            message = self._message(method, params, files)
            if call is not None:
                call.answer.update(message)
            return _ok(message)
        return _ok(True)

    def _message(
        self, method: str, params: Mapping[str, Any], files: Iterable[str]
    ) -> dict[str, Any]:
        chat_id = params.get("chat_id", "0")
        chat = int(chat_id) if str(chat_id).lstrip("-").isdigit() else 0
        message: dict[str, Any] = {
            "message_id": int(params["message_id"])
            if "message_id" in params
            else next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat, "type": "private" if chat > 0 else "supergroup"},
            "from": BOT_USER,
        }
        if "text" in params:
            message["text"] = params["text"]
        kind = method.removeprefix("send").lower()
        if kind in ("photo", "document", "video", "audio", "voice", "animation", "sticker"):
            given = str(params.get(kind, ""))
            file_id = (
                f"fake-{kind}-{next(self._file_ids):04d}-uploaded-file-id"
                if kind in files or given.startswith(("http", "attach://"))
                else given
            )
            media = {"file_id": file_id, "file_unique_id": file_id[-12:]}
            message[kind] = [media] if kind == "photo" else media
        return message

    async def _get_updates(self, params: Mapping[str, Any]) -> web.Response:
        with self._lock:
            if self.webhook.get("url"):
                return _error(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset", 0) or 0)
        limit = int(params.get("limit", 100) or 100)
        timeout = min(float(params.get("timeout", 0) or 0), self.poll_cap)
        deadline = time.monotonic() + timeout
        assert self._new_update is not None
        while True:
            self._new_update.clear()  # before looking: a push from now on wakes the wait
            with self._lock:
                if offset:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                ready = self._updates[:limit]
            if ready or time.monotonic() >= deadline:
                return _ok(ready)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._new_update.wait(), max(0.01, deadline - time.monotonic())
                )


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(code: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=code)


# -- updates as Telegram sends them, for tests ---------------------------------------------
def user_json(user_id: int, first_name: str = "Ann", language: str = "en") -> dict[str, Any]:
    return {
        "id": user_id,
        "is_bot": False,
        "first_name": first_name,
        "username": f"user{user_id}",
        "language_code": language,
    }


def text_update(
    user_id: int, text: str, first_name: str = "Ann", language: str = "en", message_id: int = 1
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": message_id,
        "from": user_json(user_id, first_name, language),
        "chat": {"id": user_id, "type": "private", "first_name": first_name},
        "date": int(time.time()),
        "text": text,
    }
    if text.startswith("/"):
        command = text.split(" ", 1)[0]
        message["entities"] = [{"offset": 0, "length": len(command), "type": "bot_command"}]
    return {"message": message}


def press_update(
    user_id: int, data: str, message_id: int, first_name: str = "Ann", language: str = "en"
) -> dict[str, Any]:
    return {
        "callback_query": {
            "id": f"cb-{user_id}-{message_id}-{time.monotonic_ns()}",
            "from": user_json(user_id, first_name, language),
            "chat_instance": "42",
            "data": data,
            "message": {
                "message_id": message_id,
                "from": BOT_USER,
                "chat": {"id": user_id, "type": "private", "first_name": first_name},
                "date": int(time.time()),
                "text": "…",
            },
        }
    }


def contact_update(user_id: int, phone: str, first_name: str = "Ann") -> dict[str, Any]:
    return {
        "message": {
            "message_id": 1,
            "from": user_json(user_id, first_name),
            "chat": {"id": user_id, "type": "private", "first_name": first_name},
            "date": int(time.time()),
            "contact": {"phone_number": phone, "first_name": first_name, "user_id": user_id},
        }
    }


def location_update(user_id: int, latitude: float, longitude: float) -> dict[str, Any]:
    return {
        "message": {
            "message_id": 1,
            "from": user_json(user_id),
            "chat": {"id": user_id, "type": "private", "first_name": "Ann"},
            "date": int(time.time()),
            "location": {"latitude": latitude, "longitude": longitude},
        }
    }
