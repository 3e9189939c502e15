"""Helpers of the book tests: the pages of ``_toc.yml``, staleness, the build, a page visit.

A module of its own (not ``conftest``) so that test modules can import it by a unique name.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from browser import CHROMIUM, CHROMIUM_ARGS  # noqa: F401 - re-exported for the book tests

#: How long a page may take to load in the browser tests.
LOAD_TIMEOUT_MS = 90_000

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
STAMP = ROOT / "_build" / "tested-build.txt"
"""Written by :func:`build_book` after a build that succeeded: the time stamp of the
``searchindex.js`` that build wrote. A book built another way since (the README's own
``jupyter-book build .``, without ``-W``, over a warm cache) no longer matches it."""
SCREENSHOTS = ROOT / "_build" / "screenshots"
THEORY_CHAPTERS = (
    "chapters/template",
    "chapters/sgd",
    "chapters/momentum",
    "chapters/adam",
    "chapters/tuned",
)
"""Chapters that derive a bound: each must carry an explorer (those in ``_toc.yml`` are tested).
The tuned-rate chapter's docname is a guess until it exists: correct it here."""

SOURCES = ("_config.yml", "_toc.yml", "references.bib", "requirements.txt")
SOURCE_DIRS = ("chapters", "lib/batchsteps", "_static", "_ext", "data")
SOURCE_SUFFIXES = {".md", ".py", ".js", ".css", ".yml", ".bib", ".ipynb", ".txt", ".csv"}


def toc_pages() -> list[str]:
    """Every page of ``_toc.yml`` (the root first), as docnames like ``chapters/sgd``."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries or ():
            if "file" in entry:
                pages.append(str(Path(entry["file"]).with_suffix("")))
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts", ()):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    walk(toc.get("sections"))
    return pages


def _newest_source() -> float:
    files = [ROOT / name for name in SOURCES]
    files += [p for p in ROOT.glob("*.md")]
    for folder in SOURCE_DIRS:
        files += [p for p in (ROOT / folder).rglob("*") if p.suffix in SOURCE_SUFFIXES]
    return max((p.stat().st_mtime for p in files if p.is_file()), default=0.0)


def book_is_stale(html: Path = HTML, stamp: Path = STAMP) -> bool:
    """Whether the built book is missing, older than any of its sources, or not the one
    :func:`build_book` made (cold, warnings as errors): ``stamp`` must hold the time stamp of
    its ``searchindex.js``.

    The age of a build is that of ``searchindex.js``, which Sphinx writes at the end of every
    HTML build; ``index.html`` is only a redirect that Jupyter Book writes once, when missing.
    """
    index, search = html / "index.html", html / "searchindex.js"
    if not index.exists() or not search.exists() or not stamp.exists():
        return True
    if stamp.read_text(encoding="utf-8").strip() != repr(search.stat().st_mtime):
        return True
    return search.stat().st_mtime < _newest_source()


def stamp_build(html: Path = HTML, stamp: Path = STAMP) -> None:
    """Record that the book in ``html`` is the one :func:`build_book` just made."""
    stamp.write_text(repr((html / "searchindex.js").stat().st_mtime) + "\n", encoding="utf-8")


PAIRED = ("notebooks/sgd.ipynb", "chapters/sgd.ipynb")
"""Notebooks a reader makes beside the chapters (the README's ``jupytext --sync`` and the
older ``jupytext --to ipynb``): the book must build warning-free with them there."""


def build_book() -> subprocess.CompletedProcess:
    """``jupyter-book build . -W -n --keep-going --all``, cold, with this interpreter's tools.

    The sweep store (``_build/stores``), the executed-notebook cache (``_build/.jupyter_cache``)
    and the executed notebooks (``_build/jupyter_execute``) are removed first, so every chapter
    executes and every measurement is recomputed by the library as it is now: no stale cache
    can hide a failure. ``MPLBACKEND=Agg`` is set, as on a headless server: the book must show
    every figure as an image all the same. The notebooks of :data:`PAIRED` are made first, the
    reader's way, and removed afterwards (those the reader had already are left alone).
    """
    STAMP.unlink(missing_ok=True)
    for folder in ("stores", ".jupyter_cache", "jupyter_execute"):
        shutil.rmtree(ROOT / "_build" / folder, ignore_errors=True)
    jupytext = str(Path(sys.executable).with_name("jupytext"))
    made = [ROOT / name for name in PAIRED if not (ROOT / name).exists()]
    subprocess.run([jupytext, "--sync", "chapters/sgd.md"], cwd=ROOT, check=True)
    subprocess.run([jupytext, "--to", "ipynb", "chapters/sgd.md"], cwd=ROOT, check=True)
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book), "build", ".", "-W", "-n", "--keep-going", "--all"]
    env = {key: value for key, value in os.environ.items() if key != "BATCHSTEPS_STORE"}
    env["MPLBACKEND"] = "Agg"
    try:
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
    finally:
        for path in made:
            path.unlink(missing_ok=True)
        if not any((ROOT / "notebooks").glob("*")):
            shutil.rmtree(ROOT / "notebooks", ignore_errors=True)


class Visit:
    """One page opened in the browser: requests that left the server, requests that failed
    (HTTP 400 and above: a missing favicon, script or font), console errors."""

    def __init__(self, context, base: str) -> None:
        self.base = base
        self.outside: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []
        self.page = context.new_page()
        self.page.on("console", self._console)
        self.page.on("response", self._response)
        self.page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        self.page.route("**/*", self._route)

    def _console(self, message) -> None:
        if message.type == "error":
            self.errors.append(f"console error: {message.text} ({message.location})")

    def _response(self, response) -> None:
        if response.status >= 400:
            self.failed.append(f"{response.status} {response.url}")

    def _route(self, route) -> None:
        url = route.request.url
        if url.startswith(self.base + "/") or url.startswith(("data:", "blob:", "about:")):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def open(self, docname: str) -> None:
        """Load a page until the network is idle, within ``LOAD_TIMEOUT_MS`` (the API page
        loads in about 5 s on the 2-core machine; once, in a full run beside the other
        suites, it did not settle within playwright's default 30 s)."""
        self.page.goto(f"{self.base}/{docname}.html", wait_until="load", timeout=LOAD_TIMEOUT_MS)
        self.page.wait_for_load_state("networkidle", timeout=LOAD_TIMEOUT_MS)

    def close(self) -> None:
        self.page.close()
