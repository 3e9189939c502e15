"""Figures that check the theory against measurement: what each draws, bad inputs named."""

import io

import numpy as np
import pytest

from batchsteps.analysis import AdaptiveRun, EngineCheck, bound_at, envelope, minibatch_variance
from batchsteps.theory import bound
from batchsteps.train.convex import GradientTrace, check_bound
from batchsteps.viz.checks import (
    plot_adaptive_check,
    plot_bound_check,
    plot_engine_check,
    plot_gradient_traces,
    plot_variance_law,
)

SGD = bound("sgd").subs(L=1.0, sigma=2.0, Delta=1.0, alpha=0.5, epsilon=0.3)
GRADS = np.random.default_rng(0).normal(size=(30, 3))


def _curves():
    return [
        minibatch_variance(GRADS, [1, 2, 4, 8, 16], draws=50, replacement=r) for r in (True, False)
    ]


def _check():
    traces = [GradientTrace(b, 0.5, 0.0, np.full((4, 10), 1.0 / b)) for b in (1, 4)]
    return check_bound(traces, SGD)


def _trace():
    return GradientTrace(2, 0.5, 0.0, np.array([[2.0, 0.0], [4.0, 2.0]]))


def _run(batch_size: int, variational: float) -> AdaptiveRun:
    """One AMSGrad run's measured constants, as measure_adaptive_run reports them."""
    return AdaptiveRun(
        batch_size=batch_size, steps=50, alpha=1e-2, beta1=0.9, beta2=0.999, delta=1e-8, d=40,
        d_total=50, G=2.0, D=0.05, h_min=0.01, h_max=1.0, sigma=1.5, variational=variational,
        stochastic_variational=variational, telescoped=0.1, cross=0.0, weighted_momentum=0.1,
        shrink_fraction=0.0, max_shrink=0.0, loss_initial=2.3, loss_final=1.0, seed=0,
        reference="final",
    )  # fmt: skip


def _runs():
    return [_run(4, 0.5), _run(16, 0.2), _run(64, -0.1)]


def _engine_check(optimizer="sgd"):
    k, nb = 21, 2
    exact = np.linspace(1, 0.1, k)[:, None] * np.ones(nb)
    stderr = np.full((k, nb), 0.01)
    stderr[0] = 0
    z = np.zeros((k, nb))
    return EngineCheck(optimizer, np.array([1, 8]), 0.5, 0.0, exact, exact, stderr, z, 10, 0.1)


@pytest.mark.parametrize(
    ("plot", "args", "kwargs", "shape"),
    [
        (plot_variance_law, _curves, {}, (1, 1)),
        (plot_bound_check, lambda: (_check(),), {}, (1, 2)),
        (plot_gradient_traces, lambda: ({"SGD": ("sgd", _trace())},), {}, (1, 1)),
        (plot_adaptive_check, lambda: (_runs(), bound("amsgrad"), envelope(_runs())), {}, (1, 1)),
        (plot_engine_check, lambda: ({"a": _engine_check(), "b": _engine_check()},), {}, (2, 2)),
    ],
)
def test_each_figure_is_returned_draws_where_told_and_stays_out_of_pyplot(
    plot, args, kwargs, shape, follows_the_figure_contract
):
    nrows, ncols = shape
    follows_the_figure_contract(plot, *args(), nrows=nrows, ncols=ncols, **kwargs)


def _lines(ax):
    return [(line.get_xdata(), line.get_ydata()) for line in ax.get_lines()]


def test_variance_law_shows_points_and_both_laws_on_log_axes():
    curves = _curves()
    (ax,) = plot_variance_law(*curves).axes
    assert ax.get_xscale() == ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sum("measured" in label for label in labels) == 2
    assert sum("theory" in label for label in labels) == 2
    x, y = _lines(ax)[0]
    np.testing.assert_allclose(y, curves[0].sigma_sq / x)
    with pytest.raises(
        ValueError, match=r"curves must be a sequence of at least 1 entry, got \(\)"
    ):
        plot_variance_law()
    with pytest.raises(TypeError, match=r"curves\[0\] must be a VarianceCurve, got 3"):
        plot_variance_law(3)


def test_bound_check_plots_measured_bound_and_ratio():
    check = _check()
    ax, ratio_ax = plot_bound_check(check).axes
    drawn = _lines(ratio_ax)
    np.testing.assert_allclose(drawn[0][1], check.ratio[0])
    np.testing.assert_allclose(drawn[1][1], check.ratio[1])
    np.testing.assert_allclose(_lines(ax)[1][1], check.bound[0])
    assert ax.get_xlabel() == "steps $K$"
    with pytest.raises(TypeError, match="BoundCheck"):
        plot_bound_check([1, 2])


def test_gradient_traces_draw_each_run_average():
    trace = _trace()
    fig = plot_gradient_traces({"SGD, b = 2": ("sgd", trace), "again": ("sgd", trace)})
    first, second = fig.axes[0].get_lines()
    np.testing.assert_allclose(first.get_ydata(), [3.0, 2.0])
    assert first.get_color() == second.get_color() == "#0072B2"
    assert first.get_linestyle() != second.get_linestyle()
    with pytest.raises(ValueError, match="traces"):
        plot_gradient_traces({})
    with pytest.raises(TypeError, match="traces must be .*, got 3"):
        plot_gradient_traces(3)


def test_adaptive_check_draws_each_runs_bound_and_the_measured_values():
    runs = _runs()
    fig = plot_adaptive_check(runs, bound("amsgrad"), envelope(runs))
    fig.savefig(io.BytesIO(), format="png")  # mathtext errors surface only when drawn
    (ax,) = fig.axes
    own = [line for line in ax.get_lines() if line.get_marker() == "_" and len(line.get_xdata())]
    expected = [bound_at(bound("amsgrad"), r.values(), r.steps, r.batch_size) for r in runs]
    np.testing.assert_allclose(own[0].get_ydata(), expected)
    (measured,) = [line for line in ax.get_lines() if "measured" in line.get_label()]
    y = measured.get_ydata()
    assert y[0] == 0.5 and y[1] == 0.2 and 0 < y[2] < 0.2  # V_K <= 0 drawn at the bottom
    with pytest.raises(ValueError, match=r"runs must be a sequence of at least 1 entry, got \[\]"):
        plot_adaptive_check([], bound("amsgrad"), {})


def test_engine_check_has_the_curves_and_the_z_panel():
    fig = plot_engine_check({"SGD": _engine_check(), "momentum": _engine_check()}, every=5)
    top_left, top_right, bottom_left, _ = fig.axes
    assert top_left.get_title() == "SGD" and top_right.get_title() == "momentum"
    assert bottom_left.get_ylabel() == "$z_k$"
    x, y = top_left.get_lines()[0].get_data()
    np.testing.assert_allclose(y, _engine_check().exact[:, 0])


@pytest.mark.parametrize(
    ("checks", "kwargs", "error", "match"),
    [
        ({"x": 1}, {}, TypeError, r"checks\['x'\] must be an EngineCheck, got 1"),
        ({}, {}, ValueError, r"checks must be a mapping name -> EngineCheck .*, got \{\}"),
        ([], {}, TypeError, r"checks must be .*, got \[\]"),
        ({"x": "check"}, {"every": 0}, TypeError, r"checks\['x'\]"),
        ("ok", {"every": 0}, ValueError, "every must be .*, got 0"),
    ],
)
def test_engine_check_rejects_bad_input(checks, kwargs, error, match):
    checks = {"sgd": _engine_check()} if checks == "ok" else checks
    with pytest.raises(error, match=match):
        plot_engine_check(checks, **kwargs)
