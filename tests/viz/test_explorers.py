"""Kernel-free explorers: JavaScript generated from the sympy bounds, checked against Python.

The first tests read the HTML the explorer writes; the last ones run it in headless Chromium
(Debian's /usr/bin/chromium through Playwright) and compare every number the page computes with
the numeric bound of ``batchsteps.theory``. Without Chromium those skip, loudly, unless
``BATCHSTEPS_REQUIRE_BROWSER=1`` (CI) makes a missing browser a failure.
"""

import math
import re

import numpy as np
import pytest
import sympy as sp
from sympy.printing.jscode import jscode

import batchsteps as bs
from batchsteps.theory.notation import NAME_OF
from batchsteps.viz.explorers import (
    Explorer,
    NeedsKernel,
    explorer,
    format_value,
    needs_kernel,
    template_law,
)

# Starting points the analysis covers (momentum needs a small alpha at beta = 0.9; Adam's
# epsilon must exceed its non-vanishing C, 91 at the defaults).
LAWS = {
    "sgd": (lambda: bs.theory.bound("sgd"), {}),
    "momentum": (lambda: bs.theory.bound("momentum"), {"alpha": 0.001}),
    "momentum-family": (
        lambda: bs.theory.momentum.momentum_bound(bs.theory.symbols.t),
        {"alpha": 0.001, "t": 2.0},
    ),
    "adam": (lambda: bs.theory.bound("adam"), {"epsilon": 100.0}),
    "tuned-sgd": (lambda: bs.theory.tuned_bound("sgd"), {}),
    "tuned-momentum": (lambda: bs.theory.tuned_bound("momentum"), {}),
    "template": (template_law, {}),
}


def law(key):
    factory, params = LAWS[key]
    return factory(), params


def outputs(page_html):
    """data-output name -> (text, data-value) of every text output in the HTML."""
    found = re.findall(
        r'<output data-output="([^"]+)" data-value="([^"]*)">([^<]*)</output>', page_html
    )
    return {name: (text, float(value)) for name, value, text in found}


def names_of(bound):
    """Keyword name of each parameter symbol: the bound's own ``names``, else the book's."""
    own = getattr(bound, "names", None) or {}
    return {sym: own.get(sym) or NAME_OF[sym] for sym in bound.assumptions}


# ---------------------------------------------------------------- the HTML, without a browser


@pytest.mark.slow
def test_momentum_family_explorer_has_a_t_slider():
    e = explorer(bs.theory.momentum.momentum_bound(bs.theory.symbols.t), {"alpha": 0.001})
    assert "t" in e.vary and 'data-param="t"' in e.html
    assert 'var L = p["L"]' in e.formulas["critical_batch"] and 't = p["t"]' in e.formulas["steps"]


def test_format_value_gives_four_significant_digits():
    assert format_value(10.526315789) == "10.53"
    assert format_value(22157.9) == "22160"
    assert format_value(0.0058479) == "0.005848"
    assert format_value(2.0) == "2"
    assert format_value(1.23456e12) == "1.235×10¹²"
    assert format_value(17_150_123.0) == "1.715×10⁷"
    assert format_value(999_949.0) == "999900"
    assert format_value(-4.5e-5) == "-4.5×10⁻⁵"
    assert format_value(math.inf) == "∞"


@pytest.mark.slow
@pytest.mark.parametrize("key", sorted(LAWS))
def test_every_formula_is_the_jscode_of_the_sympy_expression(key):
    bound, params = law(key)
    e = explorer(bound, params)
    plain = {bs.theory.symbols.b: sp.Symbol("b")} | {
        sym: sp.Symbol(n) for sym, n in names_of(bound).items()
    }
    expected = {"steps", "sfo", "min_batch", "critical_batch", "min_steps"}
    if key.startswith("tuned"):
        expected.add("lr")
    assert set(e.formulas) == expected
    for field_name, code in e.formulas.items():
        expr = getattr(bound, field_name, None)
        if expr is None:  # not a field of the law: derived by the explorer (tested below)
            continue
        assert f"return {jscode(sp.sympify(expr).xreplace(plain))};" in code, field_name


