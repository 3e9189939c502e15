r"""Running the book's experiments: the result store, worker processes, the learning-rate rule
and the shared Part II sweep.

Part II measures the steps :math:`K(b)` to a target against the batch size :math:`b` for
several optimizers, each at one constant learning rate. Several chapters show parts of the
same measurement, so it is run here once:

- :func:`tune_rates` applies the book's learning-rate rule (:func:`rate_rule`): on a factor-2
  grid, the rate with the fewest steps to the loss target at one large batch size, halved;
- :func:`measure` runs (or reads from the result store) the whole sweep of an experiment:
  every optimizer at its tuned rate, every batch size, every target; with a pool of worker
  processes one curve (optimizer, rate) with all its targets per task, without one the
  curves of a batch size together (see :func:`run_curves`).

The result store is a folder of JSON cells (see :func:`batchsteps.train.sweep`), named by
:func:`store_folder`: the argument ``store``, else ``$BATCHSTEPS_STORE`` (the book's build sets
it to ``_build/stores``), else the user's cache folder. A chapter that finds the cells
computed by another chapter of the same build reads them.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .. import validation
from ..environment import show_progress, store_root, worker_limit
from ..train import Workload, parse_target, resolve_device, sweep, workload
from .config import Experiment, current_scale, experiment

__all__ = [
    "store_folder",
    "worker_pool",
    "run_tasks",
    "run_curves",
    "measure_curves",
    "Tuning",
    "rate_rule",
    "tune_rates",
    "Cost",
    "Measured",
    "measure",
    "check_measured",
    "initial_values",
]


def store_folder(exp: Experiment | str, store: str | os.PathLike | None = None) -> Path:
    """Folder of ``exp``'s result cells: ``store`` if given, else ``$BATCHSTEPS_STORE``, else
    the user's cache folder (``batchsteps.environment.store_root``); then
    ``/<scale>/<name>``. The book's build keeps its store in ``_build/stores``. ``exp`` may
    also be a name of your own (a folder name: letters, digits, ``-``, ``_`` and ``.``), at
    the current scale, for a sweep of your own such as :func:`tuned_sweep`'s ``store``."""
    if isinstance(exp, Experiment):
        return store_root(store) / exp.scale / exp.name
    name = validation.string("exp", exp, nonempty=True)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise validation.value_error(
            "exp", name, "an Experiment or a folder name of letters, digits, '-', '_' and '.'"
        )
    return store_root(store) / current_scale() / name


# ---------------------------------------------------------------------------------------------
# Running: curves (optimizer, rate) with all their targets, batch sizes from the largest down


_WORKLOADS: dict[str, Workload] = {}


def _workload(exp: Experiment) -> Workload:
    key = f"{exp.workload}:{sorted(exp.workload_options.items())}"
    if key not in _WORKLOADS:
        _WORKLOADS[key] = workload(exp.workload, **dict(exp.workload_options))
    return _WORKLOADS[key]


def _init_worker() -> None:
    torch.set_num_threads(1)


def _tune_one(exp: Experiment, optimizer: str, folder: str) -> pd.DataFrame:
    return sweep(
        _workload(exp), optimizer, [exp.tune_batch], lr=list(exp.lr_grid[optimizer]),
        seeds=list(exp.tune_seeds), target=exp.tune_target, max_steps=exp.tune_max_steps,
        store=folder, progress=False, device=exp.device,
    )  # fmt: skip


