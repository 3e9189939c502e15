"""The ipywidgets panel: a slider per parameter, live K(b)/N(b), reasons instead of figures."""

import html
import json
import re

import pytest

pytest.importorskip("ipywidgets")

import batchsteps as bs  # noqa: E402
from batchsteps.theory import bound  # noqa: E402
from batchsteps.viz.explorers import explorer  # noqa: E402
from batchsteps.viz.panels import BoundPanel, bound_panel  # noqa: E402
from batchsteps.viz.style import style_of  # noqa: E402

# where a bound's default values lie outside its analysis, a start inside it
INSIDE = {"momentum": {"alpha": 0.001}}


def test_one_slider_per_parameter_with_initial_values():
    panel = bound_panel(bound("sgd"), L=2.0, alpha=0.1)
    assert isinstance(panel, BoundPanel)
    assert set(panel.sliders) == {"L", "sigma", "Delta", "alpha", "epsilon"}
    assert panel.values()["L"] == pytest.approx(2.0)
    assert panel.values()["alpha"] == pytest.approx(0.1)


def test_panel_numbers_are_the_bound_at_the_slider_values():
    panel = bound_panel(bound("sgd"), L=1.0, sigma=2.0, Delta=1.0, alpha=0.5, epsilon=0.3)
    expected = bound("sgd").subs(**panel.values())
    assert panel.numeric.critical_batch == pytest.approx(expected.critical_batch)
    assert f"{expected.critical_batch:.4g}" in panel.status.value


def test_moving_a_slider_recomputes():
    panel = bound_panel(bound("sgd"), L=1.0, alpha=0.5)
    before = panel.numeric.critical_batch
    panel.sliders["sigma"].value = 4 * panel.sliders["sigma"].value
    assert panel.numeric.critical_batch == pytest.approx(16 * before, rel=1e-3)


def test_values_outside_the_analysis_show_the_reason():
    panel = bound_panel(bound("sgd"), L=2.0, alpha=0.5)
    panel.sliders["alpha"].value = 1.5  # alpha >= 2/L
    assert panel.numeric is None
    assert "alpha" in panel.message and "Outside" in panel.status.value
    panel.sliders["alpha"].value = 0.5
    assert panel.numeric is not None and panel.message == ""


def test_momentum_panel_has_a_beta_slider():
    panel = bound_panel(bound("momentum"), alpha=0.002, beta=0.9)
    assert "beta" in panel.sliders and panel.numeric is not None


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        (
            dict(gamma=1.0),
            ValueError,
            "parameters of the sgd bound must be among .*, got gamma=1.0",
        ),
        (dict(L=1000.0), ValueError, "L must be .*, got 1000.0"),
        (
            dict(L="big"),
            TypeError,
            r"L must be a real number in .* \(the slider range\), got 'big'",
        ),
    ],
)
def test_bad_initial_values_are_named(kwargs, error, words):
    with pytest.raises(error, match=words):
        bound_panel(bound("sgd"), **kwargs)


def test_rejects_something_that_is_not_a_bound():
    with pytest.raises(TypeError, match="bound must be a Bound .*, got 'sgd'"):
        bound_panel("sgd")


@pytest.mark.slow
def test_momentum_family_panel_has_a_t_slider_that_moves_the_critical_batch():
    from batchsteps.theory import momentum, symbols

    panel = bound_panel(momentum.momentum_bound(symbols.t), alpha=0.001)
    assert "t" in panel.sliders
    at_one = panel.numeric.critical_batch
    panel.sliders["t"].value = 2.0
    assert panel.numeric.critical_batch < at_one


def test_a_redraw_outside_a_kernel_prints_nothing(capsys):
    panel = bound_panel(bound("sgd"))
    capsys.readouterr()
    panel.sliders["sigma"].value = panel.sliders["sigma"].value * 1.5
    assert capsys.readouterr().out == ""
    assert panel.figure is not None and panel.figure.axes


def test_the_status_carries_the_exact_values_behind_its_critical_batch():
    panel = bound_panel(bound("sgd"))
    match = re.search(r'data-values="([^"]+)" data-critical-batch="([^"]+)"', panel.status.value)
    values = json.loads(html.unescape(match.group(1)))
    assert values == panel.values()
    assert float(match.group(2)) == bound("sgd").subs(**values).critical_batch


@pytest.mark.parametrize("name", bs.theory.names())
def test_every_bound_of_the_theory_has_a_panel_and_an_explorer_in_its_house_style(name):
    panel = bound_panel(bound(name), **INSIDE.get(name, {}))
    assert panel.numeric is not None, panel.message
    colours = {line.get_color() for line in panel.figure.axes[0].get_lines()}
    assert style_of(name).color in colours
    page = explorer(bound(name), INSIDE.get(name))
    assert f'"color": "{style_of(name).color}"' in page.html
    assert 'data-output="critical-batch"' in page.html
