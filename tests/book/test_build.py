"""The whole book builds with every chapter executed afresh, warnings as errors.

The ``built_book`` fixture runs ``jupyter-book build . -W -n --keep-going --all`` cold (sweep
store, executed-notebook cache and executed notebooks removed first; ``MPLBACKEND=Agg``) and
fails on a non-zero exit, so any cell error, Sphinx warning or broken reference fails here;
a later session reuses that build only while it is current (``book_is_stale``).
These tests then check what the build produced: every figure an image, whatever the backend.
"""

from __future__ import annotations

import json
import re

import pytest
from book_pages import ROOT, toc_pages

pytestmark = pytest.mark.book


def test_every_toc_page_is_built(built_book):
    missing = [page for page in toc_pages() if not (built_book / f"{page}.html").exists()]
    assert not missing, f"pages in _toc.yml without HTML: {missing}"


@pytest.mark.parametrize("page", toc_pages())
def test_page_has_no_error_output_or_unresolved_glue(built_book, page):
    html = (built_book / f"{page}.html").read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" not in html
    assert not re.search(r'class="[^"]*\boutput stderr\b', html), "a cell wrote to stderr"
    assert "{glue" not in html, "a glue role or directive was left unresolved"


def _is_notebook(page: str) -> bool:
    source = ROOT / f"{page}.md"
    return source.exists() and "kernelspec:" in source.read_text(encoding="utf-8")[:600]


def test_every_notebook_chapter_was_executed_in_this_build(built_book):
    notebooks = [page for page in toc_pages() if _is_notebook(page)]
    executed = built_book.parent / "jupyter_execute"
    not_run = [page for page in notebooks if not (executed / f"{page}.ipynb").exists()]
    assert notebooks and not not_run, f"notebook chapters not executed: {not_run}"


FIGURE_AS_TEXT = re.compile(r"<Figure size \d+x\d+|^Figure\(\d+x\d+\)", re.MULTILINE)
IMAGES = ("image/png", "image/svg+xml", "image/jpeg")


@pytest.mark.parametrize("page", toc_pages())
def test_no_page_shows_a_figure_as_text(built_book, page):
    html = (built_book / f"{page}.html").read_text(encoding="utf-8")
    assert "&lt;Figure size" not in html and "<Figure size" not in html
    assert not re.search(r"Figure\(\d+x\d+\)", html), "a figure printed as its repr"


def figure_outputs_without_image(notebook: dict) -> list[str]:
    """Outputs that stand for a matplotlib figure (its repr) but carry no image."""
    found = []
    for number, cell in enumerate(notebook.get("cells", [])):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            text = "".join(data.get("text/plain", "")) + "".join(output.get("text", ""))
            if FIGURE_AS_TEXT.search(text) and not any(kind in data for kind in IMAGES):
                found.append(f"cell {number}: {text.strip()[:60]}")
    return found


def test_every_figure_output_of_every_executed_chapter_is_an_image(built_book):
    executed = sorted((built_book.parent / "jupyter_execute").rglob("*.ipynb"))
    assert executed, "no executed notebooks"
    bad = {}
    for path in executed:
        missing = figure_outputs_without_image(json.loads(path.read_text(encoding="utf-8")))
        if missing:
            bad[path.name] = missing
    assert not bad, f"figures without an image (a non-inline matplotlib backend?): {bad}"


def test_a_figure_printed_as_text_is_caught():
    text_only = {"data": {"text/plain": "<Figure size 1056x440 with 2 Axes>"}}
    imaged = {"data": {"text/plain": "<Figure size 640x480 with 1 Axes>", "image/png": "iVB"}}
    printed = {"name": "stdout", "output_type": "stream", "text": "Figure(1056x396)\n"}
    notebook = {"cells": [{"outputs": [text_only]}, {"outputs": [imaged]}, {"outputs": [printed]}]}
    assert [line.split(":")[0] for line in figure_outputs_without_image(notebook)] == [
        "cell 0",
        "cell 2",
    ]
