"""Where the time of the book's Part II sweep goes: training, target checks, the rest.

    .venv/bin/python benchmarks/profile_sweep.py               # book scale, in one process
    .venv/bin/python benchmarks/profile_sweep.py --reduced     # a few minutes: fewer cells
    .venv/bin/python benchmarks/profile_sweep.py --reduced --pool   # and its process pool
    .venv/bin/python benchmarks/profile_sweep.py --reduced --cprofile   # op-level breakdown

Runs ``batchsteps.experiments.measure(experiment("digits", "book"))`` (tuning, then every
optimizer x target x batch size) into a fresh store under /tmp, so nothing is reused, in this
process on one thread. The problem's ``loss_grad``, ``measure`` and ``bounded_loss``, the
registered optimizers' update functions (registered again as timed copies, here only) and the
sampler's ``batch`` are wrapped (public methods, patched on their classes here only) to count
their calls, time them and add up their FLOPs from the shapes they see:

- a training step of R replicas at batch b: ``R gradient_flops(b)`` (forward and backward
  products of 64-128-10, see ``benchmarks/engine.py``) plus the update, per parameter 2
  FLOPs (SGD), 4 (momentum) or 13 (Adam: moments 7, square root, bias corrections and the
  step 6);
- a full-data check of R replicas on all n = 1797 rows: ``R forward_flops(n)`` (loss,
  accuracy) or ``R gradient_flops(n)`` (squared gradient norm);
- a loss target's check after every step (``bounded_loss``): a forward pass over the rows
  it computed, counted as the entries of its ``scores`` that the call changed (every row
  whose loss it computed, unless the loss came out bitwise as before).

Reported: the split of the CPU time (one thread: the time the sweep had a core; wall-clock
time on a shared machine also counts waits) between set-up (data, problem), training, checks,
the engine's own bookkeeping (the cells' time minus the wrapped calls) and
the sweep around the cells (store, frames); achieved GFLOP/s of training and of checks
against the fp32 GEMM peak measured here; with ``--pool``, the same experiment run again
through its process pool (``experiment.workers`` processes, fresh store) for the cost of
scheduling; with ``--cprofile``, the 25 functions with the most own time.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import functools
import importlib
import itertools
import os
import platform
import pstats
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable

import torch
from engine import forward_flops, gradient_flops, matmul_peak

import batchsteps.experiments as ex
from batchsteps.train import OPTIMIZERS, register, unregister
from batchsteps.train.problems import StackedMLP
from batchsteps.train.sampling import Sampler

SIZES = (64, 128, 10)
#: FLOPs per parameter of one update (see the module docstring).
UPDATE_FLOPS = {"sgd": 2, "momentum": 4, "nesterov": 6, "adam": 13, "amsgrad": 14}
PARAMETERS = sum(a * b + b for a, b in itertools.pairwise(SIZES))
#: The wrapped call that contains the others: one cell of the engine.
CELL = "engine runs (cells)"
CHECKS = "checks: full-data measure"
BOUND = "checks: loss bound, every step"


class Tally:
    """Calls, seconds, FLOPs and replica-steps per category, filled by the wrappers."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = defaultdict(int)
        self.seconds: dict[str, float] = defaultdict(float)
        self.flops: dict[str, float] = defaultdict(float)
        self.replica_steps = 0
        self.bound_rows: list[float] = []  # per bound call: share of the replicas' rows computed

    def timed(self, original: Callable, category: str, flops: Callable) -> Callable:
        """A timed, counted copy of ``original``."""

        @functools.wraps(original)
        def timed(*args, **kwargs):
            start = time.process_time()
            out = original(*args, **kwargs)
            self.seconds[category] += time.process_time() - start
            self.calls[category] += 1
            self.flops[category] += flops(*args, **kwargs)
            return out

        return timed

    def wrap(self, owner: object, name: str, category: str, flops: Callable) -> Callable:
        """Replace ``owner.name`` by a timed, counted copy; returns the original."""
        original = getattr(owner, name)
        setattr(owner, name, self.timed(original, category, flops))
        return original


def _step_flops(tally: Tally, problem, params, batch) -> float:
    replicas, rows = batch.shape[0], batch.shape[1]
    tally.replica_steps += replicas
    return replicas * gradient_flops(SIZES, rows)


def _check_flops(problem, params, what) -> float:
    count = gradient_flops if what == "grad_norm_sq" else forward_flops
    return params[0].shape[0] * count(SIZES, problem.n)


