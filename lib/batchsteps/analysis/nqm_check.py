r"""The training engine checked against the exact expected loss of the noisy quadratic model.

The engine's ``"nqm"`` workload samples the gradient noise; :mod:`batchsteps.theory.nqm`
computes :math:`\mathbb E f(\theta_k)` exactly. Over :math:`R` seeds the sample mean
:math:`\bar f_k` of the engine's losses has standard error :math:`s_k/\sqrt R`, so

.. math:: z_k = \frac{\bar f_k - \mathbb E f(\theta_k)}{s_k/\sqrt R}

is about standard normal at every step if the engine is right. A wrong rate, a wrong noise
variance or a wrong momentum update moves the mean by many standard errors.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EngineCheck:
    r"""Sampled against exact expected loss on the noisy quadratic, for each batch size.

    Arrays have shape ``(steps + 1, len(batch_sizes))``: ``exact``
    :math:`\mathbb E f(\theta_k)`, ``mean`` the engine's mean over ``n_seeds`` seeds,
    ``stderr`` its standard error and ``z`` the standardised difference (0 where the standard
    error is 0, as at step 0, where every seed starts at the same point). ``wall_time`` is the
    seconds the engine runs took.
    """

    optimizer: str
    batch_sizes: np.ndarray
    lr: float
    beta: float
    exact: np.ndarray
    mean: np.ndarray
    stderr: np.ndarray
    z: np.ndarray
    n_seeds: int
    wall_time: float

    @property
    def steps(self) -> np.ndarray:
        """The step indices :math:`k = 0, \\dots`."""
        return np.arange(self.exact.shape[0])

    @property
    def max_abs_z(self) -> float:
        """The largest :math:`|z_k|` over steps and batch sizes."""
        return float(np.max(np.abs(self.z)))

    def fraction_within(self, width: float = 2.0) -> float:
        """The fraction of (step, batch size) pairs with :math:`|z| \\le` ``width``."""
        return float(np.mean(np.abs(self.z[1:]) <= width))


def sampled_loss(
    workload: object,
    optimizer: str,
    batch_size: int,
    *,
    lr: float,
    seeds: Sequence[int] | int,
    steps: int,
    device: str | None = None,
    **hyper: float,
) -> np.ndarray:
    r"""The loss :math:`f(\theta_k) = \tfrac12\sum_i h_i\theta_{k,i}^2` of every engine replica at
    every step :math:`k = 0..\text{steps}` on a noisy-quadratic workload, shape
    ``(n_seeds, steps + 1)``, recorded through the engine's ``record`` hook."""
    import torch

    from ..train import measure_steps
    from ..train import workload as build

    wl = build(workload)
    if wl.loss != "quadratic":
        raise ValueError(f"workload={wl.name!r} must be a noisy quadratic (loss='quadratic')")
    steps = int(steps)
    out: list[np.ndarray] = []

    def record(k: int, params: list[torch.Tensor], _seeds: list[int]) -> None:
        (theta,) = params
        h = wl.curvature.to(theta.device, theta.dtype)
        out.append((0.5 * (h * theta.square()).sum(1)).double().cpu().numpy())

    measure_steps(
        wl, optimizer, batch_size, lr=lr, seeds=seeds, target=None, max_steps=steps,
        device=device, record=record, record_every=1, **hyper,
    )  # fmt: skip
    if len({row.size for row in out}) != 1 or not all(np.all(np.isfinite(r)) for r in out):
        raise ValueError(
            f"lr={lr!r}: some replicas diverged (their loss became inf or nan), so the mean "
            "over seeds is undefined; choose a stable rate"
        )
    return np.stack(out, axis=1)


def check_engine_nqm(
    batch_sizes: Sequence[int],
    *,
    lr: float,
    steps: int,
    seeds: int,
    beta: float = 0.0,
    dim: int = 100,
    decay: float = 1.0,
    theta0: float = 1.0,
    noise_factor: float = 1.0,
    device: str | None = None,
) -> EngineCheck:
    r"""Run the engine's ``"nqm"`` workload (SGD, or heavy-ball momentum when ``beta`` > 0) for
    ``seeds`` seeds at each batch size and compare its mean loss with the exact
    :math:`\mathbb E f(\theta_k)` of :func:`batchsteps.theory.nqm.expected_loss` on the same
    problem (:math:`h_i = i^{-\text{decay}}`, noise variances ``noise_factor`` :math:`h_i`).

    ``seeds`` >= 2 (a standard error needs two); ``steps`` >= 1. Returns an
    :class:`EngineCheck`.
    """
    from ..theory import nqm

    for name, value, low in (("seeds", seeds, 2), ("steps", steps, 1)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise ValueError(f"{name}={value!r} is outside the allowed range: an integer >= {low}")
    sizes = np.array([int(b) for b in batch_sizes], dtype=int)
    if sizes.size == 0 or np.any(sizes < 1):
        raise ValueError(f"batch_sizes={batch_sizes!r} must be a non-empty list of integers >= 1")
    problem = nqm.noisy_quadratic(dim, decay=decay, theta0=theta0, noise_factor=noise_factor)
    exact = nqm.expected_loss(problem, sizes.astype(float), lr=lr, steps=steps, beta=beta)
    optimizer = "momentum" if beta > 0 else "sgd"
    hyper = {"beta": beta} if beta > 0 else {}
    options = {"dim": dim, "decay": decay, "theta0": theta0, "noise_factor": noise_factor}
    from ..train import workload as build

    wl = build("nqm", **options)
    start = time.perf_counter()
    runs = [
        sampled_loss(
            wl, optimizer, int(b), lr=lr, seeds=int(seeds), steps=steps, device=device, **hyper
        )
        for b in sizes
    ]
    wall = time.perf_counter() - start
    mean = np.stack([r.mean(axis=0) for r in runs], axis=1)
    stderr = np.stack([r.std(axis=0, ddof=1) for r in runs], axis=1) / math.sqrt(seeds)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(stderr > 0, (mean - exact) / stderr, 0.0)
    return EngineCheck(
        optimizer, sizes, float(lr), float(beta), exact, mean, stderr, z, int(seeds), wall
    )
