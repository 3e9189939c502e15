"""The engine against a torch.func vmap ensemble and the plain loop, side by side in one process.

    .venv/bin/python benchmarks/engine.py                  # 1 thread each, 5 paired repeats
    .venv/bin/python benchmarks/engine.py --threads 2      # the CPU's two cores
    .venv/bin/python benchmarks/engine.py --scaling        # also the engine's throughput table
    .venv/bin/python benchmarks/engine.py --quick          # fewer steps, for a smoke test

Workload: digits-mlp (MLP 64-128-10, all 1797 digits), momentum SGD (lr 0.05, beta 0.9),
32 seeds x 300 steps at batch 32, no target checks. Three ways to train the 32 seeds, each
drawing seed ``s``'s batches with the engine's sampler (:func:`draw_indices`), so all three
compute the same steps:

- **plain**: one ``nn.Module`` and ``torch.optim.SGD(momentum=0.9)``, one seed after the other
  (:func:`batchsteps.train.reference.plain_steps_to_target`);
- **vmap**: the torch.func ensemble of PyTorch's model-ensembling tutorial
  (``stack_module_state`` + ``functional_call`` + ``vmap(grad(loss))``), heavy-ball update on
  the stacked parameters (:func:`vmap_ensemble`);
- **engine**: ``batchsteps.train.measure_steps(..., target=None)`` (stacked weights,
  hand-written forward and backward with ``baddbmm``/``bmm``).

Each repeat runs the three back to back (in a rotating order), so they share the machine's
load; the report gives per repeat wall-clock and CPU seconds, the ratios to the engine, their
medians, and the achieved GFLOP/s of each (:func:`mlp_step_flops`) against the fp32 GEMM peak
measured in the same run. Before timing, the vmap ensemble is checked to end where the engine
ends (same parameters within float32 round-off). The tests run that check
(``tests/test_engine_benchmark.py``), never the timing.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.func import functional_call, grad, stack_module_state, vmap

import batchsteps.train as bt
from batchsteps.train.problems import init_modules
from batchsteps.train.reference import plain_steps_to_target
from batchsteps.train.sampling import CHUNK, draw_indices

SIZES = (64, 128, 10)
LR, BETA = 0.05, 0.9
SEEDS, BATCH = 32, 32
COLUMNS = ("plain", "vmap", "engine")


def forward_flops(sizes: Sequence[int], rows: int) -> int:
    """Multiply-adds x 2 of the forward products of a ReLU MLP on ``rows`` inputs:
    ``F = 2 rows sum_l n_{l-1} n_l``."""
    return sum(2 * rows * a * b for a, b in itertools.pairwise(sizes))


def gradient_flops(sizes: Sequence[int], rows: int) -> int:
    """Forward and backward products: ``F`` forward, ``F`` for the weight gradients, and the
    input gradients of every layer but the first (no gradient flows into the data; the usual
    "backward = 2x forward" would count the first layer's too, 1.37x more for 64-128-10)."""
    pairs = list(itertools.pairwise(sizes))
    return 2 * forward_flops(sizes, rows) + sum(2 * rows * a * b for a, b in pairs[1:])


def mlp_step_flops(sizes: Sequence[int], batch: int) -> int:
    """FLOPs of one training step of one replica of a ReLU MLP with momentum SGD:
    :func:`gradient_flops` on the batch plus ``4 P`` for the update (``m = beta m + g``,
    ``theta -= lr m`` on ``P`` parameters). Bias adds, ReLU and the softmax
    (``b (3 n_hidden + 6 n_out)``, under 2%) are left out. 64-128-10 at batch 32: 1.33 MFLOP.
    """
    params = sum(a * b + b for a, b in itertools.pairwise(sizes))
    return gradient_flops(sizes, batch) + 4 * params


def _timed(run: Callable[[], object]) -> tuple[float, float]:
    """Wall-clock and CPU seconds (all threads of this process) of ``run()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def matmul_peak(size: int = 2048, repeats: int = 5) -> float:
    """Best fp32 GFLOP/s of an n x n matmul (the machine's practical GEMM peak), timed in CPU
    seconds of this process (on a shared machine, wall-clock time also counts the time the
    process waited for a core)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = 0.0
    for _ in range(repeats):
        cpu = _timed(lambda: torch.mm(a, b))[1] / torch.get_num_threads()
        best = max(best, 2 * size**3 / cpu / 1e9)
    return best


def vmap_ensemble(
    wl: bt.Workload,
    seeds: Sequence[int],
    batch: int,
    steps: int,
    lr: float = LR,
    beta: float = BETA,
) -> dict[str, torch.Tensor]:
    """Train one model per seed as a torch.func ensemble; the stacked final parameters.

    The model-ensembling tutorial's recipe: ``stack_module_state`` of the seeds' modules (each
    built after ``torch.manual_seed(seed)``), the loss through ``functional_call`` of a copy
    on the meta device, ``vmap(grad(loss))`` for all seeds' gradients in one call, then
    ``torch.optim.SGD(momentum=beta)``'s update (``m = beta m + g``, ``theta -= lr m``) on the
    stacked tensors. Seed ``s`` draws the engine's batches (:func:`draw_indices`).
    """
    models = init_modules(wl.model, seeds)
    params, buffers = stack_module_state(models)
    params = {name: p.detach() for name, p in params.items()}
    base = copy.deepcopy(models[0]).to("meta")

    def loss(p: dict, b: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(functional_call(base, (p, b), (x,)), y)

    gradients = vmap(grad(loss))
    momentum = {name: torch.zeros_like(p) for name, p in params.items()}
    chunk = None
    for k in range(steps):
        if k % CHUNK == 0:
            chunk = torch.stack([draw_indices(s, k // CHUNK, wl.n, batch) for s in seeds])
        idx = chunk[:, k % CHUNK]
        grads = gradients(params, buffers, wl.X[idx], wl.y[idx])
        for name, p in params.items():
            momentum[name].mul_(beta).add_(grads[name])
            p.add_(momentum[name], alpha=-lr)
    return params


def engine_final(wl: bt.Workload, seeds: Sequence[int], batch: int, steps: int) -> list:
    """The engine's final parameters as one ``nn.Module`` per seed."""
    final = []

    def keep(snapshot: bt.Snapshot) -> None:
        if snapshot.step == steps:
            final.extend(p.clone() for p in snapshot.params)

    bt.measure_steps(
        wl, "momentum", batch, lr=LR, beta=BETA, seeds=list(seeds), target=None,
        max_steps=steps, record=keep, record_every=steps,
    )  # fmt: skip
    return wl.problem(torch.device("cpu")).to_modules(final)


def check_same_steps(wl: bt.Workload, steps: int) -> float:
    """Largest difference between the vmap ensemble's and the engine's final parameters
    (relative to the largest parameter); raises if above 1e-3."""
    seeds = list(range(SEEDS))
    ensemble = vmap_ensemble(wl, seeds, BATCH, steps)
    modules = engine_final(wl, seeds, BATCH, steps)
    worst = 0.0
    for name, stacked in ensemble.items():
        ours = torch.stack([dict(m.named_parameters())[name].detach() for m in modules])
        scale = stacked.abs().max().item()
        worst = max(worst, (ours - stacked).abs().max().item() / scale)
    if worst > 1e-3:
        raise AssertionError(f"vmap ensemble and engine differ by {worst:.2e} after {steps} steps")
    return worst


def runners(wl: bt.Workload, steps: int) -> dict[str, Callable[[], object]]:
    """The three ways of training ``SEEDS`` seeds for ``steps`` steps (set-up included)."""
    seeds = list(range(SEEDS))

    def plain() -> None:
        for seed in seeds:
            plain_steps_to_target(
                wl, "momentum", BATCH, lr=LR, beta=BETA, seed=seed, target=None,
                max_steps=steps, sampling="engine",
            )  # fmt: skip

    def ensemble() -> None:
        vmap_ensemble(wl, seeds, BATCH, steps)

    def engine() -> None:
        bt.measure_steps(
            wl, "momentum", BATCH, lr=LR, beta=BETA, seeds=seeds, target=None, max_steps=steps
        )

    return {"plain": plain, "vmap": ensemble, "engine": engine}


def side_by_side(wl: bt.Workload, steps: int, repeats: int, peak: float) -> None:
    print(f"## side by side: digits-mlp, momentum, {SEEDS} seeds x {steps} steps, batch {BATCH}\n")
    print("wall: elapsed seconds; cpu: CPU seconds of this process. Ratios: time of the column")
    print("divided by the engine's time in the same repeat.\n")
    head = ["run", "order"] + [f"{c} wall (s)" for c in COLUMNS] + ["plain/engine", "vmap/engine"]
    head += [f"{c} cpu (s)" for c in COLUMNS] + ["plain/engine cpu", "vmap/engine cpu"]
    print("| " + " | ".join(head) + " |")
    print("|---" * len(head) + "|")
    run = runners(wl, steps)
    walls: dict[str, list[float]] = {c: [] for c in COLUMNS}
    cpus: dict[str, list[float]] = {c: [] for c in COLUMNS}
    ratios: dict[str, list[float]] = {k: [] for k in ("plain", "vmap", "plain cpu", "vmap cpu")}
    for r in range(repeats):
        order = COLUMNS[r % 3 :] + COLUMNS[: r % 3]
        times = {c: _timed(run[c]) for c in order}
        for c in COLUMNS:
            walls[c].append(times[c][0])
            cpus[c].append(times[c][1])
        for c in ("plain", "vmap"):
            ratios[c].append(times[c][0] / times["engine"][0])
            ratios[f"{c} cpu"].append(times[c][1] / times["engine"][1])
        cells = [str(r + 1), ",".join(order)] + [f"{times[c][0]:.3f}" for c in COLUMNS]
        cells += [f"{ratios[c][-1]:.1f}x" for c in ("plain", "vmap")]
        cells += [f"{times[c][1]:.3f}" for c in COLUMNS]
        cells += [f"{ratios[c][-1]:.1f}x" for c in ("plain cpu", "vmap cpu")]
        print("| " + " | ".join(cells) + " |")
    print()
    for key, values in ratios.items():
        print(f"- {key} / engine: median {statistics.median(values):.2f}x "
              f"(min {min(values):.2f}x, max {max(values):.2f}x)")  # fmt: skip
    flops = mlp_step_flops(SIZES, BATCH) * SEEDS * steps
    print(f"\nFLOPs per run: {flops / 1e9:.2f} GFLOP ({SEEDS} x {steps} replica-steps of "
          f"{mlp_step_flops(SIZES, BATCH) / 1e6:.2f} MFLOP, see mlp_step_flops)\n")  # fmt: skip
    print("GFLOP/s from the median CPU seconds per thread (wall-clock seconds on a shared machine")
    print("also count the waits for a core).\n")
    print(
        "| column | median wall (s) | median cpu (s) | GFLOP/s | % of GEMM peak | replica-steps/s |"
    )
    print("|---|---|---|---|---|---|")
    for c in COLUMNS:
        cpu = statistics.median(cpus[c]) / torch.get_num_threads()
        rate = flops / cpu / 1e9
        print(f"| {c} | {statistics.median(walls[c]):.3f} | {cpu:.3f} | {rate:.2f} "
              f"| {100 * rate / peak:.1f}% | {SEEDS * steps / cpu:.0f} |")  # fmt: skip


def scaling(wl: bt.Workload, steps: int, peak: float) -> None:
    print("\n## engine throughput as replicas and batch grow\n")
    print("Per-step CPU time: best of 3 runs of 2n steps minus best of 3 runs of n steps")
    print("(set-up excluded).\n")
    print("| replicas | batch | steps/s | replica-steps/s | GFLOP/s | % of peak |")
    print("|---|---|---|---|---|---|")
    grid = [(r, 32) for r in (8, 16, 32, 64, 128, 256)]
    grid += [(32, b) for b in (8, 16, 64, 128, 256, 512, 1024)]

    def engine(replicas: int, batch: int, n: int) -> float:
        return _timed(
            lambda: bt.measure_steps(
                wl, "momentum", batch, lr=LR, seeds=replicas, target=None, max_steps=n
            )
        )[1]

    for replicas, batch in grid:
        n = max(20, min(steps, steps * 32 * 32 // (replicas * batch)))
        seconds = min(engine(replicas, batch, 2 * n) for _ in range(3))
        seconds -= min(engine(replicas, batch, n) for _ in range(3))
        if seconds <= 0:
            print(f"| {replicas} | {batch} | (too noisy: rerun on a quieter machine) | | | |")
            continue
        rate = mlp_step_flops(SIZES, batch) * replicas * n / seconds / 1e9
        print(f"| {replicas} | {batch} | {n / seconds:.0f} | {replicas * n / seconds:.0f} "
              f"| {rate:.1f} | {100 * rate / peak:.0f}% |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (all columns)")
    parser.add_argument("--scaling", action="store_true", help="add the throughput table")
    parser.add_argument("--quick", action="store_true", help="60 steps, 2 repeats")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    steps = 60 if args.quick else 300
    repeats = 2 if args.quick else args.repeats
    wl = bt.workload("digits-mlp")
    for run in runners(wl, 10).values():  # warm-up: data, allocator, kernels
        run()
    print(f"# engine benchmark ({platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}, {torch.get_num_threads()} thread(s))\n")  # fmt: skip
    print(f"load average before: {os.getloadavg()}\n")
    worst = check_same_steps(wl, steps)
    print(f"vmap ensemble vs engine after {steps} steps: largest parameter difference "
          f"{worst:.1e} of the largest parameter (same steps)\n")  # fmt: skip
    peak = matmul_peak()
    side_by_side(wl, steps, repeats, peak)
    peak_after = matmul_peak()
    print(f"\nfp32 GEMM peak (2048^3 matmul, best of 5, CPU time): {peak:.1f} GFLOP/s before "
          f"the runs, {peak_after:.1f} after (the percentages use the first)")  # fmt: skip
    if args.scaling:
        scaling(wl, steps, peak)
    print(f"\nload average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