@pytest.mark.slow
@pytest.mark.parametrize("key", sorted(LAWS))
def test_initial_numbers_are_those_of_the_numeric_bound(key):
    bound, params = law(key)
    e = explorer(bound, params)
    values = dict(e.values)
    numeric = bound.subs(**values)
    shown = outputs(e.html)
    bstar = numeric.critical_batch
    expected = {
        "critical-batch": bstar,
        "min-steps": numeric.min_steps,
        "steps-at-critical": float(numeric.steps(bstar)),
        "sfo-at-critical": float(numeric.sfo(bstar)),
    }
    if key.startswith("tuned"):
        expected["lr-at-critical"] = float(numeric.lr(bstar))
        expected["min-batch"] = 0.0
    else:
        expected["min-batch"] = numeric.min_batch
    for name, value in expected.items():
        text, exact = shown[name]
        assert exact == pytest.approx(value, rel=1e-9), name
        assert text == format_value(value), name


def test_critical_batch_output_carries_its_data_attribute_and_explorer_is_the_html_output():
    e = explorer(bs.theory.bound("sgd"))
    assert isinstance(e, Explorer)
    assert e._repr_html_() == e.html
    assert e.html.count('data-output="critical-batch"') == 1
    assert 'data-kind="constant-rate"' in e.html and 'data-explorer="sgd"' in e.html


def test_a_slider_per_varied_parameter_and_the_others_listed_as_fixed():
    bound = bs.theory.bound("sgd")
    e = explorer(bound, {"L": 2.0}, vary=["sigma", "epsilon"])
    sliders = re.findall(r'<input type="range"[^>]*data-param="([^"]+)"', e.html)
    assert sliders == ["sigma", "epsilon"]
    assert "Fixed: L = 2, Δ = 1, α = 0.1." in e.html
    every = explorer(bound)
    assert re.findall(r'data-param="([^"]+)"', every.html) == list(bound.parameters)


def test_tuned_law_shows_the_tuned_rate_and_has_its_pole_at_zero():
    e = explorer(bs.theory.tuned_bound("sgd"), {"sigma": 2.0, "epsilon": 0.5})
    assert e.kind == "tuned-rate"
    shown = outputs(e.html)
    # McCandlish's law: b_crit = B_noise = sigma^2/epsilon^2 = 16;
    # the tuned rate alpha*(b) = eps^2 b/(L(eps^2 b + sigma^2))
    assert shown["critical-batch"][1] == pytest.approx(16.0)
    assert shown["min-batch"][1] == 0.0
    assert shown["lr-at-critical"][1] == pytest.approx(0.25 * 16 / (0.25 * 16 + 4))


def test_template_law_is_the_general_template():
    t = template_law()
    numeric = t.subs(A=10.0, B=2.0, C=0.1, eps_t=0.5)
    assert numeric.min_batch == pytest.approx(2.0 / 0.4)
    assert numeric.critical_batch == pytest.approx(2 * numeric.min_batch)
    assert numeric.steps(numeric.critical_batch) == pytest.approx(2 * numeric.min_steps)
    with pytest.raises(ValueError, match="eps_t must be > C=0.2, got 0.1"):
        t.subs(A=10.0, B=2.0, C=0.2, eps_t=0.1)
    with pytest.raises(
        ValueError, match="the template's parameters must include every one of .*, lacks eps_t"
    ):
        t.subs(A=10.0, B=2.0, C=0.0)
    with pytest.raises(ValueError, match="A must be .*, got -1.0"):
        t.subs(A=-1.0, B=2.0, C=0.0, eps_t=1.0)
    with pytest.raises(TypeError, match="B must be a real number .*, got '2'"):
        t.subs(A=1.0, B="2", C=0.0, eps_t=1.0)


