"""Figures and explorers: the house matplotlib style, ipywidgets panels, in-browser explorers."""

from __future__ import annotations

from .style import OPTIMIZER_STYLES, SeriesStyle, batch_axis, mark_batch, style_of, use_style

__all__ = ["OPTIMIZER_STYLES", "SeriesStyle", "batch_axis", "mark_batch", "style_of", "use_style"]
