"""Sweeps on several processes, GPUs or machines: executors, per-worker devices, throughput.

:func:`~batchsteps.train.sweep` takes any ``concurrent.futures.Executor``; Dask is the
supported engine for more than one machine (``dask.distributed.Client(...).get_executor()``,
or the ``Client`` itself). Dask is optional: nothing here imports it, and a worker learns that
it runs inside Dask only from ``sys.modules``.

Devices per worker. ``device="auto"`` (or ``None`` with an executor) is resolved by the
process that runs the cell, by :func:`choose_device`, in this order:

1. the environment variable ``BATCHSTEPS_DEVICE`` (:data:`DEVICE_ENV`) of that process;
2. ``cpu`` when CUDA is absent;
3. ``cuda:0`` when ``CUDA_VISIBLE_DEVICES`` is set (a launcher such as SLURM or dask-cuda has
   already given the process its GPU, which it sees as device 0);
4. ``cuda:k mod n`` in a Dask worker named by an integer ``k`` (``LocalCluster`` names its
   workers 0, 1, ..., and a worker restarted by its nanny keeps its name), ``n`` GPUs;
5. ``cuda`` otherwise.

So ``LocalCluster(n_workers=torch.cuda.device_count(), threads_per_worker=1)`` runs one worker
per GPU with no further set-up.
"""

from __future__ import annotations

import concurrent.futures
import os
import socket
import sys
from collections.abc import Mapping
from typing import Any

import pandas as pd
import torch

from .. import validation
from .engine import resolve_device

__all__ = ["DEVICE_ENV", "choose_device", "worker_device", "worker_name", "as_executor"]
__all__ += ["throughput", "local_cluster"]

#: Environment variable that fixes the device of the process that runs cells.
DEVICE_ENV = "BATCHSTEPS_DEVICE"


def _dask_worker() -> Any:
    """The Dask worker running this code, or ``None`` (Dask is never imported here)."""
    worker_module = sys.modules.get("distributed.worker")
    if worker_module is None:
        return None
    try:
        return worker_module.get_worker()
    except ValueError:  # distributed is loaded, but this is not a worker's task
        return None


def choose_device(env: Mapping[str, str], cuda_count: int, worker: object = None) -> str:
    """The device a worker uses for ``device="auto"``: the rules of this module's docstring.

    ``env``: the process's environment; ``cuda_count``: GPUs visible to it; ``worker``: its
    Dask worker name (``None`` outside Dask).

    >>> choose_device({}, 4, worker=6)
    'cuda:2'
    """
    if env.get(DEVICE_ENV):
        return env[DEVICE_ENV]
    if cuda_count == 0:
        return "cpu"
    if env.get("CUDA_VISIBLE_DEVICES"):
        return "cuda:0"
    if isinstance(worker, int) and not isinstance(worker, bool):
        return f"cuda:{worker % cuda_count}"
    if isinstance(worker, str) and worker.isdigit():
        return f"cuda:{int(worker) % cuda_count}"
    return "cuda"


def worker_device(device: object = "auto") -> torch.device:
    """Resolve ``device`` in the process that runs a cell: ``"auto"`` and ``None`` by
    :func:`choose_device`, anything else as a torch device (checked). Returns a
    ``torch.device``."""
    if device is None or device == "auto":
        worker = _dask_worker()
        name = None if worker is None else worker.name
        cuda = torch.cuda.device_count() if torch.cuda.is_available() else 0
        device = choose_device(os.environ, cuda, name)
        try:
            return resolve_device(device)
        except ValueError as err:
            raise ValueError(f"{err} (chosen from {DEVICE_ENV} or the worker's GPUs)") from None
    return resolve_device(device)


def worker_name() -> str:
    """Who runs this cell: the Dask worker's name, else ``host:pid``."""
    worker = _dask_worker()
    if worker is not None:
        return str(worker.name)
    return f"{socket.gethostname()}:{os.getpid()}"


def as_executor(executor: object) -> concurrent.futures.Executor | None:
    """Check ``sweep``'s ``executor``: ``None``, a ``concurrent.futures.Executor``, or a Dask
    ``Client`` (its ``get_executor()`` is used). Anything else is a ``TypeError``."""
    if executor is None or isinstance(executor, concurrent.futures.Executor):
        return executor
    module = type(executor).__module__ or ""
    if module.split(".")[0] == "distributed" and callable(getattr(executor, "get_executor", None)):
        return executor.get_executor()
    raise validation.type_error(
        "executor",
        executor,
        "None (run in this process), a concurrent.futures.Executor or a dask.distributed Client",
    )


def local_cluster(n_workers: int | None = None, **options: Any):
    """A Dask ``LocalCluster`` set up for sweeps: ``n_workers`` worker processes (default: one
    per GPU, else one per CPU core), one thread each, no memory limit, no dashboard; any other
    ``LocalCluster`` option passes through. With ``device="auto"``, worker ``k`` takes GPU
    ``k``.

    Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which switches off
    glibc's adaptive mmap threshold: large tensor buffers are then mapped and unmapped at
    every step. On CPU the engine spent 28-48% more time per cell that way (digits-mlp, with
    about 50,000 more page faults a cell; see benchmarks/README.md). Here it is left unset.
    """
    import dask
    from distributed import LocalCluster

    if n_workers is None:
        n_workers = torch.cuda.device_count() or os.cpu_count() or 1
    n_workers = validation.integer("n_workers", n_workers, low=1)
    settings = dict(threads_per_worker=1, memory_limit=0, dashboard_address=None)
    unset = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
    with dask.config.set(unset):
        return LocalCluster(n_workers=n_workers, processes=True, **{**settings, **options})


def throughput(frame: pd.DataFrame) -> pd.DataFrame:
    r"""Cells per worker from a :func:`~batchsteps.train.sweep` result.

    One row per worker: ``cells`` finished, ``busy_s`` (sum of the cells' ``wall_time``) and
    ``cells_per_min`` :math:`= 60\,\text{cells} / \text{busy\_s}`, the worker's own rate while
    it computed. Cells read from the store count for the worker that computed them.
    """
    validation.instance("frame", frame, pd.DataFrame, "a pandas DataFrame from sweep")
    keys = [*"workload optimizer batch_size lr beta beta1 beta2 eps target max_steps".split()]
    validation.columns("frame", frame, [*keys, "worker", "wall_time"])
    cells = frame.drop_duplicates(subset=keys)  # one row per cell (rows are per seed)
    out = cells.groupby("worker").agg(cells=("wall_time", "size"), busy_s=("wall_time", "sum"))
    out["cells_per_min"] = 60.0 * out["cells"] / out["busy_s"]
    return out.reset_index()
