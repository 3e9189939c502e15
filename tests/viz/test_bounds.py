"""Figures of the theory's bounds: each draws the quantities it claims to show."""

import io

import numpy as np
import pytest

import batchsteps as bs
from batchsteps.theory import adam, bound, momentum, symbols
from batchsteps.viz.bounds import (
    batch_grid,
    plot_beta1_cost,
    plot_bound,
    plot_bound_comparison,
    plot_momentum_shapes,
    plot_regimes,
    plot_young_family,
    young_family,
)

SGD_VALUES = dict(L=1.0, sigma=2.0, Delta=1.0, epsilon=0.3)
SGD = bound("sgd").subs(alpha=0.5, **SGD_VALUES)
MOMENTUM = bound("momentum").subs(alpha=0.05, beta=0.5, **SGD_VALUES)
ADAM_VALUES = dict(alpha=1e-3, sigma=1.0, G=1.0, D=1e-4, d=100.0, h_min=0.01, h_max=1.0)
ADAM_VALUES["epsilon"] = 5.0
YOUNG_VALUES = dict(L=1.0, sigma=1.0, Delta=1.0, alpha=1e-3, epsilon=0.1, beta=0.9)


def _lines(ax):
    return [(line.get_xdata(), line.get_ydata()) for line in ax.get_lines()]


def _renders(fig) -> None:
    fig.savefig(io.BytesIO(), format="png")  # mathtext errors surface only when drawn
    for ax in fig.axes:
        assert ax.get_xlabel() and ax.get_ylabel()


def _regimes():
    values = {"L": 1.0, "sigma": 2.0, "Delta": 1.0, "epsilon": 0.5}
    return bound("sgd").subs(alpha=0.5, **values), bs.theory.tuned_bound("sgd").subs(**values)


def _beta1_sweep():
    return adam.parameter_sweep(bound("adam"), ADAM_VALUES, "beta1", np.linspace(0, 0.99, 30))


def _shapes():
    sgd_values = dict(L=1.0, sigma=1.0, Delta=1.0, alpha=0.01, epsilon=0.1)
    sgd, mom = bound("sgd").subs(**sgd_values), bound("momentum").subs(**sgd_values, beta=0.5)
    rms = bound("rmsprop").subs(**ADAM_VALUES)
    ams = bound("amsgrad").subs(**ADAM_VALUES, beta1=0.5)
    curves = {
        "sgd": (sgd, sgd.critical_batch),
        "momentum": (mom, sgd.critical_batch),
        "rmsprop": (rms, rms.critical_batch),
        "amsgrad": (ams, rms.critical_batch),
    }
    grid = np.linspace(0, 0.9, 20)
    sweeps = {
        "momentum": adam.parameter_sweep(bound("momentum"), sgd_values, "beta", grid),
        "amsgrad": adam.parameter_sweep(bound("amsgrad"), ADAM_VALUES, "beta1", grid),
    }
    return curves, sweeps


@pytest.mark.slow
@pytest.mark.parametrize(
    ("plot", "args", "kwargs", "ncols"),
    [
        (plot_bound, lambda: (SGD,), {}, 2),
        (plot_bound_comparison, lambda: ({"a": {"sgd": SGD}, "b": {"sgd": SGD}},), {}, 2),
        (plot_regimes, lambda: (*_regimes(), [1, 1024]), {}, 1),
        (plot_beta1_cost, lambda: (_beta1_sweep(),), {"epsilon": 5.0, "largest": 0.5}, 2),
        (plot_momentum_shapes, _shapes, {}, 2),
        (
            plot_young_family,
            lambda: (momentum.momentum_bound(symbols.t), bound("sgd"), YOUNG_VALUES, [1.0, 2.0]),
            {},
            2,
        ),
    ],
)
def test_each_figure_is_returned_draws_where_told_and_stays_out_of_pyplot(
    plot, args, kwargs, ncols, follows_the_figure_contract
):
    follows_the_figure_contract(plot, *args(), ncols=ncols, **kwargs)


def test_batch_grid_starts_above_the_pole_and_passes_b_star():
    b = batch_grid(SGD)
    assert b[0] > SGD.min_batch and b[-1] > SGD.critical_batch
    assert np.all(np.isfinite(SGD.steps(b)))
    with pytest.raises(ValueError, match="span must be .*, got 1"):
        batch_grid(SGD, span=1)


@pytest.mark.parametrize(
    ("points", "error"), [(0, ValueError), (1, ValueError), (-1, ValueError), ("x", TypeError),
                          (2.5, TypeError), (True, TypeError)],
)  # fmt: skip
def test_batch_grid_checks_its_number_of_points(points, error):
    with pytest.raises(error, match=f"points must be an integer >= 2, got {points!r}"):
        batch_grid(SGD, points=points)
    assert batch_grid(SGD, points=2).size == 2


@pytest.mark.parametrize(
    ("size", "error", "pattern"),
    [
        ({"width": -1}, ValueError, "width must be a finite real number > 0, got -1"),
        ({"width": "x"}, TypeError, r"width must be .*, got 'x' \(str\)"),
        ({"height": 0}, ValueError, "height must be .* > 0, got 0"),
        ({"height": float("inf")}, ValueError, "height must be a finite .*, got inf"),
    ],
)
def test_plot_bound_checks_the_figure_size(size, error, pattern):
    with pytest.raises(error, match=pattern):
        plot_bound(SGD, **size)


def test_plot_bound_draws_k_and_n_with_b_star_at_twice_k_min():
    fig = plot_bound(SGD)
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


