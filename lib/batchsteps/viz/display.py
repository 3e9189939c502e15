"""What a chapter shows where it runs: in the book's HTML, or in a reader's notebook.

- Figures show as images in Jupyter whatever ``MPLBACKEND`` says. A kernel started with
  ``MPLBACKEND=Agg`` in its environment (a headless server, a CI shell) has no inline backend,
  so a cell ending in a figure shows its repr, ``<Figure size ...>``. :func:`figures_as_images`
  registers IPython's PNG formatter for matplotlib figures in the running kernel, which is what
  the inline backend does; outside a kernel it does nothing.
- :func:`glue` is ``myst_nb.glue`` for the book's prose; in a reader's notebook a value glued
  with ``display=False`` is displayed as well, so the notebook shows every number and figure
  the HTML shows.
"""

from __future__ import annotations

from typing import Any

import matplotlib
from matplotlib.figure import Figure

from .. import validation
from ..environment import building_book

try:  # IPython comes with Jupyter; the library itself runs without it
    from IPython import get_ipython
    from IPython.core.pylabtools import select_figure_formats
    from IPython.display import display as ipython_display
except ImportError:  # pragma: no cover - exercised only where IPython is absent
    get_ipython = None
try:  # the book's toolchain: optional for the library
    from myst_nb import glue as myst_glue
except ImportError:  # pragma: no cover - exercised only where myst-nb is absent
    myst_glue = None


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


def glue(name: str, value: Any, display: bool = True) -> None:
    """Glue ``value`` under ``name`` for the book (``myst_nb.glue``); in a reader's notebook a
    value glued with ``display=False`` is shown too: a figure as itself, anything else as
    ``name = value``."""
    validation.string("name", name, nonempty=True)
    if myst_glue is None:
        raise ImportError("glue needs myst-nb (pip install -r requirements.txt)")
    myst_glue(name, value, display=display)
    if display or building_book() or not in_kernel():
        return
    if isinstance(value, Figure):
        ipython_display(value)
        return
    markdown = getattr(value, "data", None) if hasattr(value, "_repr_markdown_") else None
    shown = markdown if isinstance(markdown, str) else str(value)
    bundle = {"text/markdown": f"`{name}` = {shown}", "text/plain": f"{name} = {shown}"}
    ipython_display(bundle, raw=True)
