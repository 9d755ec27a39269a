"""Debian's chromium driven by Playwright (PyPI), for the tests of the pages: found by its path
(CHROMIUM_PATH, else `chromium` on PATH), never a downloaded browser. Without chromium or
playwright a browser test is skipped, unless REQUIRE_BROWSER=1 (CI installs both and sets it),
where their absence fails it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


def browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    if not os.path.isfile(CHROMIUM):
        return f"chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    return None


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless chromium, or the test skipped (failed under REQUIRE_BROWSER=1)."""
    missing = browser_missing()
    if missing is not None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(f"{missing}; CI sets REQUIRE_BROWSER=1 so these run there")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        # --no-sandbox: CI runs as root, where chromium's sandbox refuses to start
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


def watch_errors(page: Any) -> list[str]:
    """What the page logs as an error (a script's, a Content-Security-Policy violation):
    a test asserts it stays empty."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors
