"""The admin panel over HTTP, as an operator's browser uses it: refused without the password,
a session cookie after it, every form checked for its CSRF token and origin, failed logins
limited, every action audited, sensitive values masked, everything escaped. On SQLite and
PostgreSQL (the panel's queries run on both)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import peewee
import pytest
import requests
from aiohttp import web
from builders import compile_yaml

from engine.cli import run
from engine.core.model import Scenario
from engine.ops.problems import Problem, RecentProblems
from engine.runtime.config import SettingsError, read_settings
from engine.store.models import AuditRow, BroadcastRow, FlagRow, RoleRow, SessionRow, UserRow
from engine.web.admin_auth import LoginLimiter, PasswordHash, hash_password
from engine.web.admin_panel import AdminPanel, PanelContext

PASSWORD = "correct horse battery"
HASH = hash_password(PASSWORD)
SCENARIO = """
bot: {name: Shop, start: menu}
vars: {card: null, city: null}
sensitive: [card]
flags: {new_menu: false}
roles: [staff]
messages:
  closed: "Hello {{ user.first_name }}, we are closed."
states:
  menu:
    say: Hi.
    on: [{text: staff, goto: back_office}]
  back_office:
    only: [staff]
    say: Staff only.
"""


@contextmanager
def serving(panel: AdminPanel) -> Iterator[str]:
    """The panel on a real port of 127.0.0.1, its event loop in a thread of its own."""
    app = web.Application()
    panel.add_routes(app)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.run_until_complete(runner.cleanup())
        loop.close()
        panel.close()


class Browser(requests.Session):
    """A browser on the panel's pages: its forms carry the Origin header a browser sends."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base
        self.headers["Origin"] = base

    def page(self, path: str) -> requests.Response:
        return self.get(self.base + path, timeout=10)

    def submit(self, path: str, **form: str) -> requests.Response:
        return self.post(self.base + path, data=form, timeout=10)

    def csrf(self, path: str = "/admin") -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', self.page(path).text)
        assert found, "no CSRF token on the page"
        return found.group(1)

    def log_in(self) -> None:
        answer = self.submit("/admin/login", password=PASSWORD)
        assert answer.status_code == 200 and answer.url.endswith("/admin"), answer.text


@pytest.fixture
def scenario(tmp_path: Path) -> Scenario:
    return compile_yaml(SCENARIO, tmp_path)


@pytest.fixture
def problems() -> RecentProblems:
    return RecentProblems()


@pytest.fixture
def panel_url(db: peewee.Database, scenario: Scenario, problems: RecentProblems) -> Iterator[str]:
    UserRow.create(id=7, first_name="<b>Ann</b>", username="ann", language="de")
    SessionRow.create(
        chat_id=7,
        user_id=7,
        scenario="shop",
        state="menu",
        vars=json.dumps({"card": "4111 1111 1111 1111", "city": "Köln"}),
    )
    live = {
        "updates_per_minute": 12.5,
        "outbox_pending": 3,
        "scenario_version": "v1",
        "last_reload": None,
    }
    context = PanelContext(db, lambda: scenario, lambda: live, problems)
    with serving(AdminPanel(context, HASH, LoginLimiter(attempts=3))) as url:
        yield url


def test_every_page_asks_for_the_password_and_a_wrong_one_is_refused_and_audited(
    panel_url: str,
) -> None:
    browser = Browser(panel_url)
    first = browser.page("/admin/users/7")
    assert first.url.endswith("/admin/login") and 'type="password"' in first.text
    assert "Ann" not in first.text
    wrong = browser.submit("/admin/login", password="guess")
    assert wrong.status_code == 401 and "Wrong password." in wrong.text
    assert browser.page("/admin").url.endswith("/admin/login")  # still out
    browser.log_in()
    overview = browser.page("/admin")
    assert "1</strong> user<" in overview.text and "12.5</strong> updates a minute" in overview.text
    assert [(a.actor, a.action) for a in AuditRow.select().order_by(AuditRow.id)] == [
        ("panel", "login_failed"),
        ("panel", "login"),
    ]
    headers = overview.headers
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    cookie = next(c for c in browser.cookies if c.name == "bot_admin")
    assert cookie.has_nonstandard_attr("HttpOnly") and cookie.path == "/admin"


def test_failed_logins_are_limited_per_address_even_the_right_password_then(
    panel_url: str,
) -> None:
    browser = Browser(panel_url)
    for _ in range(3):
        assert browser.submit("/admin/login", password="guess").status_code == 401
    locked = browser.submit("/admin/login", password=PASSWORD)
    assert locked.status_code == 429 and "Too many failed attempts" in locked.text
    assert browser.page("/admin").url.endswith("/admin/login")


