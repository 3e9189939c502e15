"""Fits the viz tests draw: both laws fitted to runs that follow the constant-rate law."""

from __future__ import annotations

import numpy as np

from batchsteps.analysis import fit_steps


def both_laws(min_steps: float = 500.0, min_batch: float = 8.0) -> dict:
    """Both laws fitted to 4 runs per batch size 2..1024 of K = K_min b / (b - b0), 5% scatter;
    runs below the pole never reach the target."""
    rng = np.random.default_rng(0)
    b = np.repeat(2.0 ** np.arange(1, 11), 4)
    k = np.where(b > min_batch, min_steps * b / np.maximum(b - min_batch, 1e-9), np.inf)
    k = k * np.exp(0.05 * rng.standard_normal(b.size))
    reached = np.isfinite(k)
    steps = np.where(reached, np.round(k), -1.0)
    return {
        law: fit_steps(b, steps, law, reached=reached, n_boot=30)
        for law in ("constant_lr", "tuned_lr")
    }
