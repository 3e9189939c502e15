r"""Measured steps-versus-batch curves with their fitted laws, intervals and linearisation.

- :func:`plot_fits`: steps :math:`K` (or stochastic gradients :math:`bK`) against the batch
  size on log-log axes; per batch size the median run with an order-statistic interval of the
  median, the fitted law as a line with its band, runs that did not reach the target along
  the bottom by how they ended (out of budget, diverged), the critical batch as a vertical
  mark with its interval;
- :func:`plot_linearisation`: :math:`1/K` against :math:`1/b` on linear axes, where the
  constant-rate law :math:`1/K = (1 - b_0/b)/K_{\min}` is a straight line meeting the axis
  :math:`1/b = 0` at :math:`1/K_{\min}`, while the tuned-rate law bends;
- :func:`plot_measured`: one optimizer in three panels (steps, gradients, linearised);
- :func:`plot_fit_panels`: one panel of points and fits per data set;
- :func:`plot_comparison`: the critical batch and :math:`K_{\min}` of each optimizer with
  their intervals, side by side, with the theory's prediction where it makes one.

:func:`plot_fits` and :func:`plot_linearisation` take a :class:`~batchsteps.analysis.Fit`, or
a mapping from a series name (an optimizer: its house colour and marker) to a ``Fit`` or to
several fits of the same data by different laws (drawn solid for ``constant_lr``, dashed for
``tuned_lr``). Each function draws into the axes it is given (``ax`` or ``axes``) or a new
house-style figure (:func:`~batchsteps.viz.new_figure`) and returns the figure.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from .. import validation
from ..analysis import Fit, Law, per_batch, resolve_law
from .style import (
    GREYS,
    SeriesStyle,
    batch_axis,
    law_linestyle,
    mark_batch,
    new_figure,
    series_style,
)

QUANTITIES = ("steps", "sfo")
"""What :func:`plot_fits` can draw against the batch size: ``K`` or ``bK``."""
STATUS_MARKERS = {
    "budget": ("v", "out of budget"),
    "diverged": ("x", "diverged"),
    "excluded": ("s", "excluded"),
}
"""How a run that did not reach is drawn: marker and words, per status of
:data:`batchsteps.analysis.STATUSES`."""
STEPS_LABEL = "median steps to the target $K$ (over seeds)"
"""The statistic every measured point and fitted curve shows."""
_GRID = 200


_fit = functools.partial(validation.instance, types=Fit)
"""Check that a value is a :class:`~batchsteps.analysis.Fit` (``_fit(name, value)``)."""


def _law(fit: Fit) -> Law:
    return fit.model if fit.model is not None else resolve_law(fit.law)


def _series(
    fits: object, styles: Mapping[object, SeriesStyle] | None = None
) -> list[tuple[SeriesStyle, list[Fit]]]:
    """Validated ``(style, fits of one data set)`` pairs; ``styles`` overrides the house
    style of the names it holds."""
    styles = validation.mapping_of(
        "styles", {} if styles is None else styles, functools.partial(
            validation.instance, types=SeriesStyle
        ), what="a mapping name -> SeriesStyle", nonempty=False,
    )  # fmt: skip
    if isinstance(fits, Fit):
        return [(SeriesStyle("", GREYS[0], "o"), [fits])]
    what = "a Fit or a mapping name -> Fit (or -> a sequence of fits of the same data)"
    validation.mapping_of("fits", fits, what=what)
    series = []
    for index, (name, value) in enumerate(fits.items()):
        group = validation.sequence_of(
            f"fits[{name!r}]", [value] if isinstance(value, Fit) else value, _fit
        )
        first = group[0]
        for other in group[1:]:
            if not (
                np.array_equal(other.batch_sizes, first.batch_sizes)
                and np.array_equal(other.steps, first.steps)
            ):
                raise ValueError(
                    f"fits[{name!r}] holds fits of different data; one name is one measured curve"
                )
        style = styles.get(name) or series_style(name, index)
        series.append((style, list(group)))
    return series


def _label(style: SeriesStyle, text: str) -> str:
    return f"{style.label}: {text}" if style.label else text


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
    validation.instance("fit", fit, Fit)
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
        linestyle=law_linestyle(fit.law), label=_label(style, f"{_law(fit).label} fit"),
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
    law = _law(fit)
    value, symbol = fit.critical_batch, law.critical_symbol
    low, high = fit.ci["critical_batch"]
    outside = "" if fit.critical_batch_in_range else ", extrapolated"
    if single:
        mark_batch(ax, value, f"{symbol} ≈ {value:.3g}{outside}", style.color)
    else:
        ax.axvline(
            value, color=style.color, linestyle=":", linewidth=1.2,
            label=_label(style, f"{symbol} ≈ {value:.3g} ({law.label}{outside})"),
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
    :class:`~batchsteps.viz.SeriesStyle` that ``styles`` gives their name. Returns the figure.
    """
    validation.one_of("quantity", quantity, QUANTITIES)
    series = _series(fits, styles)
    fig, ax = new_figure(ax, layout=None)  # the legend hangs below: a saved image grows to it
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
    return fig


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
    fig, ax = new_figure(ax, layout=None)  # the legend hangs below: a saved image grows to it
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
    ax.set_ylabel("inverse median steps to the target $1/K$")
    _legend(ax, series)
    return fig


