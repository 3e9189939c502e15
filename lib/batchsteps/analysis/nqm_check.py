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

#: The criterion of :meth:`EngineCheck.agrees`: the least share of :math:`|z_k| \le 2` ...
AGREE_LEAST = 0.85
#: ... and the largest :math:`|z_k|` allowed.
AGREE_LARGEST = 5.0


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

    def agrees(
        self, *, width: float = 2.0, least: float = AGREE_LEAST, largest: float = AGREE_LARGEST
    ) -> bool:
        r"""The criterion the book states for "the engine agrees with the exact expectation":
        at least ``least`` of the :math:`z_k` within :math:`\pm` ``width`` (about 95% would
        be for independent normal :math:`z`; correlated, skewed ones at small b scatter
        more) and no :math:`|z_k|` above ``largest``. A wrong rate, noise variance or update
        drifts by tens of standard errors (the test suite checks a rate off by a tenth gives
        more than 10), far beyond ``largest``."""
        return bool(self.fraction_within(width) >= least and self.max_abs_z <= largest)

    def verdict(self) -> str:
        """The criterion of :meth:`agrees` applied, in words with the numbers."""
        within, top = 100 * self.fraction_within(2.0), self.max_abs_z
        rule = f"at least {100 * AGREE_LEAST:.0f}% of |z| within 2 and none above {AGREE_LARGEST:g}"
        word = "agrees" if self.agrees() else "does not agree"
        return f"{word} ({within:.1f}% within 2, largest |z| {top:.2f}; criterion: {rule})"


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


@dataclass(frozen=True)
class PoleCheck:
    r"""Two statistics of one noisy-quadratic curve at a fixed rate, and the pole of each.

    ``floor_pole`` is the exact noise-floor pole :math:`b_{\text{floor}} = N_\infty/\text{target}`:
    below it the *expected* loss :math:`\mathbb E f(\theta_k) = D_k + N_k/b` stays above the
    target for ever. ``expected_steps`` (``-1`` where never) are the steps at which the
    expected loss first crosses the target, one per batch size; ``runs`` the engine's sampled
    runs (a sweep frame: one row per seed, ``steps`` the first step at which that run's loss
    met the target, ``-1`` where not within ``max_steps``). A single run's loss fluctuates
    around the floor and can dip below the target even where the expected loss never does, so
    the median first passage has no pole at ``floor_pole``: the constant-rate law fitted to it
    (``sampled_fits``) or to the expected-loss crossing (``expected_fits``) reports a fitted
    :math:`b_0` that is a parameter of that fit, not the noise floor. ``wall_time``: seconds the
    engine runs took.
    """

    lr: float
    target: float
    max_steps: int
    batch_sizes: np.ndarray
    floor_pole: float
    expected_steps: np.ndarray
    runs: object
    expected_fits: dict
    sampled_fits: dict
    wall_time: float

    def table(self) -> object:
        """Per batch size: the expected-loss crossing, and the sampled runs' median first
        passage with how many of the seeds reached the target within the budget."""
        import pandas as pd

        grouped = self.runs.groupby("batch_size")
        reached = grouped["reached"].sum().astype(int)
        median = self.runs[self.runs["reached"]].groupby("batch_size")["steps"].median()
        return pd.DataFrame(
            {
                "expected loss crosses at": [
                    "never" if k < 0 else str(int(k)) for k in self.expected_steps
                ],
                "median first passage": [
                    f"{median[b]:.0f}" if b in median.index else "–" for b in self.batch_sizes
                ],
                "seeds reached": [
                    f"{reached.get(b, 0)} of {int(grouped.size().get(b, 0))}"
                    for b in self.batch_sizes
                ],
            },
            index=pd.Index(self.batch_sizes, name="batch size"),
        )


def noise_floor_pole(
    problem: object, *, lr: float, target: float, beta: float = 0.0, power: float = 0.0
) -> float:
    r"""The exact noise-floor pole of the noisy quadratic at a fixed rate:
    :math:`b_{\text{floor}} = N_\infty/\text{target}`, the batch size below which the expected
    loss :math:`D_k + N_k/b` never reaches ``target`` (``inf`` where the rate is unstable).

    >>> from batchsteps.theory import nqm
    >>> p = nqm.NoisyQuadratic(curvature=1.0, noise=1.0, theta0=1.0)
    >>> round(noise_floor_pole(p, lr=0.5, target=0.1), 12)   # N_inf = a c / (2 (2 - a h)) = 1/6
    1.666666666667
    """
    from ..theory import nqm

    target = float(target)
    if not (math.isfinite(target) and target > 0):
        raise ValueError(f"target={target!r} must be a finite number > 0")
    floor = float(nqm.stationary_loss(problem, 1.0, lr=lr, beta=beta, power=power)[0])
    return floor / target


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
    :class:`PoleCheck`.
    """
    from ..theory import nqm
    from ..train import sweep
    from ..train import workload as build
    from .recipe import fit_laws

    if not 0 < float(target_fraction) < 1:
        raise ValueError(f"target_fraction={target_fraction!r} must lie in (0, 1)")
    sizes = np.array(sorted({int(b) for b in batch_sizes}), dtype=int)
    if sizes.size < 3 or np.any(sizes < 1):
        raise ValueError(f"batch_sizes={batch_sizes!r} must hold >= 3 distinct integers >= 1")
    problem = nqm.noisy_quadratic(dim)
    target = float(target_fraction) * problem.initial_loss
    expected = nqm.steps_to_target(
        problem, sizes.astype(float), lr=lr, target=target, max_steps=max_steps
    )
    start = time.perf_counter()
    runs = sweep(
        build("nqm", dim=dim), "sgd", sizes.tolist(), lr=lr, seeds=seeds,
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
