"""The engine against the plain loop, side by side in one process (issue 3, "Speed").

    .venv/bin/python benchmarks/engine.py            # full run (a few minutes on 2 cores)
    .venv/bin/python benchmarks/engine.py --quick    # fewer steps, for a smoke test

Prints a Markdown report: the side-by-side ratio (digits-mlp, momentum, 32 seeds x 300 steps,
batch 32, no target checks; repeated, median and spread), achieved GFLOP/s against the
measured fp32 matmul peak, and throughput as the replicas (8 to 256) and the batch size
(8 to 1024) grow. Never run by the tests.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import time

import torch

import batchsteps.train as bt
from batchsteps.train.reference import plain_steps_to_target


def mlp_step_flops(sizes: tuple[int, ...], batch: int) -> int:
    """Multiply-adds x 2 of one training step of one replica: forward, weight gradients, and
    the input gradients of every layer but the first."""
    pairs = list(itertools.pairwise(sizes))
    forward = sum(2 * batch * a * b for a, b in pairs)
    weight_grads = forward
    input_grads = sum(2 * batch * a * b for a, b in pairs[1:])
    return forward + weight_grads + input_grads


def matmul_peak(threads: int, size: int = 2048, repeats: int = 5) -> float:
    """Best fp32 GFLOP/s of an n x n matmul (the machine's practical peak)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2 * size**3 / (time.perf_counter() - t) / 1e9)
    return best


def time_engine(wl, replicas: int, batch: int, steps: int) -> float:
    t = time.perf_counter()
    bt.measure_steps(wl, "momentum", batch, lr=0.05, seeds=replicas, target=None, max_steps=steps)
    return time.perf_counter() - t


def time_plain(wl, replicas: int, batch: int, steps: int) -> float:
    t = time.perf_counter()
    for seed in range(replicas):
        plain_steps_to_target(
            wl,
            "momentum",
            batch,
            lr=0.05,
            seed=seed,
            target=None,
            max_steps=steps,
            sampling="torch",
        )
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    steps = 60 if args.quick else 300
    wl = bt.workload("digits-mlp")
    sizes = (64, 128, 10)
    time_engine(wl, 8, 32, 10)  # warm-up: data, allocator, kernels
    time_plain(wl, 1, 32, 10)

    print(
        f"# engine benchmark ({platform.processor() or platform.machine()}, "
        f"torch {torch.__version__}, {args.threads} threads)\n"
    )
    print(f"load average before: {os.getloadavg()}\n")
    print(f"## side by side: digits-mlp, momentum, 32 seeds x {steps} steps, batch 32\n")
    print("| run | plain loop (s) | engine (s) | ratio |\n|---|---|---|---|")
    ratios = []
    for r in range(args.repeats):
        plain = time_plain(wl, 32, 32, steps)
        engine = time_engine(wl, 32, 32, steps)
        ratios.append(plain / engine)
        print(f"| {r + 1} | {plain:.2f} | {engine:.3f} | {plain / engine:.1f}x |")
    print(
        f"\nmedian ratio {statistics.median(ratios):.1f}x "
        f"(min {min(ratios):.1f}x, max {max(ratios):.1f}x); "
        f"load average after: {os.getloadavg()}\n"
    )

    peak = matmul_peak(args.threads)
    print(f"## arithmetic throughput (fp32 matmul peak measured: {peak:.1f} GFLOP/s)\n")
    print("| replicas | batch | steps/s (all replicas) | replica-steps/s | GFLOP/s | % of peak |")
    print("|---|---|---|---|---|---|")
    grid = [(r, 32) for r in (8, 16, 32, 64, 128, 256)] + [
        (32, b) for b in (8, 16, 64, 128, 256, 512, 1024)
    ]
    for replicas, batch in grid:
        n = max(20, min(steps, int(steps * 32 * 32 / (replicas * batch))))
        # per-step time without the set-up (initial weights, first draws): a 2n-step run
        # minus an n-step run
        seconds = time_engine(wl, replicas, batch, 2 * n) - time_engine(wl, replicas, batch, n)
        flops = mlp_step_flops(sizes, batch) * replicas * n / seconds / 1e9
        print(
            f"| {replicas} | {batch} | {n / seconds:.0f} | {replicas * n / seconds:.0f} | "
            f"{flops:.1f} | {100 * flops / peak:.0f}% |"
        )
    print(f"\nload average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
