r"""An ipywidgets panel for a live Jupyter kernel: sliders for a bound's parameters, K(b) and N(b).

In the built HTML there is no kernel; the book's in-browser explorers play this role there.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

from matplotlib.figure import Figure

from .. import validation
from .bounds import plot_bound
from .display import in_kernel
from .explorers import needs_kernel


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
        self.figure = plot_bound(nb, name=self.bound.name, height=3.6)
        if in_kernel():  # a script has no output area: its print would say "Figure(1056x396)"
            with self.output:
                display(self.figure)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        # the live widget, plus for a page without a kernel (the book's HTML) a snapshot of
        # the current figure under a note that the panel needs a kernel
        figure = None
        if self.numeric is not None:
            figure = plot_bound(self.numeric, name=self.bound.name, height=3.6)
        return needs_kernel(self.widget, figure)._repr_mimebundle_(**kwargs)


def bound_panel(bound: Any, **initial: float) -> BoundPanel:
    r"""A slider panel for ``bound`` (a :class:`batchsteps.theory.Bound`), drawing K(b) and N(b).

    One slider per parameter over its typical range; ``initial`` overrides the defaults
    (each name must be a parameter of the bound). Values the analysis does not cover (say
    :math:`\alpha \ge 2/L` for SGD) show the reason instead of a figure.
    """
    needed = ("assumptions", "parameters", "subs", "name")
    validation.attributes("bound", bound, needed, "a Bound (from batchsteps.theory.bound)")
    specs = dict(zip(bound.parameters, bound.assumptions.values(), strict=True))
    validation.keys(f"the parameters of the {bound.name} bound", initial, specs)
    values = {name: spec.default for name, spec in specs.items()}
    for name, value in initial.items():
        low, high = specs[name].typical
        values[name] = validation.real(name, value, low=low, high=high, note="the slider range")
    return BoundPanel(bound, values)