def test_the_html_requests_nothing_from_outside():
    e = explorer(bs.theory.bound("momentum"), {"alpha": 0.001})
    assert "<script src" not in e.html and "<link" not in e.html
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", e.html)
    assert not re.search(r"""url\(\s*["']?[^#"' ]""", e.html)  # only url(#local-id)
    assert "@import" not in e.html


def test_two_explorers_get_different_element_ids():
    a, b = explorer(bs.theory.bound("sgd")), explorer(bs.theory.bound("sgd"))
    ids = [re.search(r'class="bs-explorer" id="([^"]+)"', x.html).group(1) for x in (a, b)]
    assert ids[0] != ids[1]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"bound": 3}, TypeError, "bound must be a Bound .*, got 3"),
        ({"params": {"gamma": 1.0}}, ValueError, "params .* must be among L, .*, got gamma=1.0"),
        ({"params": {"L": "big"}}, TypeError, "L must be a real number, got 'big'"),
        ({"params": {"L": True}}, TypeError, "L must be a real number, got True"),
        ({"params": [("L", 1.0)]}, TypeError, "must be a mapping"),
        (
            {"params": {"sigma": -1.0}},
            ValueError,
            r"sigma must be a real number in \(0, inf\) .*, got -1.0",
        ),
        ({"params": {"alpha": 2.5}}, ValueError, "alpha must be a real number in .*, got 2.5"),
        ({"vary": "alpha"}, TypeError, "vary must be a sequence .*, got 'alpha'"),
        ({"vary": ["alpha", "beta"]}, ValueError, "vary\\[1\\] must be one of 'L', .*, got 'beta'"),
        (
            {"batch_range": (8, 2)},
            ValueError,
            r"batch_range must be a pair .* 0 < low < high, got \(8, 2\)",
        ),
        ({"batch_range": (0, 2)}, ValueError, "0 < low < high"),
        ({"batch_range": "wide"}, TypeError, "batch_range must be a pair .*, got 'wide'"),
        ({"title": 5}, TypeError, "title must be a str, got 5"),
    ],
)
def test_bad_inputs_are_refused_with_the_argument_named(kwargs, error, message):
    kwargs = {"bound": bs.theory.bound("sgd"), **kwargs}
    with pytest.raises(error, match=message):
        explorer(**kwargs)


def test_a_starting_point_outside_the_analysis_is_refused():
    # alpha = 0.1 breaks momentum's alpha < 2(1 - beta)^2/(L(1 + beta)) = 0.0105 at beta = 0.9
    with pytest.raises(ValueError, match="alpha must be a real number in .*, got 0.1"):
        explorer(bs.theory.bound("momentum"), {"alpha": 0.1, "beta": 0.9, "L": 1.0})
    # Adam's C does not vanish: a target below it is refused, saying how large it must be
    with pytest.raises(ValueError, match=r"epsilon must be > 1.9 for adam .*, got 0.01"):
        explorer(bs.theory.bound("adam"), {"epsilon": 0.01, "beta1": 0.9})


def test_needs_kernel_keeps_the_live_widget_and_adds_a_snapshot_with_a_note():
    widgets = pytest.importorskip("ipywidgets")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    slider = widgets.FloatSlider()
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    wrapped = needs_kernel(slider, fig, what="The training panel")
    assert isinstance(wrapped, NeedsKernel)
    bundle = wrapped._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    snapshot = bundle["text/html"]
    assert "The training panel needs a running Python kernel" in snapshot
    assert not plt.fignum_exists(fig.number)  # closed: Jupyter's inline backend won't repeat it
    assert 'data-needs-kernel="true"' in snapshot and "data:image/png;base64," in snapshot
    assert "Binder" in snapshot
    assert "<img" not in needs_kernel(slider)._repr_mimebundle_()["text/html"]
    with pytest.raises(TypeError, match="widget must be an ipywidgets widget, got 3"):
        needs_kernel(3)
    with pytest.raises(TypeError, match="figure must be a matplotlib figure or None, got 'fig'"):
        needs_kernel(slider, "fig")


