"""The admin panel's broadcasts page: the list with each one's progress, a form that shows the
text as users will read it and how many would get it (the dry run) before anything is queued,
and cancel. The same functions as `--broadcast`, `--dry-run`, `--broadcasts` and `--cancel`;
the running bot's sender sends, within the limits, replies first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from engine.admin import broadcasts as jobs
from engine.store.models import stored_now
from engine.web.http_answers import see_other

if TYPE_CHECKING:
    from engine.web.admin_panel import AdminPanel

MAX_WHERE = 500  # characters of a condition typed in the form


def add_broadcast_routes(panel: AdminPanel, app: web.Application) -> None:
    r = app.router

    async def page(request: web.Request) -> web.Response:
        return await _list(panel, request, notice=request.query.get("done"))

    async def preview(request: web.Request) -> web.Response:
        """The text as it will look, and how many it would reach: nothing is queued yet."""
        form = await request.post()
        text = str(form.get("text", ""))
        where = str(form.get("where", "")).strip()[:MAX_WHERE] or None
        message = str(form.get("message", ""))
        named = panel.context.scenario().messages
        try:
            if message:  # a text of the scenario: shown as written, sent translated
                if message not in named:
                    raise jobs.BroadcastError(f"the scenario has no message {message!r}")
                text = named[message].source
            elif not text.strip():
                raise jobs.BroadcastError("write the text to send first")
            if len(text) > jobs.MAX_TEXT:
                raise jobs.BroadcastError(
                    f"the text has {len(text)} characters; Telegram takes {jobs.MAX_TEXT}"
                )
            now = stored_now()
            count = await panel.db(lambda: jobs.count_recipients(panel.context.db, where, now))
        except jobs.BroadcastError as exc:
            return await _list(panel, request, status=400, error=str(exc), text=text, where=where)
        return panel.page(
            "broadcast_preview.html",
            request,
            text=text,
            where=where or "",
            count=count,
            message=message,
        )

    async def start(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        message = str(form.get("message", "")) or None
        text = None if message else str(form.get("text", ""))
        where = str(form.get("where", "")).strip()[:MAX_WHERE] or None
        now = stored_now()
        try:
            if message is not None and message not in panel.context.scenario().messages:
                raise jobs.BroadcastError(f"the scenario has no message {message!r}")
            made = await panel.run(
                lambda: jobs.create(
                    panel.context.db,
                    text=text,
                    message_key=message,
                    where=where,
                    actor="panel",
                    now=now,
                    via="panel",
                )
            )
        except jobs.BroadcastError as exc:
            return await _list(
                panel, request, status=400, error=str(exc), text=text or "", where=where
            )
        return see_other(f"/admin/broadcasts?done=broadcast+%23{made}+queued")

    async def cancel(request: web.Request) -> web.StreamResponse:
        number = int(request.match_info["id"])
        now = stored_now()
        try:
            await panel.run(
                lambda: jobs.cancel(panel.context.db, number, "panel", now, via="panel")
            )
        except jobs.BroadcastError as exc:
            return await _list(panel, request, status=400, error=str(exc))
        return see_other(f"/admin/broadcasts?done=broadcast+%23{number}+cancelled")

    r.add_get("/admin/broadcasts", page)
    r.add_post("/admin/broadcasts/preview", preview)
    r.add_post("/admin/broadcasts", start)
    r.add_post("/admin/broadcasts/{id:[0-9]+}/cancel", cancel)


async def _list(
    panel: AdminPanel,
    request: web.Request,
    status: int = 200,
    notice: str | None = None,
    error: str | None = None,
    text: str = "",
    where: str | None = None,
) -> web.Response:
    reports = await panel.db(lambda: jobs.listing(panel.context.db))
    running = any(r.status in jobs.ACTIVE for r in reports)
    return panel.page(
        "broadcasts.html",
        request,
        status=status,
        reports=reports,
        live_statuses=jobs.ACTIVE,
        running=running,
        notice=notice,
        error=error,
        text=text,
        where=where or "",
        messages=sorted(panel.context.scenario().messages),
    )
