"""The built book in a real browser (headless Debian Chromium, served from 127.0.0.1).

On every page of ``_toc.yml``: no request leaves the local server, none fails (no 404), no
console error, one search box, every
math element typeset by MathJax (no TeX error), a full-page screenshot saved under
``_build/screenshots/`` (a CI artefact). On every theory chapter: an explorer whose critical
batch size, after a slider is moved, is the one ``Bound.subs(...)`` gives for the new values.
"""

from __future__ import annotations

import math
import re

import pytest
from book_pages import SCREENSHOTS, THEORY_CHAPTERS, Visit, toc_pages

import batchsteps as bs
from batchsteps.theory.momentum import momentum_bound
from batchsteps.viz.explorers import format_value, template_law

pytestmark = pytest.mark.browser

PAGES = toc_pages()


def law_of(name: str, kind: str, values: dict[str, float]):
    """The Python object an explorer on a page was generated from (its slider ``values``
    tell momentum's family of bounds, with a slider for Young's ``t``, from the headline one)."""
    if kind == "tuned-rate":
        return bs.theory.tuned_bound(name)
    if name == "template":
        return template_law()
    if name == "momentum" and "t" in values:
        return momentum_bound(bs.theory.symbols.t)
    return bs.theory.bound(name)


@pytest.fixture(scope="module")
def reports(browser, book_url):
    """Each page opened once: what it requested outside, its errors, its math, a screenshot."""
    cache: dict[str, dict] = {}

    def report(docname: str) -> dict:
        if docname not in cache:
            v = Visit(browser, book_url)
            v.open(docname)
            math_state = v.page.evaluate(
                """async () => {
                    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
                        await MathJax.startup.promise;
                    }
                    return {
                        mathjax: !!(window.MathJax && MathJax.version),
                        elements: document.querySelectorAll('.math').length,
                        typeset: document.querySelectorAll('.math mjx-container').length,
                        errors: [...document.querySelectorAll('mjx-merror')]
                            .map(e => e.getAttribute('data-mjx-error') || e.textContent),
                        // display equations wider than the box they sit in: cut off, or
                        // hidden behind a scroll bar
                        clipped: [...document.querySelectorAll('mjx-container[display="true"]')]
                            .filter(e => {
                                const box = e.closest('div.math, .math') || e.parentElement;
                                const width = e.firstElementChild
                                    ? e.firstElementChild.getBoundingClientRect().width : 0;
                                return width > box.getBoundingClientRect().width + 1;
                            })
                            .map(e => (e.closest('[id]') || {id: '?'}).id + ': '
                                + (e.getAttribute('aria-label') || e.textContent).slice(0, 80)),
                    };
                }"""
            )
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shot = SCREENSHOTS / (docname.replace("/", "__") + ".png")
            v.page.screenshot(path=str(shot), full_page=True)
            cache[docname] = {
                "failed": list(v.failed),
                "outside": list(v.outside),
                "errors": list(v.errors),
                "math": math_state,
                "screenshot": shot,
            }
            v.close()
        return cache[docname]

    return report


@pytest.mark.parametrize("docname", PAGES)
def test_page_makes_no_request_outside_the_book(reports, docname):
    assert reports(docname)["outside"] == []


@pytest.mark.parametrize("docname", PAGES)
def test_page_logs_no_console_error(reports, docname):
    assert reports(docname)["errors"] == []


@pytest.mark.parametrize("docname", PAGES)
def test_every_request_of_the_page_is_answered(reports, docname):
    """No 404 (or other failure) for anything the page asks for, the favicon included."""
    assert reports(docname)["failed"] == []


@pytest.mark.parametrize("docname", PAGES)
def test_every_formula_on_the_page_is_typeset_by_the_books_own_mathjax(reports, docname):
    state = reports(docname)["math"]
    if state["elements"] == 0:
        pytest.skip(f"{docname} has no math")
    assert state["mathjax"], "MathJax did not load"
    assert state["typeset"] == state["elements"]
    assert state["errors"] == []


@pytest.mark.parametrize("docname", PAGES)
def test_no_display_equation_is_clipped_at_1280_px(reports, docname):
    assert reports(docname)["math"]["clipped"] == []


@pytest.mark.parametrize("docname", ["chapters/api", "chapters/sgd", "intro"])
def test_the_page_fits_a_390_px_phone(browser, book_url, docname):
    v = Visit(browser, book_url)
    try:
        v.page.set_viewport_size({"width": 390, "height": 844})
        v.open(docname)
        width = v.page.evaluate("() => document.documentElement.scrollWidth")
    finally:
        v.close()
    assert width <= 390, f"{docname} is {width} px wide on a 390 px screen"


def test_one_search_box_on_the_page(visit):
    v = visit("chapters/sgd")
    boxes = v.page.locator(".search-button-field, .search-button__button, form.bd-search")
    visible = [i for i in range(boxes.count()) if boxes.nth(i).is_visible()]
    assert len(visible) == 1, boxes.evaluate_all("els => els.map(e => e.className)")


@pytest.mark.parametrize("docname", PAGES)
def test_a_full_page_screenshot_is_saved(reports, docname):
    shot = reports(docname)["screenshot"]
    assert shot.exists() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000


def shown_number(text: str) -> float:
    """Parse the explorer's display: ``1235``, ``0.005848`` or ``1.235×10¹²``."""
    digits = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")
    mantissa, _, exponent = text.partition("×10")
    return float(mantissa) * (10.0 ** int(exponent.translate(digits)) if exponent else 1.0)


def agree_to_four_digits(shown: float, exact: float) -> bool:
    digits = 3 - math.floor(math.log10(abs(exact)))
    return abs(shown - exact) <= 0.5 * 10.0 ** (-digits) * (1 + 1e-9)


@pytest.mark.parametrize("docname", [p for p in PAGES if p in THEORY_CHAPTERS])
def test_moving_a_slider_shows_the_critical_batch_python_computes(visit, docname):
    v = visit(docname)
    explorers = v.page.locator(".bs-explorer[data-ready=true]")
    assert explorers.count() >= 1, f"{docname} has no working explorer"
    for i in range(explorers.count()):
        root = explorers.nth(i)
        shown = root.locator('[data-output="critical-batch"]')
        before = shown.text_content()
        # the noise (sigma, or the template's B) moves b* and no validity condition
        name = next(
            (n for n in ("sigma", "B") if root.locator(f'input[data-param="{n}"]').count()),
            root.locator("input[data-param]").first.get_attribute("data-param"),
        )
        slider = root.locator(f'input[data-param="{name}"]')
        slider.scroll_into_view_if_needed()
        box = slider.bounding_box()
        start = float(slider.input_value())
        fraction = 0.2 if start > 500 else 0.85  # click well away from where the thumb is
        v.page.mouse.click(box["x"] + fraction * box["width"], box["y"] + box["height"] / 2)
        values = v.page.evaluate("e => JSON.parse(e.dataset.values)", root.element_handle())
        assert float(slider.input_value()) != start, "the click did not move the slider"
        law = law_of(root.get_attribute("data-explorer"), root.get_attribute("data-kind"), values)
        expected = law.subs(**values).critical_batch
        text = shown.text_content()
        assert text != before
        assert agree_to_four_digits(shown_number(text), expected), (text, expected)
        assert text == format_value(expected)
    assert v.errors == [] and v.outside == []


def test_every_theory_chapter_in_the_book_is_tested():
    assert re.search(r"chapters/(template|sgd)", "\n".join(PAGES)), (
        "_toc.yml lists none of the theory chapters the explorer tests expect"
    )