# ---------------------------------------------------------------- the JavaScript, in Chromium


@pytest.fixture(scope="module")
def page(browser):
    """A page of the session's headless Chromium, recording script errors."""
    tab = browser.new_page()
    errors = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.errors = errors
    yield tab
    tab.close()


def show(tab, *explorers):
    tab.errors.clear()
    tab.set_content("<html><body>" + "".join(e.html for e in explorers) + "</body></html>")
    tab.wait_for_function(
        "[...document.querySelectorAll('.bs-explorer')].every(e => e.dataset.ready === 'true')"
    )
    assert tab.errors == []


def random_point(bound, specs, rng):
    """Parameter values drawn inside the slider ranges until the analysis covers them."""
    for _ in range(200):
        values = {}
        for name, spec in specs.items():
            lo, hi = spec.typical
            values[name] = float(
                np.exp(rng.uniform(np.log(lo), np.log(hi)))
                if spec.log_scale and lo > 0
                else rng.uniform(lo, hi)
            )
        try:
            bound.subs(**values)
        except ValueError:
            continue
        return values
    raise AssertionError("no valid point found")


@pytest.mark.browser
@pytest.mark.parametrize("key", sorted(LAWS))
def test_generated_javascript_computes_what_the_numeric_bound_computes(page, key):
    bound, params = law(key)
    show(page, explorer(bound, params))
    specs = {n: bound.assumptions[s] for s, n in names_of(bound).items()}
    rng = np.random.default_rng(4)
    for _ in range(15):
        values = random_point(bound, specs, rng)
        numeric = bound.subs(**values)
        bstar = numeric.critical_batch
        grid = [bstar * 1.001, bstar * 3.0, bstar * 1e3]
        got = page.evaluate(
            """([v, grid]) => {
                 const f = document.querySelector('.bs-explorer').bsFormulas;
                 return {bstar: f.critical_batch(v), kmin: f.min_steps(v), b0: f.min_batch(v),
                         steps: grid.map(b => f.steps(v, b)), sfo: grid.map(b => f.sfo(v, b))};
               }""",
            [values, grid],
        )
        assert got["bstar"] == pytest.approx(bstar, rel=1e-9)
        assert got["kmin"] == pytest.approx(numeric.min_steps, rel=1e-9)
        b0 = 0.0 if key.startswith("tuned") else numeric.min_batch
        assert got["b0"] == pytest.approx(b0, rel=1e-9, abs=1e-300)
        assert got["steps"] == pytest.approx(list(numeric.steps(np.array(grid))), rel=1e-8)
        assert got["sfo"] == pytest.approx(list(numeric.sfo(np.array(grid))), rel=1e-8)


@pytest.mark.browser
@pytest.mark.parametrize(
    ("key", "name", "position"),
    [
        ("sgd", "sigma", 800),
        ("adam", "sigma", 150),
        ("tuned-momentum", "beta", 300),
        ("template", "B", 900),
    ],
)
def test_moving_a_slider_shows_the_critical_batch_of_the_new_values(page, key, name, position):
    bound, params = law(key)
    show(page, explorer(bound, params))
    root = page.locator(".bs-explorer")
    before = root.locator('[data-output="critical-batch"]').text_content()
    root.locator(f'input[data-param="{name}"]').fill(str(position))
    values = page.evaluate("JSON.parse(document.querySelector('.bs-explorer').dataset.values)")
    assert values[name] != params.get(name, bound.assumptions[_symbol(bound, name)].default)
    expected = bound.subs(**values).critical_batch
    shown = root.locator('[data-output="critical-batch"]').text_content()
    assert shown == format_value(expected) != before
    numeric = bound.subs(**values)
    others = {
        "min-steps": numeric.min_steps,
        "steps-at-critical": float(numeric.steps(expected)),
        "sfo-at-critical": float(numeric.sfo(expected)),  # large: printed as m×10ⁿ
    }
    for key, value in others.items():
        assert root.locator(f'[data-output="{key}"]').text_content() == format_value(value), key
    assert root.locator(f'[data-output="param-{name}"]').text_content() == format_value(
        values[name]
    )
    assert page.errors == []


