"""Chapters executed side by side, before Sphinx reads them.

Jupyter Book 1 executes a notebook page while Sphinx reads it, one page after another, so a
cold build keeps one core busy while the others idle. On ``env-before-read-docs`` this
extension finds the notebook pages about to be read whose code the executed-notebook cache
does not hold, executes them in worker processes (as many as ``$BATCHSTEPS_BUILD_WORKERS``,
else the machine's cores), the pages named in ``batchsteps_execute_first`` first, the others
in the order Sphinx reads them, and puts each executed notebook in the cache exactly as
MyST-NB would (the same reader, the same execution function, timeout and error settings), with
each code cell's seconds in the cache record's data (``cell_seconds``: where a build's time
goes). MyST-NB then reads every page from the cache, as on any rebuild. With one chapter per core,
the chapters' own sweeps run in their kernels (``BATCHSTEPS_WORKERS=1`` unless set), not in
worker pools of their own, and each kernel's numpy and torch use one thread
(``OMP_NUM_THREADS=1`` and its kin, unless set).

A page that fails here is not cached: MyST-NB executes it again when it reads it and reports
the error as usual, so a failing build fails as it always did (the page's time twice).
Chapters that share a sweep share its cells through the store's claims
(``batchsteps.train.store.claim``), so two chapters never compute one cell twice.
"""

from __future__ import annotations

import importlib
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn
from jupyter_cache.executors.utils import single_nb_execution
from myst_nb.core.read import create_nb_reader
from nbformat import NotebookNode
from sphinx.util import logging

from batchsteps.environment import WORKERS_ENV as EXPERIMENT_WORKERS_ENV
from batchsteps.environment import count_from_environment

WORKERS_ENV = "BATCHSTEPS_BUILD_WORKERS"
THREAD_ENVS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: The subpackages chapters/api.md documents import every module it names (torch, sympy, scipy,
#: matplotlib: about 4 s). Autodoc would import them when Sphinx reads that page, after the
#: chapters; this process imports them as soon as a core has no chapter left to run.
API_PACKAGES = ("batchsteps.experiments", "batchsteps.viz")
logger = logging.getLogger(__name__)


def build_workers(environ: dict[str, str] | None = None) -> int:
    """How many chapters execute at once: ``$BATCHSTEPS_BUILD_WORKERS``, else the cores."""
    return count_from_environment(WORKERS_ENV, environ) or os.cpu_count() or 1


def execute(nb: NotebookNode, cwd: str, timeout: int | None, allow_errors: bool) -> tuple:
    """Execute one notebook in this worker: (executed notebook, seconds, each code cell's
    seconds, error text or None). The notebook keeps no timing in its metadata: the cache
    hashes cell metadata, and MyST-NB must match the chapter's source to it."""
    result = single_nb_execution(
        nb, cwd=cwd, timeout=timeout, allow_errors=allow_errors, meta_override=True,
        record_timing=True,
    )  # fmt: skip
    cells = []
    for cell in result.nb.cells:
        timing = cell.metadata.pop("execution", None) if cell.cell_type == "code" else None
        if timing and "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            start = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
            cells.append(round((end - start).total_seconds(), 3))
        elif cell.cell_type == "code":
            cells.append(None)
    error = result.exc_string if result.err is not None else None
    return result.nb, result.time, cells, error


def pending_pages(env, docnames: list[str], cache) -> list[tuple[str, Path, Any, Any]]:
    """(docname, path, notebook, reader format) of each notebook page in ``docnames`` whose
    code cells the cache holds no executed notebook for."""
    pending = []
    for docname in docnames:
        path = Path(env.doc2path(docname))
        text = path.read_text(encoding="utf-8")
        reader = create_nb_reader(str(path), env.myst_config, env.mystnb_config, text)
        if reader is None:
            continue
        notebook = reader.read(text)
        try:
            cache.match_cache_notebook(notebook)
        except KeyError:
            pending.append((docname, path, notebook, reader.read_fmt))
    return pending


def in_order(pending: list, first: list[str]) -> list:
    """``pending`` with the pages named in ``first`` at the front, in that order."""
    rank = {name: i for i, name in enumerate(first)}
    return sorted(pending, key=lambda page: rank.get(page[0], len(rank)))


def execute_side_by_side(app, env, docnames: list[str]) -> None:
    """Execute the pages about to be read that the cache lacks, several at a time, and cache
    each one that succeeds."""
    config = env.mystnb_config
    if config.execution_mode != "cache":
        return
    cache = get_cache(config.execution_cache_path or Path(app.outdir).parent / ".jupyter_cache")
    pending = in_order(pending_pages(env, docnames, cache), app.config.batchsteps_execute_first)
    workers = min(build_workers(), len(pending))
    if workers < 2:
        return  # MyST-NB executes the page when it reads it
    # One chapter per core: an experiment's sweep runs in its chapter's process, and numpy's
    # and torch's thread pools keep to one thread (two kernels each spinning two BLAS threads
    # on two cores made a cell of numpy fits 8x slower, measured).
    for variable in (EXPERIMENT_WORKERS_ENV, *THREAD_ENVS):
        os.environ.setdefault(variable, "1")
    context = get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        futures = {}
        for _, path, notebook, read_fmt in pending:
            logger.info(f"{path}: Executing notebook, {workers} at a time")
            args = (notebook, str(path.parent), config.execution_timeout)
            future = pool.submit(execute, *args, config.execution_allow_errors)
            futures[future] = (path, read_fmt)
        for done, future in enumerate(as_completed(futures), start=1):
            if len(futures) - done == workers - 1:  # from now on a core idles
                for name in API_PACKAGES:
                    importlib.import_module(name)
            path, read_fmt = futures[future]
            executed, seconds, cells, error = future.result()
            if error is not None:
                logger.info(f"{path}: failed after {seconds:.1f} s; executed again when read")
                continue
            stage = cache.add_nb_to_project(str(path), read_data=read_fmt)
            data = {"execution_seconds": seconds, "cell_seconds": cells}
            bundle = CacheBundleIn(executed, stage.uri, data=data)
            cache.cache_notebook_bundle(bundle, check_validity=False, overwrite=True)
            logger.info(f"{path}: Executed notebook in {seconds:.2f} seconds")


def setup(app) -> dict[str, Any]:
    app.add_config_value("batchsteps_execute_first", [], "env", types=[list])
    app.connect("env-before-read-docs", execute_side_by_side)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
