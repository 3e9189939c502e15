"""Figures of the learning rate: the tuning rule, rates against batch sizes, rates swept."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from matplotlib.figure import Figure

from batchsteps.experiments import RateSweep, Tuning
from batchsteps.viz.rates import plot_rate_sweep, plot_rate_tuning, plot_tuning

from .synthetic import both_laws


def _tuning():
    table = pd.DataFrame(
        {
            "optimizer": ["sgd"] * 4,
            "lr": [0.2, 0.4, 0.8, 1.6],
            "median_steps": [500.0, 260.0, 130.0, math.inf],
            "reached": [2, 2, 2, 0],
            "runs": [2] * 4,
        }
    )
    return Tuning(table, {"sgd": 0.8}, {"sgd": 0.4}, 256, "loss<=0.1")


def _runs():
    runs = pd.DataFrame(
        {
            "batch_size": [4, 4, 8, 8],
            "lr": [0.1, 0.2, 0.1, 0.2],
            "steps": [100, 80, 60, -1],
            "reached": [True, True, True, False],
        }
    )
    return runs, runs.iloc[[1, 2]]


def _rate_sweep():
    rates = (0.1, 0.2, 0.4)
    fits = {rate: both_laws(500.0 / rate * 0.2, 4.0 * rate / 0.2) for rate in rates}
    empty = pd.DataFrame()
    return RateSweep("sgd", "loss", rates, empty, fits, empty, both_laws(400.0, 1.0), 0.0, 0, 0.0)


@pytest.mark.parametrize(
    ("plot", "args"),
    [
        (plot_tuning, lambda: (_tuning(),)),
        (plot_rate_tuning, _runs),
        (plot_rate_sweep, lambda: (_rate_sweep(),)),
    ],
)
def test_each_figure_is_returned_draws_where_told_and_stays_out_of_pyplot(
    plot, args, follows_the_figure_contract
):
    follows_the_figure_contract(plot, *args())


def test_tuning_figure_marks_the_rate_used():
    ax = plot_tuning(_tuning()).axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    vertical = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    assert vertical[0].get_xdata()[0] == 0.4
    assert "0.4" in ax.get_legend().get_texts()[0].get_text()
    with pytest.raises(TypeError, match="tuning must be .*, got 1"):
        plot_tuning(1)


def test_rate_tuning_circles_the_chosen_rate():
    runs, tuned = _runs()
    (ax,) = plot_rate_tuning(runs, tuned).axes
    assert ax.get_xlabel().startswith("learning rate")
    circles = [ln for ln in ax.get_lines() if ln.get_markersize() == 11]
    assert sorted((ln.get_xdata()[0], ln.get_ydata()[0]) for ln in circles) == [
        (0.1, 60.0),
        (0.2, 80.0),
    ]
    with pytest.raises(TypeError, match=r"runs must be a DataFrame, got \[\] \(list\)"):
        plot_rate_tuning([], tuned)


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
    assert "median steps to the target" in ax.get_ylabel()
    with pytest.raises(TypeError, match="sweep must be .*, got 3"):
        plot_rate_sweep(3)
    fig = Figure()
    assert plot_rate_sweep(swept, ax=fig.subplots()) is fig
