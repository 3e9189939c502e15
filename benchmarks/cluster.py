"""Cells per minute: a sweep in this process against the same sweep on 2 local Dask workers.

    .venv/bin/python benchmarks/cluster.py                  # 3 repeats of 24 cells
    .venv/bin/python benchmarks/cluster.py --repeats 5 --workers 2
    .venv/bin/python benchmarks/cluster.py --dask-defaults  # a plain LocalCluster
    .venv/bin/python benchmarks/cluster.py --quick          # 4 cells, 1 repeat: smoke test

The sweep: digits-mlp, SGD and momentum (lr 0.05), batch sizes 8 to 256, 2 seeds, to
``loss<=0.5`` within 600 steps, each run into a fresh store in a temporary folder. In process:
one torch thread (the engine's best setting on a loaded 2-core VM, see the engine section of
benchmarks/README.md). Dask: a ``LocalCluster`` of ``--workers`` processes with one thread
each, started (and warmed by one untimed sweep) before the clock runs, so the times are the
steady state a long sweep sees; the start-up is reported apart. The cluster comes from
``batchsteps.train.cluster.local_cluster`` (``--dask-defaults``: a plain ``LocalCluster``,
whose workers get Dask's ``MALLOC_TRIM_THRESHOLD_=65536``). As a control without Dask, a
``concurrent.futures.ProcessPoolExecutor`` with as many processes (one thread each): the gap
between it and the in-process run is the machine's own parallel scaling, the gap between it
and Dask is Dask's cost. Every run is checked to give the same steps. Prints a Markdown
report with the load average, per-repeat rates, the median ratios, and the per-worker
throughput. Needs ``dask`` and ``distributed`` (requirements-cluster.txt);
``tests/test_cluster_benchmark.py`` runs ``--quick`` where they are installed.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import platform
import statistics
import tempfile
import time

import torch

import batchsteps.train as bt
from batchsteps.train.cluster import throughput

SIZES = [8, 16, 24, 32, 48, 64, 96, 128, 160, 192, 224, 256]
ARGS = dict(lr=0.05, seeds=[0, 1], target="loss<=0.5", max_steps=600, progress=False)


def timed_sweep(sizes: list[int], executor=None) -> tuple[float, object]:
    """Seconds for one sweep into a fresh store, and its DataFrame."""
    with tempfile.TemporaryDirectory() as store:
        start = time.perf_counter()
        df = bt.sweep(
            "digits-mlp", ["sgd", "momentum"], sizes, store=store, executor=executor, **ARGS
        )
        return time.perf_counter() - start, df


def _one_thread() -> None:
    torch.set_num_threads(1)


def cell_seconds(df) -> float:
    """Mean wall time of one cell, as timed by the process that ran it."""
    rates = throughput(df)
    return float(rates.busy_s.sum() / rates.cells.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--dask-defaults",
        action="store_true",
        help="a plain LocalCluster (with Dask's MALLOC_TRIM_THRESHOLD_) instead of local_cluster",
    )
    opts = parser.parse_args()
    sizes = SIZES[:2] if opts.quick else SIZES
    repeats = 1 if opts.quick else opts.repeats
    cells = 2 * len(sizes)
    torch.set_num_threads(1)
    from distributed import Client, LocalCluster

    from batchsteps.train.cluster import local_cluster

    print(f"# Sweep throughput: {platform.processor() or platform.machine()}, ", end="")
    print(f"{os.cpu_count()} CPUs, torch {torch.__version__}\n")
    print(f"{cells} cells (digits-mlp, sgd + momentum, b = {sizes[0]}..{sizes[-1]}, 2 seeds)\n")
    print(f"load average before: {os.getloadavg()}\n")
    start = time.perf_counter()
    if opts.dask_defaults:  # Dask's own defaults but for threads, memory limit, dashboard
        settings = dict(threads_per_worker=1, memory_limit=0, dashboard_address=None)
        cluster = LocalCluster(n_workers=opts.workers, **settings)
    else:
        cluster = local_cluster(opts.workers)
    client = Client(cluster)
    started = time.perf_counter() - start
    warm_s, _ = timed_sweep(sizes[:2], client.get_executor())  # imports torch on the workers
    print(f"cluster start-up {started:.1f} s, warm-up sweep {warm_s:.1f} s (not counted)\n")
    pool = concurrent.futures.ProcessPoolExecutor(opts.workers, initializer=_one_thread)
    timed_sweep(sizes[:2], pool)  # the same warm-up for the pool and in process
    timed_sweep(sizes[:2])

    kind = "plain LocalCluster" if opts.dask_defaults else "local_cluster"
    print(f"cells per minute (mean seconds per cell); {opts.workers} workers; dask: {kind}\n")
    print(
        "| repeat | in process | process pool | dask | pool / in process | dask / in process |",
        end="",
    )
    print(" load |\n|---|---|---|---|---|---|---|")
    ratios, pool_ratios, frames = [], [], None
    for r in range(repeats):
        local_s, local = timed_sweep(sizes)
        pool_s, pooled = timed_sweep(sizes, pool)
        dask_s, remote = timed_sweep(sizes, client.get_executor())
        columns = ["optimizer", "batch_size", "seed", "steps", "reason"]
        for other in (pooled, remote):
            assert local[columns].equals(other[columns]), "the runs disagree"
        ratios.append(local_s / dask_s)
        pool_ratios.append(local_s / pool_s)
        frames = remote
        rates = [
            f"{60 * cells / t:.0f} ({cell_seconds(df):.2f} s)"
            for t, df in ((local_s, local), (pool_s, pooled), (dask_s, remote))
        ]
        print(
            f"| {r + 1} | {' | '.join(rates)} | {local_s / pool_s:.2f}x | "
            f"{local_s / dask_s:.2f}x | {os.getloadavg()[0]:.1f} |"
        )
    print(f"\nmedian ratio, process pool / in process: {statistics.median(pool_ratios):.2f}x")
    print(f"median ratio, dask / in process: {statistics.median(ratios):.2f}x")
    print("\nper-worker throughput of the last dask repeat (busy time = sum of cell wall times):\n")
    print(throughput(frames).to_markdown(index=False, floatfmt=".1f"))
    print(f"\nload average at the end: {os.getloadavg()}")
    pool.shutdown()
    client.close()
    cluster.close()


if __name__ == "__main__":
    main()
