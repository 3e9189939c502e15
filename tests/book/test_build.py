"""The whole book builds with every chapter executed afresh, warnings as errors.

The ``built_book`` fixture runs ``jupyter-book build . -W -n --keep-going --all`` (execution
mode ``force`` in ``_config.yml``: no cache) and fails on a non-zero exit, so any cell error,
Sphinx warning or broken reference fails here. These tests then check what the build produced.
"""

from __future__ import annotations

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
