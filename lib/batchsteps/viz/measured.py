r"""Figures of Part II's measurements: one optimizer's curve, optimizers side by side, tuning.

- :func:`plot_measured`: one optimizer, three panels: steps :math:`K` against :math:`b` with
  both laws fitted, stochastic gradients :math:`bK` with the critical batch marked, and
  :math:`1/K` against :math:`1/b` (the constant-rate law's straight line);
- :func:`plot_comparison`: the critical batch :math:`b^\star` and :math:`K_{\min}` of each
  optimizer with their intervals, side by side, with the theory's prediction where it makes
  one (SGD's measured value times the theory's ratio);
- :func:`plot_tuning`: the learning-rate rule, steps at the tuning batch against the rate;
- :func:`plot_rate_sweep`: one optimizer's constant-rate curves at several rates, beside the
  curve with the rate tuned per batch size among them.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from ..analysis.fit import Fit
from .fits import plot_fits, plot_linearisation
from .style import OPTIMIZER_STYLES, SeriesStyle, use_style

_NEUTRAL = SeriesStyle("", "#444444", "o")
_TARGET_FILL = ("full", "none", "left", "right")


def _style(name: str) -> SeriesStyle:
    return OPTIMIZER_STYLES.get(name, SeriesStyle(name, _NEUTRAL.color, _NEUTRAL.marker))


def plot_measured(fits: Mapping[str, Fit], name: str, *, level: float = 0.95) -> Figure:
    r"""One optimizer's measured curve in three panels, as the book shows it.

    ``fits``: law name (``"constant_lr"``, ``"tuned_lr"``) to a :class:`Fit` of the same
    runs; ``name``: the optimizer (its house colour and marker). Left: :math:`K(b)` with both
    fits and their bootstrap bands; middle: :math:`bK(b)` with the constant-rate fit and
    :math:`b^\star = 2b_0` marked, where the stochastic gradients are fewest; right:
    :math:`1/K` against :math:`1/b`. Returns the figure.
    """
    if not isinstance(name, str):
        raise TypeError(f"name={name!r} must be an optimizer name (a str)")
    if not isinstance(fits, Mapping) or not fits:
        raise TypeError(f"fits={fits!r} must be a non-empty mapping from a law to a Fit")
    for law, fit in fits.items():
        if not isinstance(fit, Fit) or fit.law != law:
            raise ValueError(f"fits[{law!r}]={fit!r} must be a Fit of the law {law!r}")
    if "constant_lr" not in fits:
        raise ValueError(f"fits has laws {list(fits)}; it needs 'constant_lr' (for b*)")
    fig, axes = plt.subplots(1, 3, figsize=(15.0, 5.0))
    group = {name: list(fits.values())}
    plot_fits(group, quantity="steps", ax=axes[0], mark_critical=False, level=level)
    plot_fits({name: fits["constant_lr"]}, quantity="sfo", ax=axes[1], level=level)
    plot_linearisation(group, ax=axes[2], level=level)
    for ax, title in zip(axes, ("steps", "stochastic gradients", "linearised"), strict=True):
        ax.set_title(f"{_style(name).label}: {title}")
    fig.tight_layout()
    return fig


def _check_tables(tables: object) -> dict[str, pd.DataFrame]:
    if isinstance(tables, pd.DataFrame):
        tables = {"": tables}
    if not isinstance(tables, Mapping) or not tables:
        raise TypeError(f"tables={tables!r} must be a DataFrame or a mapping name -> DataFrame")
    need = {"critical_batch", "critical_low", "critical_high", "min_steps", "min_steps_low"}
    for key, table in tables.items():
        if not isinstance(table, pd.DataFrame):
            raise TypeError(f"tables[{key!r}] must be a DataFrame, got {type(table).__name__}")
        missing = need - set(table.columns)
        if missing:
            raise ValueError(
                f"tables[{key!r}] lacks columns {sorted(missing)}: pass what comparison() returns"
            )
    return dict(tables)


def plot_comparison(tables: pd.DataFrame | Mapping[str, pd.DataFrame]) -> Figure:
    r"""Critical batch and minimal steps per optimizer, side by side, with intervals.

    ``tables``: what :func:`batchsteps.experiments.comparison` returns, or a mapping from a
    target's name to one such table (one marker fill per target). Points are the constant-rate
    fits' estimates with their bootstrap intervals; a grey diamond is the theory's prediction
    for an optimizer other than SGD, SGD's measured value times the theory's ratio
    (``theory_critical_ratio``, ``theory_steps_ratio``), where the theory makes one. Returns
    the figure.
    """
    named = _check_tables(tables)
    optimizers = list(dict.fromkeys(o for t in named.values() for o in t.index))
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 0.6 * len(optimizers) * len(named) + 2.2))
    panels = (
        ("critical_batch", "critical_low", "critical_high", "theory_critical_ratio",
         "critical batch $b^\\star$ (samples)"),
        ("min_steps", "min_steps_low", "min_steps_high", "theory_steps_ratio",
         "minimal steps $K_{\\min}$"),
    )  # fmt: skip
    step = 1.0 / (len(named) + 1)
    for ax, (value, low, high, ratio, label) in zip(axes, panels, strict=True):
        for j, (target, table) in enumerate(named.items()):
            for i, o in enumerate(optimizers):
                if o not in table.index:
                    continue
                row, style = table.loc[o], _style(o)
                y = i + (j + 1) * step - 0.5
                fill = style.color if j % 2 == 0 else "white"
                ax.errorbar(
                    row[value], y, xerr=[[row[value] - row[low]], [row[high] - row[value]]],
                    fmt=style.marker, color=style.color, markerfacecolor=fill, capsize=3,
                    label=f"{style.label}{', ' + target if target else ''}",
                )  # fmt: skip
                if o != "sgd" and "sgd" in table.index and np.isfinite(row.get(ratio, np.nan)):
                    predicted = table.loc["sgd", value] * row[ratio]
                    ax.plot(predicted, y, marker="D", color="#777777", markerfacecolor="none",
                            linestyle="none", label="theory: SGD's value x ratio")  # fmt: skip
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_yticks(range(len(optimizers)), [_style(o).label for o in optimizers])
        ax.set_ylim(len(optimizers) - 0.5, -0.5)
        ax.set_xlabel(label)
    handles, labels = axes[0].get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    fig.legend(unique.values(), unique.keys(), loc="lower center", ncol=3, fontsize=8)
    fig.tight_layout(rect=(0, 0.06 + 0.03 * (len(unique) // 3), 1, 1))
    return fig


def plot_tuning(tuning: object) -> Figure:
    r"""The learning-rate rule: median steps to the tuning target at the tuning batch size
    against the rate, per optimizer (log-log; crosses at the top where a seed did not reach);
    the fastest rate circled, the rate used (half of it) as a dotted line.

    ``tuning``: a :class:`batchsteps.experiments.Tuning`.
    """
    from ..experiments import Tuning

    if not isinstance(tuning, Tuning):
        raise TypeError(f"tuning={tuning!r} must be a Tuning (see batchsteps.experiments.tune)")
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    for o, group in tuning.table.groupby("optimizer", sort=False):
        style = _style(o)
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
    fig.tight_layout()
    return fig


#: Colours of the rates of :func:`plot_rate_sweep`, smallest rate first (light to dark).
RATE_COLORS = ("#9ecae1", "#4292c6", "#08306b", "#6baed6", "#2171b5")
_RATE_MARKERS = ("v", "o", "^", "s", "D")


def plot_rate_sweep(sweep: object, *, ax: Axes | None = None, level: float = 0.95) -> Figure:
    r"""One optimizer's median first-passage steps against the batch size at each constant
    rate of a :class:`batchsteps.experiments.RateSweep` (blues, light to dark as the rate
    grows), each with its constant-rate fit and :math:`b^\star = 2b_0` marked, beside the
    curve of the best of these rates per batch size (black) with its tuned-rate fit (dashed).
    Runs that ran out of budget or diverged are marked along the bottom per rate. Draws into
    ``ax`` if given; returns the figure.
    """
    from ..experiments import RateSweep

    if not isinstance(sweep, RateSweep):
        raise TypeError(f"sweep={sweep!r} must be a RateSweep (see experiments.rate_sweep)")
    if ax is None:
        use_style()
        fig, ax = plt.subplots(figsize=(7.5, 5.0))
    fits: dict[str, object] = {}
    styles: dict[str, SeriesStyle] = {}
    for i, rate in enumerate(sweep.rates):
        if rate in sweep.fits:
            name = f"α = {rate:g}"
            fits[name] = sweep.fits[rate]["constant_lr"]
            styles[name] = SeriesStyle(
                name, RATE_COLORS[i % len(RATE_COLORS)], _RATE_MARKERS[i % len(_RATE_MARKERS)]
            )
    if sweep.tuned_fits is not None:
        name = "best of these rates per b"
        fits[name] = [sweep.tuned_fits["tuned_lr"]]
        styles[name] = SeriesStyle(name, "#000000", "*")
    if not fits:
        raise ValueError("sweep has no fitted curve: no rate reached at three batch sizes")
    plot_fits(fits, ax=ax, level=level, styles=styles)
    ax.set_title(f"{_style(sweep.optimizer).label}: the rate swept")
    return ax.figure
