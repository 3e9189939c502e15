"""Where the library runs: the book's build or a reader's session, and what follows from it.

The book's Sphinx extension (``_ext/batchsteps_book.py``) sets ``BATCHSTEPS_BOOK_BUILD=1`` for
the kernels that execute the chapters. A chapter then behaves as the HTML needs it (no
progress bars, whose text would land in the page; glued values shown where the prose puts them)
and, run by a reader in Jupyter or a terminal, as a reader needs it (progress shown, every
glued number and figure displayed in the cell that computes it). Stdlib only: every layer of
the library may import it.
"""

from __future__ import annotations

import os

BOOK_BUILD_ENV = "BATCHSTEPS_BOOK_BUILD"


def building_book() -> bool:
    """Whether this process executes a chapter for the book's build."""
    return os.environ.get(BOOK_BUILD_ENV) == "1"


def show_progress(progress: bool | None) -> bool:
    """``progress`` if given, else on everywhere except in the book's build.

    ``TypeError`` for anything but ``True``, ``False`` or ``None``."""
    if progress is None:
        return not building_book()
    if not isinstance(progress, bool):
        raise TypeError(f"progress={progress!r} must be True, False or None (automatic)")
    return progress
