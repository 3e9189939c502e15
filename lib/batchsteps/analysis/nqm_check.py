r"""The training engine checked against the exact expected loss of the noisy quadratic model.

The engine's ``"nqm"`` workload samples the gradient noise; :mod:`batchsteps.theory.nqm`
computes :math:`\mathbb E f(\theta_k)` exactly. Over :math:`R` seeds the sample mean
:math:`\bar f_k` of the engine's losses has standard error :math:`s_k/\sqrt R`, so

.. math:: z_k = \frac{\bar f_k - \mathbb E f(\theta_k)}{s_k/\sqrt R}

is about standard normal at every step if the engine is right. A wrong rate, a wrong noise
variance or a wrong momentum update moves the mean by many standard errors. The runs are made
by :func:`batchsteps.experiments.check_engine_nqm` and :func:`batchsteps.experiments.pole_check`;
here they are compared with the exact values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import validation
from ..theory import nqm

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

    @classmethod
    def from_runs(
        cls,
        optimizer: str,
        batch_sizes: Sequence[int],
        *,
        lr: float,
        beta: float,
        exact: np.ndarray,
        runs: Sequence[np.ndarray],
        wall_time: float,
    ) -> EngineCheck:
        r"""Compare sampled losses with the exact expectation: ``runs[j]`` holds the losses of
        every seed at batch size ``batch_sizes[j]`` (shape ``(seeds, steps + 1)``, as
        :func:`batchsteps.train.sampled_loss` gives), ``exact[k, j]`` the expected loss.

        >>> check = EngineCheck.from_runs("sgd", [1], lr=0.5, beta=0.0, exact=np.ones((2, 1)),
        ...     runs=[np.array([[1.0, 0.9], [1.0, 1.1]])], wall_time=0.0)
        >>> check.z.tolist()
        [[0.0], [0.0]]
        """
        sizes = np.asarray(batch_sizes, dtype=int)
        if len(runs) != sizes.size or not runs:
            allowed = f"one array per batch size ({sizes.size}), got {len(runs)}"
            raise ValueError(f"runs must hold {allowed}")
        seeds = {np.shape(r)[0] for r in runs}
        if len(seeds) != 1 or min(seeds) < 2:
            raise ValueError(f"runs must hold one number >= 2 of seeds at every size, got {seeds}")
        (count,) = seeds
        mean = np.stack([np.mean(r, axis=0) for r in runs], axis=1)
        stderr = np.stack([np.std(r, axis=0, ddof=1) for r in runs], axis=1) / math.sqrt(count)
        exact = np.asarray(exact, dtype=float)
        if exact.shape != mean.shape:
            raise ValueError(f"exact of shape {exact.shape} must have the runs' {mean.shape}")
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(stderr > 0, (mean - exact) / stderr, 0.0)
        return cls(
            optimizer, sizes, float(lr), float(beta), exact, mean, stderr, z, int(count),
            float(wall_time),
        )  # fmt: skip


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
    runs: pd.DataFrame
    expected_fits: Mapping[str, object]
    sampled_fits: Mapping[str, object]
    wall_time: float

    def table(self) -> pd.DataFrame:
        """Per batch size: the expected-loss crossing, and the sampled runs' median first
        passage with how many of the seeds reached the target within the budget."""
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
    problem: nqm.NoisyQuadratic, *, lr: float, target: float, beta: float = 0.0, power: float = 0.0
) -> float:
    r"""The exact noise-floor pole of the noisy quadratic at a fixed rate:
    :math:`b_{\text{floor}} = N_\infty/\text{target}`, the batch size below which the expected
    loss :math:`D_k + N_k/b` never reaches ``target`` (``inf`` where the rate is unstable).

    >>> from batchsteps.theory import nqm
    >>> p = nqm.NoisyQuadratic(curvature=1.0, noise=1.0, theta0=1.0)
    >>> round(noise_floor_pole(p, lr=0.5, target=0.1), 12)   # N_inf = a c / (2 (2 - a h)) = 1/6
    1.666666666667
    """
    target = validation.positive("target", target)
    floor = float(nqm.stationary_loss(problem, 1.0, lr=lr, beta=beta, power=power)[0])
    return floor / target
