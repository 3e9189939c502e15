"""The figures of Part I (setting, template, SGD, momentum): one call, one figure.

Each function returns a :class:`matplotlib.figure.Figure` drawn in the house style and already
closed in pyplot, so a chapter can ``glue`` it without it also showing by itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..analysis.variance import predicted_variance
from .style import batch_axis, mark_batch, style_of, use_style

GRAD_SQ = r"$\|\nabla f(\theta_k)\|^2$"


def _figure(ncols: int = 1, width: float = 6.4, height: float = 4.0) -> tuple[Figure, Any]:
    import matplotlib.pyplot as plt  # loads the notebook backend, which knows how to show it

    use_style()
    fig = plt.figure(figsize=(width, height), layout="constrained")
    plt.close(fig)  # pyplot forgets it: it shows only where it is displayed or glued
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, axes if ncols > 1 else axes[0]


def _check_numeric(numeric: Any, name: str) -> None:
    needed = ("values", "steps", "sfo", "min_batch", "critical_batch", "min_steps")
    if not all(hasattr(numeric, attr) for attr in needed) or not callable(numeric.steps):
        raise TypeError(f"{name}={numeric!r} must be a NumericBound (from Bound.subs)")


def _number(x: float) -> str:
    """Plain digits for counts (1,690 rather than 1.69e+03), three figures below 100."""
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def batch_grid(numeric: Any, *, span: float = 256.0, points: int = 400) -> np.ndarray:
    r"""Batch sizes from just above :math:`b_0` to ``span`` times :math:`b^\star`, log-spaced."""
    _check_numeric(numeric, "numeric")
    if not span > 2:
        raise ValueError(f"span={span!r} must exceed 2 so the grid reaches past b*")
    low = max(numeric.min_batch * 1.02, 1e-3)
    return np.geomspace(low, numeric.critical_batch * span, points)


def variance_figure(*curves: Any) -> Figure:
    r"""Measured :math:`\mathbb E\|g_B - \nabla f\|^2` against b (points, ±2 standard errors)
    with the law each curve should follow (:math:`\sigma^2/b`, or with the finite-population
    factor :math:`(n-b)/(n-1)` without replacement) as a line; log-log axes."""
    if not curves or not all(hasattr(c, "predicted") for c in curves):
        raise TypeError("variance_figure needs one or more VarianceCurve arguments")
    fig, ax = _figure()
    looks = {True: ("#0072B2", "o", "with"), False: ("#D55E00", "s", "without")}
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


def draw_steps_and_sfo(axes: Sequence[Axes], numeric: Any, *, name: str = "sgd") -> None:
    r"""Draw K(b) (left, with :math:`K_{\min}` and :math:`b_0`) and N(b) (right) with
    :math:`b^\star` marked on both, onto two existing axes."""
    _check_numeric(numeric, "numeric")
    look, b = style_of(name), batch_grid(numeric)
    k_ax, n_ax = axes
    k_ax.plot(b, numeric.steps(b), color=look.color, label=f"{look.label}: $K(b)$")
    k_ax.axhline(numeric.min_steps, color="#888888", linestyle="--", linewidth=1.0)
    k_ax.annotate(
        r"$K_{\min}$",
        xy=(1.0, numeric.min_steps),
        xycoords=("axes fraction", "data"),
        xytext=(-28, 4),
        textcoords="offset points",
        color="#555555",
        fontsize=9,
    )
    k_ax.plot(
        [numeric.critical_batch],
        [2 * numeric.min_steps],
        marker=look.marker,
        color=look.color,
        linestyle="none",
        label=r"$K(b^\star) = 2K_{\min}$",
    )
    n_ax.plot(b, numeric.sfo(b), color=look.color, label=f"{look.label}: $N(b) = bK(b)$")
    n_ax.plot(
        [numeric.critical_batch],
        [numeric.sfo(numeric.critical_batch)],
        marker=look.marker,
        color=look.color,
        linestyle="none",
        label=r"minimum $N(b^\star)$",
    )
    mark_batch(k_ax, numeric.min_batch, "$b_0$", color="#999999")
    for ax, ylabel in ((k_ax, "steps $K(b)$"), (n_ax, "gradients computed $N(b)$ (samples)")):
        mark_batch(ax, numeric.critical_batch, r"$b^\star$")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("batch size $b$ (samples)")
        ax.set_ylabel(ylabel)
        ax.legend(loc="upper right")


def template_figure(numeric: Any, *, name: str = "sgd") -> Figure:
    r"""K(b) and N(b) of one numeric bound side by side, :math:`b_0` and :math:`b^\star` marked."""
    fig, axes = _figure(2, width=9.6, height=3.8)
    draw_steps_and_sfo(axes, numeric, name=name)
    return fig


def bound_check_figure(check: Any) -> Figure:
    r"""Left: measured :math:`\frac1K\sum_{k<K}\mathbb E\|\nabla f(\theta_k)\|^2` (solid, band of
    ±2 standard errors) and the bound :math:`A/K + B/b` (dashed) against K, one colour per batch
    size. Right: their ratio, below 1 where the bound holds."""
    for attr in ("batch_sizes", "steps", "measured", "stderr", "bound", "ratio"):
        if not hasattr(check, attr):
            raise TypeError(f"check={check!r} must be a BoundCheck (from check_bound)")
    fig, (ax, ratio_ax) = _figure(2, width=9.6, height=4.0)
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


def compare_steps_figure(panels: Mapping[str, Mapping[str, Any]]) -> Figure:
    r"""One panel per comparison: K(b) of each named optimizer's numeric bound, its
    :math:`b^\star` marked with the optimizer's marker at :math:`K(b^\star) = 2K_{\min}`.

    ``panels`` maps a panel title to ``{optimizer name: NumericBound}``.
    """
    if not panels or not all(isinstance(p, Mapping) and p for p in panels.values()):
        raise ValueError("panels must map each title to a non-empty {name: NumericBound} mapping")
    fig, axes = _figure(len(panels), width=4.8 * len(panels), height=3.8)
    for ax, (title, bounds) in zip(np.atleast_1d(axes), panels.items(), strict=True):
        low = min(nb.min_batch for nb in bounds.values())
        high = max(nb.critical_batch for nb in bounds.values()) * 256
        for name, numeric in bounds.items():
            _check_numeric(numeric, f"panels[{title!r}][{name!r}]")
            look = style_of(name)
            b = np.geomspace(max(low, 1e-3), high, 400)
            ax.plot(
                b,
                numeric.steps(b),
                color=look.color,
                linestyle=look.linestyle,
                label=f"{look.label}: $b^\\star = {_number(numeric.critical_batch)}$",
            )
            ax.plot(
                [numeric.critical_batch],
                [2 * numeric.min_steps],
                marker=look.marker,
                color=look.color,
                linestyle="none",
            )
            ax.axhline(numeric.min_steps, color=look.color, linestyle=":", linewidth=1.0)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("batch size $b$ (samples)")
        ax.set_ylabel("steps $K(b)$ the bound needs")
        ax.legend(loc="upper right")
    return fig


def traces_figure(traces: Mapping[str, Any]) -> Figure:
    r"""Measured :math:`\frac1K\sum_{k<K}\mathbb E\|\nabla f(\theta_k)\|^2` against K for named
    runs (``{label: (optimizer name, GradientTrace)}``), each with a band of ±2 standard errors.

    Runs share their optimizer's colour; a second run of the same optimizer is drawn dotted."""
    if not traces:
        raise ValueError("traces must map at least one label to (optimizer name, GradientTrace)")
    fig, ax = _figure()
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
