"""What a chapter shows where it runs: in the book's HTML, or in a reader's notebook.

- Figures show as images in Jupyter whatever ``MPLBACKEND`` says. A kernel started with
  ``MPLBACKEND=Agg`` in its environment (a headless server, a CI shell) has no inline backend,
  so a cell ending in a figure shows its repr, ``<Figure size ...>``. :func:`figures_as_images`
  registers IPython's PNG formatter for matplotlib figures in the running kernel, which is what
  the inline backend does; outside a kernel it does nothing.
- :func:`glue` stores a value for the book's prose the way MyST-NB's glue protocol reads it
  (``myst_nb.glue``'s output, without calling it: its first call imports nbformat and
  jsonschema, 1.7 s in every chapter's kernel); in a reader's notebook a value glued with
  ``display=False`` is displayed as well, so the notebook shows every number and figure the
  HTML shows.
"""

from __future__ import annotations

from typing import Any

import matplotlib
from matplotlib.figure import Figure

from .. import validation
from ..environment import building_book

try:  # IPython comes with Jupyter; the library itself runs without it
    from IPython import get_ipython
    from IPython.core.formatters import format_display_data
    from IPython.core.pylabtools import select_figure_formats
    from IPython.display import display as ipython_display
except ImportError:  # pragma: no cover - exercised only where IPython is absent
    get_ipython = None

#: MyST-NB's glue protocol: a display output whose metadata carries ``scrapbook`` (the name,
#: and the prefix of its MIME types); a value glued with ``display=False`` has its MIME types
#: prefixed with this, so no notebook front end renders it, while the book still finds it.
GLUE_PREFIX = "application/papermill.record/"


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
    """Glue ``value`` under ``name`` for the book: the output ``myst_nb.glue`` writes (its
    display data, named in the ``scrapbook`` metadata, the MIME types prefixed with
    ``GLUE_PREFIX`` unless ``display``). In a reader's notebook a value glued with
    ``display=False`` is shown too: a figure as itself, anything else as ``name = value``."""
    validation.string("name", name, nonempty=True)
    if get_ipython is None:
        raise ImportError("glue needs IPython (pip install -r requirements.txt)")
    bundle, metadata = format_display_data(value)
    prefix = "" if display else GLUE_PREFIX
    metadata["scrapbook"] = {"name": name, "mime_prefix": prefix}
    ipython_display(
        {prefix + mime: data for mime, data in bundle.items()}, raw=True, metadata=metadata
    )
    if display or building_book() or not in_kernel():
        return
    if isinstance(value, Figure):
        ipython_display(value)
        return
    markdown = getattr(value, "data", None) if hasattr(value, "_repr_markdown_") else None
    shown = markdown if isinstance(markdown, str) else str(value)
    bundle = {"text/markdown": f"`{name}` = {shown}", "text/plain": f"{name} = {shown}"}
    ipython_display(bundle, raw=True)
