"""Small experiments for the tests: a tiny real sweep, and synthetic measurements whose laws
are known."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch

import batchsteps.experiments as ex

torch.set_num_threads(1)


def _tiny(**changes) -> ex.Experiment:
    base = dataclasses.replace(
        ex.experiment("digits", "book"),
        optimizers=("sgd", "momentum"),
        batch_sizes=(8, 32, 128),
        seeds=(0, 1, 2),
        targets={"loss": "loss<=1.0"},
        max_steps=300,
        lr_grid={"sgd": (0.1, 0.2, 0.4), "momentum": (0.01, 0.02, 0.04)},
        tune_batch=64,
        tune_seeds=(0,),
        tune_target="loss<=1.0",
        tune_max_steps=300,
        workers=1,
        n_boot=50,
    )
    return dataclasses.replace(base, **changes)


def _synthetic(
    curves: dict[str, tuple[float, float]],
    sizes=(2, 4, 8, 16, 32, 64, 128, 256),
    tuned: tuple[str, ...] = (),
    max_steps: int = 10**9,
    scatter: float = 0.03,
):
    """A Measured whose runs follow K = K_min b/(b - b0) times log-normal noise, or, for the
    optimizers in ``tuned``, the pole-free K = K_min (1 + B/b) with (K_min, B) given; runs
    needing more than ``max_steps`` are stopped there (reason ``"max_steps"``)."""
    rng = np.random.default_rng(1)
    rows = []
    for o, (k_min, b0) in curves.items():
        for b in sizes:
            for seed in range(6):
                if o in tuned:
                    k = k_min * (1 + b0 / b)
                else:
                    k = k_min * b / (b - b0) if b > b0 else math.inf
                k = k * math.exp(scatter * rng.standard_normal())
                reached = k <= max_steps
                steps = int(round(k)) if reached else -1
                reason = "reached" if reached else "max_steps"
                rows.append((o, b, seed, steps, reached, reason, max_steps))
    frame = pd.DataFrame(
        rows,
        columns=["optimizer", "batch_size", "seed", "steps", "reached", "reason", "max_steps"],
    )
    frame.insert(0, "measure", "loss")
    exp = dataclasses.replace(
        ex.experiment("digits", "book"),
        optimizers=tuple(curves),
        batch_sizes=tuple(sizes),
        targets={"loss": "loss<=1"},
        n_boot=100,
    )
    lr = {o: 0.1 for o in curves}
    tuning = ex.Tuning(pd.DataFrame(), lr, lr, 64, "loss<=1")
    cost = ex.Cost(0, 0, 0, 0, 0.0, 0.0)
    return ex.Measured(exp, tuning, frame, pd.DataFrame(), cost)


@pytest.fixture
def tiny():
    """``tiny(**changes)``: a digits experiment of a few cells, changed as asked."""
    return _tiny


@pytest.fixture
def synthetic():
    """``synthetic(curves, ...)``: a Measured whose runs follow known laws (see _synthetic)."""
    return _synthetic
