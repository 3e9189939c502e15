"""Sweeps over optimizers, batch sizes and learning rates, with a resumable on-disk store.

A cell is one (optimizer, batch size, learning rate, hyperparameters) setting run for all
seeds at once. With ``store`` (a folder), every finished cell is written as one JSON file,
named by a hash of everything that determines its result; a rerun reads the finished cells
and computes only the others. The store itself (atomic first-writer-wins commits, damaged
cells detected and moved aside, format versions, errors naming the folder) is
:mod:`batchsteps.train.store`; this module runs cells.

The store is the single source of truth, and several writers may share it (two sweeps at
once, Dask workers on a shared filesystem): the first writer of a cell wins, and every sweep
returns what the file holds. "Same" is meant at two levels. The result fields (``key``,
``steps``, ``reason``, ``check_every``) are a function of the key: a recomputation on the
same kind of device gives them again, bit for bit. The provenance fields (``wall_time``,
``device``, ``worker``) say which run got there first and differ from run to run; that is
why a duplicate never overwrites.

A sweep stopped by ``KeyboardInterrupt`` (Ctrl-C, Jupyter's "interrupt kernel") keeps every
finished cell, leaves no temporary file, says in a warning how many cells the store holds and
re-raises; the same call again computes only the rest.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import math
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .. import validation
from ..environment import show_progress
from .cluster import as_executor, worker_device, worker_name
from .engine import check_seeds, measure_stacked, resolve_device
from .optimizers import optimizer
from .registry import OptimizerSpec, hyper_names, spec
from .store import (
    DamagedCellError,
    cell_path,
    check_writable,
    claim,
    quarantine,
    read_cell,
    write_cell,
)
from .targets import Target, parse_target, parse_targets
from .workloads import WORKLOADS, Workload
from .workloads import workload as _workload

__all__ = ["sweep", "cell_task", "cells_task", "RESULT_VERSION", "STACK_ROWS"]

#: The ``version`` in every cell's key: bumped when a change to the engine changes results
#: (old cells are then not reused). The file format is :data:`~.store.FORMAT_VERSION`.
RESULT_VERSION = 2
#: A sweep run in its own process trains the cells of one batch size together
#: (:func:`~batchsteps.train.measure_stacked`), as many settings in one stack as keep
#: seeds x settings x batch size within this many rows (always at least one setting). On a
#: CPU core a step of a stack costs less per replica than separate steps while the stack is
#: small (digits MLP, momentum, batch 32, 150 steps: 13.2 ms a replica alone in a stack of 5,
#: 7.5 ms in a stack of 15) and about the same from about 2,000 rows on
#: (``benchmarks/stacking.py``: 1.02x at 1,920 rows, 0.89x at 3,840). A stack's
#: activations are then those of one cell of that many rows; its optimizer state holds the
#: slots of each optimizer named in it for every replica. ``0`` runs every setting alone.
#: Sweeps stack on a CPU only.
STACK_ROWS = 2048


def _values(name: str, value: Any, item: Callable[[str, Any], Any]) -> list:
    """The values a sweep runs: ``value`` itself when it is one (``item(name, value)``), else
    each entry of the sequence ``value`` checked by ``item``, no value twice (one cell each: a
    ``ValueError`` naming ``name`` and the repeated value)."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | range | np.ndarray):
        return [item(name, value)]
    return validation.sequence_of(name, value, item, distinct=True)


def _lr_grid(lr: Any, optimizers: list[str]) -> dict[str, list[float]]:
    if lr is None:
        return {o: list(spec(o).rates.values) for o in optimizers}
    if isinstance(lr, Mapping):
        if any(o not in lr for o in optimizers):
            raise validation.value_error(
                "lr",
                lr,
                f"a rate, rates or a dict with an entry for each of {', '.join(optimizers)}",
            )
        validation.keys("lr", lr, optimizers, note=lambda _: " (the optimizers swept)")
        return {o: _values(f"lr[{o!r}]", lr[o], validation.positive) for o in optimizers}
    values = _values("lr", lr, validation.positive)
    return {o: values for o in optimizers}


def _hyper_grid(declared: OptimizerSpec, hyper: Mapping[str, Any]) -> list[dict[str, float]]:
    """Every combination of the values in ``hyper`` that the optimizer takes, resolved (each
    value checked against its range, no value of one hyperparameter twice)."""
    mine = {
        k: _values(k, v, declared.hyper[k].check) for k, v in hyper.items() if k in declared.hyper
    }
    keys = sorted(mine)
    return [
        declared.resolve(dict(zip(keys, combo, strict=True)))
        for combo in itertools.product(*(mine[k] for k in keys))
    ]


