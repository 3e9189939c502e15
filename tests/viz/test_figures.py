"""Part I figures: each is one Figure whose drawn data are the quantities it claims to show."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from batchsteps.analysis.variance import minibatch_variance
from batchsteps.theory import bound
from batchsteps.train.convex import GradientTrace, check_bound
from batchsteps.viz import figures

SGD = bound("sgd").subs(L=1.0, sigma=2.0, Delta=1.0, alpha=0.5, epsilon=0.3)
MOMENTUM = bound("momentum").subs(L=1.0, sigma=2.0, Delta=1.0, alpha=0.05, beta=0.5, epsilon=0.3)
GRADS = np.random.default_rng(0).normal(size=(30, 3))


def _lines(ax):
    return [(line.get_xdata(), line.get_ydata()) for line in ax.get_lines()]


def test_batch_grid_starts_above_the_pole_and_passes_b_star():
    b = figures.batch_grid(SGD)
    assert b[0] > SGD.min_batch and b[-1] > SGD.critical_batch
    assert np.all(np.isfinite(SGD.steps(b)))
    with pytest.raises(ValueError, match="span=1"):
        figures.batch_grid(SGD, span=1)


def test_template_figure_draws_k_and_n_with_b_star_at_twice_k_min():
    fig = figures.template_figure(SGD)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    k_ax, n_ax = fig.axes
    assert k_ax.get_xscale() == k_ax.get_yscale() == "log"
    b, k = _lines(k_ax)[0]
    np.testing.assert_allclose(k, SGD.steps(b))
    star_b, star_k = [(x, y) for x, y in _lines(k_ax) if len(x) == 1][0]
    assert star_b[0] == pytest.approx(SGD.critical_batch)
    assert star_k[0] == pytest.approx(2 * SGD.min_steps)
    b, n = _lines(n_ax)[0]
    assert b[np.argmin(n)] == pytest.approx(SGD.critical_batch, rel=0.05)
    assert "b" in k_ax.get_xlabel() and k_ax.get_ylabel()


def test_template_figure_rejects_a_symbolic_bound():
    with pytest.raises(TypeError, match="numeric"):
        figures.template_figure(bound("sgd"))


def test_variance_figure_shows_points_and_both_laws_on_log_axes():
    curves = [
        minibatch_variance(GRADS, [1, 2, 4, 8, 16], draws=50, replacement=r) for r in (True, False)
    ]
    fig = figures.variance_figure(*curves)
    (ax,) = fig.axes
    assert ax.get_xscale() == ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sum("measured" in label for label in labels) == 2
    assert sum("theory" in label for label in labels) == 2
    x, y = _lines(ax)[0]
    np.testing.assert_allclose(y, curves[0].sigma_sq / x)
    with pytest.raises(TypeError, match="VarianceCurve"):
        figures.variance_figure()


def test_bound_check_figure_plots_measured_bound_and_ratio():
    traces = [GradientTrace(b, 0.5, 0.0, np.full((4, 10), 1.0 / b)) for b in (1, 4)]
    check = check_bound(traces, SGD)
    fig = figures.bound_check_figure(check)
    ax, ratio_ax = fig.axes
    drawn = _lines(ratio_ax)
    np.testing.assert_allclose(drawn[0][1], check.ratio[0])
    np.testing.assert_allclose(drawn[1][1], check.ratio[1])
    np.testing.assert_allclose(_lines(ax)[1][1], check.bound[0])
    assert ax.get_xlabel() == "steps $K$"
    with pytest.raises(TypeError, match="BoundCheck"):
        figures.bound_check_figure(traces)


def test_compare_steps_figure_has_a_panel_per_comparison_in_house_colours():
    fig = figures.compare_steps_figure(
        {"equal α": {"sgd": SGD, "momentum": MOMENTUM}, "again": {"sgd": SGD}}
    )
    assert len(fig.axes) == 2
    colors = {line.get_color() for line in fig.axes[0].get_lines()}
    assert {"#0072B2", "#D55E00"} <= colors
    with pytest.raises(ValueError, match="panels"):
        figures.compare_steps_figure({})
    with pytest.raises(ValueError, match="house style"):
        figures.compare_steps_figure({"x": {"newton": SGD}})


def test_traces_figure_draws_each_run_average():
    trace = GradientTrace(2, 0.5, 0.0, np.array([[2.0, 0.0], [4.0, 2.0]]))
    fig = figures.traces_figure({"SGD, b = 2": ("sgd", trace), "again": ("sgd", trace)})
    first, second = fig.axes[0].get_lines()
    np.testing.assert_allclose(first.get_ydata(), [3.0, 2.0])
    assert first.get_color() == second.get_color() == "#0072B2"
    assert first.get_linestyle() != second.get_linestyle()
    with pytest.raises(ValueError, match="traces"):
        figures.traces_figure({})
