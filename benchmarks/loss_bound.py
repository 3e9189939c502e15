"""The loss bound three ways, side by side in one process, one thread.

    .venv/bin/python benchmarks/loss_bound.py            # 4 runs x 3 ways x 2 repeats, ~35 s
    .venv/bin/python benchmarks/loss_bound.py --quick    # 1 short run a way (smoke test)

A loss target checked after every step is decided by ``StackedMLP.bounded_loss``: a partial
sum of the rows' losses that exceeds ``n * threshold`` proves the mean above it, and replicas
it cannot prove get the full loss. How it picks its rows decides its cost, never its answer.
The script runs the same engine runs (digits-mlp, 5 seeds, ``loss<=0.1``) with three ways of
picking, installed in turn on the class:

- ``sort``: every replica's rows sorted by their last-computed losses, blocks of 64, 128,
  256, ... rows down the whole order, then the full ``measure`` (the bound before b478d3c);
- ``topk``: the 448 rows with the largest scores by ``topk``, blocks of 64, 128 and 256, then
  the full loss row by row;
- ``planned``: the library's (``topk`` of 448, the first block sized from the scores).

It prints the CPU seconds of the runs and of the bound's calls, per call, and whether every
way gave the same steps (it must: the way only changes the cost).
"""

from __future__ import annotations

import argparse
import time

import torch

import batchsteps.train as bt
from batchsteps.train.problems import StackedMLP

SETTINGS = [("momentum", 32, 0.1), ("sgd", 8, 0.1), ("adam", 128, 0.002), ("momentum", 2, 0.02)]
ROUND_OFF = 1e-4  # the library's relative margin for a proof


def sort_blocks(problem, params, threshold, scores):
    """Rows in the order of a full sort of the scores, blocks doubling from 64."""
    order = scores.argsort(dim=1, descending=True)
    return _blocks(problem, params, threshold, scores, order, full_measure=True)


def topk_blocks(problem, params, threshold, scores):
    """The 448 rows with the largest scores, blocks of 64, 128 and 256."""
    top = scores.topk(min(448, problem.n), dim=1).indices
    return _blocks(problem, params, threshold, scores, top, full_measure=False)


def _blocks(problem, params, threshold, scores, order, full_measure):
    total = torch.zeros(params[0].shape[0], dtype=params[0].dtype)
    bound = problem.n * threshold * (1 + ROUND_OFF)
    alive = torch.arange(params[0].shape[0])
    start, size = 0, 64
    while len(alive) and start < order.shape[1]:
        rows = order[alive, start : start + size]
        losses = problem.row_losses([p[alive] for p in params], rows)
        scores[alive.unsqueeze(1), rows] = losses
        total[alive] += losses.sum(1)
        alive = alive[~(total[alive] > bound)]
        start, size = start + size, 2 * size
    value = total / problem.n
    if len(alive):
        part = [p[alive] for p in params]
        if full_measure:
            value[alive] = problem.measure(part, "loss")
        else:
            losses = problem.row_losses(part)
            scores[alive] = losses
            value[alive] = losses.sum(1) / problem.n
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short run a way")
    args = parser.parse_args()
    torch.set_num_threads(1)
    settings, repeats, budget = (SETTINGS[:1], 1, 200) if args.quick else (SETTINGS, 2, 3000)
    ways = {"sort": sort_blocks, "topk": topk_blocks, "planned": StackedMLP.bounded_loss}
    spent = {"seconds": 0.0, "calls": 0}

    def timed(way):
        def bounded(problem, params, threshold, scores):
            start = time.process_time()
            out = way(problem, params, threshold, scores)
            spent["seconds"] += time.process_time() - start
            spent["calls"] += 1
            return out

        return bounded

    rows = {name: [] for name in ways}
    try:
        for _ in range(repeats):
            for name, way in ways.items():
                StackedMLP.bounded_loss = timed(way)
                spent.update(seconds=0.0, calls=0)
                start = time.process_time()
                steps = [
                    bt.measure_steps(
                        "digits-mlp", opt, b, lr=lr, seeds=5, target="loss<=0.1", max_steps=budget
                    ).steps.tolist()
                    for opt, b, lr in settings
                ]
                runs = time.process_time() - start
                rows[name].append((runs, spent["seconds"], spent["calls"], steps))
    finally:
        StackedMLP.bounded_loss = ways["planned"]
    reference = rows["planned"][0][3]
    print("| bound | CPU of the runs (s) | the bound's CPU (s) | calls | ms a call | same steps |")
    print("|---|---|---|---|---|---|")
    for name, done in rows.items():
        runs = ", ".join(f"{r[0]:.2f}" for r in done)
        bound = ", ".join(f"{r[1]:.2f}" for r in done)
        per_call = min(r[1] / r[2] for r in done) * 1e3
        same = all(r[3] == reference for r in done)
        print(f"| {name} | {runs} | {bound} | {done[0][2]} | {per_call:.2f} | {same} |")
    if not all(r[3] == reference for done in rows.values() for r in done):
        raise SystemExit("the ways gave different steps: a bound changed a decision")


if __name__ == "__main__":
    main()
