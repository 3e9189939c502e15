"""Part II's figures: one optimizer in three panels, optimizers side by side, the tuning."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from batchsteps.analysis import fit_steps  # noqa: E402
from batchsteps.experiments import Tuning  # noqa: E402
from batchsteps.viz import OPTIMIZER_STYLES  # noqa: E402
from batchsteps.viz.measured import (  # noqa: E402
    plot_comparison,
    plot_measured,
    plot_rate_sweep,
    plot_tuning,
)


def _fits(min_steps=500.0, min_batch=8.0):
    rng = np.random.default_rng(0)
    b = np.repeat(2.0 ** np.arange(1, 11), 4)
    k = np.where(b > min_batch, min_steps * b / np.maximum(b - min_batch, 1e-9), np.inf)
    k = k * np.exp(0.05 * rng.standard_normal(b.size))
    reached = np.isfinite(k)
    steps = np.where(reached, np.round(k), -1.0)
    return {
        law: fit_steps(b, steps, law, reached=reached, n_boot=30)
        for law in ("constant_lr", "tuned_lr")
    }


FITS = _fits()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


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
    with pytest.raises(TypeError, match="name=3"):
        plot_measured(FITS, 3)
    with pytest.raises(ValueError, match="fits\\['tuned_lr'\\]"):
        plot_measured({"tuned_lr": FITS["constant_lr"]}, "sgd")
    with pytest.raises(ValueError, match="needs 'constant_lr'"):
        plot_measured({"tuned_lr": FITS["tuned_lr"]}, "sgd")
    with pytest.raises(TypeError, match="fits=\\{\\}"):
        plot_measured({}, "sgd")


def _table():
    return pd.DataFrame(
        {
            "critical_batch": [20.0, 50.0, 10.0],
            "critical_low": [18.0, 45.0, 8.0],
            "critical_high": [22.0, 56.0, 12.0],
            "min_steps": [130.0, 45.0, 70.0],
            "min_steps_low": [125.0, 42.0, 65.0],
            "min_steps_high": [135.0, 48.0, 75.0],
            "theory_critical_ratio": [1.0, 40.0, math.nan],
            "theory_steps_ratio": [1.0, 0.25, math.nan],
        },
        index=pd.Index(["sgd", "momentum", "adam"], name="optimizer"),
    )


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


def test_comparison_rejects_tables_without_the_columns():
    with pytest.raises(ValueError, match="lacks columns"):
        plot_comparison(_table().drop(columns="critical_low"))
    with pytest.raises(TypeError, match="tables=3"):
        plot_comparison(3)


def test_tuning_figure_marks_the_rate_used():
    table = pd.DataFrame(
        {
            "optimizer": ["sgd"] * 4,
            "lr": [0.2, 0.4, 0.8, 1.6],
            "median_steps": [500.0, 260.0, 130.0, math.inf],
            "reached": [2, 2, 2, 0],
            "runs": [2] * 4,
        }
    )
    tuning = Tuning(table, {"sgd": 0.8}, {"sgd": 0.4}, 256, "loss<=0.1")
    fig = plot_tuning(tuning)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    vertical = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    assert vertical[0].get_xdata()[0] == 0.4
    assert "0.4" in ax.get_legend().get_texts()[0].get_text()
    with pytest.raises(TypeError, match="tuning=1"):
        plot_tuning(1)


def _rate_sweep():
    from batchsteps.experiments import RateSweep

    rates = (0.1, 0.2, 0.4)
    fits = {rate: _fits(500.0 / rate * 0.2, 4.0 * rate / 0.2) for rate in rates}
    empty = pd.DataFrame()
    return RateSweep("sgd", "loss", rates, empty, fits, empty, _fits(400.0, 1.0), 0.0, 0, 0.0)


def test_rate_sweep_draws_one_curve_per_rate_and_the_tuned_curve_in_black():
    swept = _rate_sweep()
    ax = plot_rate_sweep(swept).axes[0]
    labels = ax.get_legend_handles_labels()[1]
    for rate in swept.rates:
        assert any(t.startswith(f"α = {rate:g}: constant-rate law fit") for t in labels)
        # its b* is marked at twice its fitted pole
        (mark,) = [ln for ln in ax.get_lines() if ln.get_label().startswith(f"α = {rate:g}: b*")]
        assert mark.get_xdata()[0] == pytest.approx(swept.fits[rate]["constant_lr"].critical_batch)
    (tuned,) = [
        ln
        for ln in ax.get_lines()
        if ln.get_label() == "best of these rates per b: tuned-rate law fit"
    ]
    assert tuned.get_color() == "#000000" and tuned.get_linestyle() == "--"
    colours = {ln.get_color() for ln in ax.get_lines() if "constant-rate law fit" in ln.get_label()}
    assert len(colours) == 3
    assert "median first-passage" in ax.get_ylabel()
    with pytest.raises(TypeError, match="sweep=3"):
        plot_rate_sweep(3)
    fig, given = plt.subplots()
    assert plot_rate_sweep(swept, ax=given) is fig