def _setting(cell: dict) -> tuple:
    """What sets a cell's optimizer apart: its name, rate and hyperparameters."""
    return cell["optimizer"], cell["lr"], tuple(sorted(cell["hyper"].items()))


def _run_cells(wl: Workload, cells: list[dict], device, check_every, on_check=None) -> list[dict]:
    """The records of ``cells`` (equal but for the optimizer, rate, hyperparameters and
    target): the settings with the same targets to compute trained as one stack
    (:func:`measure_stacked`, one training run per seed for all those targets), each run's
    seconds shared evenly among its cells."""
    cell = cells[0]
    wanted: dict[tuple, dict] = {}  # setting -> the targets of its cells (a cell given twice
    for c in cells:  # is computed once)
        wanted.setdefault(_setting(c), {})[c["target"]] = None
    stacks: dict[tuple, list[tuple]] = {}  # targets -> the settings that compute them
    for setting, targets in wanted.items():
        stacks.setdefault(tuple(sorted(targets, key=str)), []).append(setting)
    found: dict[tuple, tuple] = {}  # (setting, target) -> (result, seconds)
    for targets, settings in stacks.items():
        stacked = measure_stacked(
            wl, [optimizer(o, lr, **dict(h)) for o, lr, h in settings], cell["batch_size"],
            seeds=cell["seeds"], targets=list(targets), max_steps=cell["max_steps"],
            device=device, check_every=check_every, near=cell["near"], on_check=on_check,
        )  # fmt: skip
        for setting, results in zip(settings, stacked, strict=True):
            for target, result in zip(targets, results, strict=True):
                found[setting, target] = result, result.wall_time / len(settings) / len(targets)
    return [
        {
            "key": key,
            "steps": result.steps.tolist(),
            "reason": list(result.reason),
            "check_every": result.check_every,
            "wall_time": seconds,
            "device": result.device,
            "worker": worker_name(),
        }
        for key in cells
        for result, seconds in [found[_setting(key), key["target"]]]
    ]


def cell_task(
    wl: Workload | str,
    cell: dict,
    device: Any,
    check_every: int | None,
    folder: str | None,
    on_check: Callable[[int], None] | None = None,
) -> tuple[dict, bool]:
    """One cell, wherever it runs (the task an executor gets): read it from the store
    ``folder`` if it is there, else claim it, compute it and commit it (first writer wins;
    while another sweep holds the claim, wait for its cell instead). Returns the record the
    store holds and whether this call computed it. A damaged cell is moved aside and
    recomputed. ``wl`` may be a registered workload's name, built here from local data."""
    return cells_task(wl, [cell], device, check_every, folder, on_check)[0]


def cells_task(
    wl: Workload | str,
    cells: list[dict],
    device: Any,
    check_every: int | None,
    folder: str | None,
    on_check: Callable[[int], None] | None = None,
) -> list[tuple[dict, bool]]:
    """:func:`cell_task` for cells of one batch size that differ only in their optimizer,
    rate, hyperparameters and target: those not in the store are claimed (in the order of
    their files' names, so that two tasks never wait for each other) and computed together,
    one stacked training run per seed for the settings that have the same targets to
    compute. A cell given twice is computed once."""
    shared = ("version", "workload", "batch_size", "seeds", "max_steps", "check_every", "near")
    for cell in cells[1:]:
        if differ := {k: cell[k] for k in shared if cell[k] != cells[0][k]}:
            raise validation.value_error(
                "cells", differ, f"cells that agree with the first on {', '.join(shared)}"
            )
    out: list[tuple[dict, bool] | None] = [None] * len(cells)
    if folder is None:
        return [(r, True) for r in _computed(wl, cells, device, check_every, on_check)]
    missing = []
    for i, cell in enumerate(cells):
        try:
            found = read_cell(folder, cell)
        except DamagedCellError as damage:
            quarantine([damage])
            found = None
        if found is None:
            missing.append(i)
        else:
            out[i] = (found, False)
    copies: dict[str, list[int]] = {}  # a missing cell's file name -> its places in cells
    for i in missing:
        copies.setdefault(cell_path(folder, cells[i]).name, []).append(i)
    with contextlib.ExitStack() as claims:
        todo = []
        for name in sorted(copies):
            first = copies[name][0]
            found = claims.enter_context(claim(folder, cells[first]))
            if found is None:
                todo.append(name)
            else:
                for i in copies[name]:
                    out[i] = (found, False)
        if todo:
            chosen = [cells[copies[name][0]] for name in todo]
            records = _computed(wl, chosen, device, check_every, on_check)
            for name, record in zip(todo, records, strict=True):
                written = write_cell(folder, record)
                for i in copies[name]:
                    out[i] = (written, True)
    return out