def run_curves(
    exp: Experiment, curves: Sequence[tuple[str, float]], measures: Sequence[str], folder: str
) -> list[dict[str, tuple[pd.DataFrame, list[int]]]]:
    """Runs of each curve ``(optimizer, rate)`` of ``curves`` to each target of ``measures``
    (stored in ``folder``), batch sizes from the largest down, each curve and measure with its
    own ``skip_after`` rule. At one batch size the curves that still measure the same targets
    are one sweep: one training run per seed for all those targets, and all the curves in
    one stack (see :func:`~batchsteps.train.sweep`). Per curve, per measure: its runs and
    the batch sizes its rule skipped."""
    frames = [{m: [] for m in measures} for _ in curves]
    skipped = [{m: [] for m in measures} for _ in curves]
    misses = [dict.fromkeys(measures, 0) for _ in curves]
    limit = math.inf if exp.skip_after is None else exp.skip_after
    texts = {m: parse_target(exp.targets[m]).text for m in measures}
    for b in sorted(exp.batch_sizes, reverse=True):
        same: dict[tuple[str, ...], list[int]] = {}  # active measures -> curves
        for c, miss in enumerate(misses):
            active = tuple(m for m in measures if miss[m] < limit)
            for m in measures:
                if m not in active:
                    skipped[c][m].append(b)
            if active:
                same.setdefault(active, []).append(c)
        for active, chosen in same.items():
            rates: dict[str, list[float]] = {}
            for c in chosen:
                rates.setdefault(curves[c][0], []).append(curves[c][1])
            frame = sweep(
                _workload(exp), list(rates), [b], lr=rates, seeds=list(exp.seeds),
                target=[exp.targets[m] for m in active], max_steps=exp.max_steps,
                store=folder, progress=False, device=exp.device,
            )  # fmt: skip
            for c in chosen:
                optimizer, lr = curves[c]
                mine = frame[(frame["optimizer"] == optimizer) & (frame["lr"] == lr)]
                for m in active:
                    part = mine[mine["target"] == texts[m]].reset_index(drop=True)
                    part.insert(0, "measure", m)
                    frames[c][m].append(part)
                    misses[c][m] = 0 if part["reached"].any() else misses[c][m] + 1
    return [
        {m: (pd.concat(frames[c][m], ignore_index=True), sorted(skipped[c][m])) for m in measures}
        for c in range(len(curves))
    ]


def measure_curves(
    pool: Executor | None,
    exp: Experiment,
    curves: Sequence[tuple[str, float]],
    measures: Sequence[str],
    folder: str,
    label: str,
) -> list[dict[str, tuple[pd.DataFrame, list[int]]]]:
    """:func:`run_curves` for ``curves``, in their order: in a pool one task a curve (its
    workers run them side by side), else all in one call (the curves of a batch size
    stacked); ``label`` names the progress bar (:func:`run_tasks`)."""
    if pool is None:
        tasks = [(exp, list(curves), list(measures), folder)]
    else:
        tasks = [(exp, [curve], list(measures), folder) for curve in curves]
    return [curve for task in run_tasks(pool, tasks, run_curves, label) for curve in task]


def worker_pool(exp: Experiment) -> ProcessPoolExecutor | None:
    """A pool of ``exp.workers`` fresh processes (spawned: no state shared with a notebook's
    kernel), at most ``$BATCHSTEPS_WORKERS`` (:func:`batchsteps.environment.worker_limit`), or
    ``None`` to run in this process."""
    workers = worker_limit(exp.workers)
    if workers <= 1:
        return None
    try:
        context = mp.get_context("spawn")
        return ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker)
    except (OSError, NotImplementedError):  # no process support here: run in this process
        return None


def run_tasks(
    pool: Executor | None, tasks: list[tuple], function: Callable[..., Any], label: str
) -> list:
    """``function(*task)`` for every task, in the pool if any, in order; one progress bar over
    the tasks (``tqdm.auto``: a widget in Jupyter, text in a terminal, none in the book build)."""
    with tqdm(total=len(tasks), desc=label, disable=not show_progress(None)) as bar:
        if pool is None or len(tasks) <= 1:
            results = []
            for task in tasks:
                results.append(function(*task))
                bar.update()
            return results
        futures = [pool.submit(function, *task) for task in tasks]
        for _ in as_completed(futures):
            bar.update()
        return [f.result() for f in futures]


# ---------------------------------------------------------------------------------------------
# The learning-rate rule


@dataclass(frozen=True)
class Tuning:
    r"""The learning-rate rule applied: per optimizer and grid rate, the median steps to the
    tuning target at the tuning batch size (``inf`` where a seed did not reach it);
    ``fastest`` the rate with the fewest (the smallest within the tolerance), ``lr`` the rate
    used, :math:`\alpha = \alpha_{\mathrm{fast}}/2`."""

    table: pd.DataFrame
    fastest: Mapping[str, float]
    lr: Mapping[str, float]
    batch_size: int
    target: str


