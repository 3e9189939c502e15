"""The house matplotlib style: one colour and one marker per optimizer, log-2 batch axes.

Colours are the Okabe-Ito palette (distinguishable with the common colour-vision deficiencies),
and every optimizer also has its own marker, so no figure relies on colour alone. Figures are
drawn on an opaque white face, which reads the same in the book's light and dark themes.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib as mpl
import matplotlib.ticker as mticker


@dataclass(frozen=True)
class SeriesStyle:
    """How one optimizer (or other named series) is drawn everywhere in the book."""

    label: str
    color: str
    marker: str
    linestyle: str = "-"


OPTIMIZER_STYLES: dict[str, SeriesStyle] = {
    "sgd": SeriesStyle("SGD", "#0072B2", "o", "-"),
    "momentum": SeriesStyle("Momentum", "#D55E00", "s", "--"),
    "nesterov": SeriesStyle("Nesterov", "#CC79A7", "D", "-."),
    "adam": SeriesStyle("Adam", "#009E73", "^", ":"),
    "amsgrad": SeriesStyle("AMSGrad", "#56B4E9", "v", "-"),
    "rmsprop": SeriesStyle("RMSProp", "#E69F00", "P", "--"),
    "adabelief": SeriesStyle("AdaBelief", "#7A5C00", "X", "-."),
}

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
    if name not in OPTIMIZER_STYLES:
        raise ValueError(f"name={name!r} has no house style; known: {', '.join(OPTIMIZER_STYLES)}")
    return OPTIMIZER_STYLES[name]


def batch_axis(ax, which: str = "x") -> None:
    """Log-2 axis with ticks at the powers of two, labelled as plain integers."""
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log", base=2)
    axis.set_major_locator(mticker.LogLocator(base=2))
    axis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(mticker.NullLocator())


def mark_batch(ax, b: float, label: str, color: str = "#444444") -> None:
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
