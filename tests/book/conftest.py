"""Fixtures for the built book: build it when stale, serve it on 127.0.0.1, drive Chromium.

``built_book`` (session) returns ``_build/html``, building the book first with
``jupyter-book build . -W -n --keep-going --all`` when it is missing, older than any source
(chapters, the library, ``_config.yml``, ``_toc.yml``, ...) or built otherwise since the tests
last built it (see ``book_is_stale``). The browser
is Debian's ``/usr/bin/chromium`` driven by Python Playwright (no browser download); without
it the browser tests skip with a loud reason, and fail instead when
``BATCHSTEPS_REQUIRE_BROWSER=1`` (CI sets it).
"""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest
from book_pages import HTML, Visit, book_is_stale, build_book, stamp_build
from book_pages import toc_pages as toc_pages  # re-exported: test modules import it from here


@pytest.fixture(scope="session")
def built_book() -> Path:
    """``_build/html``, built now if missing or stale; a failed build fails the test."""
    if book_is_stale():
        result = build_book()
        if result.returncode != 0 or not (HTML / "index.html").exists():
            tail = (result.stdout + result.stderr)[-6000:]
            pytest.fail(f"jupyter-book build failed (exit {result.returncode}):\n{tail}")
        stamp_build()
    return HTML


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class names it so
        pass


@pytest.fixture(scope="session")
def book_url(built_book: Path):
    """The built book served over HTTP on 127.0.0.1 (a free port); the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(built_book))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def visit(browser, book_url):
    """A factory: ``visit("chapters/sgd")`` opens that page and returns its :class:`Visit`."""
    opened: list[Visit] = []

    def open_page(docname: str) -> Visit:
        v = Visit(browser, book_url)
        opened.append(v)
        v.open(docname)
        return v

    yield open_page
    for v in opened:
        v.close()
