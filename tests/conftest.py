"""Fixtures shared by every test folder: one headless Chromium for the whole session.

Playwright's sync API can run once per thread, so the book's browser tests and the
explorer's JavaScript tests share this one instance instead of starting their own.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

SLOW_MARKERS = ("book", "browser", "cluster")


def pytest_collection_modifyitems(config, items):
    """Every book, browser or cluster test is also ``slow``: ``-m "not slow"`` skips them all."""
    for item in items:
        if any(item.get_closest_marker(name) for name in SLOW_MARKERS):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium through Playwright, with a fresh user-data-dir.

    Skips loudly when Playwright or Chromium is missing; fails then if
    ``BATCHSTEPS_REQUIRE_BROWSER=1``.
    """
    required = os.environ.get("BATCHSTEPS_REQUIRE_BROWSER") == "1"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        if required:
            pytest.fail(f"BATCHSTEPS_REQUIRE_BROWSER=1 but Python Playwright is missing: {error}")
        pytest.skip(f"BROWSER TESTS SKIPPED: Python Playwright is not installed ({error})")
    if not CHROMIUM.exists():
        if required:
            pytest.fail(f"BATCHSTEPS_REQUIRE_BROWSER=1 but {CHROMIUM} is missing")
        pytest.skip(
            f"BROWSER TESTS SKIPPED: {CHROMIUM} is missing; install Debian's chromium "
            "(apt-get install chromium) to check the built book in a real browser"
        )
    with tempfile.TemporaryDirectory(prefix="batchsteps-chromium-") as profile:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=str(CHROMIUM),
                args=CHROMIUM_ARGS,
                headless=True,
                viewport={"width": 1280, "height": 900},
                service_workers="block",
            )
            yield context
            context.close()
