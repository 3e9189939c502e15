r"""The training engine checked against the noisy quadratic model's exact expectations.

:func:`check_engine_nqm` runs the engine's ``"nqm"`` workload for many seeds and sets its mean
loss against :func:`batchsteps.theory.nqm.expected_loss` (the criterion is
:meth:`~batchsteps.analysis.EngineCheck.agrees`); :func:`pole_check` sets the steps of sampled
runs and of the expected loss against the exact noise-floor pole.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence

import numpy as np

from .. import validation
from ..analysis import EngineCheck, PoleCheck, fit_laws, noise_floor_pole
from ..theory import nqm
from ..train import sampled_loss, sweep, workload

__all__ = ["check_engine_nqm", "pole_check"]


_batch_size = functools.partial(validation.integer, low=1)
"""An integer >= 1, checked (``_batch_size(name, value)``)."""


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
    :class:`~batchsteps.analysis.EngineCheck`.
    """
    seeds = validation.integer("seeds", seeds, low=2)  # a standard error needs two
    steps = validation.integer("steps", steps, low=1)
    sizes = np.array(validation.sequence_of("batch_sizes", batch_sizes, _batch_size), dtype=int)
    problem = nqm.noisy_quadratic(dim, decay=decay, theta0=theta0, noise_factor=noise_factor)
    exact = nqm.expected_loss(problem, sizes.astype(float), lr=lr, steps=steps, beta=beta)
    optimizer = "momentum" if beta > 0 else "sgd"
    hyper = {"beta": beta} if beta > 0 else {}
    options = {"dim": dim, "decay": decay, "theta0": theta0, "noise_factor": noise_factor}
    wl = workload("nqm", **options)
    start = time.perf_counter()
    runs = [
        sampled_loss(
            wl, optimizer, int(b), lr=lr, seeds=int(seeds), steps=steps, device=device, **hyper
        )
        for b in sizes
    ]
    return EngineCheck.from_runs(
        optimizer, sizes, lr=lr, beta=beta, exact=exact, runs=runs,
        wall_time=time.perf_counter() - start,
    )  # fmt: skip


def pole_check(
    batch_sizes: Sequence[int],
    *,
    lr: float,
    target_fraction: float,
    seeds: int,
    max_steps: int,
    dim: int = 100,
    n_boot: int = 200,
    device: str | None = None,
) -> PoleCheck:
    r"""SGD at rate ``lr`` on the noisy quadratic of dimension ``dim`` (:math:`h_i = 1/i`,
    noise :math:`h_i/b`, :math:`\theta_0 = 1`), target ``target_fraction`` of the initial
    loss: the exact noise-floor pole, the exact expected-loss crossing per batch size, and
    ``seeds`` sampled engine runs per batch size (at most ``max_steps`` steps each), with the
    constant-rate and tuned-rate laws fitted to both curves (``n_boot`` parameter draws): the
    sampled runs censored at ``max_steps``; the exact curve, which has no seed scatter, with
    a constant noise model and without the batch sizes where it never crosses. Returns a
    :class:`~batchsteps.analysis.PoleCheck`.
    """
    validation.probability("target_fraction", target_fraction, low_open=True, high_open=True)
    sizes = np.array(sorted(set(validation.sequence_of("batch_sizes", batch_sizes, _batch_size))))
    if sizes.size < 3:
        raise validation.value_error("batch_sizes", batch_sizes, "at least 3 distinct integers")
    problem = nqm.noisy_quadratic(dim)
    target = float(target_fraction) * problem.initial_loss
    expected = nqm.expected_steps_to_target(
        problem, sizes.astype(float), lr=lr, target=target, max_steps=max_steps
    )
    start = time.perf_counter()
    runs = sweep(
        workload("nqm", dim=dim), "sgd", sizes.tolist(), lr=lr, seeds=seeds,
        target=f"loss<={target!r}", max_steps=max_steps, progress=False, device=device,
    )  # fmt: skip
    wall = time.perf_counter() - start
    reached = expected > 0
    expected_fits = fit_laws(
        sizes, np.maximum(expected, 1), reached=reached, noise="constant", n_boot=n_boot
    )
    sampled_fits = fit_laws(
        runs["batch_size"].to_numpy(), runs["steps"].clip(lower=1).to_numpy(),
        reached=runs["reached"].to_numpy(), max_steps=max_steps, n_boot=n_boot,
    )  # fmt: skip
    return PoleCheck(
        float(lr), target, int(max_steps), sizes,
        noise_floor_pole(problem, lr=lr, target=target), expected, runs,
        expected_fits, sampled_fits, wall,
    )  # fmt: skip