def rate_rule(table: pd.DataFrame, tolerance: float) -> tuple[float, float]:
    r"""The book's rule on one optimizer's tuning ``table`` (columns ``lr``,
    ``median_steps``): :math:`\alpha_{\mathrm{fast}}`, the smallest rate whose median steps
    are within a factor ``1 + tolerance`` of the fewest, and the rate used,
    :math:`\alpha_{\mathrm{fast}}/2`.

    ``table``: a non-empty DataFrame, rates finite and > 0, median steps >= 0 (``inf`` for a
    rate that did not reach the target); ``tolerance``: a finite real number >= 0. A
    ``ValueError`` naming ``table`` when no rate reached the target (every median ``inf``).

    >>> rate_rule(pd.DataFrame({"lr": [0.1, 0.2, 0.4], "median_steps": [400, 205, 200]}), 0.1)
    (0.2, 0.1)
    """
    validation.instance("table", table, pd.DataFrame, "a pandas DataFrame (lr, median_steps)")
    validation.columns("table", table, ("lr", "median_steps"))
    validation.real_array("table['lr']", table["lr"], low=0, low_open=True)
    medians = validation.real_array(
        "table['median_steps']", table["median_steps"], low=0, finite=False
    )
    tolerance = validation.real("tolerance", tolerance, low=0)
    best = float(medians.min())
    if not math.isfinite(best):
        raise validation.value_error(
            "table",
            table["median_steps"].tolist(),
            "a table where some rate reached the tuning target (a finite median_steps; none "
            f"did on the grid {table['lr'].tolist()}: widen it)",
        )
    fastest = float(table.loc[table["median_steps"] <= (1 + tolerance) * best, "lr"].min())
    return fastest, fastest / 2.0


def tune_rates(exp: Experiment, store: str | os.PathLike | None = None) -> Tuning:
    r"""Apply the book's learning-rate rule to every optimizer of ``exp``.

    For each rate :math:`\alpha` on the optimizer's factor-2 grid, train
    ``len(exp.tune_seeds)`` seeds at :math:`b =` ``exp.tune_batch`` to ``exp.tune_target``;
    :math:`\alpha_{\mathrm{fast}}` is the rate with the fewest median steps (all seeds must
    reach; the smallest rate within ``exp.tune_tolerance`` of the fewest), and the rate used is
    :math:`\alpha_{\mathrm{fast}}/2`. For SGD's bound the fewest steps as
    :math:`b \to \infty`, :math:`K_{\min} = 2\Delta/(\alpha(2 - L\alpha)\varepsilon^2)`, are
    reached at :math:`\alpha = 1/L`, half the rate :math:`2/L` beyond which gradient descent on
    a quadratic diverges: large-batch training is fastest near that edge, so halving it
    estimates the bound's best rate without knowing :math:`L`. ``store``: the result store's
    root (:func:`store_folder`; ``None``: ``$BATCHSTEPS_STORE``, else the cache folder).
    """
    validation.instance("exp", exp, Experiment, "an Experiment (see experiment())")
    pool = worker_pool(exp)
    try:
        return _tune(exp, store, pool)
    finally:
        if pool is not None:
            pool.shutdown()


def _tune(exp: Experiment, store: str | os.PathLike | None, pool: Executor | None) -> Tuning:
    folder = str(store_folder(exp, store) / "tuning")
    frames = run_tasks(
        pool, [(exp, o, folder) for o in exp.optimizers], _tune_one, f"{exp.name}: tuning rates"
    )
    rows, fastest, chosen = [], {}, {}
    for o, frame in zip(exp.optimizers, frames, strict=True):
        for lr, group in frame.groupby("lr", sort=True):
            reached = bool(group["reached"].all())
            median = float(group["steps"].median()) if reached else math.inf
            rows.append((o, float(lr), median, int(group["reached"].sum()), len(group)))
    table = pd.DataFrame(rows, columns=["optimizer", "lr", "median_steps", "reached", "runs"])
    for o in exp.optimizers:
        fastest[o], chosen[o] = rate_rule(table[table["optimizer"] == o], exp.tune_tolerance)
    return Tuning(
        table, MappingProxyType(fastest), MappingProxyType(chosen), exp.tune_batch, exp.tune_target
    )


# ---------------------------------------------------------------------------------------------
# The sweep


@dataclass(frozen=True)
class Cost:
    r"""What a sweep cost: ``cells`` (optimizer x batch size x target, all seeds at once),
    ``cached`` of them read from the store, ``replica_steps`` (training steps summed over runs:
    the steps of runs that reached the target, ``max_steps`` for the others, an upper bound
    for diverged ones), ``sample_gradients`` (the same weighted by :math:`b`: the SFO cost),
    ``seconds`` (compute time of the cells when they ran, summed) and ``wall`` (seconds this
    call took, tuning included; small when everything came from the store)."""

    cells: int
    cached: int
    replica_steps: int
    sample_gradients: int
    seconds: float
    wall: float


