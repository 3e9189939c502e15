r"""A problem whose constants are known exactly, and SGD / heavy-ball runs that record the bound's
measure.

Regularized binary logistic regression on :math:`n` samples :math:`(x_i, y_i)`,
:math:`y_i \in \{0, 1\}`:

.. math::

    f(\theta) = \frac1n \sum_{i=1}^n \bigl(\log(1 + e^{x_i^\top\theta}) - y_i x_i^\top\theta\bigr)
    + \frac\lambda2 \|\theta\|^2 .

Its Hessian is :math:`\frac1n X^\top D X + \lambda I` with :math:`D = \mathrm{diag}(s_i(1-s_i))`
and :math:`s_i(1-s_i) \le 1/4`, so :math:`L = \lambda_{\max}(X^\top X)/(4n) + \lambda` is a valid
smoothness constant (A1). A one-sample gradient is :math:`(s_i - y_i) x_i + \lambda\theta` with
:math:`|s_i - y_i| < 1`; its variance about :math:`\nabla f` is at most its second moment without
the regularizer, so :math:`\sigma^2 = \frac1n\sum_i \|x_i\|^2` satisfies (A2) at every
:math:`\theta`. The minimum :math:`f^\star` is attained (:math:`\lambda > 0`) and found by Newton's
method, which gives :math:`\Delta = f(\theta_0) - f^\star`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch

from .. import validation
from .workloads import digits_data

_NEWTON_TOLERANCE = 1e-12


@dataclass(frozen=True, eq=False)
class LogisticProblem:
    r"""Regularized logistic regression with exact constants :math:`L, \sigma^2, f^\star, \Delta`.

    Build one with :func:`logistic_problem` or :func:`digits_logistic`. Methods take one point
    ``theta`` of shape ``(d,)`` or a stack of ``R`` points of shape ``(R, d)``.
    """

    features: torch.Tensor
    labels: torch.Tensor
    reg: float
    L: float
    sigma_sq: float
    f_star: float
    Delta: float
    theta_star: torch.Tensor
    theta0: torch.Tensor

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.features.shape[0])

    @property
    def d(self) -> int:
        """Number of parameters (features, the constant one included)."""
        return int(self.features.shape[1])

    def constants(self) -> dict[str, float]:
        r"""``L``, ``sigma`` (:math:`\sqrt{\sigma^2}`) and ``Delta``, as ``Bound.subs`` wants."""
        return {"L": self.L, "sigma": math.sqrt(self.sigma_sq), "Delta": self.Delta}

    def loss(self, theta: torch.Tensor) -> torch.Tensor:
        r""":math:`f(\theta)`, one value per point."""
        z = theta @ self.features.T
        data = (torch.nn.functional.softplus(z) - self.labels * z).mean(dim=-1)
        return data + 0.5 * self.reg * (theta * theta).sum(dim=-1)

    def gradient(self, theta: torch.Tensor) -> torch.Tensor:
        r""":math:`\nabla f(\theta) = \frac1n X^\top(s - y) + \lambda\theta`."""
        residual = torch.sigmoid(theta @ self.features.T) - self.labels
        return residual @ self.features / self.n + self.reg * theta

    def per_sample_gradients(self, theta: torch.Tensor) -> torch.Tensor:
        r"""The ``(n, d)`` matrix of :math:`\nabla f_i(\theta) = (s_i - y_i)x_i + \lambda\theta`."""
        residual = torch.sigmoid(self.features @ theta) - self.labels
        return residual[:, None] * self.features + self.reg * theta

    def gradient_variance(self, theta: torch.Tensor) -> float:
        r"""One-sample variance at ``theta``: :math:`\frac1n\sum_i\|\nabla f_i - \nabla f\|^2`."""
        grads = self.per_sample_gradients(theta)
        return float(((grads - grads.mean(dim=0)) ** 2).sum(dim=1).mean())


def _newton_minimizer(problem: LogisticProblem) -> torch.Tensor:
    """Newton's method from ``theta0``; the problem is strongly convex, so it converges."""
    X, theta = problem.features, problem.theta0.clone()
    eye = torch.eye(problem.d, dtype=X.dtype)
    for _ in range(100):
        grad = problem.gradient(theta)
        if float(grad.norm()) < _NEWTON_TOLERANCE:
            return theta
        s = torch.sigmoid(X @ theta)
        hessian = (X.T * (s * (1 - s))) @ X / problem.n + problem.reg * eye
        theta = theta - torch.linalg.solve(hessian, grad)
    raise RuntimeError("Newton's method did not reach |grad f| < 1e-12 in 100 steps")