def _symbol(bound, name):
    return next(s for s, n in names_of(bound).items() if n == name)


@pytest.mark.browser
def test_values_outside_the_analysis_show_why_and_no_numbers(page):
    show(page, explorer(bs.theory.bound("sgd")))
    root = page.locator(".bs-explorer")
    root.locator('input[data-param="L"]').fill("1000")  # L = 10: alpha = 0.1 < 2/L still
    assert root.get_attribute("data-state") == "valid"
    root.locator('input[data-param="alpha"]').fill("1000")  # alpha = 1.9 >= 2/L = 0.2
    assert root.get_attribute("data-state") == "invalid"
    assert "alpha < 2/L" in root.locator('[data-output="status"]').text_content()
    assert root.locator('[data-output="critical-batch"]').text_content() == "—"
    root.locator('input[data-param="alpha"]').fill("0")  # alpha = 0.001: covered again
    assert root.get_attribute("data-state") == "valid"
    assert root.locator('[data-output="status"]').text_content() == ""


@pytest.mark.browser
def test_two_explorers_on_one_page_move_independently(page):
    show(
        page,
        explorer(bs.theory.bound("sgd")),
        explorer(bs.theory.bound("momentum"), {"alpha": 0.001}),
    )
    first, second = page.locator(".bs-explorer").nth(0), page.locator(".bs-explorer").nth(1)
    before = second.locator('[data-output="critical-batch"]').text_content()
    first.locator('input[data-param="sigma"]').fill("900")
    assert second.locator('[data-output="critical-batch"]').text_content() == before
    assert first.locator("svg[data-panel=steps] polyline").count() == 1


@pytest.mark.slow
def test_bound_panel_shows_a_snapshot_and_a_kernel_note_where_no_kernel_runs():
    pytest.importorskip("ipywidgets")
    panel = bs.viz.bound_panel(bs.theory.bound("sgd"), alpha=0.5)
    bundle = panel._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "needs a running Python kernel" in bundle["text/html"]
    assert "data:image/png;base64," in bundle["text/html"]


@pytest.mark.browser
@pytest.mark.parametrize("frontend", ["jupyterlab", "jupyterlab-detached", "classic"])
def test_the_output_comes_alive_the_way_jupyter_frontends_insert_it(page, frontend):
    """JupyterLab and VS Code set the HTML, then re-create each script (attached or not yet);
    the classic notebook evaluates the scripts before the output is attached to the page."""
    e = explorer(bs.theory.bound("sgd"))
    page.set_content("<html><body></body></html>")
    page.evaluate(
        """([html, frontend]) => {
            const host = document.createElement('div');
            host.innerHTML = html;  // scripts set through innerHTML never run by themselves
            const scripts = [...host.querySelectorAll('script')];
            if (frontend === 'jupyterlab') document.body.appendChild(host);
            if (frontend === 'classic') {
                scripts.forEach(s => { (0, eval)(s.textContent); s.remove(); });
                setTimeout(() => document.body.appendChild(host), 300);
                return;
            }
            for (const old of scripts) {
                const fresh = document.createElement('script');
                fresh.textContent = old.textContent;
                old.parentNode.replaceChild(fresh, old);
            }
            if (frontend === 'jupyterlab-detached') document.body.appendChild(host);
        }""",
        [e.html, frontend],
    )
    page.wait_for_function("document.querySelector('.bs-explorer')?.dataset.ready === 'true'")
    root = page.locator(".bs-explorer")
    root.locator('input[data-param="epsilon"]').fill("300")
    values = page.evaluate("JSON.parse(document.querySelector('.bs-explorer').dataset.values)")
    expected = bs.theory.bound("sgd").subs(**values).critical_batch
    assert root.locator('[data-output="critical-batch"]').text_content() == format_value(expected)