def _draw_inverse_fit(ax: Axes, style: SeriesStyle, fit: Fit, band: bool, level: float) -> None:
    x_low, x_high = 1.0 / fit.batch_sizes.max(), 1.0 / fit.batch_sizes.min()
    inside = np.linspace(x_low, x_high, _GRID)
    outside = np.linspace(0.0, x_low, _GRID // 4)
    ax.plot(
        inside, _inverse_curve(fit, inside), color=style.color, linestyle=law_linestyle(fit.law),
        label=_label(style, f"{_law(fit).label} fit"),
    )  # fmt: skip
    ax.plot(outside, _inverse_curve(fit, outside), color=style.color, linestyle=":")
    ax.plot([0.0], [1.0 / fit.min_steps], marker=style.marker, color=style.color,
            markerfacecolor="white", linestyle="none", clip_on=False, zorder=5)  # fmt: skip
    if band and fit.n_boot > 0:
        low, high = fit.band(1.0 / inside, level)
        ax.fill_between(inside, 1.0 / high, 1.0 / low, color=style.color, alpha=0.15, lw=0)


def plot_measured(
    fits: Mapping[str, Fit],
    name: str,
    *,
    level: float = 0.95,
    axes: Sequence[Axes] | None = None,
) -> Figure:
    r"""One optimizer's measured curve in three panels, as the book shows it.

    ``fits``: law name (``"constant_lr"``, ``"tuned_lr"``) to a
    :class:`~batchsteps.analysis.Fit` of the same runs; ``name``: the optimizer (its house
    colour and marker). Left: :math:`K(b)` with both fits and their bootstrap bands; middle:
    :math:`bK(b)` with the constant-rate fit and :math:`b^\star = 2b_0` marked, where the
    stochastic gradients are fewest; right: :math:`1/K` against :math:`1/b`. Returns the
    figure.
    """
    validation.string("name", name)
    validation.mapping_of("fits", fits, _fit, what="a mapping law -> Fit")
    for law, fit in fits.items():
        if fit.law != law:
            raise validation.value_error(f"fits[{law!r}]", fit, f"a Fit of the law {law!r}")
    if "constant_lr" not in fits:
        raise validation.value_error("fits", fits, "a mapping with the 'constant_lr' Fit (for b*)")
    fig, (steps, sfo, line) = new_figure(axes, ncols=3, width=15.0, height=5.0, layout="tight")
    group = {name: list(fits.values())}
    plot_fits(group, quantity="steps", ax=steps, mark_critical=False, level=level)
    plot_fits({name: fits["constant_lr"]}, quantity="sfo", ax=sfo, level=level)
    plot_linearisation(group, ax=line, level=level)
    label = series_style(name).label
    for ax, title in zip((steps, sfo, line), ("steps", "stochastic gradients", "linearised"),
                         strict=True):  # fmt: skip
        ax.set_title(f"{label}: {title}")
    return fig


def plot_fit_panels(
    fits: Mapping[object, Mapping[str, Fit]],
    *,
    band: bool = True,
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """One panel per data set (a model size, an optimizer): its points and every law fitted to
    them (:func:`plot_fits` on each panel), panels side by side."""
    by_law = functools.partial(validation.mapping_of, item=_fit, what="a mapping law -> Fit")
    validation.mapping_of("fits", fits, by_law, what="a mapping data set -> {law: Fit}")
    n = len(fits)
    fig, drawn = new_figure(
        axes, ncols=n, width=max(6.4, 4.6 * n), height=4.4, layout="tight", squeeze=False
    )
    for ax, (name, by_law) in zip(drawn[0], fits.items(), strict=True):
        plot_fits({name: list(by_law.values())}, ax=ax, band=band)
        ax.set_title(str(name))
        # one legend inside each panel (the steps fall with b, so the upper right is free),
        # without the panel's name, which is its title
        handles, labels = ax.get_legend_handles_labels()
        labels = [label.removeprefix(f"{name}: ") for label in labels]
        ax.legend(handles, labels, loc="upper right", fontsize=7)
    return fig


def _check_tables(tables: object) -> dict[str, pd.DataFrame]:
    if isinstance(tables, pd.DataFrame):
        tables = {"": tables}
    need = ("critical_batch", "critical_low", "critical_high")
    need += ("min_steps", "min_steps_low", "min_steps_high")

    def table(name: str, value: object) -> pd.DataFrame:
        what = "a DataFrame (what comparison() returns)"
        return validation.columns(name, validation.instance(name, value, pd.DataFrame, what), need)

    what = "a DataFrame or a mapping name -> DataFrame"
    return validation.mapping_of("tables", tables, table, what=what)


def plot_comparison(
    tables: pd.DataFrame | Mapping[str, pd.DataFrame], *, axes: Sequence[Axes] | None = None
) -> Figure:
    r"""Critical batch and minimal steps per optimizer, side by side, with intervals.

    ``tables``: what :func:`batchsteps.experiments.comparison` returns, or a mapping from a
    target's name to one such table (one marker fill per target). Points are the constant-rate
    fits' estimates with their intervals (``Fit.ci``); a grey diamond is the theory's prediction
    for an optimizer other than SGD, SGD's measured value times the theory's ratio
    (``theory_critical_ratio``, ``theory_steps_ratio``), where the theory makes one; where a
    table gives the bottom of the band a proof allows for :math:`b^\star`
    (``theory_critical_low``, see :func:`batchsteps.experiments.theory_band`), a grey bar
    joins it to the diamond, and a grey tick marks it. Returns the figure.
    """
    named = _check_tables(tables)
    optimizers = list(dict.fromkeys(o for t in named.values() for o in t.index))
    height = 0.6 * len(optimizers) * len(named) + 2.2
    fig, drawn = new_figure(axes, ncols=2, width=11.0, height=height)
    panels = (
        ("critical_batch", "critical_low", "critical_high", "theory_critical_ratio",
         "theory_critical_low", "critical batch $b^\\star$ (samples)"),
        ("min_steps", "min_steps_low", "min_steps_high", "theory_steps_ratio", None,
         "minimal steps $K_{\\min}$"),
    )  # fmt: skip
    step = 1.0 / (len(named) + 1)
    for ax, (value, low, high, ratio, bottom, label) in zip(drawn, panels, strict=True):
        for j, (target, table) in enumerate(named.items()):
            for i, o in enumerate(optimizers):
                if o not in table.index:
                    continue
                row, style = table.loc[o], series_style(o)
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
                    least = row.get(bottom, np.nan) if bottom else np.nan
                    if np.isfinite(least) and least < row[ratio]:
                        lowest = table.loc["sgd", value] * least
                        ax.plot([lowest, predicted], [y, y], color="#777777", alpha=0.4,
                                linewidth=4, solid_capstyle="butt")  # fmt: skip
                        ax.plot(lowest, y, marker="|", markersize=12, color="#777777",
                                linestyle="none", label="theory: the band's bottom")  # fmt: skip
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_yticks(range(len(optimizers)), [series_style(o).label for o in optimizers])
        ax.set_ylim(len(optimizers) - 0.5, -0.5)
        ax.set_xlabel(label)
    handles, labels = drawn[0].get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    fig.legend(unique.values(), unique.keys(), loc="outside lower center", ncol=3, fontsize=8)
    return fig
