"""What the built HTML carries, read without a browser: buttons, local assets, explorers.

Every notebook chapter offers its executed notebook for download; with no repository address
configured no page carries a launch or repository button; no page loads a script or a style
sheet from outside the book;
MathJax is the book's own copy; no page carries a widget view that would be dead without a
kernel; every theory chapter carries an explorer.
"""

from __future__ import annotations

import importlib
import re

import pytest
from book_pages import ROOT, THEORY_CHAPTERS, toc_pages

pytestmark = pytest.mark.book

PAGES = toc_pages()
NOTEBOOKS = [
    p
    for p in PAGES
    if (ROOT / f"{p}.md").exists()
    and "kernelspec:" in (ROOT / f"{p}.md").read_text(encoding="utf-8")[:600]
]


def html_of(built_book, docname: str) -> str:
    return (built_book / f"{docname}.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("docname", NOTEBOOKS)
def test_notebook_chapter_offers_its_executed_notebook_for_download(built_book, docname):
    page = html_of(built_book, docname)
    download = f"_sources/{docname}.ipynb"
    assert download in page and (built_book / download).exists()


@pytest.mark.parametrize("docname", PAGES)
def test_no_button_leads_to_an_address_the_book_was_not_given(built_book, docname):
    """``repository.url`` is empty in ``_config.yml``: no button may point at a guessed or
    placeholder address (tests/book/test_ext.py checks the buttons once it is set)."""
    page = html_of(built_book, docname)
    for where in ("Binder", "Colab", "JupyterHub", "Thebe"):
        assert f"Launch {'on ' if where != 'Thebe' else ''}{where}" not in page, where
    for address in ("mybinder.org", "colab.research", "example.org", "github.com/batchsteps"):
        assert address not in page, address


def test_the_favicon_is_the_books_own(built_book):
    page = html_of(built_book, "intro")
    icon = re.search(r'<link rel="icon" href="([^"]+)"', page)
    assert icon and "//" not in icon.group(1)
    assert (built_book / icon.group(1)).exists()


@pytest.mark.parametrize("docname", PAGES)
def test_no_script_or_style_sheet_comes_from_outside_the_book(built_book, docname):
    page = html_of(built_book, docname)
    assert not re.search(r"""<script[^>]+src=["']?(https?:)?//""", page)
    assert not re.search(r"""<link[^>]+href=["']?(https?:)?//[^>]*(stylesheet|preload)""", page)
    assert not re.search(r"""<link[^>]+(stylesheet|preload)[^>]+href=["']?(https?:)?//""", page)


def test_mathjax_is_served_from_the_book(built_book):
    pages = [html_of(built_book, p) for p in PAGES]
    sources = {m for page in pages for m in re.findall(r'src="([^"]*tex-chtml\.js)[^"]*"', page)}
    assert sources, "no page loads MathJax"
    assert all("_static/mathjax/tex-chtml.js" in s and "//" not in s for s in sources)
    mathjax = built_book / "_static" / "mathjax"
    assert (mathjax / "tex-chtml.js").exists()
    assert list((mathjax / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))


@pytest.mark.parametrize("docname", PAGES)
def test_no_page_carries_a_widget_that_would_be_dead_without_a_kernel(built_book, docname):
    page = html_of(built_book, docname)
    assert "application/vnd.jupyter.widget-view+json" not in page
    assert "embed-amd" not in page and "require.min.js" not in page


@pytest.mark.parametrize("docname", [p for p in PAGES if p in THEORY_CHAPTERS])
def test_theory_chapter_carries_an_explorer(built_book, docname):
    page = html_of(built_book, docname)
    assert 'class="bs-explorer"' in page and 'data-output="critical-batch"' in page
    assert "window.batchstepsExplorer.mount" in page


API_MODULES = (
    "batchsteps.theory",
    "batchsteps.theory.nqm",
    "batchsteps.train",
    "batchsteps.analysis",
    "batchsteps.experiments",
    "batchsteps.viz",
    "batchsteps.validation",
)


@pytest.mark.parametrize("module", API_MODULES)
def test_the_api_chapter_documents_every_public_name(built_book, module):
    """Every name in a public module's ``__all__`` has its entry (anchor) on the API page."""
    html = (built_book / "chapters" / "api.html").read_text(encoding="utf-8")
    names = importlib.import_module(module).__all__
    assert names, f"{module} exports nothing"
    missing = [name for name in names if f'id="{module}.{name}"' not in html]
    assert missing == [], f"the API chapter omits {module}: {', '.join(missing)}"
