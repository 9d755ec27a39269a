"""Receiving updates by webhook (aiohttp): the secret header checked in constant time (403,
also for a header that is not UTF-8), the body capped (413), invalid JSON or an update id
Telegram cannot have sent answered 400, and 200 only after the update is committed (a
duplicate is answered 200 and changes nothing)."""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Callable

from aiohttp import web

from engine.ops.problems import Problem
from engine.runtime.processing import Processor
from engine.store.database import database_gone
from engine.store.pipeline import StoreUnavailable
from engine.telegram.updates import parse_update, valid_update_id

MAX_BODY = 1 << 20  # Telegram's updates are far smaller; a 10 MB body is refused unread
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def make_app(
    processor: Processor,
    secret: str,
    path: str = "/",
    fatal: Callable[[str, BaseException], None] | None = None,
) -> web.Application:
    """The webhook endpoint. A busy database is answered 503 (Telegram sends the update
    again); the database gone, or a bug, is answered 500 and handed to `fatal`."""
    expected = secret.encode()
    problems = processor.store.problems

    async def receive(request: web.Request) -> web.Response:
        # a byte that is not UTF-8 arrives as a lone surrogate: compared as the bytes it was
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, expected):
            return web.Response(status=403, text="wrong secret")
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.Response(status=413, text="too large")
        body = await request.read()
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return web.Response(status=400, text="not JSON")
        if not isinstance(data, dict) or not valid_update_id(data.get("update_id")):
            return web.Response(status=400, text="not an update")
        update = parse_update(data, username=processor.username)
        try:
            await asyncio.get_running_loop().run_in_executor(None, processor.process, [update])
        except StoreUnavailable as exc:
            if database_gone(exc) and fatal is not None:
                fatal("the webhook", exc)
                return web.Response(status=500, text="stopping")
            cause = f"the database refused an update; Telegram will send it again: {exc}"
            problems.report(Problem("store", cause, update_id=update.update_id))
            return web.Response(status=503, text="try again")
        except Exception as exc:  # a bug: nothing acknowledged; the process must not hide it
            if fatal is None:
                raise
            fatal("the webhook", exc)
            return web.Response(status=500, text="stopping")
        return web.Response(status=200, text="ok")

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_post(path, receive)
    return app
