"""Analysis of measurements: fits of the steps-vs-batch laws, noise-scale estimation."""

from __future__ import annotations

__all__: list[str] = []