def timed_bound(tally: Tally) -> None:
    """Wrap ``bounded_loss``: timed, and its FLOPs counted from the rows whose scores changed."""
    original = StackedMLP.bounded_loss

    @functools.wraps(original)
    def bounded(problem, params, threshold, scores):
        before = scores.clone()
        start = time.process_time()
        out = original(problem, params, threshold, scores)
        tally.seconds[BOUND] += time.process_time() - start
        tally.calls[BOUND] += 1
        rows = int((scores != before).sum())
        tally.flops[BOUND] += forward_flops(SIZES, rows)
        tally.bound_rows.append(rows / scores.numel())
        return out

    StackedMLP.bounded_loss = bounded


def _update_flops(name: str, params, grads, state, k, lr, hyper) -> float:
    return params[0].shape[0] * PARAMETERS * UPDATE_FLOPS.get(name, 4)


def instrument(tally: Tally) -> None:
    """Wrap the four methods the engine spends its time in (see the module docstring)."""
    step = functools.partial(_step_flops, tally)
    tally.wrap(StackedMLP, "loss_grad", "train: forward+backward", step)
    tally.wrap(StackedMLP, "measure", CHECKS, _check_flops)
    timed_bound(tally)
    # the engine calls each registered optimizer's update function: register timed copies
    for declared in [unregister(name) for name in list(OPTIMIZERS)]:
        flops = functools.partial(_update_flops, declared.name)
        step = tally.timed(declared.step, "train: optimizer update", flops)
        register(dataclasses.replace(declared, step=step))
    tally.wrap(Sampler, "batch", "train: batch indices", lambda *a, **k: 0.0)
    # one run of the engine: for the cells of one batch size, stacked (``batchsteps.train.sweeps``)
    sweeps_module = importlib.import_module("batchsteps.train.sweeps")
    tally.wrap(sweeps_module, "measure_stacked", CELL, lambda *a, **k: 0.0)


def reduced(exp: ex.Experiment) -> ex.Experiment:
    """A few-minute variant: 3 batch sizes, 3 seeds, the same optimizers, targets and rule."""
    return dataclasses.replace(exp, batch_sizes=(8, 64, 512), seeds=(0, 1, 2), skip_after=None)


def run_sweep(exp: ex.Experiment) -> tuple[ex.Measured, float, float]:
    """``measure`` into a fresh store under /tmp; the result, its wall-clock seconds and the
    CPU seconds of this process (the workers' not included)."""
    with tempfile.TemporaryDirectory(prefix="profile-sweep-") as store:
        wall, cpu = time.perf_counter(), time.process_time()
        measured = ex.measure(exp, store=store)
        return measured, time.perf_counter() - wall, time.process_time() - cpu


