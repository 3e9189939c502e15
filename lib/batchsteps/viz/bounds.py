r"""Figures of the theory's bounds: :math:`K(b)` and :math:`N(b) = bK(b)` of
:math:`A/K + B/b + C \le \tilde\varepsilon`, bounds side by side, the constant-rate and the
tuned-rate regimes, and what momentum and :math:`\beta_1` do to :math:`b^\star`.

Each function draws into the axes it is given (``ax`` or ``axes``) or a new house-style figure
(:func:`~batchsteps.viz.new_figure`) and returns the figure.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import validation
from ..theory.adam import ParameterSweep
from .style import PALETTE, batch_axis, mark_batch, new_figure, style_of


def _check_numeric(numeric: Any, name: str) -> None:
    needed = ("values", "steps", "sfo", "min_batch", "critical_batch", "min_steps")
    validation.attributes(name, numeric, needed, "a NumericBound (from Bound.subs)")


def _check_sweep(sweep: Any, name: str) -> None:
    what = "a ParameterSweep (theory.adam.parameter_sweep)"
    validation.instance(name, sweep, ParameterSweep, what)


def _number(x: float) -> str:
    """Plain digits for counts (1,690 rather than 1.69e+03), three figures below 100."""
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def batch_grid(numeric: Any, *, span: float = 256.0, points: int = 400) -> np.ndarray:
    r"""``points`` (an integer >= 2) batch sizes from just above :math:`b_0` to ``span`` (> 2)
    times :math:`b^\star`, log-spaced."""
    _check_numeric(numeric, "numeric")
    span = validation.real("span", span, low=2, low_open=True, note="the grid reaches past b*")
    points = validation.integer("points", points, low=2)
    low = max(numeric.min_batch * 1.02, 1e-3)
    return np.geomspace(low, numeric.critical_batch * span, points)


def plot_bound(
    numeric: Any,
    *,
    name: str = "sgd",
    axes: Sequence[Axes] | None = None,
    width: float = 9.6,
    height: float = 3.8,
) -> Figure:
    r"""K(b) (left, with :math:`K_{\min}` and :math:`b_0`) and N(b) (right) of one numeric bound
    side by side, :math:`b^\star` marked on both where :math:`K(b^\star) = 2K_{\min}` and
    :math:`N` is least; in optimizer ``name``'s house style. ``width`` x ``height``: the size
    of a new figure in inches (finite, > 0)."""
    _check_numeric(numeric, "numeric")
    look, b = style_of(name), batch_grid(numeric)
    fig, (k_ax, n_ax) = new_figure(axes, ncols=2, width=width, height=height)
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
    return fig


def plot_bound_comparison(
    panels: Mapping[str, Mapping[str, Any]], *, axes: Sequence[Axes] | None = None
) -> Figure:
    r"""One panel per comparison: K(b) of each named optimizer's numeric bound, its
    :math:`b^\star` marked with the optimizer's marker at :math:`K(b^\star) = 2K_{\min}`.

    ``panels`` maps a panel title to ``{optimizer name: NumericBound}``.
    """
    numeric = functools.partial(validation.mapping_of, what="a mapping name -> NumericBound")
    validation.mapping_of("panels", panels, numeric, what="a mapping title -> {name: NumericBound}")
    n = len(panels)
    fig, drawn = new_figure(axes, ncols=n, width=4.8 * n, height=3.8, squeeze=False)
    for ax, (title, bounds) in zip(drawn[0], panels.items(), strict=True):
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


def plot_regimes(
    constant: Any, tuned: Any, batch_sizes: Sequence[float], *, ax: Axes | None = None
) -> Figure:
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
        validation.attributes(name, obj, needs, f"a numeric bound (with {', '.join(needs)})")
    b = validation.real_array("batch_sizes", batch_sizes, min_size=2, low=0, low_open=True)
    grid = np.geomspace(b.min(), b.max(), 400)
    fig, ax = new_figure(ax)
    k_const = np.asarray(constant.steps(grid), dtype=float)
    shown = np.isfinite(k_const)
    ax.plot(grid[shown], k_const[shown], color=PALETTE[0], label=r"constant rate: $K(b)$")
    ax.plot(grid, tuned.steps(grid), color=PALETTE[1], linestyle="--",
            label=r"rate tuned per $b$: $K^\star(b)$")  # fmt: skip
    ax.axhline(tuned.min_steps, color="#777777", linewidth=0.8, linestyle="-.",
               label=r"$S_{\min}$ (tuned, $b\to\infty$)")  # fmt: skip
    mark_batch(ax, constant.min_batch, f"pole b0 ≈ {constant.min_batch:.3g}", PALETTE[0])
    ax.axvline(constant.critical_batch, color=PALETTE[0], linestyle="-", linewidth=0.6,
               label=f"b* = 2 b0 ≈ {constant.critical_batch:.3g}")  # fmt: skip
    ax.axvline(tuned.noise_batch, color=PALETTE[1], linestyle="-", linewidth=0.6,
               label=f"B_noise ≈ {tuned.noise_batch:.3g}")  # fmt: skip
    batch_axis(ax)
    ax.set_yscale("log")
    ax.set_xlabel("batch size $b$ (samples per step)")
    ax.set_ylabel("steps guaranteed by the bound")
    ax.legend(loc="upper right")
    return fig


def plot_beta1_cost(
    sweep: Any,
    *,
    epsilon: float,
    largest: float,
    name: str = "adam",
    axes: Sequence[Axes] | None = None,
) -> Figure:
    r"""What :math:`\beta_1 \to 1` costs: the floor C against ε (left), and :math:`b^\star`,
    :math:`K_{\min}` relative to their :math:`\beta_1 = 0` values (right).

    ``sweep`` (a ``ParameterSweep`` from ``batchsteps.theory.adam.parameter_sweep``) runs
    over ``beta1`` starting at 0; ``largest`` is the :math:`\beta_1` at which
    :math:`C = \varepsilon` (from ``batchsteps.theory.adam.largest_beta1``).
    """
    _check_sweep(sweep, "sweep")
    if sweep.parameter != "beta1" or sweep.grid[0] != 0:
        raise validation.value_error("sweep", sweep, "a sweep over beta1 from 0")
    look = style_of(name)
    fig, (left, right) = new_figure(axes, ncols=2, width=9.6, height=3.8)
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


def plot_momentum_shapes(
    curves: Mapping[str, tuple[Any, float]],
    sweeps: Mapping[str, Any],
    *,
    axes: Sequence[Axes] | None = None,
) -> Figure:
    r"""Shapes with momentum, SGD-type against Adam-type, in normalised units.

    Left: :math:`K(b)/K_{\min}` against :math:`b/b^\star_0`, where :math:`b^\star_0` is the
    critical batch of the same family without momentum (``curves``: name -> (numeric bound,
    :math:`b^\star_0`)). Right: :math:`b^\star(\beta)/b^\star(0)` along each sweep (``sweeps``:
    name -> a ``ParameterSweep`` over ``beta`` or ``beta1``).
    """
    for key, sweep in sweeps.items():
        _check_sweep(sweep, f"sweeps[{key!r}]")
    for key, pair in curves.items():
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise validation.type_error(f"curves[{key!r}]", pair, "a (NumericBound, b*_0) pair")
        _check_numeric(pair[0], f"curves[{key!r}][0]")
    fig, (left, right) = new_figure(axes, ncols=2, width=9.6, height=3.8)
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


def young_family(
    family: Any, sgd: Any, values: Mapping[str, float], ts: Sequence[float]
) -> dict[str, np.ndarray]:
    r"""Momentum's family over Young's constant :math:`\rho = t\sqrt q` at fixed parameters.

    ``family`` is ``batchsteps.theory.momentum.momentum_bound`` with ``t`` symbolic,
    ``sgd`` SGD's bound, ``values`` every parameter but ``t`` (SGD takes the same ``alpha``).
    Returns ``t``, ``critical_ratio`` (:math:`b^\star/b^\star_{\text{SGD}}`, which is
    :math:`B/B_{\text{SGD}}`) and ``steps_ratio`` (:math:`K_{\min}(t)/K_{\min}(1)`, which is
    :math:`A(t)/A(1)`), ``nan`` where :math:`c(t\sqrt q) \le 0` (the member certifies nothing).
    """
    if "t" not in getattr(family, "parameters", ()):
        raise validation.type_error(
            "family", family, "momentum_bound(symbols.t), with t a parameter"
        )
    others = [name for name in family.parameters if name != "t"]
    validation.keys("values (every parameter but t, which the family varies)", values, others)
    t = validation.real_array("ts", ts, low=0, low_open=True)
    base = sgd.subs(**{k: v for k, v in values.items() if k in sgd.parameters})
    best = family.subs(**values, t=1.0)
    critical, steps = np.full(t.size, np.nan), np.full(t.size, np.nan)
    for i, ti in enumerate(t):
        try:
            member = family.subs(**values, t=float(ti))
        except ValueError:
            continue
        critical[i] = member.critical_batch / base.critical_batch
        steps[i] = member.min_steps / best.min_steps
    return {"t": t, "critical_ratio": critical, "steps_ratio": steps}


def plot_young_family(
    family: Any,
    sgd: Any,
    values: Mapping[str, float],
    ts: Sequence[float] | None = None,
    *,
    axes: Sequence[Axes] | None = None,
) -> Figure:
    r"""Left: :math:`b^\star/b^\star_{\text{SGD}}` against ``t``, with the small-rate limits
    :math:`1/(1-\beta)^2` (``t = 1``) and :math:`1/(1-\beta)` (``t`` :math:`\to\infty`). Right:
    the price, :math:`K_{\min}(t)/K_{\min}(1)`. See :func:`young_family`."""
    ts = np.geomspace(0.25, 64.0, 241) if ts is None else ts
    data = young_family(family, sgd, values, ts)
    beta = float(values["beta"])
    fig, (left, right) = new_figure(axes, ncols=2, width=9.6, height=3.6)
    colour = style_of("momentum").color
    left.plot(data["t"], data["critical_ratio"], color=colour)
    for level, text in ((1 / (1 - beta) ** 2, "1/(1−β)²"), (1 / (1 - beta), "1/(1−β)")):
        left.axhline(level, color="#777777", linestyle=":", linewidth=1)
        left.annotate(text, (data["t"][0], level), ha="left", va="bottom", fontsize=8)
    right.plot(data["t"], data["steps_ratio"], color=colour)
    for ax in (left, right):
        ax.set_xscale("log")
        ax.axvline(1.0, color="#444444", linestyle="--", linewidth=1)
        ax.set_xlabel("t = ρ/√q (Young's constant, in units of its best value)")
    left.set_yscale("log")
    left.set_ylabel("momentum's b* / SGD's b*")
    right.set_ylabel("K_min(t) / K_min(1)")
    right.set_yscale("log")
    return fig
