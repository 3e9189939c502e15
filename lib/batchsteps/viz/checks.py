r"""Figures that check the theory against measurement: the mini-batch variance law, SGD's and
momentum's bound on :math:`\frac1K\sum_k\mathbb E\|\nabla f(\theta_k)\|^2`, AMSGrad's bound
on :math:`V_K(\theta)` with its measured constants, and the engine against the exact noisy
quadratic.

Each function draws into the axes it is given (``ax`` or ``axes``) or a new house-style figure
(:func:`~batchsteps.viz.new_figure`) and returns the figure.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import validation
from ..analysis import AdaptiveRun, EngineCheck, bound_at, predicted_variance
from .style import PALETTE, batch_axis, new_figure, style_of

GRAD_SQ = r"$\|\nabla f(\theta_k)\|^2$"


def plot_variance_law(*curves: Any, ax: Axes | None = None) -> Figure:
    r"""Measured :math:`\mathbb E\|g_B - \nabla f\|^2` against b (points, ±2 standard errors)
    with the law each curve should follow (:math:`\sigma^2/b`, or with the finite-population
    factor :math:`(n-b)/(n-1)` without replacement) as a line; log-log axes. ``curves`` are
    :class:`~batchsteps.analysis.VarianceCurve` objects."""
    curve = functools.partial(validation.attributes, needed=("predicted",), what="a VarianceCurve")
    validation.sequence_of("curves", curves, curve)
    fig, ax = new_figure(ax)
    looks = {True: (PALETTE[0], "o", "with"), False: (PALETTE[1], "s", "without")}
    for curve in curves:
        color, marker, name = looks[curve.replacement]
        b = curve.batch_sizes
        dense = np.geomspace(b.min(), b.max(), 200)
        if not curve.replacement:
            dense = np.unique(np.concatenate([dense, b]))
        law = predicted_variance(curve.sigma_sq, dense, n=None if curve.replacement else curve.n)
        theory = r"$\sigma^2/b$" if curve.replacement else r"$\sigma^2(n-b)/(b(n-1))$"
        ax.plot(
            dense,
            law,
            color=color,
            linestyle="-" if curve.replacement else "--",
            label=f"theory {theory}",
        )
        ax.errorbar(
            b,
            curve.variance,
            yerr=2 * curve.stderr,
            color=color,
            marker=marker,
            markersize=5 if curve.replacement else 8,
            markerfacecolor=color if curve.replacement else "none",
            linestyle="none",
            label=f"measured, {name} replacement",
        )
    batch_axis(ax)
    ax.set_yscale("log")
    ax.set_xlabel("batch size $b$ (samples)")
    ax.set_ylabel(r"$\mathbb{E}\|g_B - \nabla f(\theta)\|^2$ (squared gradient norm)")
    ax.legend()
    return fig


def plot_bound_check(check: Any, *, axes: Sequence[Axes] | None = None) -> Figure:
    r"""Left: measured :math:`\frac1K\sum_{k<K}\mathbb E\|\nabla f(\theta_k)\|^2` (solid, band of
    ±2 standard errors) and the bound :math:`A/K + B/b` (dashed) against K, one colour per batch
    size. Right: their ratio, below 1 where the bound holds. ``check``: a ``BoundCheck`` (from
    ``batchsteps.train.convex.check_bound``)."""
    needed = ("batch_sizes", "steps", "measured", "stderr", "bound", "ratio")
    validation.attributes("check", check, needed, "a BoundCheck (from check_bound)")
    fig, (ax, ratio_ax) = new_figure(axes, ncols=2, width=9.6, height=4.0)
    colors = mpl.colormaps["viridis"](np.linspace(0.0, 0.85, len(check.batch_sizes)))
    K = check.steps
    for i, (b, color) in enumerate(zip(check.batch_sizes, colors, strict=True)):
        low = np.maximum(check.measured[i] - 2 * check.stderr[i], check.measured[i] * 1e-3)
        ax.fill_between(
            K, low, check.measured[i] + 2 * check.stderr[i], color=color, alpha=0.25, linewidth=0
        )
        ax.plot(K, check.measured[i], color=color, label=f"$b = {b:g}$")
        ax.plot(K, check.bound[i], color=color, linestyle="--")
        ratio_ax.plot(K, check.ratio[i], color=color, label=f"$b = {b:g}$")
    ax.plot([], [], color="#444444", linestyle="--", label="bound $A/K + B/b$")
    ratio_ax.axhline(1.0, color="#444444", linestyle=":", linewidth=1.2)
    ratio_ax.annotate(
        "bound",
        xy=(K[0], 1.0),
        xytext=(2, 3),
        textcoords="offset points",
        fontsize=9,
        color="#444444",
    )
    for a in (ax, ratio_ax):
        a.set_xscale("log")
        a.set_yscale("log")
        a.set_xlabel("steps $K$")
    ax.set_ylabel(r"$\frac{1}{K}\sum_{k<K}$" + GRAD_SQ + f", mean of {check.seeds} seeds")
    ratio_ax.set_ylabel("measured / bound")
    ax.legend(ncols=2, fontsize=8)
    return fig


def plot_gradient_traces(traces: Mapping[str, Any], *, ax: Axes | None = None) -> Figure:
    r"""Measured :math:`\frac1K\sum_{k<K}\mathbb E\|\nabla f(\theta_k)\|^2` against K for named
    runs (``{label: (optimizer name, GradientTrace)}``), each with a band of ±2 standard errors.

    Runs share their optimizer's colour; a second run of the same optimizer is drawn dotted."""
    validation.mapping_of(
        "traces", traces, what="a mapping label -> (optimizer name, GradientTrace)"
    )
    fig, ax = new_figure(ax)
    seen: set[str] = set()
    for label, (name, trace) in traces.items():
        look = style_of(name)
        linestyle = ":" if name in seen else look.linestyle
        seen.add(name)
        K = np.arange(1, trace.steps + 1)
        mean, err = trace.average(), trace.average_stderr()
        ax.fill_between(
            K,
            np.maximum(mean - 2 * err, mean * 1e-3),
            mean + 2 * err,
            color=look.color,
            alpha=0.2,
            linewidth=0,
        )
        ax.plot(K, mean, color=look.color, linestyle=linestyle, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("steps $K$")
    ax.set_ylabel(r"$\frac{1}{K}\sum_{k<K}$" + GRAD_SQ)
    ax.legend()
    return fig


def plot_adaptive_check(
    runs: Sequence[AdaptiveRun],
    bound: Any,
    envelope: Mapping[str, float],
    *,
    ax: Axes | None = None,
) -> Figure:
    r"""Measured :math:`V_K(\theta)` per AMSGrad run against the bound :math:`A/K + B/b + C`,
    by batch size.

    Two bounds: each run's own measured constants (markers), and one set of constants valid
    for every run (``envelope``, a line). The y axis is logarithmic; a run with
    :math:`V_K \le 0` satisfies the bound trivially and is drawn at the bottom edge.
    """
    runs = validation.sequence_of(
        "runs", runs, functools.partial(validation.instance, types=AdaptiveRun)
    )
    look = style_of("amsgrad")
    fig, ax = new_figure(ax)
    b = np.array([r.batch_size for r in runs], dtype=float)
    measured = np.array([r.variational for r in runs])
    own = np.array([bound_at(bound, r.values(), r.steps, r.batch_size) for r in runs])
    grid = np.geomspace(b.min(), b.max(), 100)
    steps = max(r.steps for r in runs)
    common = [bound_at(bound, envelope, steps, x) for x in grid]
    ax.plot(grid, common, color="#444444", linestyle="--", label="bound, one set of constants")
    ax.plot(b, own, linestyle="none", marker="_", markersize=14, color="#444444")
    ax.plot([], [], linestyle="none", marker="_", color="#444444", label="bound, each run's own")
    floor = measured[measured > 0].min() / 10 if np.any(measured > 0) else 1e-3
    shown = np.where(measured > 0, measured, floor)
    ax.plot(
        b,
        shown,
        linestyle="none",
        marker=look.marker,
        color=look.color,
        label=r"measured $V_K(\theta)$",
    )
    batch_axis(ax)
    ax.set_yscale("log")
    ax.set_xlabel("batch size $b$ (samples)")
    ax.set_ylabel(r"$V_K(\theta)$ and its bound")
    ax.legend(loc="center right")
    return fig


def plot_engine_check(
    checks: Mapping[str, EngineCheck], *, every: int = 10, axes: Sequence[Axes] | None = None
) -> Figure:
    r"""The engine's mean loss over seeds (points with two standard errors, every ``every``
    steps) on the exact :math:`\mathbb E f(\theta_k)` (lines), one panel per optimizer, and
    below each the standardised differences :math:`z_k` with the band :math:`|z| \le 2`.
    ``axes``: two rows of one column per check, if given."""
    engine_check = functools.partial(validation.instance, types=EngineCheck)
    validation.mapping_of("checks", checks, engine_check, what="a mapping name -> EngineCheck")
    every = validation.integer("every", every, low=1)
    n = len(checks)
    fig, grid = new_figure(
        axes, nrows=2, ncols=n, width=5.0 * n, height=6.2, layout="tight", squeeze=False,
        gridspec_kw={"height_ratios": [3, 1.3]}, sharex="col",
    )  # fmt: skip
    for col, (name, check) in enumerate(checks.items()):
        top, bottom = grid[0, col], grid[1, col]
        k = check.steps
        pick = k[1::every]
        for j, b in enumerate(check.batch_sizes):
            color = PALETTE[j % len(PALETTE)]
            top.plot(k, check.exact[:, j], color=color, label=f"b = {b}: exact")
            top.errorbar(pick, check.mean[pick, j], yerr=2 * check.stderr[pick, j], fmt="o",
                         markersize=3, color=color, capsize=2, linestyle="none",
                         label=f"b = {b}: engine, mean of {check.n_seeds} seeds")  # fmt: skip
            bottom.plot(k[1:], check.z[1:, j], color=color, linewidth=0.8)
        top.set_yscale("log")
        top.set_ylabel(r"expected loss $\mathbb{E} f(\theta_k)$")
        top.set_title(str(name))
        top.legend(fontsize=7)
        bottom.axhspan(-2, 2, color="#dddddd", alpha=0.6, lw=0)
        bottom.axhline(0, color="#444444", linewidth=0.6)
        bottom.set_ylabel("$z_k$")
        bottom.set_xlabel("step $k$")
    return fig
