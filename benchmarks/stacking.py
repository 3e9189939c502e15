"""The book's sweeps with a batch size's settings in one stacked run, against one run a setting.

    .venv/bin/python benchmarks/stacking.py            # the four sweeps, 2 paired repeats
    .venv/bin/python benchmarks/stacking.py --quick    # small versions, for a smoke test

In one process on one thread, each sweep runs twice per repeat into fresh stores under /tmp,
in alternating order: **one run a setting** (``batchsteps.train.sweeps.STACK_ROWS = 0``: every
setting, an optimizer at one rate, is its own engine run, as before ``measure_stacked``) and
**stacked** (the default: a batch size's settings share one engine run,
:func:`batchsteps.train.measure_stacked`). The sweeps:

- **part2**: ``batchsteps.experiments.measure(experiment("digits", "book"))``, the shared
  Part II sweep (its tuning included: each optimizer's rate grid at one batch size);
- **fashion**: the same for ``experiment("fashion", "book")`` (the ``optimal`` chapter's);
- **tuned-digits** and **tuned-teacher-student**: the tuned-rate sweeps of the ``tuned``
  chapter (:func:`batchsteps.experiments.tuned_sweep`, three rates per batch size).

Reported: CPU seconds of each (one thread: the time it had a core), their ratio, and whether
the two give the same steps for every seed (they must: ``measure_stacked`` is exact); for
part2, the seconds by batch size (each cell's share of its run's ``wall_time``).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable

import pandas as pd
import torch

import batchsteps.experiments as ex
import batchsteps.train.sweeps as sweeps
from batchsteps.analysis import rate_grid

COLUMNS = ["optimizer", "batch_size", "lr", "target", "seed", "steps", "reason"]


def part2(quick: bool, name: str = "digits") -> Callable[[str], pd.DataFrame]:
    """Experiment ``name``'s sweep (``--quick``: 2 batch sizes, 3 seeds, no skip rule)."""
    exp = ex.experiment(name, "book")
    if quick:
        exp = dataclasses.replace(exp, batch_sizes=(4, 64), seeds=(0, 1, 2), skip_after=None)
    exp = dataclasses.replace(exp, workers=1)
    return lambda store: ex.measure(exp, store=store).frame


def tuned(workload: str, quick: bool) -> Callable[[str], pd.DataFrame]:
    """The ``tuned`` chapter's tuned-rate sweep of ``workload`` (fewer sizes with ``--quick``)."""
    if workload == "digits-mlp":
        sizes, base, cap, target, steps = [4, 8, 16, 32, 64, 128, 256, 512], 0.2, 1.6, 0.1, 1500
    else:
        sizes, base, cap, target, steps = [2, 4, 8, 16, 32, 64, 128, 256], 0.025, 0.4, 0.15, 3000
    if quick:
        sizes, steps = sizes[:2], 200
    grid = rate_grid(sizes, base_lr=base, base_batch=sizes[0], width=3, max_lr=cap)

    def run(store: str) -> pd.DataFrame:
        return ex.tuned_sweep(
            workload, "sgd", grid, seeds=3, target=f"loss<={target}", max_steps=steps,
            store=store, progress=False,
        ).runs  # fmt: skip

    return run


def timed(sweep: Callable[[str], pd.DataFrame], rows: int) -> tuple[float, pd.DataFrame]:
    """CPU seconds and runs of ``sweep`` into a fresh store, with ``STACK_ROWS = rows``."""
    saved = sweeps.STACK_ROWS
    sweeps.STACK_ROWS = rows
    try:
        with tempfile.TemporaryDirectory(prefix="stacking-") as store:
            start = time.process_time()
            frame = sweep(store)
            return time.process_time() - start, frame
    finally:
        sweeps.STACK_ROWS = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sweeps, one repeat")
    parser.add_argument("--repeats", type=int, default=2, help="paired repeats (default 2)")
    parser.add_argument("--only", nargs="+", help="these sweeps only (part2, fashion, ...)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    repeats = 1 if args.quick else args.repeats
    print(f"# stacked sweeps ({platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}, STACK_ROWS {sweeps.STACK_ROWS})\n")  # fmt: skip
    print(f"load average before: {os.getloadavg()}\n")
    cases = {
        "part2": part2(args.quick),
        "fashion": part2(args.quick, "fashion"),
        "tuned-digits": tuned("digits-mlp", args.quick),
        "tuned-teacher-student": tuned("teacher-student", args.quick),
    }
    if args.only:
        cases = {name: cases[name] for name in args.only}
    print("| sweep | one run a setting, CPU s | stacked, CPU s | ratio (median) | same steps |")
    print("|---|---|---|---|---|")
    by_size = pd.DataFrame()
    for name, sweep in cases.items():
        times = {0: [], sweeps.STACK_ROWS: []}
        frames = {}
        for repeat in range(repeats):
            order = [0, sweeps.STACK_ROWS] if repeat % 2 == 0 else [sweeps.STACK_ROWS, 0]
            for rows in order:
                seconds, frames[rows] = timed(sweep, rows)
                times[rows].append(seconds)
        alone, stacked = times[0], times[sweeps.STACK_ROWS]
        ratio = statistics.median(a / s for a, s in zip(alone, stacked, strict=True))
        key = [c for c in COLUMNS if c in frames[0].columns]
        same = (
            frames[0][key]
            .reset_index(drop=True)
            .equals(frames[sweeps.STACK_ROWS][key].reset_index(drop=True))
        )
        print(f"| {name} | {', '.join(f'{t:.1f}' for t in alone)} "
              f"| {', '.join(f'{t:.1f}' for t in stacked)} | {ratio:.2f}x | "
              f"{'yes' if same else 'NO'} |")  # fmt: skip
        if name == "part2":
            cells = {
                rows: frame.drop_duplicates(["measure", "optimizer", "batch_size", "lr"])
                .groupby("batch_size")["wall_time"]
                .sum()
                for rows, frame in frames.items()
            }
            by_size = pd.DataFrame(
                {"one run a setting": cells[0], "stacked": cells[sweeps.STACK_ROWS]}
            )
    if len(by_size):
        print("\npart2, last repeat: wall-clock seconds of its cells by batch size\n")
        print("| batch | one run a setting | stacked | ratio |")
        print("|---|---|---|---|")
    for b, row in by_size.iterrows():
        print(f"| {b} | {row.iloc[0]:.1f} | {row.iloc[1]:.1f} | "
              f"{row.iloc[0] / row.iloc[1]:.2f}x |")  # fmt: skip
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