def _cost(frame: pd.DataFrame, wall: float) -> Cost:
    steps = np.where(frame["reached"], frame["steps"], frame["max_steps"]).astype(np.int64)
    keys = ["measure", "optimizer", "batch_size", "lr"]
    cells = frame.drop_duplicates(keys)
    return Cost(
        cells=len(cells),
        cached=int(cells["cached"].sum()),
        replica_steps=int(steps.sum()),
        sample_gradients=int((steps * frame["batch_size"].to_numpy()).sum()),
        seconds=float(cells["wall_time"].sum()),
        wall=float(wall),
    )


@dataclass(frozen=True)
class Measured:
    """An experiment's measurements: ``frame`` (one row per run, the sweep's columns and
    ``measure``), ``skipped`` (``measure, optimizer, batch_size`` of the cells not run by the
    skip rule), the ``tuning`` that chose the rates, and the ``cost``."""

    experiment: Experiment
    tuning: Tuning
    frame: pd.DataFrame = field(repr=False)
    skipped: pd.DataFrame = field(repr=False)
    cost: Cost

    def runs(self, optimizer: str, measure: str) -> pd.DataFrame:
        """The runs of one optimizer to one target (``ValueError`` if not measured)."""
        exp = self.experiment
        validation.one_of("optimizer", optimizer, exp.optimizers, "an optimizer that was measured")
        validation.one_of("measure", measure, exp.targets, "a target that was measured")
        return self.frame[
            (self.frame["optimizer"] == optimizer) & (self.frame["measure"] == measure)
        ]


_MEMO: dict[tuple, Measured] = {}


def measure(
    name: str | Experiment = "digits",
    scale: str | None = None,
    store: str | os.PathLike | None = None,
) -> Measured:
    """Run (or read from the store) the whole sweep of experiment ``name`` (or of the
    :class:`Experiment` given): the learning-rate rule (:func:`tune_rates`), then every optimizer at
    its rate to every target at every batch size (from the largest down, with the
    experiment's skip rule). Cells already in the store are read, not recomputed; within one
    process the result of a named experiment is also kept in memory. ``scale``: ``"book"`` or
    ``"full"`` for a named experiment (``None``: ``$BATCHSTEPS_SCALE``, else ``"book"``);
    ``store``: as in :func:`tune_rates`."""
    exp = name if isinstance(name, Experiment) else experiment(name, scale)
    folder = store_folder(exp, store)
    key = (exp.name, exp.scale, str(folder))
    if not isinstance(name, Experiment) and key in _MEMO:
        return _MEMO[key]
    start = time.perf_counter()
    pool = worker_pool(exp)
    try:
        tuning = _tune(exp, store, pool)
        curves = [(o, tuning.lr[o]) for o in exp.optimizers]
        done = measure_curves(
            pool, exp, curves, list(exp.targets), str(folder / "sweep"),
            f"{exp.name}: steps-vs-batch curves",
        )  # fmt: skip
        results = dict(zip(exp.optimizers, done, strict=True))
    finally:
        if pool is not None:
            pool.shutdown()
    order = [(m, o) for m in exp.targets for o in exp.optimizers]
    frame = pd.concat([results[o][m][0] for m, o in order], ignore_index=True)
    skipped = pd.DataFrame(
        [(m, o, b) for m, o in order for b in results[o][m][1]],
        columns=["measure", "optimizer", "batch_size"],
    )
    measured = Measured(exp, tuning, frame, skipped, _cost(frame, time.perf_counter() - start))
    _MEMO[key] = measured
    return measured


def check_measured(measured: object, measure_name: object) -> None:
    """``TypeError`` unless ``measured`` is a :class:`Measured`, ``ValueError`` unless it
    measured the target ``measure_name``."""
    validation.instance("measured", measured, Measured, "a Measured (see measure())")
    validation.one_of("measure", measure_name, measured.experiment.targets, "a target measured")


def initial_values(exp: Experiment, seeds: int = 5) -> dict[str, float]:
    r"""Median over the first ``seeds`` seeds of each measure of ``exp.targets`` at the
    starting point :math:`\theta_0` (full training set), e.g. the loss and the squared
    gradient norm before any step: what a target is a fraction of."""
    validation.instance("exp", exp, Experiment, "an Experiment (see experiment())")
    seeds = validation.integer("seeds", seeds, low=1)
    problem = _workload(exp).problem(resolve_device(exp.device))
    with torch.no_grad():
        params = problem.init(list(range(int(seeds))))
        return {m: float(problem.measure(params, m).median()) for m in exp.targets}
