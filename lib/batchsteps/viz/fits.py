r"""Figures of fitted steps-versus-batch laws: the measured points, the fits, their intervals.

Two figures, each one call from a chapter:

- :func:`plot_fits`: steps :math:`K` (or stochastic gradients :math:`bK`) against the batch size
  on log-log axes; per batch size the median run with an order-statistic interval of the
  median, the fitted law as a line with its band, runs that did not reach the target along
  the bottom by how they ended (out of budget, diverged), the critical batch as a vertical
  mark with its interval;
- :func:`plot_linearisation`: :math:`1/K` against :math:`1/b` on linear axes, where the
  constant-rate law :math:`1/K = (1 - b_0/b)/K_{\min}` is a straight line meeting the axis
  :math:`1/b = 0` at :math:`1/K_{\min}`, while the tuned-rate law bends.

Both take a :class:`~batchsteps.analysis.Fit`, or a mapping from a series name (an optimizer:
its house colour and marker) to a ``Fit`` or to several fits of the same data by different
laws (drawn solid for ``constant_lr``, dashed for ``tuned_lr``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..analysis.fit import Fit
from ..analysis.summary import per_batch
from .style import OPTIMIZER_STYLES, SeriesStyle, batch_axis, mark_batch

QUANTITIES = ("steps", "sfo")
#: How a run that did not reach is drawn: marker and words, per status of
#: :data:`batchsteps.analysis.STATUSES`.
STATUS_MARKERS = {
    "budget": ("v", "out of budget"),
    "diverged": ("x", "diverged"),
    "excluded": ("s", "excluded"),
}
#: The statistic every measured point and fitted curve shows.
STEPS_LABEL = "median first-passage steps $K$ (over seeds)"
LAW_LINESTYLES = {"constant_lr": "-", "tuned_lr": "--"}
LAW_LABELS = {"constant_lr": "constant-rate law", "tuned_lr": "tuned-rate law"}
_CRITICAL_SYMBOL = {"constant_lr": "b*", "tuned_lr": "B_noise"}
_NEUTRAL = ("#000000", "#777777", "#BBBBBB")
_GRID = 200


def _style(name: object, index: int) -> SeriesStyle:
    key = name[0] if isinstance(name, tuple) and name else name
    label = ", ".join(map(str, name)) if isinstance(name, tuple) else str(name)
    if isinstance(key, str) and key in OPTIMIZER_STYLES:
        style = OPTIMIZER_STYLES[key]
        return style if label == key else SeriesStyle(label, style.color, style.marker)
    return SeriesStyle(label, _NEUTRAL[index % len(_NEUTRAL)], "o")


def _series(
    fits: object, styles: Mapping[object, SeriesStyle] | None = None
) -> list[tuple[SeriesStyle, list[Fit]]]:
    """Validated ``(style, fits of one data set)`` pairs; ``styles`` overrides the house
    style of the names it holds."""
    styles = {} if styles is None else styles
    if not isinstance(styles, Mapping) or not all(
        isinstance(v, SeriesStyle) for v in styles.values()
    ):
        raise TypeError(f"styles={styles!r} must map series names to SeriesStyle")
    if isinstance(fits, Fit):
        return [(SeriesStyle("", _NEUTRAL[0], "o"), [fits])]
    if not isinstance(fits, Mapping) or not fits:
        raise TypeError(
            f"fits={fits!r} must be a Fit or a non-empty mapping from a name to a Fit "
            "(or to a sequence of fits of the same data)"
        )
    series = []
    for index, (name, value) in enumerate(fits.items()):
        group = [value] if isinstance(value, Fit) else value
        if (
            not isinstance(group, Sequence)
            or not group
            or not all(isinstance(f, Fit) for f in group)
        ):
            raise TypeError(f"fits[{name!r}]={value!r} must be a Fit or a sequence of fits")
        first = group[0]
        for other in group[1:]:
            if not (
                np.array_equal(other.batch_sizes, first.batch_sizes)
                and np.array_equal(other.steps, first.steps)
            ):
                raise ValueError(
                    f"fits[{name!r}] holds fits of different data; one name is one measured curve"
                )
        style = styles.get(name) or _style(name, index)
        series.append((style, list(group)))
    return series


def _label(style: SeriesStyle, text: str) -> str:
    return f"{style.label}: {text}" if style.label else text


def _axes(ax: Axes | None) -> Axes:
    if ax is None:
        _, ax = plt.subplots()
    elif not isinstance(ax, Axes):
        raise TypeError(f"ax={ax!r} must be a matplotlib Axes or None")
    return ax


def _grid(fit: Fit) -> np.ndarray:
    return np.geomspace(fit.batch_sizes.min(), fit.batch_sizes.max(), _GRID)


def _draw_points(ax: Axes, style: SeriesStyle, fit: Fit, level: float, scale_by_b: bool):
    table = per_batch(fit.batch_sizes, fit.steps, level)
    factor = table["batch_size"].to_numpy() if scale_by_b else 1.0
    median = table["median"].to_numpy() * factor
    low, high = table["low"].to_numpy() * factor, table["high"].to_numpy() * factor
    several = bool((table["n"] > 1).any())
    label = _label(style, "median of runs") + (" with interval" if several else "")
    yerr = [median - low, high - median] if several else None
    ax.errorbar(
        table["batch_size"].to_numpy(), median, yerr=yerr, fmt=style.marker, color=style.color,
        capsize=2.5, linestyle="none", label=label,
    )  # fmt: skip
    _draw_statuses(ax, style, fit)


def _draw_statuses(ax: Axes, style: SeriesStyle, fit: Fit) -> None:
    """The runs that did not reach, by how they ended, as markers along the bottom of the
    axes at their batch sizes (one row per status), each labelled with its count."""
    counts = _status_counts(fit)
    for row, status in enumerate(s for s in STATUS_MARKERS if s in counts.columns):
        column = counts[status]
        where = column[column > 0]
        if where.empty:
            continue
        marker, words = STATUS_MARKERS[status]
        ax.plot(
            where.index.to_numpy(dtype=float), np.full(where.size, 0.035 + 0.05 * row),
            linestyle="none", marker=marker, color=style.color, markerfacecolor="none",
            transform=ax.get_xaxis_transform(), clip_on=False,
            label=_label(style, f"{words} ({int(where.sum())} runs)"),
        )  # fmt: skip


def _status_counts(fit: Fit) -> pd.DataFrame:
    """Runs per batch size and status (the fit's ``counts``, or, for a fit without them,
    every run not used counted as ``"excluded"``)."""
    if fit.counts is not None:
        return fit.counts
    missed = pd.Series(fit.excluded_batch_sizes, dtype=float).value_counts().sort_index()
    return pd.DataFrame({"excluded": missed})


def status_summary(fit: Fit) -> str:
    """How the runs of a fit ended, in words: ``"40 reached, 10 out of budget, 0 diverged"``
    (and ``excluded`` where any were): what a caption or legend says beside the points."""
    if not isinstance(fit, Fit):
        raise TypeError(f"fit={fit!r} must be a batchsteps.analysis.Fit")
    counts = _status_counts(fit).sum()
    parts = [f"{int(counts.get('reached', fit.n_points))} reached"]
    parts += [f"{int(counts.get(s, 0))} {STATUS_MARKERS[s][1]}" for s in ("budget", "diverged")]
    if counts.get("excluded", 0):
        parts.append(f"{int(counts['excluded'])} {STATUS_MARKERS['excluded'][1]}")
    return ", ".join(parts)


def _draw_curve(ax, style, fit, band, mark_critical, scale_by_b, level, single):
    grid = _grid(fit)
    factor = grid if scale_by_b else 1.0
    ax.plot(
        grid, fit.predict(grid) * factor, color=style.color,
        linestyle=LAW_LINESTYLES[fit.law], label=_label(style, f"{LAW_LABELS[fit.law]} fit"),
    )  # fmt: skip
    if band and fit.n_boot > 0:
        with np.errstate(invalid="ignore"):  # draws with a pole above b give inf curves
            low, high = fit.band(grid, level)
        ax.fill_between(grid, low * factor, high * factor, color=style.color, alpha=0.15, lw=0)
    if mark_critical:
        _mark_critical(ax, style, fit, single)


def _mark_critical(ax: Axes, style: SeriesStyle, fit: Fit, single: bool) -> None:
    """The critical batch: a labelled mark for one fit, a legend entry and its interval for
    several (labels at the top of the axes would collide)."""
    value, symbol = fit.critical_batch, _CRITICAL_SYMBOL[fit.law]
    low, high = fit.ci["critical_batch"]
    outside = "" if fit.critical_batch_in_range else ", extrapolated"
    if single:
        mark_batch(ax, value, f"{symbol} ≈ {value:.3g}{outside}", style.color)
    else:
        ax.axvline(
            value, color=style.color, linestyle=":", linewidth=1.2,
            label=_label(style, f"{symbol} ≈ {value:.3g} ({LAW_LABELS[fit.law]}{outside})"),
        )  # fmt: skip
    if np.isfinite(low) and np.isfinite(high):
        ax.axvspan(low, high, color=style.color, alpha=0.08, lw=0)


def plot_fits(
    fits: Fit | Mapping[object, Fit | Sequence[Fit]],
    *,
    quantity: str = "steps",
    ax: Axes | None = None,
    band: bool = True,
    mark_critical: bool = True,
    level: float = 0.95,
    styles: Mapping[object, SeriesStyle] | None = None,
) -> Figure:
    r"""Measured steps against batch size with the fitted laws, on log-log axes.

    ``quantity="steps"`` draws :math:`K(b)`; ``"sfo"`` draws :math:`N(b) = bK(b)`, whose
    minimum for the constant-rate law sits at :math:`b^\star = 2b_0`. Points: median of the
    runs that reached at each batch size with the order-statistic interval of the median at
    ``level``; along the bottom, the batch sizes where runs ran out of the step budget
    (triangles), diverged (crosses) or were excluded (squares), with their counts in the
    legend; a dotted horizontal line at the step budget of the censored runs; lines: the fits
    over the measured range, with their band when ``band``; vertical marks: each fit's
    critical batch when ``mark_critical``. Series take their optimizer's house style, or the
    :class:`~batchsteps.viz.SeriesStyle` that ``styles`` gives their name. Draws into ``ax``
    if given, else a new figure; returns the figure.
    """
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity={quantity!r} is not known; allowed: {', '.join(QUANTITIES)}")
    series = _series(fits, styles)
    ax = _axes(ax)
    scale_by_b = quantity == "sfo"
    single = sum(len(group) for _, group in series) == 1
    for style, group in series:
        _draw_points(ax, style, group[0], level, scale_by_b)
        for fit in group:
            _draw_curve(ax, style, fit, band, mark_critical, scale_by_b, level, single)
    if not scale_by_b:
        budgets = sorted({float(v) for _, g in series for v in g[0].censored_steps})
        for budget in budgets:
            ax.axhline(budget, color="#777777", linestyle=(0, (1, 3)), linewidth=1.0,
                       label=f"step budget {budget:,.0f}")  # fmt: skip
    batch_axis(ax)
    ax.set_yscale("log")
    ax.set_xlabel("batch size $b$ (samples per step)")
    ylabel = STEPS_LABEL if quantity == "steps" else "stochastic gradients $bK$ (median $K$)"
    ax.set_ylabel(ylabel)
    _legend(ax, series)
    return ax.figure


def _legend(ax: Axes, series: list[tuple[SeriesStyle, list[Fit]]]) -> None:
    """Legend under the axes (inside it would hide points), entries grouped by series with
    the measured points first."""
    handles, labels = ax.get_legend_handles_labels()
    prefixes = [_label(style, "") for style, _ in series]

    def rank(item: tuple[object, str]) -> tuple[int, int]:
        label = item[1]
        owner = max(
            (i for i, p in enumerate(prefixes) if label.startswith(p)),
            key=lambda i: len(prefixes[i]),
            default=len(prefixes),
        )
        words = [w for _, w in STATUS_MARKERS.values()]
        return owner, 0 if "median" in label else 1 if any(w in label for w in words) else 2

    ordered = sorted(zip(handles, labels, strict=True), key=rank)
    ax.legend(
        [h for h, _ in ordered], [lab for _, lab in ordered],
        loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8,
    )  # fmt: skip


def _inverse_curve(fit: Fit, x: np.ndarray) -> np.ndarray:
    """:math:`1/K` at :math:`x = 1/b`, with its limit :math:`1/K_{\\min}` at :math:`x = 0`."""
    with np.errstate(divide="ignore"):
        b = np.where(x > 0, 1.0 / np.where(x > 0, x, 1.0), np.inf)
    inside = np.isfinite(b)
    y = np.full(x.shape, 1.0 / fit.min_steps)
    y[inside] = 1.0 / np.asarray(fit.predict(b[inside]))
    return y


def plot_linearisation(
    fits: Fit | Mapping[object, Fit | Sequence[Fit]],
    *,
    ax: Axes | None = None,
    band: bool = True,
    level: float = 0.95,
) -> Figure:
    r"""Inverse steps :math:`1/K` against inverse batch size :math:`1/b`, on linear axes.

    The constant-rate law is the line :math:`1/K = 1/K_{\min} - (b_0/K_{\min})(1/b)`: it meets
    :math:`1/b = 0` at :math:`1/K_{\min}` (marked) and would reach :math:`1/K = 0` at the pole
    :math:`1/b_0`; the tuned-rate law is the curve :math:`1/(K_{\min}(1 + B_{\mathrm{noise}}/b))`.
    Points: inverse of the median run with the inverted interval of the median at ``level``.
    Fits are solid over the measured range, dotted where extrapolated to :math:`1/b = 0`.
    Returns the figure.
    """
    series = _series(fits)
    ax = _axes(ax)
    for style, group in series:
        table = per_batch(group[0].batch_sizes, group[0].steps, level)
        x = 1.0 / table["batch_size"].to_numpy()
        y = 1.0 / table["median"].to_numpy()
        several = bool((table["n"] > 1).any())
        yerr = [y - 1.0 / table["high"].to_numpy(), 1.0 / table["low"].to_numpy() - y]
        ax.errorbar(
            x, y, yerr=yerr if several else None, fmt=style.marker, color=style.color,
            capsize=2.5, linestyle="none", label=_label(style, "1 / median of runs"),
        )  # fmt: skip
        for fit in group:
            _draw_inverse_fit(ax, style, fit, band, level)
    ax.set_xlim(left=0.0)
    ax.set_ylim(bottom=0.0)
    ax.set_xlabel("inverse batch size $1/b$")
    ax.set_ylabel("inverse median first-passage steps $1/K$")
    _legend(ax, series)
    return ax.figure


def _draw_inverse_fit(ax: Axes, style: SeriesStyle, fit: Fit, band: bool, level: float) -> None:
    x_low, x_high = 1.0 / fit.batch_sizes.max(), 1.0 / fit.batch_sizes.min()
    inside = np.linspace(x_low, x_high, _GRID)
    outside = np.linspace(0.0, x_low, _GRID // 4)
    linestyle = LAW_LINESTYLES[fit.law]
    ax.plot(
        inside, _inverse_curve(fit, inside), color=style.color, linestyle=linestyle,
        label=_label(style, f"{LAW_LABELS[fit.law]} fit"),
    )  # fmt: skip
    ax.plot(outside, _inverse_curve(fit, outside), color=style.color, linestyle=":")
    ax.plot([0.0], [1.0 / fit.min_steps], marker=style.marker, color=style.color,
            markerfacecolor="white", linestyle="none", clip_on=False, zorder=5)  # fmt: skip
    if band and fit.n_boot > 0:
        low, high = fit.band(1.0 / inside, level)
        ax.fill_between(inside, 1.0 / high, 1.0 / low, color=style.color, alpha=0.15, lw=0)