def logistic_problem(features: Any, labels: Any, *, reg: float = 1e-3) -> LogisticProblem:
    r"""Logistic regression on ``features`` ``(n, d)`` and 0/1 ``labels`` ``(n,)``, constants exact.

    :math:`L = \lambda_{\max}(X^\top X)/(4n) + \lambda`, :math:`\sigma^2 = \frac1n\sum_i\|x_i\|^2`,
    :math:`\theta_0 = 0`, :math:`f^\star = f(\theta^\star)` with :math:`\theta^\star` from Newton's
    method, :math:`\Delta = f(\theta_0) - f^\star`. Computed in float64.

    >>> p = logistic_problem([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [0, 1, 1], reg=0.1)
    >>> round(p.L, 4), round(p.sigma_sq, 4)
    (0.35, 1.3333)
    """
    reg = validation.real("reg", reg, low=0, low_open=True, note="it makes the minimum f* attained")
    X = torch.as_tensor(validation.real_array("features", features, ndim=2))
    y = torch.as_tensor(validation.real_array("labels", labels))
    if X.shape[0] < 2:
        raise ValueError(f"features of shape {tuple(X.shape)} must be an (n, d) array, n >= 2")
    if y.shape != (X.shape[0],):
        raise ValueError(f"labels of shape {tuple(y.shape)} must have shape ({X.shape[0]},)")
    if not bool(((y == 0) | (y == 1)).all()):
        raise ValueError(f"labels must be 0 or 1; got values {sorted(set(y.tolist()))[:5]}")
    n, d = X.shape
    L = float(torch.linalg.eigvalsh(X.T @ X)[-1]) / (4 * n) + reg
    sigma_sq = float((X * X).sum(dim=1).mean())
    zero = torch.zeros(d, dtype=X.dtype)
    draft = LogisticProblem(X, y, reg, L, sigma_sq, math.nan, math.nan, zero, zero)
    theta_star = _newton_minimizer(draft)
    f_star = float(draft.loss(theta_star))
    Delta = float(draft.loss(zero)) - f_star
    return LogisticProblem(X, y, reg, L, sigma_sq, f_star, Delta, theta_star, zero)


def digits_logistic(*, reg: float = 1e-3, positive: Sequence[int] = (1, 3, 5, 7, 9)):
    r"""Odd-vs-even (by default) logistic regression on scikit-learn's bundled digits.

    The 1797 images of 8×8 pixels are scaled to :math:`[0, 1]` and given a constant feature,
    so :math:`d = 65`; a digit is labelled 1 when it is in ``positive``.
    """
    digits = set(
        validation.sequence_of("positive", positive, partial(validation.integer, low=0, high=9))
    )
    images, target = digits_data()
    features = np.hstack([images / 16.0, np.ones((len(images), 1))])
    labels = np.isin(target, sorted(digits)).astype(np.float64)
    return logistic_problem(features, labels, reg=reg)


@dataclass(frozen=True)
class GradientTrace:
    r""":math:`\|\nabla f(\theta_k)\|^2` of ``seeds`` independent runs, for ``k = 0 .. steps-1``."""

    batch_size: int
    lr: float
    momentum: float
    grad_norm_sq: np.ndarray

    @property
    def seeds(self) -> int:
        return int(self.grad_norm_sq.shape[0])

    @property
    def steps(self) -> int:
        return int(self.grad_norm_sq.shape[1])

    def average(self) -> np.ndarray:
        r"""For each K: :math:`\frac1K\sum_{k<K}\|\nabla f(\theta_k)\|^2`, averaged over seeds."""
        return self._per_seed_average().mean(axis=0)

    def average_stderr(self) -> np.ndarray:
        """Standard error over seeds of :meth:`average`, for each K."""
        return self._per_seed_average().std(axis=0, ddof=1) / math.sqrt(self.seeds)

    def first_below(self, level: float) -> int:
        r"""The first K whose :meth:`average` is at most ``level``; -1 if none up to ``steps``."""
        level = validation.positive("level", level)
        below = np.flatnonzero(self.average() <= level)
        return int(below[0]) + 1 if below.size else -1

    def _per_seed_average(self) -> np.ndarray:
        return np.cumsum(self.grad_norm_sq, axis=1) / np.arange(1, self.steps + 1)