def test_a_form_without_its_token_or_from_another_site_changes_nothing(
    panel_url: str,
) -> None:
    browser = Browser(panel_url)
    browser.log_in()
    assert browser.submit("/admin/flags", name="new_menu", value="on").status_code == 403
    token = browser.csrf()
    browser.headers["Origin"] = "https://evil.example"
    stolen = browser.submit("/admin/flags", csrf=token, name="new_menu", value="on")
    assert stolen.status_code == 403
    assert FlagRow.select().count() == 0
    browser.headers["Origin"] = panel_url
    other = Browser(panel_url)  # logged in on its own: another session, another token
    other.log_in()
    assert other.submit("/admin/flags", csrf=token, name="new_menu", value="on").status_code == 403


def test_a_flag_switched_and_a_role_granted_and_revoked_from_the_panel_are_audited(
    panel_url: str,
) -> None:
    browser = Browser(panel_url)
    browser.log_in()
    token = browser.csrf("/admin/flags")
    switched = browser.submit("/admin/flags", csrf=token, name="new_menu", value="on")
    assert "new_menu switched on" in switched.text
    assert [(f.name, f.enabled, f.updated_by) for f in FlagRow.select()] == [
        ("new_menu", True, "panel")
    ]
    granted = browser.submit("/admin/roles", csrf=token, user_id="7", role="staff", action="grant")
    assert granted.status_code == 200 and "<td>staff</td>" in granted.text
    assert [(r.user_id, r.role) for r in RoleRow.select()] == [(7, "staff")]
    refused = browser.submit("/admin/roles", csrf=token, user_id="7", role="admin", action="grant")
    assert refused.status_code == 400 and "BOT_ADMINS" in refused.text
    browser.submit("/admin/roles", csrf=token, user_id="7", role="staff", action="revoke")
    assert RoleRow.select().count() == 0
    actions = [(a.actor, a.action, a.subject) for a in AuditRow.select().order_by(AuditRow.id)]
    assert actions[1:] == [
        ("panel", "flag", "new_menu"),
        ("panel", "grant", "7"),
        ("panel", "revoke", "7"),
    ]


def test_a_user_page_masks_sensitive_values_escapes_names_and_deletes_only_when_confirmed(
    panel_url: str,
) -> None:
    browser = Browser(panel_url)
    browser.log_in()
    found = browser.page("/admin/users?q=@ann")
    assert "&lt;b&gt;Ann&lt;/b&gt;" in found.text and "<b>Ann</b>" not in found.text
    page = browser.page("/admin/users/7")
    assert "4111" not in page.text and "••••••" in page.text and "Köln" in page.text
    export = browser.page("/admin/users/7/export")
    assert export.headers["Content-Disposition"] == 'attachment; filename="user-7.json"'
    assert export.json()["user"]["username"] == "ann"
    token = browser.csrf("/admin/users/7")
    kept = browser.submit("/admin/users/7/delete", csrf=token, confirm="8")
    assert kept.status_code == 400 and "Not deleted" in kept.text
    assert UserRow.select().count() == 1
    gone = browser.submit("/admin/users/7/delete", csrf=token, confirm="7")
    assert gone.status_code == 200 and "User 7 deleted" in gone.text
    assert UserRow.select().count() == 0 and SessionRow.select().count() == 0
    actions = [a.action for a in AuditRow.select().order_by(AuditRow.id)]
    assert actions == ["login", "export", "delete"]
    assert browser.page("/admin/users/7").status_code == 404


def test_the_problems_page_lists_this_process_problems_and_the_audit_log_pages(
    panel_url: str, problems: RecentProblems
) -> None:
    problems(Problem("plugin_failed", "ValueError: <boom>", state="menu", user_id=7))
    browser = Browser(panel_url)
    browser.log_in()
    page = browser.page("/admin/problems").text
    assert "plugin_failed: ValueError: &lt;boom&gt; [state=menu user=7]" in page
    audit = browser.page("/admin/audit").text
    assert "<td>login</td>" in audit


def test_the_panel_needs_a_valid_hash_and_a_server_to_be_on() -> None:
    base = {"TELEGRAM_BOT_TOKEN": "1:x", "BOT_HTTP_PORT": "9090"}
    assert read_settings({**base, "BOT_ADMIN_PASSWORD_HASH": HASH}).admin_password_hash == HASH
    with pytest.raises(SettingsError, match="--hash-password"):
        read_settings({**base, "BOT_ADMIN_PASSWORD_HASH": "hunter2"})
    with pytest.raises(SettingsError, match="set BOT_HTTP_PORT too"):
        read_settings({"TELEGRAM_BOT_TOKEN": "1:x", "BOT_ADMIN_PASSWORD_HASH": HASH})
    assert "scrypt" not in repr(read_settings({**base, "BOT_ADMIN_PASSWORD_HASH": HASH}))


