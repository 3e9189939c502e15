"""The house matplotlib style and the one way to make a figure.

Colours are the Okabe-Ito palette (distinguishable with the common colour-vision deficiencies),
and every optimizer also has its own marker, so no figure relies on colour alone. An
optimizer's colour, marker and label are part of its declaration in the registry
(:func:`batchsteps.train.spec`); this module keeps the styles of the bounds that are no
optimizer's own. Figures are
drawn on an opaque white face, which reads the same in the book's light and dark themes.

Every plotting function of :mod:`batchsteps.viz` gets its figure from :func:`new_figure`: the
axes it is given, or a new figure in the house style that pyplot does not keep (it shows where
it is displayed or glued, once, and never piles up in ``plt.get_fignums()``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import validation
from ..train import OPTIMIZERS, spec


@dataclass(frozen=True)
class SeriesStyle:
    """How one optimizer (or other named series) is drawn everywhere in the book."""

    label: str
    color: str
    marker: str
    linestyle: str = "-"


#: The house style of each bound that no registered optimizer owns.
BOUND_STYLES: dict[str, SeriesStyle] = {
    # RMSProp again, under the smoothness bound on E||grad f||^2: its colour, its own marker
    "rmsprop-smooth": SeriesStyle("RMSProp (smooth)", spec("rmsprop").style.color, "p", ":"),
}
"""The house style of each bound of ``batchsteps.theory.names()`` that no optimizer owns."""


class _HouseStyles(Mapping[str, SeriesStyle]):
    """name -> style: each registered optimizer's, from its declaration, then the bounds'."""

    def __getitem__(self, name: str) -> SeriesStyle:
        if name in OPTIMIZERS:
            declared = OPTIMIZERS[name]
            look = declared.style
            return SeriesStyle(declared.label, look.color, look.marker, look.linestyle)
        return BOUND_STYLES[name]

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(OPTIMIZERS), **dict.fromkeys(BOUND_STYLES)})

    def __len__(self) -> int:
        return len(set(OPTIMIZERS) | set(BOUND_STYLES))

    def __repr__(self) -> str:
        return repr(dict(self))


OPTIMIZER_STYLES: Mapping[str, SeriesStyle] = _HouseStyles()
"""The house style of each registered optimizer (read from the registry, so it follows
:func:`batchsteps.train.register`) and of each bound in :data:`BOUND_STYLES`."""

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
"""Okabe-Ito colours in order, for series that are not optimizers (batch sizes, targets)."""

GREYS = ("#000000", "#777777", "#BBBBBB")
"""Neutral colours for series without a house style, in order."""

LAW_LINESTYLES = {"constant_lr": "-", "tuned_lr": "--"}
"""How each of the book's laws is drawn; any other law is drawn dash-dotted."""

_RC = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "axes.edgecolor": "#333333",
    "axes.labelcolor": "#222222",
    "xtick.color": "#333333",
    "ytick.color": "#333333",
    "text.color": "#222222",
    "axes.grid": True,
    "axes.grid.which": "major",
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "lines.linewidth": 1.8,
    "lines.markersize": 6,
    "font.size": 10,
}


def use_style() -> None:
    """Apply the house style to every later matplotlib figure."""
    mpl.rcParams.update(_RC)


def style_of(name: str) -> SeriesStyle:
    """The style of optimizer ``name``; ``ValueError`` listing the known names otherwise."""
    return OPTIMIZER_STYLES[
        validation.one_of("name", name, OPTIMIZER_STYLES, "an optimizer with a house style")
    ]


def series_style(name: object, index: int = 0) -> SeriesStyle:
    """The style of a named series: its optimizer's house style (the first item of a tuple
    names the optimizer, the whole tuple the label), else the ``index``-th neutral grey
    (``index`` an integer >= 0, counted round the greys)."""
    index = validation.integer("index", index, low=0)
    key = name[0] if isinstance(name, tuple) and name else name
    label = ", ".join(map(str, name)) if isinstance(name, tuple) else str(name)
    if isinstance(key, str) and key in OPTIMIZER_STYLES:
        style = OPTIMIZER_STYLES[key]
        return style if label == key else SeriesStyle(label, style.color, style.marker)
    return SeriesStyle(label, GREYS[index % len(GREYS)], "o")


