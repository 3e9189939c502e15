"""Figures show as images in Jupyter whatever ``MPLBACKEND`` says.

A kernel started with ``MPLBACKEND=Agg`` in its environment (a headless server, a CI shell)
has no inline backend, so a cell ending in a figure shows its repr, ``<Figure size ...>``.
:func:`figures_as_images` registers IPython's PNG formatter for matplotlib figures in the
running kernel, which is what the inline backend does; outside a kernel it does nothing.
"""

from __future__ import annotations

import matplotlib

try:  # IPython comes with Jupyter; the library itself runs without it
    from IPython import get_ipython
    from IPython.core.pylabtools import select_figure_formats
except ImportError:  # pragma: no cover - exercised only where IPython is absent
    get_ipython = None


def in_kernel() -> bool:
    """Whether this code runs in a Jupyter kernel (not a plain script or terminal IPython)."""
    shell = get_ipython() if get_ipython is not None else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def figures_as_images() -> bool:
    """In a kernel without the inline backend, show every returned figure as a PNG image.

    Returns whether a formatter is registered now (False outside a kernel)."""
    if not in_kernel():
        return False
    if "inline" not in matplotlib.get_backend():
        select_figure_formats(get_ipython(), {"png"})  # idempotent: replaces, never stacks
    return True
