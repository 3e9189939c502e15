"""Figures and explorers, by what they show.

- ``style``: the house style (each optimizer's registered colour and marker, log-2 batch axes) and
  :func:`new_figure`, the one way every figure here is made;
- ``bounds``: the theory's K(b) and N(b), bounds compared, the two rate regimes, momentum;
- ``curves``: measured steps against batch size with the fitted laws, the linearisation;
- ``rates``: the learning-rate rule and the rates swept;
- ``checks``: theory against measurement (variance law, bounds, AMSGrad, the NQM engine);
- ``noise``: the gradient noise scale along training;
- ``sections``: a chapter's measured section (fits, glued numbers, figure) in one call;
- ``panels`` and ``explorers``: ipywidgets panels (Jupyter) and kernel-free HTML explorers;
- ``display``: figures as images in any kernel, and ``glue`` for the book.

Every plotting function takes ``ax=None`` (``axes=None`` for several panels), draws into the
axes it is given or a new figure that pyplot does not keep, and returns its Figure.
"""

from __future__ import annotations

from .bounds import (
    batch_grid,
    plot_beta1_cost,
    plot_bound,
    plot_bound_comparison,
    plot_momentum_shapes,
    plot_regimes,
    plot_young_family,
    young_family,
)
from .checks import (
    plot_adaptive_check,
    plot_bound_check,
    plot_engine_check,
    plot_gradient_traces,
    plot_variance_law,
)
from .curves import (
    plot_comparison,
    plot_fit_panels,
    plot_fits,
    plot_linearisation,
    plot_measured,
    status_summary,
)
from .display import figures_as_images, glue, in_kernel
from .explorers import Explorer, explorer, needs_kernel, template_law
from .noise import plot_noise_scale
from .panels import BoundPanel, bound_panel
from .rates import plot_rate_sweep, plot_rate_tuning, plot_tuning
from .sections import measured_section
from .style import (
    BOUND_STYLES,
    OPTIMIZER_STYLES,
    SeriesStyle,
    batch_axis,
    mark_batch,
    new_figure,
    series_style,
    style_of,
    use_style,
)

__all__ = [
    # style and the figure factory
    "OPTIMIZER_STYLES",
    "BOUND_STYLES",
    "SeriesStyle",
    "batch_axis",
    "mark_batch",
    "new_figure",
    "series_style",
    "style_of",
    "use_style",
    # bounds
    "batch_grid",
    "plot_beta1_cost",
    "plot_bound",
    "plot_bound_comparison",
    "plot_momentum_shapes",
    "plot_regimes",
    "plot_young_family",
    "young_family",
    # measured curves and fits
    "plot_comparison",
    "plot_fit_panels",
    "plot_fits",
    "plot_linearisation",
    "plot_measured",
    "status_summary",
    "measured_section",
    # learning rates
    "plot_rate_sweep",
    "plot_rate_tuning",
    "plot_tuning",
    # checks of the theory
    "plot_adaptive_check",
    "plot_bound_check",
    "plot_engine_check",
    "plot_gradient_traces",
    "plot_variance_law",
    # noise scale
    "plot_noise_scale",
    # interactive
    "BoundPanel",
    "Explorer",
    "bound_panel",
    "explorer",
    "needs_kernel",
    "template_law",
    # display
    "figures_as_images",
    "glue",
    "in_kernel",
]

figures_as_images()
