"""The playground in a real browser: Playwright (PyPI) driving Debian's chromium headless,
never a downloaded browser. A conversation with buttons, the highlighted state, a state's
YAML, a live reload, a broken file's errors, a phone-sized screen and the keyboard alone.

Screenshots are kept in test-artifacts/playground/ (git-ignored) to be looked at. Without
chromium or playwright these tests are skipped, unless REQUIRE_BROWSER=1 (CI installs both
and sets it), where their absence fails them. A message the page logs as an error (a script
error, a Content-Security-Policy violation) fails the test that caused it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from browser_support import chromium, watch_errors
from builders import ROOT
from playground_helpers import SCENARIO, Playground, playground, rewrite, write_scenario

ARTIFACTS = ROOT / "test-artifacts" / "playground"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@contextmanager
def browse(browser: Any, place: Playground, size: dict[str, int] = DESKTOP) -> Iterator[Any]:
    """A page on `place`, closed before the playground stops; the errors it logged (a
    script's, a Content-Security-Policy violation) fail the test."""
    page = browser.new_page(viewport=size)
    errors = watch_errors(page)
    page.goto(place.url)
    page.wait_for_selector("#diagram svg g.node.current", timeout=20_000)
    try:
        yield page
    finally:
        page.close()
    assert errors == []


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def current_node(page: Any) -> str:
    """The id Mermaid gave the highlighted node (…-flowchart-s_1-3 for the second state)."""
    return str(page.locator("#diagram g.node.current").get_attribute("id"))


def test_a_press_edits_the_message_in_place_and_moves_the_highlight(
    tmp_path: Path, browser: Any
) -> None:
    from playwright.sync_api import expect

    scenario = write_scenario(tmp_path)
    with playground(scenario, "--name", "Ann") as place, browse(browser, place) as page:
        bubbles = page.locator("#messages .message.bot")
        expect(bubbles).to_have_count(1)
        expect(bubbles.first.locator(".text")).to_have_text("Hello Ann! Pick one:")
        expect(bubbles.first.locator(".text b")).to_have_text("Ann")  # HTML shown as bold
        assert "-flowchart-s_0-" in current_node(page)  # menu
        page.get_by_role("button", name="Joke", exact=True).click()
        expect(bubbles.first.locator(".text")).to_have_text("A short joke.")
        expect(bubbles).to_have_count(1)  # edited in place, not sent anew
        expect(bubbles.first.locator(".edited")).to_be_visible()
        expect(page.locator("#state")).to_have_text("joke")
        expect(page.locator("#diagram g.node.current")).to_have_attribute("id", _node("s_1"))
        page.locator("#diagram g.node.current").click()  # its YAML beside the diagram
        expect(page.locator("#yaml-title")).to_contain_text("play.yaml:14 (state joke)")
        expect(page.locator("#yaml-lines")).to_contain_text("say: A <i>short</i> joke.")
        shot(page, "conversation-desktop")
        page.get_by_role("button", name="Back", exact=True).click()
        page.get_by_role("button", name="Timer", exact=True).click()
        expect(page.locator("#clock")).to_contain_text("next timer in 10m")
        page.locator("#wait").fill("10m")
        page.get_by_role("button", name="⏩ Wait").click()
        over = page.locator("#messages .bot .text").filter(has_text="Ten minutes are over.")
        expect(over).to_have_count(1)
        expect(page.locator("#clock")).not_to_contain_text("next timer")


def _node(node_id: str) -> Any:
    import re

    return re.compile(rf"-flowchart-{node_id}-\d+$")


def test_saving_the_file_reloads_it_and_a_broken_file_shows_its_errors(
    tmp_path: Path, browser: Any
) -> None:
    from playwright.sync_api import expect

    path = write_scenario(tmp_path)
    with playground(path) as place, browse(browser, place) as page:
        rewrite(path, SCENARIO.replace("A <i>short</i> joke.", "A <i>brand new</i> joke."))
        expect(page.locator("#messages .note").last).to_contain_text("the scenario was saved")
        page.get_by_role("button", name="Joke", exact=True).click()
        expect(page.locator("#messages .bot .text").first).to_have_text("A brand new joke.")
        rewrite(path, SCENARIO.replace("{text: Back, goto: menu}", "{text: Back, goto: nowhere}"))
        errors = page.locator("#errors")
        expect(errors).to_be_visible()
        expect(errors).to_contain_text(f"{path}:17:")
        expect(errors).to_contain_text("nowhere")
        expect(page.locator("#chat")).to_be_hidden()  # the errors instead of the chat
        shot(page, "broken-file")
        page.get_by_role("button", name="Talk to the previous version").click()
        page.get_by_role("button", name="Back", exact=True).click()  # the previous version answers
        expect(page.locator("#state")).to_have_text("menu")
        rewrite(path, SCENARIO)
        expect(errors).to_be_hidden()
        expect(page.locator("#chat")).to_be_visible()


def test_the_demo_on_a_phone_with_the_keyboard_alone(browser: Any) -> None:
    from playwright.sync_api import expect

    demo = ROOT / "scenarios" / "demo.yaml"
    with playground(demo, "--name", "Ann") as place, browse(browser, place, PHONE) as page:
        expect(page.locator("#messages .bot").last).to_contain_text("What would you like?")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]  # nothing wider than the phone's screen
        page.locator("#text").focus()
        page.keyboard.type("hello")
        page.keyboard.press("Enter")  # the form sends it
        expect(page.locator("#messages .user").last).to_have_text("hello")
        order = page.get_by_role("button", name="🍕 Order a pizza", exact=True)
        order.focus()
        page.keyboard.press("Enter")
        expect(page.locator("#keyboard .key")).to_have_count(3)  # Small, Medium, Large
        expect(page.locator("#state")).to_have_text("size")
        page.locator("#keyboard .key").first.focus()
        page.keyboard.press("Enter")
        expect(page.locator("#messages .bot").last).to_contain_text("How many Small pizzas?")
        shot(page, "demo-phone")
        node = page.locator("#diagram g.node.current")
        node.focus()
        page.keyboard.press("Enter")
        expect(page.locator("#yaml-lines")).to_contain_text("quantity:")
