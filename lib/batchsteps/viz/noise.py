r"""Figures of the gradient noise scale: McCandlish's :math:`B_{\text{simple}}` measured along
training against the :math:`B_{\text{noise}}` a tuned-rate fit gives.

The function draws into the axes it is given or a new house-style figure
(:func:`~batchsteps.viz.new_figure`) and returns the figure.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import validation
from ..analysis import Fit, NoiseScaleTrace
from .style import PALETTE, new_figure


def plot_noise_scale(
    traces: Mapping[str, NoiseScaleTrace],
    fitted: Mapping[str, Fit],
    *,
    axes: Sequence[Axes] | None = None,
) -> Figure:
    r"""The measured :math:`B_{\text{simple}}` along training (points with their intervals),
    one panel per workload, against the :math:`B_{\text{noise}}` of the tuned-rate law fitted to
    that workload's sweep (horizontal line, its interval ``Fit.ci`` shaded)."""
    for name, value, kind, nonempty in (
        ("traces", traces, NoiseScaleTrace, True),
        ("fitted", fitted, Fit, False),
    ):
        item = functools.partial(validation.instance, types=kind)
        what = f"a mapping workload -> {kind.__name__}"
        validation.mapping_of(name, value, item, what=what, nonempty=nonempty)
    n = len(traces)
    fig, drawn = new_figure(axes, ncols=n, width=4.8 * n, height=4.0, layout="tight", squeeze=False)
    for ax, (name, trace) in zip(drawn[0], traces.items(), strict=True):
        low = np.array([e.b_simple_ci[0] for e in trace.estimates])
        high = np.array([e.b_simple_ci[1] for e in trace.estimates])
        value = trace.b_simple
        high = np.where(np.isfinite(high), high, np.nan)
        label = r"measured $B_{\mathrm{simple}}$"
        ax.errorbar(trace.steps, value, yerr=[value - low, high - value], fmt="o", markersize=4,
                    color=PALETTE[0], capsize=2, label=label)  # fmt: skip
        if name in fitted:
            fit = fitted[name]
            ax.axhline(fit.critical_batch, color=PALETTE[1], linestyle="--",
                       label=r"fitted $B_{\mathrm{noise}}$ (tuned-rate law)")  # fmt: skip
            lo, hi = fit.ci["critical_batch"]
            if np.isfinite(lo) and np.isfinite(hi):
                ax.axhspan(lo, hi, color=PALETTE[1], alpha=0.12, lw=0)
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel("batch size (samples)")
        ax.set_title(str(name))
        ax.legend(fontsize=8)
    return fig
