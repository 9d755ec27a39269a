"""The admin panel in a real browser (Playwright driving Debian's chromium, headless), on a
running bot against the fake Bot API: the login refused then accepted, a broadcast started
from the panel reaching the user, the pages on a phone-sized screen. Screenshots are saved
in test-artifacts/admin/ to be looked at."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import chromium, watch_errors
from live_bot import LiveBot, Person, free_port, settle

from engine.testing.fake_telegram import FakeTelegram
from engine.web.admin_auth import hash_password

PASSWORD = "open sesame, please"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "admin"


@pytest.fixture
def page() -> Iterator[object]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        errors = watch_errors(page)
        yield page
        page.close()
    # no script error, no Content-Security-Policy violation (the wrong password's 401 is meant)
    assert [e for e in errors if "status of 401" not in e] == []


@pytest.fixture
def panel_bot(fake: FakeTelegram, tmp_path: Path) -> Iterator[tuple[LiveBot, str]]:
    port = free_port()
    env = {"BOT_HTTP_PORT": str(port), "BOT_ADMIN_PASSWORD_HASH": hash_password(PASSWORD)}
    bot = LiveBot(fake, f"sqlite:///{tmp_path / 'bot.db'}", tmp_path / "bot.log", env)
    bot.start().ready()
    yield bot, f"http://127.0.0.1:{port}"
    assert bot.stop() == 0, bot.log
    assert "Traceback" not in bot.log, bot.log


def test_login_refused_then_accepted_and_a_broadcast_from_the_panel_reaches_the_user(
    page: object, panel_bot: tuple[LiveBot, str], fake: FakeTelegram
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    _, base = panel_bot
    ann = Person(fake, 42)
    ann.send("/start")
    ann.expect("What would you like?")
    settle(fake)

    page.goto(f"{base}/admin")
    expect(page).to_have_url(f"{base}/admin/login")
    page.get_by_label("Password").fill("not it")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_have_text("Wrong password.")
    page.screenshot(path=str(ARTIFACTS / "login-refused.png"))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.locator(".figures")).to_contain_text("1 user")
    page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)

    page.get_by_role("link", name="Broadcasts").click()
    page.get_by_label("Text to send").fill("We are closed on Monday.")
    page.get_by_role("button", name="Preview and count").click()
    expect(page.locator("p", has_text="would get it")).to_contain_text("1 user would")
    page.screenshot(path=str(ARTIFACTS / "broadcast-preview.png"), full_page=True)
    page.get_by_role("button", name="Send to 1 user").click()
    expect(page.get_by_role("status")).to_have_text("broadcast #1 queued")
    ann.expect("We are closed on Monday.", timeout=30)
    deadline = time.monotonic() + 30
    while "done" not in page.locator("table").inner_text():  # the page refreshes itself
        assert time.monotonic() < deadline, page.locator("table").inner_text()
        page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "broadcasts.png"), full_page=True)

    page.get_by_role("link", name="Statistics").click()  # the report: a CSP error would fail
    expect(page.locator("svg").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "stats.png"), full_page=True)
    page.get_by_role("link", name="Back to the admin panel").click()

    page.get_by_role("link", name="Users").click()
    page.get_by_label("Id, name or @username").fill("42")
    page.keyboard.press("Enter")
    page.get_by_role("link", name="42").click()
    expect(page.get_by_role("heading", name="History")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "user.png"), full_page=True)


def test_the_panel_works_on_a_phone_and_with_the_keyboard_alone(
    page: object, panel_bot: tuple[LiveBot, str]
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    _, base = panel_bot
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/admin/login")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'password'")
    page.keyboard.type(PASSWORD)  # the password field has the focus
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    # nothing wider than the screen: no sideways scrolling of the page itself
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    page.screenshot(path=str(ARTIFACTS / "overview-phone.png"), full_page=True)
    page.keyboard.press("Tab")  # skip link
    page.keyboard.press("Tab")  # Overview
    page.keyboard.press("Tab")  # Users
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Users")).to_be_visible()
