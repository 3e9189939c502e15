"""The figures of the Adam-type chapter: one call, one figure, already closed in pyplot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .figures import _figure
from .style import batch_axis, mark_batch, style_of


def _check_sweep(sweep: Any, name: str) -> None:
    needed = ("grid", "C", "critical_batch", "min_steps", "parameter")
    if not all(hasattr(sweep, attr) for attr in needed):
        raise TypeError(f"{name}={sweep!r} must be a ParameterSweep (theory.adam.parameter_sweep)")


def beta1_cost_figure(sweep: Any, *, epsilon: float, largest: float, name: str = "adam") -> Figure:
    r"""What :math:`\beta_1 \to 1` costs: the floor C against ε (left), and :math:`b^\star`,
    :math:`K_{\min}` relative to their :math:`\beta_1 = 0` values (right).

    ``sweep`` runs over ``beta1`` starting at 0; ``largest`` is the :math:`\beta_1` at which
    :math:`C = \varepsilon` (from :func:`batchsteps.theory.adam.largest_beta1`).
    """
    _check_sweep(sweep, "sweep")
    if sweep.parameter != "beta1" or sweep.grid[0] != 0:
        raise ValueError(f"sweep over {sweep.parameter!r} must run over beta1 from 0")
    look = style_of(name)
    fig, (left, right) = _figure(2, 9.6, 3.8)
    left.plot(sweep.grid, sweep.C, color=look.color, label=r"non-vanishing term $C(\beta_1)$")
    left.axhline(
        epsilon, color="#444444", linestyle="--", linewidth=1.0, label=r"target $\varepsilon$"
    )
    right.plot(
        sweep.grid,
        sweep.critical_batch / sweep.critical_batch[0],
        color=look.color,
        label=r"$b^\star(\beta_1)/b^\star(0)$",
    )
    right.plot(
        sweep.grid,
        sweep.min_steps / sweep.min_steps[0],
        color="#444444",
        linestyle="--",
        label=r"$K_{\min}(\beta_1)/K_{\min}(0)$",
    )
    for ax, ylabel in ((left, "value of the measure $V_K$"), (right, "ratio to $\\beta_1 = 0$")):
        ax.axvline(largest, color="#999999", linestyle=":", linewidth=1.2)
        ax.annotate(
            r"$C = \varepsilon$",
            xy=(largest, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(-36, -12),
            textcoords="offset points",
            color="#444444",
            fontsize=9,
        )
        ax.set_yscale("log")
        ax.set_xlabel(r"first-moment coefficient $\beta_1$")
        ax.set_ylabel(ylabel)
        ax.legend(loc="upper left")
    return fig


def bound_vs_measured_figure(runs: Sequence[Any], bound: Any, envelope: Mapping[str, float]):
    r"""Measured :math:`V_K(\theta)` per run against the bound :math:`A/K + B/b + C`, by batch size.

    Two bounds: each run's own constants (markers), and one set of constants valid for every
    run (``envelope``, a line). The y axis is logarithmic; a run with :math:`V_K \le 0`
    satisfies the bound trivially and is drawn at the bottom edge.
    """
    from ..analysis.adaptive_constants import AdaptiveRun, bound_at

    runs = list(runs)
    if not runs or not all(isinstance(r, AdaptiveRun) for r in runs):
        raise TypeError("runs must be a non-empty sequence of AdaptiveRun")
    look = style_of("amsgrad")
    fig, ax = _figure(1, 6.4, 4.0)
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


def momentum_shapes_figure(
    curves: Mapping[str, tuple[Any, float]], sweeps: Mapping[str, Any]
) -> Figure:
    r"""Shapes with momentum, SGD-type against Adam-type, in normalised units.

    Left: :math:`K(b)/K_{\min}` against :math:`b/b^\star_0`, where :math:`b^\star_0` is the
    critical batch of the same family without momentum (``curves``: name -> (numeric bound,
    :math:`b^\star_0`)). Right: :math:`b^\star(\beta)/b^\star(0)` along each sweep (``sweeps``:
    name -> :class:`~batchsteps.theory.adam.ParameterSweep` over ``beta`` or ``beta1``).
    """
    for key, sweep in sweeps.items():
        _check_sweep(sweep, f"sweeps[{key!r}]")
    fig, (left, right) = _figure(2, 9.6, 3.8)
    for key, (numeric, base) in curves.items():
        look = style_of(key)
        b = numeric.critical_batch * np.geomspace(0.51, 64, 300)
        x = b / base
        left.plot(x, numeric.steps(b) / numeric.min_steps, color=look.color, ls=look.linestyle)
        left.plot(
            [numeric.critical_batch / base],
            [2.0],
            marker=look.marker,
            color=look.color,
            linestyle="none",
            label=f"{look.label}: $b^\\star/b^\\star_0$ = {numeric.critical_batch / base:.3g}",
        )
    mark_batch(left, 1.0, r"$b^\star_0$")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel(r"batch size relative to the no-momentum $b^\star_0$")
    left.set_ylabel(r"steps relative to the minimum, $K(b)/K_{\min}$")
    left.legend(loc="upper right")
    for key, sweep in sweeps.items():
        look = style_of(key)
        right.plot(
            sweep.grid,
            sweep.critical_batch / sweep.critical_batch[0],
            color=look.color,
            linestyle=look.linestyle,
            label=look.label,
        )
    right.set_yscale("log")
    right.set_xlabel(r"momentum coefficient $\beta$ or $\beta_1$")
    right.set_ylabel(r"$b^\star(\beta)/b^\star(0)$")
    right.legend(loc="upper left")
    return fig
