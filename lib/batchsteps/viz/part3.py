r"""Figures of Part III: the two regimes of one bound, fits per data set, the engine against the
exact noisy quadratic, the measured noise scale against the fitted one, the rate tuning.

Each function is one call from a chapter and returns the matplotlib figure.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from ..analysis.fit import Fit
from ..analysis.noise import NoiseScaleTrace
from ..analysis.nqm_check import EngineCheck
from .fits import plot_fits
from .style import batch_axis, mark_batch

_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")


def _mapping(name: str, value: object, kind: type) -> Mapping:
    if not isinstance(value, Mapping) or not value:
        raise TypeError(f"{name}={value!r} must be a non-empty mapping to {kind.__name__}")
    for key, item in value.items():
        if not isinstance(item, kind):
            raise TypeError(f"{name}[{key!r}]={item!r} must be a {kind.__name__}")
    return value


def plot_regimes(constant: object, tuned: object, batch_sizes: np.ndarray) -> Figure:
    r"""Steps against batch size for one bound at a constant rate and with the rate tuned per
    batch size, on log-log axes: :math:`K(b)` has its pole at :math:`b_0 > 0` (marked, with
    :math:`b^\star = 2b_0`), :math:`K^\star(b)` at :math:`b = 0`, and :math:`K^\star \le K`
    everywhere. ``constant``: a numeric bound (``.steps``, ``.min_batch``, ``.critical_batch``);
    ``tuned``: a numeric tuned bound (``.steps``, ``.noise_batch``).
    """
    for name, obj, needs in (
        ("constant", constant, ("steps", "min_batch", "critical_batch")),
        ("tuned", tuned, ("steps", "noise_batch", "min_steps")),
    ):
        if not all(hasattr(obj, attr) for attr in needs):
            raise TypeError(f"{name}={obj!r} must have {', '.join(needs)} (a numeric bound)")
    b = np.asarray(batch_sizes, dtype=float)
    if b.ndim != 1 or b.size < 2 or not np.all(np.isfinite(b) & (b > 0)):
        raise ValueError(f"batch_sizes={batch_sizes!r} must be >= 2 positive finite numbers")
    grid = np.geomspace(b.min(), b.max(), 400)
    fig, ax = plt.subplots()
    k_const = np.asarray(constant.steps(grid), dtype=float)
    shown = np.isfinite(k_const)
    ax.plot(grid[shown], k_const[shown], color=_COLORS[0], label=r"constant rate: $K(b)$")
    ax.plot(grid, tuned.steps(grid), color=_COLORS[1], linestyle="--",
            label=r"rate tuned per $b$: $K^\star(b)$")  # fmt: skip
    ax.axhline(tuned.min_steps, color="#777777", linewidth=0.8, linestyle="-.",
               label=r"$S_{\min}$ (tuned, $b\to\infty$)")  # fmt: skip
    mark_batch(ax, constant.min_batch, f"pole b0 ≈ {constant.min_batch:.3g}", _COLORS[0])
    ax.axvline(constant.critical_batch, color=_COLORS[0], linestyle="-", linewidth=0.6,
               label=f"b* = 2 b0 ≈ {constant.critical_batch:.3g}")  # fmt: skip
    ax.axvline(tuned.noise_batch, color=_COLORS[1], linestyle="-", linewidth=0.6,
               label=f"B_noise ≈ {tuned.noise_batch:.3g}")  # fmt: skip
    batch_axis(ax)
    ax.set_yscale("log")
    ax.set_xlabel("batch size $b$ (samples per step)")
    ax.set_ylabel("steps guaranteed by the bound")
    ax.legend(loc="upper right")
    return fig


def plot_fit_panels(fits: Mapping[object, Mapping[str, Fit]], *, band: bool = True) -> Figure:
    """One panel per data set (a model size, an optimizer): its points and every law fitted to
    them (:func:`~batchsteps.viz.plot_fits` on each panel), panels side by side."""
    fits = _mapping("fits", fits, Mapping)
    width = max(6.4, 4.6 * len(fits))
    fig, axes = plt.subplots(1, len(fits), figsize=(width, 4.4), squeeze=False)
    for ax, (name, by_law) in zip(axes[0], fits.items(), strict=True):
        group = list(_mapping(f"fits[{name!r}]", by_law, Fit).values())
        plot_fits({name: group}, ax=ax, band=band)
        ax.set_title(str(name))
        # one legend inside each panel (the steps fall with b, so the upper right is free),
        # without the panel's name, which is its title
        handles, labels = ax.get_legend_handles_labels()
        labels = [label.removeprefix(f"{name}: ") for label in labels]
        ax.legend(handles, labels, loc="upper right", fontsize=7)
    fig.tight_layout()
    return fig


def plot_engine_check(checks: Mapping[str, EngineCheck], *, every: int = 10) -> Figure:
    r"""The engine's mean loss over seeds (points with two standard errors, every ``every``
    steps) on the exact :math:`\mathbb E f(\theta_k)` (lines), one panel per optimizer, and
    below each the standardised differences :math:`z_k` with the band :math:`|z| \le 2`."""
    checks = _mapping("checks", checks, EngineCheck)
    n = len(checks)
    fig, axes = plt.subplots(2, n, figsize=(5.0 * n, 6.2), squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1.3]}, sharex="col")  # fmt: skip
    for col, (name, check) in enumerate(checks.items()):
        top, bottom = axes[0, col], axes[1, col]
        k = check.steps
        pick = k[1::every]
        for j, b in enumerate(check.batch_sizes):
            color = _COLORS[j % len(_COLORS)]
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
    fig.tight_layout()
    return fig


def plot_noise_scale(traces: Mapping[str, NoiseScaleTrace], fitted: Mapping[str, Fit]) -> Figure:
    r"""The measured :math:`B_{\text{simple}}` along training (points with their intervals),
    one panel per workload, against the :math:`B_{\text{noise}}` of the tuned-rate law fitted to
    that workload's sweep (horizontal line, its bootstrap interval shaded)."""
    traces = _mapping("traces", traces, NoiseScaleTrace)
    fitted = _mapping("fitted", fitted, Fit)
    fig, axes = plt.subplots(1, len(traces), figsize=(4.8 * len(traces), 4.0), squeeze=False)
    for ax, (name, trace) in zip(axes[0], traces.items(), strict=True):
        low = np.array([e.b_simple_ci[0] for e in trace.estimates])
        high = np.array([e.b_simple_ci[1] for e in trace.estimates])
        value = trace.b_simple
        high = np.where(np.isfinite(high), high, np.nan)
        label = r"measured $B_{\mathrm{simple}}$"
        ax.errorbar(trace.steps, value, yerr=[value - low, high - value], fmt="o", markersize=4,
                    color=_COLORS[0], capsize=2, label=label)  # fmt: skip
        if name in fitted:
            fit = fitted[name]
            ax.axhline(fit.critical_batch, color=_COLORS[1], linestyle="--",
                       label=r"fitted $B_{\mathrm{noise}}$ (tuned-rate law)")  # fmt: skip
            lo, hi = fit.ci["critical_batch"]
            if np.isfinite(lo) and np.isfinite(hi):
                ax.axhspan(lo, hi, color=_COLORS[1], alpha=0.12, lw=0)
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel("batch size (samples)")
        ax.set_title(str(name))
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_rate_tuning(runs: object, tuned: object) -> Figure:
    """Median steps against the learning rate, one line per batch size (runs that did not
    reach count as missing), with the rate kept for each batch size circled: the grid should
    bracket every circle."""
    import pandas as pd

    for name, frame in (("runs", runs), ("tuned", tuned)):
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"{name}={type(frame).__name__} must be a DataFrame")
    reached = runs[runs["reached"]]
    medians = reached.groupby(["batch_size", "lr"])["steps"].median()
    best = tuned.groupby("batch_size")["lr"].first()
    fig, ax = plt.subplots()
    for j, b in enumerate(sorted(runs["batch_size"].unique())):
        color = _COLORS[j % len(_COLORS)]
        line = ["-", "--"][(j // len(_COLORS)) % 2]
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


__all__ = ["plot_engine_check", "plot_fit_panels", "plot_noise_scale", "plot_rate_tuning"]
__all__ += ["plot_regimes"]