def test_hash_password_prints_the_setting_line_and_never_the_password() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run(["--hash-password"], out, err, stdin=io.StringIO(PASSWORD + "\n")) == 0
    line = out.getvalue().strip()
    assert line.startswith("BOT_ADMIN_PASSWORD_HASH='scrypt$") and PASSWORD not in line
    made = PasswordHash.parse(line.split("=", 1)[1].strip("'"))
    assert made.matches(PASSWORD) and not made.matches(PASSWORD + "!")
    short = io.StringIO()
    assert run(["--hash-password"], io.StringIO(), short, stdin=io.StringIO("hunter2\n")) == 1
    assert "at least 10 characters" in short.getvalue()


def test_a_broadcast_is_previewed_with_its_count_then_queued_and_cancelled_from_the_panel(
    panel_url: str,
) -> None:
    UserRow.create(id=8, first_name="Bo", language="en")
    browser = Browser(panel_url)
    browser.log_in()
    token = browser.csrf("/admin/broadcasts")
    text = "Closed on <Monday> & Tuesday"
    preview = browser.submit(
        "/admin/broadcasts/preview", csrf=token, text=text, where="language == 'de'"
    )
    assert preview.status_code == 200
    assert "Closed on &lt;Monday&gt; &amp; Tuesday" in preview.text
    assert "<strong>1</strong> user would get it" in preview.text  # Ann (de), not Bo (en)
    assert BroadcastRow.select().count() == 0  # a preview queues nothing
    wrong = browser.submit("/admin/broadcasts/preview", csrf=token, text=text, where="language ==")
    assert wrong.status_code == 400 and "is not a condition" in wrong.text
    sent = browser.submit("/admin/broadcasts", csrf=token, text=text, where="language == 'de'")
    assert "broadcast #1 queued" in sent.text and 'http-equiv="refresh"' in sent.text
    [job] = BroadcastRow.select()
    assert (job.text, job.condition, job.created_by) == (text, "language == 'de'", "panel")
    cancelled = browser.submit("/admin/broadcasts/1/cancel", csrf=token)
    assert "broadcast #1 cancelled" in cancelled.text
    assert BroadcastRow.get_by_id(1).status == "cancelled"
    again = browser.submit("/admin/broadcasts/1/cancel", csrf=token)
    assert again.status_code == 400 and "cancelled already" in again.text
    actions = [(a.actor, a.action) for a in AuditRow.select().order_by(AuditRow.id)][1:]
    assert actions == [("panel", "broadcast"), ("panel", "broadcast_cancel")]


def test_a_broadcast_of_a_scenario_message_is_previewed_as_written_and_queued_by_name(
    panel_url: str,
) -> None:
    browser = Browser(panel_url)
    browser.log_in()
    token = browser.csrf("/admin/broadcasts")
    assert '<option value="closed">closed</option>' in browser.page("/admin/broadcasts").text
    preview = browser.submit("/admin/broadcasts/preview", csrf=token, text="", message="closed")
    assert "Hello {{ user.first_name }}, we are closed." in preview.text
    assert 'name="message" value="closed"' in preview.text
    unknown = browser.submit("/admin/broadcasts/preview", csrf=token, text="", message="open")
    assert unknown.status_code == 400 and "no message &#39;open&#39;" in unknown.text
    browser.submit("/admin/broadcasts", csrf=token, message="closed")
    [job] = BroadcastRow.select()
    assert (job.text, job.message_key) == (None, "closed")


def test_the_statistics_page_is_the_html_report_with_its_style_let_in_by_hash_alone(
    panel_url: str,
) -> None:
    browser = Browser(panel_url)
    browser.log_in()
    page = browser.page("/admin/stats?days=30")
    assert (
        page.status_code == 200 and "<svg" in page.text and "Back to the admin panel" in page.text
    )
    style = re.search(r"<style>(.*?)</style>", page.text, re.S)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    policy = page.headers["Content-Security-Policy"]
    assert f"style-src 'sha256-{digest}'" in policy and "script" not in policy
    assert [(a.action, a.details) for a in AuditRow.select().order_by(AuditRow.id)][-1] == (
        "stats",
        '{"via": "panel", "days": 30}',
    )
