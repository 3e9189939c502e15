"""Measured curves and their fitted laws: what is drawn is the measured medians, the fits, and
their marks; one optimizer in three panels, data sets side by side, optimizers compared."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from batchsteps.analysis import fit_laws, fit_steps, per_batch
from batchsteps.viz.curves import (
    STATUS_MARKERS,
    plot_comparison,
    plot_fit_panels,
    plot_fits,
    plot_linearisation,
    plot_measured,
    status_summary,
)
from batchsteps.viz.style import OPTIMIZER_STYLES

from .synthetic import both_laws

POWERS = 2.0 ** np.arange(1, 11)


def _sweep(min_steps, min_batch, seed, seeds=3):
    rng = np.random.default_rng(seed)
    b = np.repeat(POWERS, seeds)
    with np.errstate(divide="ignore"):
        k = np.where(b > min_batch, min_steps * b / (b - min_batch), np.inf)
    k = k * np.exp(0.05 * rng.standard_normal(b.size))
    reached = np.isfinite(k)
    return b, np.where(reached, np.round(k), -1.0), reached


SGD_DATA = _sweep(1000.0, 6.0, 0)
SGD = fit_steps(*SGD_DATA[:2], reached=SGD_DATA[2], n_boot=50)
SGD_TUNED = fit_steps(*SGD_DATA[:2], "tuned_lr", reached=SGD_DATA[2], n_boot=50)
MOM_DATA = _sweep(400.0, 12.0, 1)
MOMENTUM = fit_steps(*MOM_DATA[:2], reached=MOM_DATA[2], n_boot=50)


FITS = both_laws()


def _panel_fits():
    b = np.repeat(np.array([4, 8, 16, 32, 64, 128], dtype=float), 3)
    scatter = np.exp(0.05 * np.random.default_rng(0).standard_normal(b.size))
    return fit_laws(b, 100 * (1 + 16 / b) * scatter, n_boot=20)


def _table():
    return pd.DataFrame(
        {
            "critical_batch": [20.0, 50.0, 10.0],
            "critical_low": [18.0, 45.0, 8.0],
            "critical_high": [22.0, 56.0, 12.0],
            "min_steps": [130.0, 45.0, 70.0],
            "min_steps_low": [125.0, 42.0, 65.0],
            "min_steps_high": [135.0, 48.0, 75.0],
            "theory_critical_low": [1.0, 4.0, math.nan],
            "theory_critical_ratio": [1.0, 40.0, math.nan],
            "theory_steps_ratio": [1.0, 0.25, math.nan],
        },
        index=pd.Index(["sgd", "momentum", "adam"], name="optimizer"),
    )


@pytest.mark.parametrize(
    ("plot", "args", "ncols"),
    [
        (plot_fits, lambda: ({"sgd": SGD},), 1),
        (plot_linearisation, lambda: ({"sgd": [SGD, SGD_TUNED]},), 1),
        (plot_measured, lambda: (FITS, "sgd"), 3),
        (plot_fit_panels, lambda: ({"A": _panel_fits(), "B": _panel_fits()},), 2),
        (plot_comparison, lambda: (_table(),), 2),
    ],
)
def test_each_figure_is_returned_draws_where_told_and_stays_out_of_pyplot(
    plot, args, ncols, follows_the_figure_contract
):
    follows_the_figure_contract(plot, *args(), ncols=ncols)


def _labelled(ax, text):
    return [h for h in ax.get_lines() + ax.collections if text in str(h.get_label())]


def test_steps_figure_draws_the_fit_on_log_log_axes_over_the_measured_range():
    fig = plot_fits({"sgd": SGD})
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "batch size" in ax.get_xlabel() and "steps" in ax.get_ylabel()
    (curve,) = _labelled(ax, "constant-rate law fit")
    x, y = curve.get_data()
    assert x[0] == pytest.approx(SGD.batch_sizes.min()) and x[-1] == pytest.approx(1024)
    np.testing.assert_allclose(y, SGD.predict(x))
    assert curve.get_color() == OPTIMIZER_STYLES["sgd"].color


def test_measured_points_are_the_medians_per_batch_size():
    ax = plot_fits({"sgd": SGD}).axes[0]
    (points,) = [c for c in ax.containers if "median" in c.get_label()]
    x, y = points.lines[0].get_data()
    table = per_batch(SGD.batch_sizes, SGD.steps)
    np.testing.assert_allclose(x, table["batch_size"])
    np.testing.assert_allclose(y, table["median"])


def test_runs_not_reached_are_shown_and_counted():
    ax = plot_fits({"sgd": SGD}).axes[0]
    (missed,) = _labelled(ax, "excluded")  # reached=False without a budget: excluded
    assert f"({SGD.n_excluded} runs)" in missed.get_label()
    np.testing.assert_allclose(missed.get_xdata(), np.unique(SGD.excluded_batch_sizes))


def _ended(min_steps, min_batch, budget, seeds=5):
    """Runs of a constant-rate curve that end in all three ways: reached, out of budget
    (censored at ``budget``) and, at the two smallest batch sizes, one diverged run each."""
    rng = np.random.default_rng(3)
    b = np.repeat(POWERS, seeds)
    with np.errstate(divide="ignore"):
        k = np.where(b > min_batch, min_steps * b / (b - min_batch), np.inf)
    k = k * np.exp(0.3 * rng.standard_normal(b.size))
    status = np.where(k <= budget, "reached", "budget").astype(object)
    status[[0, seeds]] = "diverged"
    return fit_steps(b, np.where(status == "reached", np.ceil(k), -1.0), status=status,
                     max_steps=budget, n_boot=20)  # fmt: skip


def test_each_way_a_run_ended_has_its_marker_and_count_and_the_budget_its_line():
    fit = _ended(500.0, 6.0, 2000.0)
    ax = plot_fits({"sgd": fit}).axes[0]
    counts = fit.counts
    for status, words in (("budget", "out of budget"), ("diverged", "diverged")):
        (line,) = _labelled(ax, words)
        where = counts.index[counts[status] > 0].to_numpy(dtype=float)
        np.testing.assert_allclose(line.get_xdata(), where)
        assert f"({int(counts[status].sum())} runs)" in line.get_label()
        assert line.get_marker() == STATUS_MARKERS[status][0]
    (budget,) = _labelled(ax, "step budget")
    assert budget.get_ydata()[0] == pytest.approx(2000.0)
    assert "median steps to the target" in ax.get_ylabel()
    assert status_summary(fit) == (
        f"{int(counts['reached'].sum())} reached, {int(counts['budget'].sum())} out of budget, "
        f"{int(counts['diverged'].sum())} diverged"
    )
    with pytest.raises(TypeError, match="fit must be .*, got 3"):
        status_summary(3)


def test_sfo_figure_multiplies_by_b_and_marks_the_critical_batch():
    ax = plot_fits({"sgd": SGD}, quantity="sfo").axes[0]
    (curve,) = _labelled(ax, "constant-rate law fit")
    x, y = curve.get_data()
    np.testing.assert_allclose(y, x * SGD.predict(x))
    assert "gradients" in ax.get_ylabel()
    vertical = [line for line in ax.get_lines() if np.ptp(line.get_xdata()) == 0]
    assert [line.get_xdata()[0] for line in vertical] == pytest.approx([SGD.critical_batch])


def test_several_optimizers_and_laws_each_get_their_style_and_a_legend_entry():
    ax = plot_fits({"sgd": [SGD, SGD_TUNED], "momentum": MOMENTUM}).axes[0]
    tuned = _labelled(ax, "SGD: tuned-rate law fit")
    assert len(tuned) == 1 and tuned[0].get_linestyle() == "--"
    (mom,) = _labelled(ax, "Momentum: constant-rate law fit")
    assert mom.get_color() == OPTIMIZER_STYLES["momentum"].color
    marks = _labelled(ax, "≈")
    positions = sorted(line.get_xdata()[0] for line in marks)
    expected = [SGD.critical_batch, SGD_TUNED.critical_batch, MOMENTUM.critical_batch]
    assert positions == pytest.approx(sorted(expected))
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("B_noise" in t for t in legend) and any("b*" in t for t in legend)


def test_a_single_fit_draws_in_a_neutral_style_and_into_a_given_axes():
    fig = Figure()
    ax = fig.subplots()
    assert plot_fits(SGD, ax=ax, band=False, mark_critical=False) is fig
    assert not any(isinstance(c, PolyCollection) for c in ax.collections)  # no band
    assert not _labelled(ax, "≈") and not ax.patches  # no critical mark or interval
    assert any("constant-rate law fit" == t.get_text() for t in ax.get_legend().get_texts())


def test_band_and_critical_interval_are_drawn_when_asked():
    ax = plot_fits(SGD).axes[0]
    assert any(isinstance(c, PolyCollection) for c in ax.collections)
    low, high = SGD.ci["critical_batch"]
    (span,) = ax.patches
    assert span.get_x() == pytest.approx(low) and span.get_width() == pytest.approx(high - low)


def test_linearisation_draws_the_constant_law_as_a_line_through_one_over_k_min():
    ax = plot_linearisation({"sgd": [SGD, SGD_TUNED]}).axes[0]
    assert ax.get_xscale() == "linear" and ax.get_xlim()[0] == 0.0
    (line,) = _labelled(ax, "constant-rate law fit")
    x, y = line.get_data()
    slope, intercept = np.polyfit(x, y, 1)
    assert intercept == pytest.approx(1 / SGD.min_steps, rel=1e-9)
    assert slope == pytest.approx(-SGD.params["min_batch"] / SGD.min_steps, rel=1e-9)
    (bent,) = _labelled(ax, "tuned-rate law fit")
    bx, by = bent.get_data()
    residual = by - np.polyval(np.polyfit(bx, by, 1), bx)
    assert np.abs(residual).max() > 1e-3 * by.max()  # the tuned law is not straight here
    intercepts = [line for line in ax.get_lines() if list(line.get_xdata()) == [0.0]]
    assert {round(float(line.get_ydata()[0]), 12) for line in intercepts} == {
        round(1 / SGD.min_steps, 12),
        round(1 / SGD_TUNED.min_steps, 12),
    }


def test_linearisation_points_are_inverse_medians():
    ax = plot_linearisation({"momentum": MOMENTUM}).axes[0]
    (points,) = [c for c in ax.containers if "median" in c.get_label()]
    x, y = points.lines[0].get_data()
    table = per_batch(MOMENTUM.batch_sizes, MOMENTUM.steps)
    np.testing.assert_allclose(x, 1 / table["batch_size"])
    np.testing.assert_allclose(y, 1 / table["median"])


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: plot_fits({}), ValueError, r"fits must be a Fit or a mapping .*, got \{\}"),
        (lambda: plot_fits([SGD]), TypeError, r"fits must be .*, got \[Fit\(law="),
        (
            lambda: plot_fits({"sgd": "fit"}),
            TypeError,
            r"fits\['sgd'\] must be a sequence .*, got 'fit'",
        ),
        (lambda: plot_fits({"sgd": [SGD, MOMENTUM]}), ValueError, "different data"),
        (lambda: plot_fits(SGD, quantity="time"), ValueError, "quantity must be .*, got 'time'"),
        (
            lambda: plot_fits(SGD, ax="axes"),
            TypeError,
            "ax must be a matplotlib Axes, .*, got 'axes'",
        ),
        (lambda: plot_fits(SGD, level=2.0), ValueError, "level must be .*, got 2.0"),
        (lambda: plot_linearisation(None), TypeError, "fits must be .*, got None"),
    ],
)
def test_bad_arguments_are_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_three_panels_steps_sfo_and_the_linearised_line():
    fig = plot_measured(FITS, "momentum")
    steps, sfo, line = fig.axes[:3]
    assert steps.get_xscale() == "log" and steps.get_yscale() == "log"
    assert sfo.get_yscale() == "log" and line.get_xscale() == "linear"
    colour = OPTIMIZER_STYLES["momentum"].color
    assert any(ln.get_color() == colour for ln in steps.get_lines())
    # the SFO panel marks b* = 2 b0 of the constant-rate fit, and only that one
    marks = [ln for ln in sfo.get_lines() if ln.get_linestyle() == ":"]
    b_star = FITS["constant_lr"].critical_batch
    assert [ln.get_xdata()[0] for ln in marks] == pytest.approx([b_star])
    assert "b*" in " ".join(t.get_text() for t in sfo.texts)
    assert "Momentum" in steps.get_title()


def test_plot_measured_rejects_bad_inputs():
    with pytest.raises(TypeError, match="name must be .*, got 3"):
        plot_measured(FITS, 3)
    with pytest.raises(ValueError, match="fits\\['tuned_lr'\\]"):
        plot_measured({"tuned_lr": FITS["constant_lr"]}, "sgd")
    with pytest.raises(
        ValueError, match="fits must be a mapping with the 'constant_lr' Fit .*, got \\{'tuned_lr'"
    ):
        plot_measured({"tuned_lr": FITS["tuned_lr"]}, "sgd")
    with pytest.raises(ValueError, match="fits must be .*, got \\{\\}"):
        plot_measured({}, "sgd")
    with pytest.raises(TypeError, match="fits must be .*, got 3"):
        plot_measured(3, "sgd")


def test_fit_panels_one_panel_per_data_set_with_both_laws():
    fig = plot_fit_panels({"A": _panel_fits(), "B": _panel_fits()})
    assert [ax.get_title() for ax in fig.axes] == ["A", "B"]
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert any("constant-rate law" in t for t in labels)
    assert any("tuned-rate law" in t for t in labels)


@pytest.mark.parametrize(
    ("fits", "error", "match"),
    [
        ({}, ValueError, r"fits must be a mapping data set -> \{law: Fit\} .*, got \{\}"),
        ([], TypeError, r"fits must be a mapping .*, got \[\]"),
        ({"A": {"tuned_lr": 1}}, TypeError, r"fits\['A'\]\['tuned_lr'\] must be a Fit, got 1"),
        ({"A": {}}, ValueError, r"fits\['A'\] must be a mapping law -> Fit .*, got \{\}"),
    ],
)
def test_fit_panels_reject_bad_input(fits, error, match):
    with pytest.raises(error, match=match):
        plot_fit_panels(fits)


def test_comparison_draws_intervals_and_the_theorys_prediction():
    fig = plot_comparison({"gradient": _table(), "loss": _table()})
    crit, steps = fig.axes[:2]
    assert crit.get_xscale() == "log"
    labels = [t.get_text() for t in crit.get_yticklabels()]
    assert labels == ["SGD", "Momentum", "Adam"]
    predicted = [ln for ln in crit.get_lines() if ln.get_marker() == "D"]
    # momentum (ratio 40) per target; none for SGD (itself) or Adam (no prediction)
    assert sorted(ln.get_xdata()[0] for ln in predicted) == [800.0, 800.0]
    assert any(ln.get_xdata()[0] == pytest.approx(32.5) for ln in steps.get_lines())
    # the band the proof allows for b*: from SGD's value x 4 to x 40, per target; none for K_min
    bars = [ln for ln in crit.get_lines() if len(ln.get_xdata()) == 2]
    assert [list(ln.get_xdata()) for ln in bars] == [[80.0, 800.0], [80.0, 800.0]]
    assert not [ln for ln in steps.get_lines() if len(ln.get_xdata()) == 2]
    # a table without the band's bottom draws the diamond alone
    alone = plot_comparison(_table().drop(columns="theory_critical_low")).axes[0]
    assert not [ln for ln in alone.get_lines() if len(ln.get_xdata()) == 2]


def test_comparison_rejects_tables_without_the_columns():
    with pytest.raises(
        ValueError, match="tables\\[''\\] must have the column.*, lacks 'critical_low'"
    ):
        plot_comparison(_table().drop(columns="critical_low"))
    with pytest.raises(TypeError, match="tables must be .*, got 3"):
        plot_comparison(3)
    with pytest.raises(ValueError, match=r"tables must be .*, got \{\}"):
        plot_comparison({})
