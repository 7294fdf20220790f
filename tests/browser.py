"""Headless Chromium for the browser tests: Debian's `chromium` package driven by Playwright
(`executable_path`; never a browser Playwright downloads).

Enters: the viewport's width and height. Leaves: a Playwright page in a fresh browser, closed on
leaving; or the test skipped, saying so plainly, where chromium or Playwright is missing
(`.ci/run` installs chromium when it can).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")


@contextlib.contextmanager
def chromium_page(width: int, height: int) -> Iterator[Any]:
    """A page of `width` × `height` CSS pixels in headless Chromium."""
    if not CHROMIUM.exists():
        pytest.skip(f"browser test skipped: {CHROMIUM} is not installed (.ci/run installs it)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="browser test skipped: no playwright"
    )
    with sync_api.sync_playwright() as play:
        browser = play.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--headless", "--disable-gpu"]
        )
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()
