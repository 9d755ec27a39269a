"""The --stats --html page in a real browser (Playwright driving Debian's chromium, headless):
it fits a phone's width and a desktop's, no chart's text runs out of its chart, and the page
asks the network for nothing. Screenshots are saved in test-artifacts/stats/ to be looked at."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from browser_support import chromium, watch_errors
from conftest import CliResult
from test_stats import stats_cli  # noqa: F401 (the fixture, on both databases)

from engine.store.models import SessionRow

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "stats"


@pytest.fixture
def page() -> Iterator[object]:
    """A page of a headless chromium (a skip without one, a failure under REQUIRE_BROWSER=1)
    that must log no error."""
    with chromium() as browser:
        opened = browser.new_page()
        errors = watch_errors(opened)
        yield opened
        opened.close()
    assert errors == []


# per chart, the texts whose box ends past the chart's right edge (its viewBox)
OVERFLOWING = """() => [...document.querySelectorAll("svg[viewBox]")].flatMap(svg => {
  const width = svg.viewBox.baseVal.width;
  return [...svg.querySelectorAll("text")]
    .filter(t => { const b = t.getBBox(); return b.x < -0.5 || b.x + b.width > width + 0.5; })
    .map(t => t.textContent);
})"""


def test_the_page_fits_a_phone_and_asks_the_network_for_nothing(
    page: object,
    stats_cli: Callable[..., CliResult],  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    # a state named at length (a scenario author's right): its chart label is cut to fit
    SessionRow.create(chat_id=9, user_id=9, scenario="s", state="w" * 120)
    report = tmp_path / "report.html"
    result = stats_cli("--stats", "--html", str(report))
    assert result.code == 0, result.err
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width in (360, 1100):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(report.as_uri())
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert page.evaluate(OVERFLOWING) == []
        titles = page.locator("svg[role=img] > title").all_text_contents()
        assert titles == [
            "New and active users per day",
            "Users per language",
            "Updates not understood per state",
            "Funnel per state",
        ]
        page.screenshot(path=str(ARTIFACTS / f"report-{width}.png"), full_page=True)
    assert asked == [report.as_uri()] * 2  # the file itself, once per width: nothing else
