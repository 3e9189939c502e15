"""The whole book builds with every chapter executed afresh, warnings as errors.

The ``built_book`` fixture runs ``jupyter-book build . -W -n --keep-going --all`` (execution
mode ``force`` in ``_config.yml``: no cache) and fails on a non-zero exit, so any cell error,
Sphinx warning or broken reference fails here. These tests then check what the build produced.
"""

from __future__ import annotations

import re

import pytest
from conftest import toc_pages

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


def test_chapters_were_executed_in_this_build(built_book):
    executed = built_book.parent / "jupyter_execute" / "chapters"
    notebooks = sorted(executed.glob("*.ipynb")) if executed.exists() else []
    chapters = [p for p in toc_pages() if p.startswith("chapters/") and p != "chapters/bibliography"]
    assert len(notebooks) >= len(chapters) > 0