def _computed(
    wl: Workload | str, cells: list[dict], device: Any, check_every, on_check
) -> list[dict]:
    """The records of ``cells`` (see :func:`cells_task`), computed here."""
    if isinstance(wl, str):
        wl = _workload(wl)
        if wl.key != cells[0]["workload"]:
            raise ValueError(
                f"workload {wl.name!r} built on worker {worker_name()} differs from the "
                f"driver's (other data or model?): {wl.key} != {cells[0]['workload']}"
            )
    return _run_cells(wl, cells, worker_device(device), check_every, on_check)


def _rows(record: dict, cached: bool, hyper_columns: Sequence[str]) -> list[dict]:
    key = record["key"]
    common = {
        "workload": key["workload_name"],
        "optimizer": key["optimizer"],
        "batch_size": key["batch_size"],
        "lr": key["lr"],
        **{h: key["hyper"].get(h, math.nan) for h in hyper_columns},
        "target": key["target"],
        "max_steps": key["max_steps"],
        "check_every": record["check_every"],
        "wall_time": record["wall_time"],
        "device": record["device"],
        "worker": record.get("worker"),
        "cached": cached,
    }
    return [
        {**common, "seed": seed, "steps": steps, "reached": steps >= 0, "reason": reason}
        for seed, steps, reason in zip(key["seeds"], record["steps"], record["reason"], strict=True)
    ]


_KEY_COLUMNS = ["workload", "optimizer", "batch_size", "lr"]
_RUN_COLUMNS = [
    "seed",
    "steps",
    "reached",
    "reason",
    "target",
    "max_steps",
    "check_every",
    "wall_time",
    "device",
    "worker",
    "cached",
]


