"""The engine against the plain loop, side by side in one process (issue 3, "Speed").

    .venv/bin/python benchmarks/engine.py                # 2 threads (the CPU's two cores)
    .venv/bin/python benchmarks/engine.py --threads 1    # one core
    .venv/bin/python benchmarks/engine.py --plain-threads 1 --no-scaling   # each at its best
    .venv/bin/python benchmarks/engine.py --quick        # fewer steps, for a smoke test

Prints a Markdown report: the side-by-side ratio (digits-mlp, momentum, 32 seeds x 300 steps,
batch 32, no target checks; repeated, median and spread) in wall-clock and in CPU time,
achieved GFLOP/s against the measured fp32 matmul peak, and throughput as the replicas
(8 to 256) and the batch size (8 to 1024) grow. Never run by the tests.
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
    input_grads = sum(2 * batch * a * b for a, b in pairs[1:])
    return 2 * forward + input_grads


def matmul_peak(size: int = 2048, repeats: int = 5) -> float:
    """Best fp32 GFLOP/s of an n x n matmul (the machine's practical peak)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2 * size**3 / (time.perf_counter() - t) / 1e9)
    return best


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    """Wall-clock and CPU (all threads of this process) seconds since ``start``."""
    wall, cpu = _clock()
    return wall - start[0], cpu - start[1]


def time_engine(wl, replicas: int, batch: int, steps: int) -> tuple[float, float]:
    start = _clock()
    bt.measure_steps(wl, "momentum", batch, lr=0.05, seeds=replicas, target=None, max_steps=steps)
    return _since(start)


def time_plain(wl, replicas: int, batch: int, steps: int) -> tuple[float, float]:
    start = _clock()
    for seed in range(replicas):
        plain_steps_to_target(
            wl, "momentum", batch, lr=0.05, seed=seed, target=None, max_steps=steps,
            sampling="torch",
        )  # fmt: skip
    return _since(start)


def side_by_side(wl, steps: int, repeats: int, threads: int, plain_threads: int) -> None:
    print(f"## side by side: digits-mlp, momentum, 32 seeds x {steps} steps, batch 32\n")
    print(f"The plain loop runs with {plain_threads} thread(s), the engine with {threads}.\n")
    print("wall: elapsed seconds; cpu: CPU seconds of this process (all its threads), which")
    print("other processes on a shared machine disturb less.\n")
    columns = ["run", "plain wall (s)", "engine wall (s)", "wall ratio"]
    columns += ["plain cpu (s)", "engine cpu (s)", "cpu ratio"]
    print("| " + " | ".join(columns) + " |")
    print("|---" * len(columns) + "|")
    walls, cpus = [], []
    for r in range(repeats):
        torch.set_num_threads(plain_threads)
        plain = time_plain(wl, 32, 32, steps)
        torch.set_num_threads(threads)
        engine = time_engine(wl, 32, 32, steps)
        walls.append(plain[0] / engine[0])
        cpus.append(plain[1] / engine[1])
        print(f"| {r + 1} | {plain[0]:.2f} | {engine[0]:.3f} | {walls[-1]:.1f}x "
              f"| {plain[1]:.2f} | {engine[1]:.3f} | {cpus[-1]:.1f}x |")  # fmt: skip
    for name, ratios in (("wall", walls), ("cpu", cpus)):
        print(f"\n{name} ratio: median {statistics.median(ratios):.1f}x "
              f"(min {min(ratios):.1f}x, max {max(ratios):.1f}x)")  # fmt: skip


def scaling(wl, steps: int) -> None:
    peak = matmul_peak()
    print(f"\n## arithmetic throughput (fp32 2048^3 matmul, best of 5: {peak:.1f} GFLOP/s)\n")
    print("Per-step wall time: best of 3 runs of 2n steps minus best of 3 runs of n steps")
    print("(set-up excluded).\n")
    print("| replicas | batch | steps/s | replica-steps/s | GFLOP/s | % of peak |")
    print("|---|---|---|---|---|---|")
    grid = [(r, 32) for r in (8, 16, 32, 64, 128, 256)]
    grid += [(32, b) for b in (8, 16, 64, 128, 256, 512, 1024)]
    for replicas, batch in grid:
        n = max(20, min(steps, steps * 32 * 32 // (replicas * batch)))
        long = min(time_engine(wl, replicas, batch, 2 * n)[0] for _ in range(3))
        short = min(time_engine(wl, replicas, batch, n)[0] for _ in range(3))
        seconds = long - short
        if seconds <= 0:
            print(f"| {replicas} | {batch} | (too noisy: rerun on a quieter machine) | | | |")
            continue
        flops = mlp_step_flops((64, 128, 10), batch) * replicas * n / seconds / 1e9
        print(f"| {replicas} | {batch} | {n / seconds:.0f} | {replicas * n / seconds:.0f} "
              f"| {flops:.1f} | {100 * flops / peak:.0f}% |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="threads of the engine")
    parser.add_argument(
        "--plain-threads", type=int, default=None, help="threads of the plain loop (default: same)"
    )
    parser.add_argument("--no-scaling", action="store_true", help="skip the throughput tables")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    steps = 60 if args.quick else 300
    wl = bt.workload("digits-mlp")
    time_engine(wl, 8, 32, 10)  # warm-up: data, allocator, kernels
    time_plain(wl, 1, 32, 10)
    print(f"# engine benchmark ({platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}, {args.threads} threads)\n")  # fmt: skip
    print(f"load average before: {os.getloadavg()}\n")
    plain_threads = args.plain_threads or args.threads
    side_by_side(wl, steps, args.repeats, args.threads, plain_threads)
    torch.set_num_threads(args.threads)
    if not args.no_scaling:
        scaling(wl, steps)
    print(f"\nload average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
