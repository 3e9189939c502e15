"""The engine's first-passage counts against checking the target after every step.

    .venv/bin/python benchmarks/first_passage.py                      # the book build's store
    .venv/bin/python benchmarks/first_passage.py _build/stores/book --only digits/sweep
    .venv/bin/python benchmarks/first_passage.py --quick              # 2 cells a folder
    .venv/bin/python benchmarks/first_passage.py --merge a.json b.json --json all.json

The engine checks a target every ``check_every`` steps and, when a check finds it met,
replays from the replica's last check far from the target (``engine.NEAR``) to find the first
step; that equals checking after every step unless the measure dipped below the target and
climbed back past the margin between two checks. This script measures how often that happens
in the cells a book build computed: for every cell in the store folders given (a build keeps
them in ``_build/stores/book``), it runs the cell twice in this process, one thread, as the
book does (default checks) and with ``check_every=1`` (the truth, at a cost), and reports per
folder the runs whose steps differ, by how much, and the CPU seconds of both ways.

Workloads are rebuilt from a cell's key: the registered ones (``digits-mlp``,
``fashion-mnist-mlp`` with the key's options) and the recipe's ``my-fashion-mlp``
(``chapters/your_model.md``: an MLP 784-64-10 on the first 4096 Fashion-MNIST images); cells of
other workloads are listed as skipped. ``tests/test_first_passage_benchmark.py`` runs it on a
small store.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from functools import partial
from pathlib import Path

import torch

import batchsteps.train as bt


def recipe_workload() -> bt.Workload:
    """The workload of ``chapters/your_model.md`` (same data, model and loss)."""
    fashion = bt.workload("fashion-mnist-mlp", n_train=4096)
    model = partial(bt.mlp, (784, 64, 10))
    return bt.Workload("my-fashion-mlp", fashion.X, fashion.y, model, "cross_entropy")


def rebuild(description: dict, cache: dict) -> bt.Workload | None:
    """The workload a cell's key describes, or ``None`` where this script cannot rebuild it."""
    name, options = description["name"], description.get("options", {})
    key = json.dumps(description, sort_keys=True)
    if key not in cache:
        if name == "my-fashion-mlp":
            cache[key] = recipe_workload()
        elif name in ("digits-mlp", "fashion-mnist-mlp", "teacher-student"):
            cache[key] = bt.workload(name, **options)
        else:
            cache[key] = None
    return cache[key]


def run(wl: bt.Workload, key: dict, check_every: int | None) -> tuple[float, bt.StepsResult]:
    """CPU seconds and result of one cell."""
    start = time.process_time()
    result = bt.measure_steps(
        wl, key["optimizer"], key["batch_size"], lr=key["lr"], seeds=key["seeds"],
        target=key["target"], max_steps=key["max_steps"], check_every=check_every,
        near=key["near"], **key["hyper"],
    )  # fmt: skip
    return time.process_time() - start, result


def audit(store: Path, folder: Path, quick: bool, cache: dict) -> dict:
    """Every cell of ``folder`` with the book's checks and with checks after every step."""
    cells = sorted(folder.glob("cell-*.json"))
    if quick:
        cells = cells[:2]
    out = {
        "folder": folder.relative_to(store).as_posix(),
        "cells": 0,
        "runs": 0,
        "skipped": 0,
        "differ": [],
        "rows": [],
    }
    out |= {"cpu_book": 0.0, "cpu_every": 0.0}
    for path in cells:
        record = json.loads(path.read_text())
        key = record["key"]
        wl = rebuild(json.loads(key["workload"]), cache)
        if wl is None or key["target"] is None or key["check_every"] is not None:
            out["skipped"] += 1
            continue
        cpu_book, book = run(wl, key, None)
        steps = book.steps
        if steps.tolist() != record["steps"]:
            raise AssertionError(f"{path}: {steps.tolist()} now, {record['steps']} stored")
        cpu_every, every = run(wl, key, 1)
        truth = every.steps
        out["cells"] += 1
        out["runs"] += len(key["seeds"])
        out["cpu_book"] += cpu_book
        out["cpu_every"] += cpu_every
        names = ("workload_name", "optimizer", "batch_size", "lr", "target", "max_steps")
        cell = {k: key[k] for k in names}
        runs = zip(
            key["seeds"], steps.tolist(), truth.tolist(), book.reason, every.reason, strict=True
        )
        for seed, got, true, reason, true_reason in runs:
            row = cell | {"seed": seed, "book": got, "every_step": true}
            row |= {"book_reason": reason, "every_step_reason": true_reason}
            out["rows"].append(row)
            if got != true:
                out["differ"].append(row)
        print(
            f"{path.name}: {key['optimizer']} b={key['batch_size']} lr={key['lr']} "
            f"{key['target']}: book {steps.tolist()} every step {truth.tolist()} "
            f"({cpu_book:.1f} s / {cpu_every:.1f} s)",
            flush=True,
        )
    return out


def write(path: Path, record: dict) -> None:
    """The audit as JSON, one run per line."""
    folders = []
    for folder in record["folders"]:
        rows = ",\n".join("    " + json.dumps(row) for row in folder["rows"])
        head = json.dumps({k: v for k, v in folder.items() if k not in ("rows", "differ")})[:-1]
        folders.append(f'  {head}, "rows": [\n{rows}\n  ]}}')
    top = json.dumps({k: v for k, v in record.items() if k != "folders"})[:-1]
    path.write_text(f'{top}, "folders": [\n' + ",\n".join(folders) + "\n]}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", nargs="?", default="_build/stores/book", type=Path)
    parser.add_argument("--only", action="append", help="a folder under the store (repeatable)")
    parser.add_argument("--quick", action="store_true", help="2 cells a folder")
    parser.add_argument("--json", type=Path, help="write the summary here")
    parser.add_argument(
        "--merge", nargs="+", type=Path, help="join these --json files (parts run side by side)"
    )
    args = parser.parse_args()
    if args.merge:
        parts = [json.loads(path.read_text()) for path in args.merge]
        record = parts[0] | {"folders": [f for part in parts for f in part["folders"]]}
        write(args.json, record)
        return
    torch.set_num_threads(1)
    folders = sorted({p.parent for p in args.store.rglob("cell-*.json")})
    if args.only:
        folders = [args.store / name for name in args.only]
    cache: dict = {}
    summaries = [audit(args.store, folder, args.quick, cache) for folder in folders]
    print()
    print("| folder | cells | runs | runs that differ | book CPU s | every-step CPU s | ratio |")
    print("|---|---|---|---|---|---|---|")
    for s in summaries:
        ratio = s["cpu_every"] / s["cpu_book"] if s["cpu_book"] else float("nan")
        print(
            f"| {s['folder']} | {s['cells']} | {s['runs']} | {len(s['differ'])} "
            f"| {s['cpu_book']:.1f} | {s['cpu_every']:.1f} | {ratio:.1f}x |"
        )
    for s in summaries:
        for d in s["differ"]:
            print(f"differs in {s['folder']}: {d}")
    if args.json:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
        record = {
            "script": "benchmarks/first_passage.py",
            "commit": commit,
            "date": time.strftime("%Y-%m-%d", time.gmtime()),
            "torch": torch.__version__,
            "folders": summaries,
        }
        write(args.json, record)


if __name__ == "__main__":
    main()
