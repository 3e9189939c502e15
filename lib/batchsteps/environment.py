"""Where the library runs: the book's build or a reader's session, and what follows from it.

The book's Sphinx extension (``_ext/batchsteps_book.py``) sets ``BATCHSTEPS_BOOK_BUILD=1`` for
the kernels that execute the chapters. A chapter then behaves as the HTML needs it (no
progress bars, whose text would land in the page; glued values shown where the prose puts them)
and, run by a reader in Jupyter or a terminal, as a reader needs it (progress shown, every
glued number and figure displayed in the cell that computes it). Stdlib, platformdirs and
``batchsteps.validation`` only: every layer of the library may import it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import platformdirs

from . import validation

BOOK_BUILD_ENV = "BATCHSTEPS_BOOK_BUILD"
#: The environment variable naming the folder of the sweep store (else the user cache).
STORE_ENV = "BATCHSTEPS_STORE"
#: The environment variable capping the worker processes of an experiment's sweep.
WORKERS_ENV = "BATCHSTEPS_WORKERS"
announced: set[Path] = set()


def building_book() -> bool:
    """Whether this process executes a chapter for the book's build."""
    return os.environ.get(BOOK_BUILD_ENV) == "1"


def show_progress(progress: bool | None) -> bool:
    """``progress`` if given, else on everywhere except in the book's build.

    ``TypeError`` for anything but ``True``, ``False`` or ``None``."""
    if progress is None:
        return not building_book()
    return validation.boolean("progress", progress)


def store_root(store: str | os.PathLike | None = None) -> Path:
    """The folder of sweep result stores: ``store`` if given, else ``$BATCHSTEPS_STORE``, else
    the user's cache folder (``platformdirs.user_cache_dir("batchsteps")/stores``, e.g.
    ``~/.cache/batchsteps/stores`` on Linux), never the installed package's tree. The book's
    build names ``_build/stores`` through the variable. The default is printed once per
    process, when first used, so a reader knows where results go."""
    if store is not None:
        return validation.path("store", store)
    if os.environ.get(STORE_ENV):
        return Path(os.environ[STORE_ENV])
    root = Path(platformdirs.user_cache_dir("batchsteps")) / "stores"
    if root not in announced:
        announced.add(root)
        print(
            f"batchsteps: sweep results are kept in {root} (reused by later runs); "
            f"set {STORE_ENV} or pass store= to use another folder",
            file=sys.stdout,
        )
    return root


def worker_limit(wanted: int) -> int:
    """How many worker processes a sweep that wants ``wanted`` may start: at most
    ``$BATCHSTEPS_WORKERS`` when set (a whole number >= 1; on a shared machine, the cores that
    are free; the book's build sets 1 when it executes chapters side by side, one per core).
    ``ValueError`` naming the variable for any other value."""
    wanted = validation.integer("wanted", wanted, low=1)
    given = count_from_environment(WORKERS_ENV)
    return wanted if given is None else min(wanted, given)


def count_from_environment(variable: str, environ: Mapping[str, str] | None = None) -> int | None:
    """The whole number >= 1 that ``$variable`` holds (in ``environ``, else this process's
    environment), ``None`` when it is unset or empty; ``ValueError`` naming the variable and
    its value for anything else."""
    given = (os.environ if environ is None else environ).get(variable, "").strip()
    if not given:
        return None
    if not given.isdigit() or int(given) < 1:
        raise validation.value_error(f"${variable}", given, "a whole number >= 1")
    return int(given)
