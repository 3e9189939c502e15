r"""Figures of the learning rate: how it was chosen, and what steps it gives at each batch size.

- :func:`plot_tuning`: the book's learning-rate rule, steps at the tuning batch against the
  rate, per optimizer;
- :func:`plot_rate_tuning`: median steps against the rate, one line per batch size, with the
  rate kept for each batch size circled;
- :func:`plot_rate_sweep`: one optimizer's constant-rate curves at several rates, beside the
  curve with the rate tuned per batch size among them.

Each function draws into the axes it is given (``ax``) or a new house-style figure
(:func:`~batchsteps.viz.new_figure`) and returns the figure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import validation
from ..analysis import Fit
from ..experiments import RateSweep, Tuning
from .curves import plot_fits
from .style import PALETTE, SeriesStyle, new_figure, series_style

RATE_COLORS = ("#9ecae1", "#4292c6", "#08306b", "#6baed6", "#2171b5")
"""Colours of the rates of :func:`plot_rate_sweep`, smallest rate first (light to dark)."""
RATE_MARKERS = ("v", "o", "^", "s", "D")
"""Markers of the rates of :func:`plot_rate_sweep`, smallest rate first."""


def plot_tuning(tuning: Tuning, *, ax: Axes | None = None) -> Figure:
    r"""The learning-rate rule: median steps to the tuning target at the tuning batch size
    against the rate, per optimizer (log-log; crosses at the top where a seed did not reach);
    the fastest rate circled, the rate used (half of it) as a dotted line.

    ``tuning``: a :class:`batchsteps.experiments.Tuning`.
    """
    validation.instance("tuning", tuning, Tuning, "a Tuning (from experiments.tune_rates)")
    fig, ax = new_figure(ax, width=7.0, height=4.2, layout="tight")
    for o, group in tuning.table.groupby("optimizer", sort=False):
        style = series_style(o)
        finite = group[np.isfinite(group["median_steps"])]
        ax.plot(finite["lr"], finite["median_steps"], marker=style.marker, color=style.color,
                label=f"{style.label}: rate used {tuning.lr[o]:g}")  # fmt: skip
        missed = group[~np.isfinite(group["median_steps"])]
        ax.plot(missed["lr"], np.full(len(missed), 0.96), linestyle="none", marker="x",
                color=style.color, transform=ax.get_xaxis_transform(), clip_on=False)  # fmt: skip
        fast = group[group["lr"] == tuning.fastest[o]]
        ax.plot(fast["lr"], fast["median_steps"], marker="o", markersize=13, color=style.color,
                markerfacecolor="none", linestyle="none")  # fmt: skip
        ax.axvline(tuning.lr[o], color=style.color, linestyle=":", linewidth=1.2)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("learning rate $\\alpha$")
    ax.set_ylabel(f"median steps to {tuning.target} at $b$ = {tuning.batch_size}")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8)
    return fig


def plot_rate_tuning(runs: pd.DataFrame, tuned: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Median steps against the learning rate, one line per batch size (runs that did not
    reach count as missing), with the rate kept for each batch size circled: the grid should
    bracket every circle. ``runs``: one row per run (``batch_size``, ``lr``, ``steps``,
    ``reached``); ``tuned``: the rows of the rate kept per batch size."""
    validation.instance("runs", runs, pd.DataFrame)
    validation.instance("tuned", tuned, pd.DataFrame)
    reached = runs[runs["reached"]]
    medians = reached.groupby(["batch_size", "lr"])["steps"].median()
    best = tuned.groupby("batch_size")["lr"].first()
    fig, ax = new_figure(ax)
    for j, b in enumerate(sorted(runs["batch_size"].unique())):
        color = PALETTE[j % len(PALETTE)]
        line = ["-", "--"][(j // len(PALETTE)) % 2]
        if b in medians.index.get_level_values(0):
            curve = medians.loc[b]
            ax.plot(curve.index, curve.to_numpy(), marker="o", markersize=3, color=color,
                    linestyle=line, label=f"b = {b}")  # fmt: skip
            if best[b] in curve.index:
                ax.plot(best[b], curve.loc[best[b]], marker="o", markersize=11,
                        markerfacecolor="none", color=color)  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(r"learning rate $\alpha$")
    ax.set_ylabel("median steps to target $K$")
    ax.legend(fontsize=7, ncol=2)
    return fig


def plot_rate_sweep(sweep: RateSweep, *, ax: Axes | None = None, level: float = 0.95) -> Figure:
    r"""One optimizer's median steps to the target against the batch size at each constant
    rate of a :class:`batchsteps.experiments.RateSweep` (blues, light to dark as the rate
    grows), each with its constant-rate fit and :math:`b^\star = 2b_0` marked, beside the
    curve of the best of these rates per batch size (black) with its tuned-rate fit (dashed).
    Runs that ran out of budget or diverged are marked along the bottom per rate. Returns the
    figure.
    """
    validation.instance("sweep", sweep, RateSweep, "a RateSweep (see experiments.rate_sweep)")
    fits: dict[str, Fit | list[Fit]] = {}
    styles: dict[str, SeriesStyle] = {}
    for i, rate in enumerate(sweep.rates):
        if rate in sweep.fits:
            name = f"α = {rate:g}"
            fits[name] = sweep.fits[rate]["constant_lr"]
            styles[name] = SeriesStyle(
                name, RATE_COLORS[i % len(RATE_COLORS)], RATE_MARKERS[i % len(RATE_MARKERS)]
            )
    if sweep.tuned_fits is not None:
        name = "best of these rates per b"
        fits[name] = [sweep.tuned_fits["tuned_lr"]]
        styles[name] = SeriesStyle(name, "#000000", "*")
    if not fits:
        allowed = "a sweep with a fitted curve (a rate that reached at three batch sizes)"
        raise validation.value_error("sweep", sweep, allowed)
    fig, ax = new_figure(ax, width=7.5, height=5.0, layout=None)  # the legend hangs below
    plot_fits(fits, ax=ax, level=level, styles=styles)
    ax.set_title(f"{series_style(sweep.optimizer).label}: the rate swept")
    return fig