def report(
    exp: ex.Experiment, tally: Tally, measured: ex.Measured, times: tuple[float, float], peak: float
) -> None:
    """The split of CPU time (one thread: the time the sweep ran on a core) and its FLOP rates."""
    elapsed, cpu = times
    cells = tally.seconds[CELL]
    inside = sum(sec for c, sec in tally.seconds.items() if c != CELL)
    print(f"## in one process, one thread: {exp.name} at scale {exp.scale}\n")
    tuning = len(measured.tuning.table)
    print(f"- engine runs: {tally.calls[CELL]} for the {measured.cost.cells} cells of the sweep "
          f"and the {tuning} of tuning (the settings and targets of one batch size share a run, "
          f"see `batchsteps.train.sweeps.STACK_ROWS`), {len(exp.seeds)} seeds a sweep "
          f"cell")  # fmt: skip
    print(f"- replica-steps trained: {tally.replica_steps:,}; the sweep's runs needed "
          f"{measured.cost.replica_steps:,} (the rest: tuning, steps past the target up to the "
          f"next check, replays)")  # fmt: skip
    print(f"- measure(): {elapsed:.1f} s wall-clock, {cpu:.1f} s CPU; the engine runs "
          f"{cells:.1f} s CPU. Seconds below are CPU seconds.\n")  # fmt: skip
    print("| part | calls | seconds | % of CPU | GFLOP | GFLOP/s | % of GEMM peak |")
    print("|---|---|---|---|---|---|---|")
    for category in sorted(c for c in tally.seconds if c != CELL):
        sec, flop = tally.seconds[category], tally.flops[category]
        rate = flop / sec / 1e9 if sec else 0.0
        print(f"| {category} | {tally.calls[category]:,} | {sec:.1f} | {100 * sec / cpu:.0f}% "
              f"| {flop / 1e9:.1f} | {rate:.2f} | {100 * rate / peak:.0f}% |")  # fmt: skip
    for name, sec in (
        ("engine's own work in the cells (loop, snapshots, replay logic, init)", cells - inside),
        ("sweep around the cells (store, frames, tuning rule)", cpu - cells),
    ):
        print(f"| {name} | | {sec:.1f} | {100 * sec / cpu:.0f}% | | | |")
    total = sum(tally.flops.values())
    rate = total / cpu / 1e9
    print(f"| **all** | | {cpu:.1f} | 100% | {total / 1e9:.1f} | {rate:.2f} "
          f"| {100 * rate / peak:.0f}% |")  # fmt: skip
    if tally.bound_rows:
        share = sorted(tally.bound_rows)
        median, mean = share[len(share) // 2], sum(share) / len(share)
        every = sum(x > 0.999 for x in share) / len(share)
        print(f"\nloss bound: share of the replicas' rows computed per call, median "
              f"{100 * median:.1f}%, mean {100 * mean:.1f}%; all rows in {100 * every:.1f}% "
              f"of the calls")  # fmt: skip
    train = [c for c in tally.seconds if c.startswith("train")]
    t_sec = sum(tally.seconds[c] for c in train)
    t_flop = sum(tally.flops[c] for c in train)
    print(f"\ntraining altogether: {t_sec:.1f} s, {t_flop / t_sec / 1e9:.2f} GFLOP/s "
          f"({100 * t_flop / t_sec / 1e9 / peak:.0f}% of peak); "
          f"{tally.replica_steps / t_sec:.0f} replica-steps/s")  # fmt: skip


def per_batch(measured: ex.Measured) -> None:
    """Seconds per sweep cell by batch size (cells computed by this run)."""
    frame = measured.frame.drop_duplicates(["measure", "optimizer", "batch_size", "lr"])
    table = frame.groupby("batch_size")["wall_time"].agg(["count", "sum", "median"])
    print("\n| batch | cells | wall-clock s | median wall s / cell |")
    print("|---|---|---|---|")
    for b, row in table.iterrows():
        print(f"| {b} | {row['count']} | {row['sum']:.1f} | {row['median']:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reduced", action="store_true", help="3 batch sizes x 3 seeds")
    parser.add_argument("--pool", action="store_true", help="also run through the process pool")
    parser.add_argument("--cprofile", action="store_true", help="print the top own-time calls")
    parser.add_argument("--save", metavar="CSV", help="write the runs (steps per seed) here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    exp = ex.experiment("digits", "book")
    if args.reduced:
        exp = reduced(exp)
    print(f"# profile of the Part II sweep ({platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__})\n")  # fmt: skip
    print(f"load average before: {os.getloadavg()}\n")
    start = time.perf_counter()
    ex.initial_values(exp, 1)  # set-up: the workload's data and problem, built once
    print(f"set-up (data, problem): {time.perf_counter() - start:.2f} s\n")
    peak = matmul_peak()
    print(f"fp32 GEMM peak (2048^3 matmul, best of 5, CPU time): {peak:.1f} GFLOP/s\n")
    tally = Tally()
    instrument(tally)
    serial = dataclasses.replace(exp, workers=1)
    profiler = cProfile.Profile() if args.cprofile else None
    if profiler is not None:
        profiler.enable()
    measured, wall, cpu = run_sweep(serial)
    if profiler is not None:
        profiler.disable()
    report(serial, tally, measured, (wall, cpu), peak)
    per_batch(measured)
    if args.save:
        columns = ["measure", "optimizer", "batch_size", "lr", "seed", "steps", "reason"]
        measured.frame[columns].to_csv(args.save, index=False)
    if profiler is not None:
        print("\n```")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        print("```")
    print(f"\nload average after the in-process run: {os.getloadavg()}")
    if args.pool:
        pooled, pool_wall, _ = run_sweep(exp)
        same = (pooled.frame["steps"].to_numpy() == measured.frame["steps"].to_numpy()).all()
        print(f"\n## through the process pool ({exp.workers} processes of one thread)\n")
        print(f"- wall {pool_wall:.1f} s against {wall:.1f} s in one process "
              f"({wall / pool_wall:.2f}x; ideal {exp.workers}x); same steps: {same}")  # fmt: skip
        print(f"- the cells' wall_time sums to {pooled.cost.seconds:.1f} s on the workers "
              f"(against {measured.cost.seconds:.1f} s in one process)")  # fmt: skip
        print(f"\nload average after the pool run: {os.getloadavg()}")


if __name__ == "__main__":
    main()