def run_sgd(
    problem: LogisticProblem,
    *,
    lr: float,
    batch_size: int,
    steps: int,
    seeds: int,
    momentum: float = 0.0,
    seed: int = 0,
) -> GradientTrace:
    r"""``seeds`` independent runs of SGD with heavy-ball momentum, batched in one computation.

    :math:`m_k = \beta m_{k-1} + g_k`, :math:`\theta_{k+1} = \theta_k - \alpha m_k`,
    :math:`m_{-1} = 0` (``torch.optim.SGD`` with ``momentum=β, dampening=0``; ``β = 0`` is SGD),
    :math:`g_k` the mean gradient of ``batch_size`` samples drawn uniformly with replacement.
    Records the full-gradient :math:`\|\nabla f(\theta_k)\|^2` for :math:`k = 0,\dots,K-1`.

    Its own loop rather than the engine's, because the bound is checked against exact
    quantities the engine cannot give: the constants :math:`L, \sigma^2, \Delta` hold for this
    regularised logistic loss in float64, while the engine's workloads have no regulariser and
    train in float32; and here the exact full gradient at every iterate comes out of the same
    pass over the data as the mini-batch gradient (one product with :math:`X` per step), which
    a recorder on the engine would have to repeat.
    """
    validation.instance("problem", problem, LogisticProblem)
    lr = validation.positive("lr", lr)
    momentum = validation.real("momentum", momentum, low=0, high=1, high_open=True)
    batch_size = validation.integer("batch_size", batch_size, low=1)
    steps = validation.integer("steps", steps, low=1)
    seeds = validation.integer("seeds", seeds, low=1)
    generator = torch.Generator().manual_seed(validation.integer("seed", seed, low=0))
    X, y, n = problem.features, problem.labels, problem.n
    theta = problem.theta0.expand(seeds, -1).clone()
    velocity = torch.zeros_like(theta)
    record = torch.empty(seeds, steps, dtype=X.dtype)
    ones = torch.ones(seeds, batch_size, dtype=X.dtype)
    for k in range(steps):
        # One pass over the data gives the residuals of every sample at theta_k; the full
        # gradient weights them by 1/n, the mini-batch gradient by (times drawn)/b.
        residual = torch.sigmoid(theta @ X.T) - y
        index = torch.randint(n, (seeds, batch_size), generator=generator)
        counts = torch.zeros(seeds, n, dtype=X.dtype).scatter_add_(1, index, ones)
        weights = torch.cat([residual / n, residual * counts / batch_size])
        full, grad = (weights @ X + problem.reg * torch.cat([theta, theta])).split(seeds)
        record[:, k] = (full**2).sum(dim=1)
        velocity = momentum * velocity + grad
        theta = theta - lr * velocity
    return GradientTrace(batch_size, float(lr), float(momentum), record.numpy())


@dataclass(frozen=True)
class BoundCheck:
    r"""Measured :math:`\frac1K\sum_{k<K}\mathbb E\|\nabla f(\theta_k)\|^2` against the bound.

    Rows are batch sizes, columns are K = 1 .. steps. ``measured`` is the mean over seeds and
    ``stderr`` its standard error; ``bound`` is :math:`A/K + B/b + C`.
    """

    batch_sizes: np.ndarray
    steps: np.ndarray
    measured: np.ndarray
    stderr: np.ndarray
    bound: np.ndarray
    seeds: int

    @property
    def ratio(self) -> np.ndarray:
        """measured / bound, for every batch size and K: below 1 where the bound holds."""
        return self.measured / self.bound

    @property
    def holds(self) -> bool:
        """Whether the measured mean plus three standard errors stays below the bound everywhere."""
        return bool(np.all(self.measured + 3 * self.stderr <= self.bound))

    @property
    def max_ratio(self) -> float:
        """The largest measured / bound over every batch size and K: how tight the bound gets."""
        return float(self.ratio.max())


def check_bound(traces: Sequence[GradientTrace], bound: Any) -> BoundCheck:
    r"""Compare each trace's running average with :math:`A/K + B/b + C` of a numeric bound.

    ``bound`` is a :class:`batchsteps.theory.NumericBound` whose ``alpha`` (and ``beta``, if it
    has one) must be the traces' learning rate (and momentum). All traces need the same length.
    """
    traces = validation.sequence_of(
        "traces", traces, lambda name, t: validation.instance(name, t, GradientTrace)
    )
    validation.attributes("bound", bound, ("values", "A", "B", "C"), "a NumericBound (Bound.subs)")
    values = bound.values
    for t in traces:
        if not math.isclose(t.lr, values["alpha"]) or not math.isclose(
            t.momentum, values.get("beta", 0.0), abs_tol=1e-12
        ):
            raise ValueError(
                f"trace (lr={t.lr}, momentum={t.momentum}) does not match the bound's "
                f"alpha={values['alpha']}, beta={values.get('beta', 0.0)}"
            )
    if len({t.steps for t in traces}) != 1 or len({t.seeds for t in traces}) != 1:
        raise ValueError("traces must all have the same number of steps and seeds")
    K = np.arange(1, traces[0].steps + 1, dtype=float)
    b = np.array([t.batch_size for t in traces], dtype=float)
    limit = bound.A / K[None, :] + bound.B / b[:, None] + bound.C
    measured = np.stack([t.average() for t in traces])
    stderr = np.stack([t.average_stderr() for t in traces])
    return BoundCheck(b, K, measured, stderr, limit, traces[0].seeds)