def sweep(
    workload: str | Workload,
    optimizers: str | Sequence[str],
    batch_sizes: int | Sequence[int],
    *,
    lr: float | Sequence[float] | Mapping[str, float | Sequence[float]] | None = None,
    seeds: Sequence[int] | int,
    target: str | Sequence[str] | None,
    max_steps: int,
    store: str | os.PathLike | None = None,
    progress: bool | None = None,
    device: str | None = None,
    executor: concurrent.futures.Executor | Any = None,
    check_every: int | None = None,
    near: float | None = None,
    **hyper: float | Sequence[float],
) -> pd.DataFrame:
    r"""Steps to ``target`` for every optimizer x batch size x learning rate, one row per seed.

    ``optimizers``: registered names (:data:`~batchsteps.train.OPTIMIZERS`); ``batch_sizes``:
    integers >= 1. ``lr``: a number, a list (a grid: one cell per value), a dict optimizer ->
    number or list (an entry for each optimizer swept, and for no other), or ``None``: each
    optimizer's registered grid (``spec(o).rates``). ``hyper`` (``beta``, ``beta1``, ``beta2``,
    ``eps``, or a registered optimizer's own; a number or a list) applies to the optimizers
    that take it; those not given take the defaults (:data:`~batchsteps.train.DEFAULTS`),
    recorded in the result. Every list (optimizers, batch sizes, rates, hyperparameter values)
    holds distinct values: a value given twice is a ``ValueError`` naming it. ``store``: a
    folder (a str or ``os.PathLike``) where each finished cell is written atomically as JSON;
    a rerun reads finished cells and computes only the rest; it may be shared by concurrent
    sweeps and workers
    (first writer of a cell wins; see the module's docstring). A damaged cell is moved aside
    and recomputed (one :class:`~batchsteps.train.StoreWarning` names them), a cell of a
    newer format raises :class:`~batchsteps.train.StoreVersionError`, and a store that
    cannot be written (read-only, full disk) raises ``OSError`` naming it, before any work
    when it cannot be written at all; a read-only store holding every cell is read as usual.
    ``KeyboardInterrupt`` keeps the finished cells and says how many (a warning), then
    propagates. ``target``: ``"loss<=x"``, ``"grad_norm_sq<=x"``, ``"accuracy>=x"``,
    ``None`` (no checks: every run takes ``max_steps``) or a list of distinct targets: one
    cell per target, and the cells that differ only in their target are computed along one
    training run per seed (:func:`~batchsteps.train.measure_targets`; each gets the steps it
    would get alone and an even share of the run's ``wall_time``). ``progress``: a bar over
    the cells (``tqdm.auto``: a widget in Jupyter, text in a terminal); ``None`` shows it
    everywhere but in the book's build. ``check_every`` and ``near``: the engine's check
    cadence and replay margin (:func:`~batchsteps.train.measure_steps`; ``None``: its
    defaults); both are part of a cell's key, so a stored cell is reused only with the same
    values.

    ``executor``: ``None`` runs the cells here, on a CPU the settings of one batch size
    stacked into one training run (:func:`~batchsteps.train.measure_stacked`: the same steps
    as alone, fewer seconds at small batches; at most ``batchsteps.train.sweeps.STACK_ROWS``
    rows a stack); a ``concurrent.futures.Executor`` (a process pool,
    ``dask.distributed.Client.get_executor()``) or a Dask ``Client`` runs each setting (its
    cells for every target) as one task. A task reads its cells from the store if they are
    there, else computes and commits them, so a retried or duplicated task is harmless.
    With a store, it must be a path every worker sees (a shared filesystem on a cluster). A
    workload given by name is built by each worker from its own data (checked against the
    driver's by its key); a ``Workload`` object is pickled with every task.

    ``device``: ``"auto"`` is the device assigned to the process that runs the cell
    (``BATCHSTEPS_DEVICE``, else one GPU per Dask worker: :mod:`batchsteps.train.cluster`);
    ``None`` is CUDA if present, else CPU, in this process, and ``"auto"`` with an executor;
    or any torch device, the same for every worker.

    Returns a DataFrame with columns workload, optimizer, batch_size, lr, one per
    hyperparameter of the registered optimizers (:func:`~batchsteps.train.hyper_names`: beta,
    beta1, beta2, eps for the built-in ones; ``nan`` where an optimizer has none), seed,
    steps (-1 where not reached), reached, reason, target, max_steps, check_every, wall_time
    (seconds for the whole cell), device, worker (who computed the cell), cached
    (read from the store, not computed by this call). Whichever executor ran it, the frame is
    the same apart from the provenance columns wall_time, device, worker and cached.
    """
    wl = _workload(workload)
    opts = _values("optimizers", optimizers, validation.string)
    declared = {o: spec(o) for o in opts}  # validates the names
    sizes = _values("batch_sizes", batch_sizes, partial(validation.integer, low=1))
    lrs = _lr_grid(lr, opts)
    seeds = check_seeds(seeds)
    max_steps = validation.integer("max_steps", max_steps, low=1)
    targets = _targets(target)
    if check_every is not None:
        check_every = validation.integer("check_every", check_every, low=1)
    for k in hyper:
        if not any(k in d.hyper for d in declared.values()):
            raise TypeError(f"sweep got unexpected keyword {k!r}: no optimizer in {opts} takes it")
    hyper_grids = {o: _hyper_grid(declared[o], hyper) for o in opts}
    if store is not None:
        store = validation.path("store", store)
    pool = as_executor(executor)
    if device != "auto" and (device is not None or pool is None):
        # checked here; None and "auto" resolve where cells run
        device = str(resolve_device(device))
    folder = None
    if store is not None:
        folder = Path(store)
        if folder.exists() and not folder.is_dir():
            raise validation.value_error(
                "store", store, "a folder, or a path where one can be made"
            )
        folder.mkdir(parents=True, exist_ok=True)

    cells, groups = [], []  # groups: per setting, its cells (one per target)
    for o in opts:
        for b in sizes:
            for rate in lrs[o]:
                for h in hyper_grids[o]:
                    groups.append(list(range(len(cells), len(cells) + len(targets))))
                    cells.extend(
                        {
                            "version": RESULT_VERSION,
                            "workload": wl.key,
                            "workload_name": wl.name,
                            "optimizer": o,
                            "batch_size": b,
                            "lr": rate,
                            "hyper": h,
                            "seeds": seeds,
                            "target": text,
                            "max_steps": max_steps,
                            "check_every": check_every,
                            "near": near,
                        }
                        for text in targets
                    )

    records: list[tuple[dict, bool] | None] = [None] * len(cells)
    todo, damaged = [], []
    for i, cell in enumerate(cells):
        found = None
        if folder is not None:
            try:
                found = read_cell(folder, cell)
            except DamagedCellError as damage:
                damaged.append(damage)
        if found is not None:
            records[i] = (found, True)
        else:
            todo.append(i)
    if folder is not None and todo:
        check_writable(folder)  # before any work: a read-only store fails here, not later
    quarantine(damaged)
    progress = show_progress(progress)
    bar = tqdm(
        total=len(cells),
        initial=len(cells) - len(todo),
        desc="cells",
        unit="cell",
        disable=not progress,
    )
    where = None if folder is None else str(folder)
    started, per_worker = time.monotonic(), {}
    waiting = set(todo)
    groups = [task for g in groups if (task := [i for i in g if i in waiting])]
    # stacks on a CPU only: there they pay, and the steps are those of the cells alone
    tasks = _stacks(groups, cells) if pool is None and device == "cpu" else groups

    def finish(i: int, outcome: tuple[dict, bool]) -> None:
        record, computed = outcome
        if folder is not None and not cell_path(folder, cells[i]).exists():
            record = write_cell(folder, record)  # a worker that does not see the store
        records[i] = (record, not computed)
        who = record.get("worker")
        per_worker[who] = per_worker.get(who, 0) + 1
        bar.update(1)
        if pool is not None:
            minutes = max(time.monotonic() - started, 1e-9) / 60
            rates = " ".join(f"{w}:{n / minutes:.1f}/min" for w, n in sorted(per_worker.items()))
            bar.set_postfix_str(rates, refresh=False)

    futures: dict[concurrent.futures.Future, list[int]] = {}
    try:
        try:
            if pool is None:
                for task in tasks:
                    cell, settings = cells[task[0]], len({_setting(cells[i]) for i in task})
                    label = (
                        f"{cell['optimizer']} b={cell['batch_size']} lr={cell['lr']:g}"
                        if settings == 1
                        else f"b={cell['batch_size']}, {settings} settings"
                    )
                    bar.set_postfix_str(f"{label} step 0")

                    def show(step: int, label: str = label) -> None:
                        bar.set_postfix_str(f"{label} step {step}", refresh=False)

                    on_check = show if progress else None
                    group = [cells[i] for i in task]
                    outcomes = cells_task(wl, group, device, check_every, where, on_check)
                    for i, outcome in zip(task, outcomes, strict=True):
                        finish(i, outcome)
            else:
                # a registered workload given by name travels as its name, not its data
                ship = workload if isinstance(workload, str) and workload in WORKLOADS else wl
                for task in tasks:
                    group = [cells[i] for i in task]
                    future = pool.submit(cells_task, ship, group, device, check_every, where)
                    futures[future] = task
                for future in concurrent.futures.as_completed(futures):
                    for i, outcome in zip(futures[future], future.result(), strict=True):
                        finish(i, outcome)
        finally:
            bar.close()
    except KeyboardInterrupt:
        for future in futures:
            future.cancel()  # those not started; a running one still commits its cell
        warnings.warn(_interrupted(cells, records, folder), stacklevel=2)
        raise
    columns = hyper_names()
    rows = [row for rec, cached in records for row in _rows(rec, cached, columns)]
    return pd.DataFrame(rows, columns=[*_KEY_COLUMNS, *columns, *_RUN_COLUMNS])