def test_plot_bound_draws_every_bound_of_the_theory_in_its_style():
    for name in bs.theory.names():
        symbolic = bound(name)
        specs = zip(symbolic.parameters, symbolic.assumptions.values(), strict=True)
        values = {n: spec.default for n, spec in specs}
        numeric = symbolic.subs(**{**values, **({"alpha": 0.001} if name == "momentum" else {})})
        line = plot_bound(numeric, name=name).axes[0].get_lines()[0]
        assert line.get_color() == bs.viz.style_of(name).color


def test_plot_bound_rejects_a_symbolic_bound():
    with pytest.raises(TypeError, match=r"numeric must be a NumericBound \(from Bound.subs\), got"):
        plot_bound(bound("sgd"))


def test_comparison_has_a_panel_per_comparison_in_house_colours():
    fig = plot_bound_comparison(
        {"equal α": {"sgd": SGD, "momentum": MOMENTUM}, "again": {"sgd": SGD}}
    )
    assert len(fig.axes) == 2
    colors = {line.get_color() for line in fig.axes[0].get_lines()}
    assert {"#0072B2", "#D55E00"} <= colors
    with pytest.raises(ValueError, match=r"panels must be a mapping .*, got \{\}"):
        plot_bound_comparison({})
    with pytest.raises(ValueError, match=r"panels\['x'\] must be a mapping .*, got \{\}"):
        plot_bound_comparison({"x": {}})
    with pytest.raises(ValueError, match="house style"):
        plot_bound_comparison({"x": {"newton": SGD}})


def test_regimes_draw_both_laws_and_mark_the_pole_of_the_constant_rate():
    constant, tuned = _regimes()
    (ax,) = plot_regimes(constant, tuned, [1, 1024]).axes
    labels = ax.get_legend_handles_labels()[1]
    assert any("constant rate" in t for t in labels) and any("tuned" in t for t in labels)
    assert any(f"{constant.critical_batch:.3g}" in t for t in labels)
    tuned_line = ax.lines[1].get_ydata()
    const_line = ax.lines[0].get_ydata()
    assert np.all(np.asarray(tuned_line)[-len(const_line) :] <= np.asarray(const_line) + 1e-9)


def test_regimes_reject_non_bounds_and_bad_batch_sizes():
    constant, tuned = _regimes()
    with pytest.raises(TypeError, match="constant must be a numeric bound .*, got 3"):
        plot_regimes(3, tuned, [1, 8])
    with pytest.raises(ValueError, match=r"batch_sizes must be .* > 0, got \[0, 8\]"):
        plot_regimes(constant, tuned, [0, 8])


@pytest.mark.slow
def test_beta1_cost_renders_and_rejects_other_sweeps():
    _renders(plot_beta1_cost(_beta1_sweep(), epsilon=5.0, largest=0.5))
    without_alpha = {k: v for k, v in ADAM_VALUES.items() if k != "alpha"}
    other = adam.parameter_sweep(bound("adam"), {**without_alpha, "beta1": 0.9}, "alpha", [1e-4])
    with pytest.raises(ValueError, match="sweep must be a sweep over beta1 from 0, got"):
        plot_beta1_cost(other, epsilon=5.0, largest=0.5)
    with pytest.raises(TypeError, match="sweep must be a ParameterSweep .*, got <object"):
        plot_beta1_cost(object(), epsilon=5.0, largest=0.5)


@pytest.mark.slow
def test_momentum_shapes_put_each_b_star_at_twice_k_min():
    curves, sweeps = _shapes()
    fig = plot_momentum_shapes(curves, sweeps)
    _renders(fig)
    marks = [line for line in fig.axes[0].get_lines() if len(line.get_xdata()) == 1]
    assert [line.get_ydata()[0] for line in marks] == [2.0] * len(curves)
    with pytest.raises(TypeError, match=r"curves\['sgd'\] must be a \(NumericBound, b\*_0\) pair"):
        plot_momentum_shapes({"sgd": SGD}, sweeps)


@pytest.mark.slow
def test_young_family_matches_the_bound_and_blanks_members_that_certify_nothing():
    family = momentum.momentum_bound(symbols.t)
    data = young_family(family, bound("sgd"), YOUNG_VALUES, [1.0, 2.0, 4.0, 1e4])
    assert np.round(data["critical_ratio"][:3]).tolist() == [110, 62, 40]
    assert data["steps_ratio"][0] == 1.0 and np.isnan(data["critical_ratio"][3])
    fig = plot_young_family(family, bound("sgd"), YOUNG_VALUES)
    np.testing.assert_allclose(
        fig.axes[0].get_lines()[0].get_ydata(),
        young_family(family, bound("sgd"), YOUNG_VALUES, np.geomspace(0.25, 64.0, 241))[
            "critical_ratio"
        ],
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("which", "extra", "ts", "error", "match"),
    [
        ("sgd", {}, [1.0], TypeError, "family must be momentum_bound"),
        ("family", {"t": 1.0}, [1.0], ValueError, "values .* must be among .*, got t=1.0"),
        ("family", {}, [0.0], ValueError, r"ts must be .* > 0, got \[0.0\]"),
    ],
)
def test_young_family_rejects_bad_arguments(which, extra, ts, error, match):
    family = bound("sgd") if which == "sgd" else momentum.momentum_bound(symbols.t)
    with pytest.raises(error, match=match):
        young_family(family, bound("sgd"), {**YOUNG_VALUES, **extra}, ts)
