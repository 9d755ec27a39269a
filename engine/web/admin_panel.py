"""The admin panel at /admin on the operations server: pages over the same engine/admin and
store functions the command line and the Telegram admin commands call. It exists only when
BOT_ADMIN_PASSWORD_HASH is set; every page but the login needs the session cookie, every
form its CSRF token, and every action writes an audit row (`via: panel`). Plain HTML forms,
no script: it works with the keyboard alone and under a strict Content-Security-Policy."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import peewee
from aiohttp import web

from engine.admin import flags as flag_store
from engine.admin import roles as role_store
from engine.admin.people import audit_page, find_users, overview, user_view
from engine.admin.stats import collect
from engine.admin.stats_html import render_html
from engine.admin.stats_output import since_days
from engine.core.model import Scenario
from engine.ops.problems import RecentProblems
from engine.store.crypto import SensitiveCipher
from engine.store.models import stored_now
from engine.store.privacy import audit, delete_user, export_user
from engine.web.admin_auth import AdminSession, LoginLimiter, PasswordHash, SessionCookies
from engine.web.admin_broadcasts import add_broadcast_routes
from engine.web.http_answers import see_other

log = logging.getLogger("engine.web.admin")
COOKIE = "bot_admin"
SESSION = web.RequestKey("admin_session", AdminSession)
HERE = Path(__file__).parent
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" makes the Origin of forms "null"
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class PanelContext:
    """What the panel reads besides the database: the running scenario, live figures, the
    recent problems of this process, and how to open sensitive values for an export."""

    db: peewee.Database
    scenario: Callable[[], Scenario]
    live: Callable[[], dict[str, Any]]  # updates per minute, outbox depth, last reload, ...
    problems: RecentProblems
    cipher: SensitiveCipher | None = None


def when(moment: Any) -> str:
    """A stored moment to the second, as both databases return it (a datetime, or SQLite's
    text)."""
    if isinstance(moment, dt.datetime):
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return "" if moment is None else str(moment)[:19]


def roles_used(scenario: Scenario) -> list[str]:
    """The roles the scenario's `only:` names, but admin (BOT_ADMINS' alone): what there
    is to grant."""
    used = {r for s in scenario.states.values() for r in s.only}
    used |= {r for c in scenario.commands.values() for r in c.only}
    return sorted(used - {"admin"})


class AdminPanel:
    def __init__(
        self,
        context: PanelContext,
        password_hash: str,
        limiter: LoginLimiter | None = None,
    ) -> None:
        self.context = context
        self.password = PasswordHash.parse(password_hash)
        self.cookies = SessionCookies(self.password.signing_key())
        self.limiter = limiter or LoginLimiter()
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="admin")
        self.pages = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates" / "admin"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self.pages.filters["when"] = when
        self.pages.filters["timestamp"] = lambda t: dt.datetime.fromtimestamp(t, dt.UTC).strftime(
            "%Y-%m-%d %H:%M:%S"
        )

    # -- plumbing -------------------------------------------------------------------------
    async def db(self, work: Callable[[], Any]) -> Any:
        """Database work on the panel's threads, in one transaction (never the event loop's)."""

        def run() -> Any:
            with self.context.db.connection_context(), self.context.db.atomic():
                return work()

        return await asyncio.get_running_loop().run_in_executor(self.pool, run)

    async def run(self, work: Callable[[], Any]) -> Any:
        """Work that opens its own transaction (engine/admin's commands), on the panel's
        threads with a connection of their own."""

        def run() -> Any:
            with self.context.db.connection_context():
                return work()

        return await asyncio.get_running_loop().run_in_executor(self.pool, run)

    def page(
        self, name: str, request: web.Request, status: int = 200, **values: Any
    ) -> web.Response:
        session = request.get(SESSION)
        token = session.csrf_token(self.cookies.key) if session is not None else ""
        body = self.pages.get_template(name).render(csrf=token, active=name, **values)
        return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")

    def _address(self, request: web.Request) -> str:
        return request.remote or "unknown"

    def _same_origin(self, request: web.Request) -> bool:
        """A form posted from this panel's own pages: the browser's Origin (or Referer)
        names this host."""
        origin = request.headers.get("Origin") or request.headers.get("Referer") or ""
        if not origin:
            return False
        host = origin.split("://", 1)[-1].split("/", 1)[0]
        return host == request.host

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Headers on every answer; a session for every page but the login and the style
        sheet; for every POST, the same origin and (but the login) the session's token."""
        path = request.path
        if not path.startswith("/admin"):
            return await handler(request)
        public = path in ("/admin/login", "/admin/static/admin.css")
        if request.method == "POST" and not self._same_origin(request):
            response: web.StreamResponse = web.Response(status=403, text="cross-site form")
        elif public:
            response = await handler(request)
        else:
            session = self.cookies.read(request.cookies.get(COOKIE))
            if session is None:
                response = see_other("/admin/login")
            else:
                request[SESSION] = session
                if request.method == "POST":
                    form = await request.post()
                    token = form.get("csrf")
                    if not self.cookies.csrf_ok(session, token if isinstance(token, str) else None):
                        return self._headers(web.Response(status=403, text="stale form"))
                response = await handler(request)
        return self._headers(response)

    def _headers(self, response: web.StreamResponse) -> web.StreamResponse:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def add_routes(self, app: web.Application) -> None:
        app.middlewares.append(self.guard)
        r = app.router
        r.add_get("/admin/static/admin.css", self.css)
        r.add_get("/admin/login", self.login_page)
        r.add_post("/admin/login", self.login)
        r.add_post("/admin/logout", self.logout)
        r.add_get("/admin", self.overview)
        r.add_get("/admin/", self.overview)
        r.add_get("/admin/users", self.users)
        r.add_get("/admin/users/{id:-?[0-9]+}", self.user)
        r.add_get("/admin/users/{id:-?[0-9]+}/export", self.export)
        r.add_post("/admin/users/{id:-?[0-9]+}/delete", self.delete)
        r.add_get("/admin/flags", self.flags)
        r.add_post("/admin/flags", self.switch_flag)
        r.add_get("/admin/roles", self.roles)
        r.add_post("/admin/roles", self.change_role)
        r.add_get("/admin/audit", self.audit)
        add_broadcast_routes(self, app)
        r.add_get("/admin/problems", self.problems)
        r.add_get("/admin/stats", self.stats)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    # -- login ----------------------------------------------------------------------------
    async def css(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(HERE / "static" / "admin.css")

    async def login_page(self, request: web.Request) -> web.Response:
        return self.page("login.html", request, error=None)

    async def login(self, request: web.Request) -> web.StreamResponse:
        address = self._address(request)
        wait = self.limiter.wait_seconds(address)
        if wait:
            log.warning("admin panel: login refused for %s, too many attempts", address)
            return self.page(
                "login.html",
                request,
                status=429,
                error=f"Too many failed attempts. Try again in {int(wait) + 1} s.",
            )
        form = await request.post()
        password = form.get("password")
        loop = asyncio.get_running_loop()
        right = isinstance(password, str) and await loop.run_in_executor(
            self.pool, self.password.matches, password
        )
        await self.db(lambda: self._audit("login" if right else "login_failed", address))
        if not right:
            self.limiter.failed(address)
            log.warning("admin panel: a wrong password from %s", address)
            return self.page("login.html", request, status=401, error="Wrong password.")
        self.limiter.succeeded(address)
        cookie, _ = self.cookies.make()
        response = see_other("/admin")
        response.set_cookie(
            COOKIE,
            cookie,
            httponly=True,
            samesite="Strict",
            # behind HTTPS (or a proxy that says so): the cookie only travels encrypted
            secure=request.secure or request.headers.get("X-Forwarded-Proto") == "https",
            path="/admin",
            max_age=12 * 3600,
        )
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        response = see_other("/admin/login")
        response.del_cookie(COOKIE, path="/admin")
        return response

    def _audit(self, action: str, subject: str | None, **details: Any) -> None:
        audit("panel", action, subject, {"via": "panel", **details}, stored_now())

    # -- pages ----------------------------------------------------------------------------
    async def overview(self, request: web.Request) -> web.Response:
        figures = await self.db(lambda: overview(stored_now()))
        # the live figures read the outbox too: on the panel's threads, not the event loop's
        live = await asyncio.get_running_loop().run_in_executor(self.pool, self.context.live)
        return self.page(
            "overview.html",
            request,
            figures=figures,
            live=live,
            problems=self.context.problems.counts(),
        )

    async def users(self, request: web.Request) -> web.Response:
        query = request.query.get("q", "")[:100]
        found = await self.db(lambda: find_users(query))
        return self.page("users.html", request, query=query, users=found)

    async def user(self, request: web.Request) -> web.Response:
        user_id = int(request.match_info["id"])
        sensitive = self.context.scenario().sensitive
        view = await self.db(lambda: user_view(user_id, sensitive))
        if view is None:
            return self.page("missing.html", request, status=404, what=f"user {user_id}")
        return self.page("user.html", request, view=view, done=request.query.get("done"))

    async def export(self, request: web.Request) -> web.StreamResponse:
        user_id = int(request.match_info["id"])

        def work() -> dict[str, Any]:
            data = export_user(user_id, self.context.cipher)
            self._audit("export", str(user_id))
            return data

        data = await self.db(work)
        return web.Response(
            text=json.dumps(data, ensure_ascii=False, indent=2),
            content_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="user-{user_id}.json"'},
        )

    async def delete(self, request: web.Request) -> web.StreamResponse:
        user_id = int(request.match_info["id"])
        form = await request.post()
        if form.get("confirm", "") != str(user_id):
            sensitive = self.context.scenario().sensitive
            view = await self.db(lambda: user_view(user_id, sensitive))
            if view is None:
                return self.page("missing.html", request, status=404, what=f"user {user_id}")
            message = f"Not deleted: type the user id {user_id} to confirm."
            return self.page("user.html", request, status=400, view=view, done=message)

        def work() -> dict[str, int]:
            counts = delete_user(user_id)
            self._audit("delete", str(user_id), rows=counts)
            return counts

        counts = await self.db(work)
        return self.page("deleted.html", request, user_id=user_id, counts=counts)

    async def flags(self, request: web.Request) -> web.Response:
        declared = dict(self.context.scenario().flags)
        stored = {f.name: f for f in await self.db(flag_store.stored_flags)}
        rows = [
            (name, stored[name].enabled if name in stored else default, default, stored.get(name))
            for name, default in sorted(declared.items())
        ]
        return self.page("flags.html", request, rows=rows, done=request.query.get("done"))

    async def switch_flag(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        name, value = str(form.get("name", "")), str(form.get("value", ""))
        if name not in self.context.scenario().flags or value not in ("on", "off"):
            return web.Response(status=400, text="no such flag, or not on/off")
        await self.db(lambda: flag_store.switch(name, value == "on", "panel", stored_now()))
        return see_other(f"/admin/flags?done={name}+switched+{value}")

    async def roles(self, request: web.Request) -> web.Response:
        grants = await self.db(role_store.all_grants)
        declared = roles_used(self.context.scenario())
        return self.page(
            "roles.html", request, grants=grants, declared=declared, done=request.query.get("done")
        )

    async def change_role(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        user, role, action = (str(form.get(k, "")).strip() for k in ("user_id", "role", "action"))
        if not user.lstrip("-").isdigit() or action not in ("grant", "revoke"):
            return web.Response(status=400, text="a user id (digits) and grant or revoke")
        change = role_store.grant if action == "grant" else role_store.revoke
        try:
            await self.db(lambda: change(int(user), role, "panel", stored_now()))
        except role_store.RoleError as exc:
            grants = await self.db(role_store.all_grants)
            declared = roles_used(self.context.scenario())
            return self.page(
                "roles.html", request, status=400, grants=grants, declared=declared, done=str(exc)
            )
        return see_other(f"/admin/roles?done={action}+{role}+{user}")

    async def audit(self, request: web.Request) -> web.Response:
        before = request.query.get("before", "")
        start = int(before) if before.isdigit() else None
        lines = await self.db(lambda: audit_page(start))
        return self.page("audit.html", request, lines=lines)

    async def problems(self, request: web.Request) -> web.Response:
        return self.page(
            "problems.html",
            request,
            recent=self.context.problems.recent(),
            counts=self.context.problems.counts(),
        )

    async def stats(self, request: web.Request) -> web.Response:
        """The --stats --html page itself (the same figures, charts and tables), with a CSP
        that lets its one inline style block in by hash, nothing else; ?days=N as --days."""
        days = request.query.get("days", "")
        now = stored_now()
        since = since_days(int(days), now) if days.isdigit() and 0 < int(days) < 10_000 else None

        def work() -> str:
            figures = collect(since)
            self._audit("stats", None, days=int(days) if since else None)
            return render_html(figures, now)

        page = await self.db(work)
        found = re.search(r"<style>(.*?)</style>", page, re.S)
        style = found.group(1) if found is not None else ""
        digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
        back = '<p><a href="/admin">← Back to the admin panel</a></p>'
        page = page.replace("<main>", "<main>" + back, 1) if "<main>" in page else page
        response = web.Response(text=page, content_type="text/html", charset="utf-8")
        response.headers["Content-Security-Policy"] = (
            f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        )
        return response