def _stacks(groups: list[list[int]], cells: list[dict]) -> list[list[int]]:
    """The tasks of a sweep run in this process: the settings' cell groups of one batch size
    joined into stacks of at most :data:`STACK_ROWS` rows (seeds x settings x batch size),
    in the order of the groups' first appearance."""
    by_size: dict[int, list[list[int]]] = {}
    for group in groups:
        by_size.setdefault(cells[group[0]]["batch_size"], []).append(group)
    tasks = []
    for size, same in by_size.items():
        rows = len(cells[same[0][0]]["seeds"]) * size
        per_task = max(1, STACK_ROWS // rows)
        for start in range(0, len(same), per_task):
            tasks.append([i for group in same[start : start + per_task] for i in group])
    return tasks


def _targets(target: Any) -> list[str | None]:
    """The target texts of a sweep: ``[None]``, one, or several distinct ones."""
    if target is None or isinstance(target, str | Target):
        parsed = [parse_target(target)]
    else:
        parsed = parse_targets(target, "target")
    return [None if t is None else t.text for t in parsed]


def _interrupted(cells: list[dict], records: list, folder: Path | None) -> str:
    """What an interrupted sweep kept, for the user who interrupted it."""
    computed = sum(1 for r in records if r is not None and not r[1])
    if folder is None:
        return (
            f"sweep interrupted after {computed} of {len(cells)} cells; without store= none of "
            f"them is kept (give a store= folder to keep finished cells across interrupts)"
        )
    paths = {cell_path(folder, cell) for cell in cells}
    kept = sum(path.is_file() for path in paths)
    return (
        f"sweep interrupted: {kept} of {len(paths)} cells are kept in the store "
        f"{str(folder)!r} ({computed} computed by this call), no partial cell; the same call "
        f"again computes only the other {len(paths) - kept}"
    )
