r"""An ipywidgets panel for a live Jupyter kernel: sliders for a bound's parameters, K(b) and N(b).

In the built HTML there is no kernel; the book's in-browser explorers play this role there.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .display import in_kernel
from .figures import _figure, draw_steps_and_sfo
from .style import style_of


def _slider(name: str, spec: Any, value: float) -> Any:
    import ipywidgets as widgets

    low, high = spec.typical
    style = {"description_width": "initial"}
    if spec.log_scale and low > 0:
        return widgets.FloatLogSlider(
            value=value,
            base=10,
            min=math.log10(low),
            max=math.log10(high),
            step=0.01,
            description=name,
            readout_format=".3g",
            continuous_update=False,
            style=style,
        )
    return widgets.FloatSlider(
        value=value,
        min=low,
        max=high,
        step=(high - low) / 200,
        description=name,
        readout_format=".3g",
        continuous_update=False,
        style=style,
    )


class BoundPanel:
    """Sliders for every parameter of a bound and a figure of K(b) and N(b) with b* marked.

    ``sliders`` maps each parameter name to its slider, ``numeric`` is the bound at the current
    values (``None`` while they fall outside what the analysis allows, and ``message`` says why),
    ``widget`` is the box to display. Display the panel itself in Jupyter.
    """

    def __init__(self, bound: Any, initial: dict[str, float]) -> None:
        import ipywidgets as widgets

        self.bound = bound
        self.sliders = {
            name: _slider(name, bound.assumptions[sym], initial[name])
            for name, sym in zip(bound.parameters, bound.assumptions, strict=True)
        }
        self.message = ""
        self.numeric = None
        self.figure: Figure | None = None
        self.status = widgets.HTML()
        self.output = widgets.Output()
        for slider in self.sliders.values():
            slider.observe(lambda _change: self.redraw(), names="value")
        controls = widgets.VBox(list(self.sliders.values()))
        self.widget = widgets.VBox([controls, self.status, self.output])
        self.redraw()

    def values(self) -> dict[str, float]:
        """The sliders' current values, by parameter name."""
        return {name: float(slider.value) for name, slider in self.sliders.items()}

    def redraw(self) -> None:
        """Recompute the numeric bound from the sliders and redraw K(b) and N(b)."""
        from IPython.display import display

        try:
            self.numeric = self.bound.subs(**self.values())
            self.message = ""
        except ValueError as error:
            self.numeric, self.message = None, str(error)
        if in_kernel():
            self.output.clear_output(wait=True)
        if self.numeric is None:
            self.status.value = f"<b>Outside the analysis:</b> {self.message}"
            return
        nb = self.numeric
        # the exact values behind the text ride along (as the explorers' data-values do), so a
        # reader's script or a browser test can check b* against Bound.subs(...)
        values = html.escape(json.dumps(self.values()), quote=True)
        self.status.value = (
            f'<span class="bs-panel-status" data-values="{values}" '
            f'data-critical-batch="{nb.critical_batch!r}">'
            f"b₀ = {nb.min_batch:.4g}, b* = {nb.critical_batch:.4g}, "
            f"K_min = {nb.min_steps:.4g}, K(b*) = {nb.steps(nb.critical_batch):.4g}</span>"
        )
        fig, axes = _figure(2, width=9.6, height=3.6)
        draw_steps_and_sfo(axes, nb, name=self.bound.name)
        self.figure = fig
        if in_kernel():  # a script has no output area: its print would say "Figure(1056x396)"
            with self.output:
                display(fig)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        # the live widget, plus for a page without a kernel (the book's HTML) a snapshot of
        # the current figure under a note that the panel needs a kernel
        from .explorer import needs_kernel

        figure = None
        if self.numeric is not None:
            figure, axes = _figure(2, width=9.6, height=3.6)
            draw_steps_and_sfo(axes, self.numeric, name=self.bound.name)
        return needs_kernel(self.widget, figure)._repr_mimebundle_(**kwargs)


def bound_panel(bound: Any, **initial: float) -> BoundPanel:
    r"""A slider panel for ``bound`` (a :class:`batchsteps.theory.Bound`), drawing K(b) and N(b).

    One slider per parameter over its typical range; ``initial`` overrides the defaults
    (each name must be a parameter of the bound). Values the analysis does not cover (say
    :math:`\alpha \ge 2/L` for SGD) show the reason instead of a figure.
    """
    for attr in ("assumptions", "parameters", "subs", "name"):
        if not hasattr(bound, attr):
            raise TypeError(f"bound={bound!r} must be a Bound (from batchsteps.theory.bound)")
    values = {
        name: spec.default
        for name, spec in zip(bound.parameters, bound.assumptions.values(), strict=True)
    }
    for name, value in initial.items():
        if name not in values:
            raise ValueError(
                f"{name}={value!r} is not a parameter of the {bound.name} bound; "
                f"allowed: {', '.join(bound.parameters)}"
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{name}={value!r} must be a real number")
        spec = bound.assumptions[list(bound.assumptions)[bound.parameters.index(name)]]
        low, high = spec.typical
        if not low <= value <= high:
            raise ValueError(f"{name}={value!r} is outside the slider range [{low:g}, {high:g}]")
        values[name] = float(value)
    return BoundPanel(bound, values)


def young_family(
    family: Any, sgd: Any, values: Mapping[str, float], ts: Sequence[float]
) -> dict[str, np.ndarray]:
    r"""Momentum's family over Young's constant :math:`\rho = t\sqrt q` at fixed parameters.

    ``family`` is :func:`batchsteps.theory.momentum.momentum_bound` with ``t`` symbolic,
    ``sgd`` SGD's bound, ``values`` every parameter but ``t`` (SGD takes the same ``alpha``).
    Returns ``t``, ``critical_ratio`` (:math:`b^\star/b^\star_{\text{SGD}}`, which is
    :math:`B/B_{\text{SGD}}`) and ``steps_ratio`` (:math:`K_{\min}(t)/K_{\min}(1)`, which is
    :math:`A(t)/A(1)`), ``nan`` where :math:`c(t\sqrt q) \le 0` (the member certifies nothing).
    """
    if "t" not in getattr(family, "parameters", ()):
        raise TypeError(f"family={family!r} must be momentum_bound(symbols.t), with t a parameter")
    if "t" in values:
        raise ValueError(f"values has t={values['t']!r}; t is what the family varies")
    t = np.asarray(ts, dtype=float)
    if t.ndim != 1 or t.size == 0 or not np.all(t > 0):
        raise ValueError(f"ts={ts!r} must be a non-empty sequence of positive numbers")
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


def young_family_figure(
    family: Any, sgd: Any, values: Mapping[str, float], ts: Sequence[float] | None = None
) -> Figure:
    r"""Left: :math:`b^\star/b^\star_{\text{SGD}}` against ``t``, with the small-rate limits
    :math:`1/(1-\beta)^2` (``t = 1``) and :math:`1/(1-\beta)` (``t`` :math:`\to\infty`). Right:
    the price, :math:`K_{\min}(t)/K_{\min}(1)`. See :func:`young_family`."""
    ts = np.geomspace(0.25, 64.0, 241) if ts is None else ts
    data = young_family(family, sgd, values, ts)
    beta = float(values["beta"])
    fig, (left, right) = _figure(2, width=9.6, height=3.6)
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