def law_linestyle(law: str) -> str:
    """The line style of a law by name (:data:`LAW_LINESTYLES`), dash-dotted for any other."""
    return LAW_LINESTYLES.get(law, "-.")


def new_figure(
    ax: Axes | Sequence[Axes] | np.ndarray | None = None,
    *,
    nrows: int = 1,
    ncols: int = 1,
    width: float = 6.4,
    height: float = 4.0,
    layout: str | None = "constrained",
    squeeze: bool = True,
    **subplots: Any,
) -> tuple[Figure, Any]:
    """``(figure, axes)`` for a plotting function: the axes it was given, else a new figure.

    ``ax`` is ``None``, one :class:`~matplotlib.axes.Axes` (for ``nrows = ncols = 1``) or
    ``nrows * ncols`` axes of one figure, which are returned (their figure is the caller's and
    keeps its layout). Otherwise the house style is applied (:func:`use_style`) and a
    ``width`` x ``height`` inch figure (both finite and > 0, checked either way) with
    ``layout`` gets ``nrows`` x ``ncols`` axes
    (``subplots`` goes to ``Figure.subplots``, e.g. ``sharex``, ``gridspec_kw``). A new
    figure is closed in pyplot at once: it shows only where it is returned, displayed or
    glued. Axes come as ``Figure.subplots`` gives them: one Axes, a 1-D array for one row
    or column, else 2-D (always 2-D with ``squeeze=False``).
    """
    nrows = validation.integer("nrows", nrows, low=1)
    ncols = validation.integer("ncols", ncols, low=1)
    width = validation.positive("width", width)
    height = validation.positive("height", height)
    if ax is None:
        use_style()
        # made through pyplot so that Jupyter's inline backend loads and shows it as an image,
        # then closed so that pyplot forgets it (no second copy at the end of the cell)
        fig = plt.figure(figsize=(width, height), layout=layout)
        plt.close(fig)
        return fig, fig.subplots(nrows, ncols, squeeze=squeeze, **subplots)
    given = np.asarray([ax] if isinstance(ax, Axes) else ax, dtype=object).ravel()
    wanted = nrows * ncols
    for item in given:
        if not isinstance(item, Axes):
            raise validation.type_error("ax", ax, "a matplotlib Axes, a sequence of them, or None")
    if given.size != wanted:
        allowed = f"{wanted} axes ({nrows}x{ncols}) of one figure (it holds {given.size})"
        raise validation.value_error("ax", ax, allowed)
    fig = given[0].figure
    if any(item.figure is not fig for item in given):
        raise validation.value_error("ax", ax, "axes of one figure")
    if squeeze and wanted == 1:
        return fig, given[0]
    shaped = given.reshape(nrows, ncols)
    return fig, (shaped.ravel() if squeeze and (nrows == 1 or ncols == 1) else shaped)


def batch_axis(ax: Axes, which: str = "x") -> None:
    """Log-2 axis with ticks at the powers of two, labelled as plain integers."""
    validation.one_of("which", which, ("x", "y"))
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log", base=2)
    axis.set_major_locator(mticker.LogLocator(base=2))
    axis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(mticker.NullLocator())


def mark_batch(ax: Axes, b: float, label: str, color: str = "#444444") -> None:
    """A labelled vertical mark at batch size ``b`` (the critical batch, say)."""
    ax.axvline(b, color=color, linestyle=":", linewidth=1.2)
    ax.annotate(
        label,
        xy=(b, 1.0),
        xycoords=("data", "axes fraction"),
        xytext=(3, -12),
        textcoords="offset points",
        color=color,
        fontsize=9,
    )
