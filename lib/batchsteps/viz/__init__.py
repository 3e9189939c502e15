"""Figures and explorers: the house matplotlib style, ipywidgets panels, in-browser explorers."""

from __future__ import annotations

from .style import OPTIMIZER_STYLES, SeriesStyle, batch_axis, mark_batch, style_of, use_style

__all__ = ["OPTIMIZER_STYLES", "SeriesStyle", "batch_axis", "mark_batch", "style_of", "use_style"]

from .display import figures_as_images, glue, in_kernel  # noqa: E402

__all__ += ["figures_as_images", "glue", "in_kernel"]
figures_as_images()

from . import figures  # noqa: E402
from .panels import BoundPanel, bound_panel  # noqa: E402

__all__ += ["figures", "BoundPanel", "bound_panel"]

from .fits import plot_fits, plot_linearisation  # noqa: E402

__all__ += ["plot_fits", "plot_linearisation"]

from .explorer import Explorer, explorer, needs_kernel, template_law  # noqa: E402

__all__ += ["Explorer", "explorer", "needs_kernel", "template_law"]

from .part3 import (  # noqa: E402
    plot_engine_check,
    plot_fit_panels,
    plot_noise_scale,
    plot_rate_tuning,
    plot_regimes,
)

__all__ += ["plot_engine_check", "plot_fit_panels", "plot_noise_scale", "plot_rate_tuning"]
__all__ += ["plot_regimes"]
