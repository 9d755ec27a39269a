"""`python run.py --playground`: the page on 127.0.0.1 where an author talks to a scenario as
in Telegram, its diagram and its errors beside the chat (aiohttp). The page is one template
and its static files (Mermaid vendored from npm, nothing from a CDN); every answer carries a
Content-Security-Policy. Changes come as JSON posts from the page itself: the host must be
the one it was served on and the body JSON, so another site cannot talk to it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

import jinja2
from aiohttp import web

from engine.core.durations import DurationError, parse_duration
from engine.web.play_chat import PREVIEW_TYPES
from engine.web.play_session import PlaySession

HERE = os.path.dirname(os.path.abspath(__file__))
POLL_SECONDS = 0.5  # how often the scenario's files are looked at
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)  # Mermaid writes the diagram's styles inline: style-src allows them, scripts never
SESSION: web.AppKey[PlaySession] = web.AppKey("session", PlaySession)
_TEST_NAME = re.compile(r"^[^\n]{1,120}$")
_SHARES = ("contact", "location", "photo", "document", "voice", "video")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Safe headers on every answer; a post only from this page (a rebound DNS name or a
    form on another site is refused)."""
    host = request.host.rsplit(":", 1)[0].strip("[]")
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise web.HTTPForbidden(text="the playground answers on 127.0.0.1 only")
    if request.method == "POST" and request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="send JSON")
    response = await handler(request)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.path.join(HERE, "templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


async def _page(request: web.Request) -> web.Response:
    session = request.app[SESSION]
    page = _templates().get_template("playground.html").render(file=session.path)
    return web.Response(text=page, content_type="text/html")


async def _view(request: web.Request) -> web.Response:
    return web.json_response(await asyncio.to_thread(request.app[SESSION].view))


async def _diagram(request: web.Request) -> web.Response:
    return web.json_response(await asyncio.to_thread(request.app[SESSION].diagram))


async def _state(request: web.Request) -> web.Response:
    name = request.query.get("name", "")
    source = await asyncio.to_thread(request.app[SESSION].state_source, name)
    if source is None:
        raise web.HTTPNotFound(text="no such state")
    return web.json_response(source)


async def _media(request: web.Request) -> web.StreamResponse:
    """A picture a message showed: only files the conversation sent, by the name it gave
    them (no path comes from the page)."""
    name = request.match_info["name"]
    path = await asyncio.to_thread(request.app[SESSION].preview, name)
    if path is None:
        raise web.HTTPNotFound(text="no such picture in this conversation")
    content_type = PREVIEW_TYPES[os.path.splitext(name)[1]]
    return web.FileResponse(path, headers={"Content-Type": content_type})


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise web.HTTPBadRequest(text="the body is not JSON") from exc
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="the body is not a JSON object")
    return body


def _text(body: dict[str, Any], key: str, limit: int = 4096) -> str:
    value = body.get(key)
    if not isinstance(value, str) or len(value) > limit:
        raise web.HTTPBadRequest(text=f"{key}: a text of at most {limit} characters")
    return value


def _number(body: dict[str, Any], key: str) -> int:
    value = body.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise web.HTTPBadRequest(text=f"{key}: a whole number")
    return value


async def _act(request: web.Request) -> web.Response:
    """What the user did: send, press, share, wait, language or restart."""
    session = request.app[SESSION]
    body = await _body(request)
    what = request.match_info["what"]
    if what == "send":
        text = _text(body, "text")
        await asyncio.to_thread(session.act, lambda chat: chat.type_text(text))
    elif what == "press":
        message, row, column = (_number(body, k) for k in ("message", "row", "column"))
        await asyncio.to_thread(session.act, lambda chat: chat.press(message, row, column))
    elif what == "share":
        kind = _text(body, "kind", 20)
        if kind not in _SHARES:
            raise web.HTTPBadRequest(text=f"kind: one of {', '.join(_SHARES)}")
        await asyncio.to_thread(session.act, lambda chat: chat.share_kind(kind))
    elif what == "wait":
        duration = _text(body, "duration", 20)
        try:
            parse_duration(duration)
        except DurationError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from exc
        await asyncio.to_thread(session.act, lambda chat: chat.wait_for(duration))
    elif what == "language":
        language = _text(body, "language", 20)
        try:
            await asyncio.to_thread(session.switch_language, language)
        except ValueError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from exc
    elif what == "restart":
        await asyncio.to_thread(session.restart)
    else:
        raise web.HTTPNotFound(text="no such action")
    return web.json_response(await asyncio.to_thread(session.view))


async def _save_test(request: web.Request) -> web.Response:
    body = await _body(request)
    name = _text(body, "name", 120).strip()
    if not _TEST_NAME.match(name):
        raise web.HTTPBadRequest(text="name: one line of text")
    try:
        target = await asyncio.to_thread(request.app[SESSION].save_as_test, name)
    except ValueError as exc:
        raise web.HTTPConflict(text=str(exc)) from exc
    except OSError as exc:
        raise web.HTTPInternalServerError(text=f"cannot write the tests file: {exc}") from exc
    return web.json_response({"file": target, "name": name})


async def _watch(app: web.Application) -> Any:
    """Look at the scenario's files every POLL_SECONDS while the app runs."""

    async def watch() -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            await asyncio.to_thread(app[SESSION].reload_if_changed)

    task = asyncio.create_task(watch())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await asyncio.to_thread(app[SESSION].close)


# The session's lock is held while the bot answers (an HTTP call may take seconds): every
# handler waits for it on a thread, so the server keeps answering meanwhile.


def playground_app(session: PlaySession) -> web.Application:
    """The playground's routes over `session`; the files are watched while it runs."""
    app = web.Application(middlewares=[_guarded], client_max_size=64 * 1024)
    app[SESSION] = session
    app.router.add_get("/", _page)
    app.router.add_get("/api/view", _view)
    app.router.add_get("/api/diagram", _diagram)
    app.router.add_get("/api/state", _state)
    app.router.add_get("/media/{name}", _media)
    app.router.add_post("/api/save-test", _save_test)
    app.router.add_post("/api/{what}", _act)
    app.router.add_static("/static/", os.path.join(HERE, "static"))
    app.cleanup_ctx.append(_watch)
    return app


async def serve(session: PlaySession, host: str, port: int, stdout: TextIO) -> None:
    """Serve until SIGTERM or Ctrl-C; the address is printed (port 0: a free one) to click
    on."""
    runner = web.AppRunner(playground_app(session), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    url = f"http://{host}:{bound}/"
    stdout.write(f"The playground of {session.path} is at {url} (Ctrl-C stops it)\n")
    stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):  # Ctrl-C or a supervisor: stop cleanly
        with contextlib.suppress(NotImplementedError):  # (Windows has no such handlers)
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()  # the session closes: its temporary database is deleted


def run_playground(
    path: str,
    port: int,
    stdout: TextIO,
    name: str | None = None,
    language: str | None = None,
    media_dir: str | None = None,
) -> int:
    session = PlaySession(path, name, language, media_dir)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(session, "127.0.0.1", port, stdout))
    return 0
