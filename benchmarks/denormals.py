"""The engine with and without flushing denormals to zero, side by side in one process.

    .venv/bin/python benchmarks/denormals.py            # 3 paired repeats, 2000 steps
    .venv/bin/python benchmarks/denormals.py --quick    # 1 repeat, 500 steps

Book-scale cells without target checks: digits-mlp, 5 seeds at batch 32, each optimizer of the
book's sweep at a rate of its book grid, 2000 steps (the sweep's step budget), one thread. "before"
runs ``measure_steps`` with :func:`batchsteps.train.engine.flushing_denormals` replaced by a
context that does nothing (the engine as it was), "after" as it is; each repeat runs both,
alternating which goes first. Reports CPU seconds, their ratio, and whether the two ended
with bitwise-equal parameters. ``tests/test_denormals_benchmark.py`` runs ``--quick``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time

import torch

import batchsteps.train as bt
from batchsteps.train import engine

#: The optimizers of the book's digits sweep, each at a rate from its grid in experiments.py.
CELLS = (("sgd", 0.2), ("momentum", 0.04), ("adam", 0.004))


def final_params(optimizer: str, lr: float, steps: int) -> tuple[float, list[torch.Tensor]]:
    """CPU seconds of one cell and its final stacked parameters."""
    final: list[torch.Tensor] = []

    def keep(snapshot: bt.Snapshot) -> None:
        if snapshot.step == steps:
            final.extend(p.clone() for p in snapshot.params)

    start = time.process_time()
    bt.measure_steps(
        "digits-mlp", optimizer, 32, lr=lr, seeds=5, target=None, max_steps=steps,
        record=keep, record_every=steps,
    )  # fmt: skip
    return time.process_time() - start, final


def run(optimizer: str, lr: float, steps: int, flush: bool) -> tuple[float, list[torch.Tensor]]:
    """One cell with the engine flushing denormals (``flush``) or not."""
    if flush:
        return final_params(optimizer, lr, steps)
    real = engine.flushing_denormals
    engine.flushing_denormals = contextlib.nullcontext
    try:
        return final_params(optimizer, lr, steps)
    finally:
        engine.flushing_denormals = real


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    steps, repeats = (500, 1) if args.quick else (2000, args.repeats)
    final_params("sgd", 0.1, 10)  # warm-up: data, allocator
    print(f"load average before: {os.getloadavg()}\n")
    print("| optimizer | repeat | before cpu (s) | after cpu (s) | before/after | same params |")
    print("|---|---|---|---|---|---|")
    totals = {True: 0.0, False: 0.0}
    for optimizer, lr in CELLS:
        ratios = []
        for r in range(repeats):
            order = (False, True) if r % 2 == 0 else (True, False)
            out = {flush: run(optimizer, lr, steps, flush) for flush in order}
            for flush in order:
                totals[flush] += out[flush][0]
            same = all(torch.equal(a, b) for a, b in zip(out[False][1], out[True][1], strict=True))
            ratios.append(out[False][0] / out[True][0])
            print(f"| {optimizer} | {r + 1} | {out[False][0]:.2f} | {out[True][0]:.2f} "
                  f"| {ratios[-1]:.2f}x | {same} |")  # fmt: skip
        print(f"| {optimizer} | median | | | {statistics.median(ratios):.2f}x | |")
    print(f"\nall cells: before {totals[False]:.1f} s, after {totals[True]:.1f} s of CPU "
          f"({totals[False] / totals[True]:.2f}x)")  # fmt: skip
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
