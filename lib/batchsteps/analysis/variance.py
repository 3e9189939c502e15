r"""The mini-batch variance law, measured.

For per-sample gradients :math:`g_1, \dots, g_n` with mean :math:`\bar g` and one-sample
variance :math:`\sigma^2 = \frac1n \sum_i \|g_i - \bar g\|^2`, the mean :math:`g_B` of a batch of
:math:`b` samples drawn uniformly satisfies

.. math::

    \mathbb E\|g_B - \bar g\|^2 = \frac{\sigma^2}{b} \quad\text{(with replacement)},\qquad
    \mathbb E\|g_B - \bar g\|^2 = \frac{\sigma^2}{b}\,\frac{n - b}{n - 1}
    \quad\text{(without replacement)}.

:func:`minibatch_variance` estimates the left-hand side by drawing many batches.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


def predicted_variance(sigma_sq: float, batch_sizes: Any, *, n: int | None = None) -> np.ndarray:
    r""":math:`\sigma^2/b`, times :math:`(n-b)/(n-1)` when the population size ``n`` is given.

    >>> predicted_variance(2.0, [1, 2], n=3).tolist()
    [2.0, 0.5]
    """
    b = np.asarray(batch_sizes, dtype=float)
    value = sigma_sq / b
    return value if n is None else value * (n - b) / (n - 1)


@dataclass(frozen=True)
class VarianceCurve:
    r"""Measured :math:`\mathbb E\|g_B - \bar g\|^2` at each batch size, with what theory predicts.

    ``variance`` is the mean over ``draws`` batches and ``stderr`` its standard error;
    ``sigma_sq`` is the exact one-sample variance of the population of ``n`` gradients.
    """

    batch_sizes: np.ndarray
    variance: np.ndarray
    stderr: np.ndarray
    sigma_sq: float
    n: int
    draws: int
    replacement: bool

    @property
    def predicted(self) -> np.ndarray:
        r""":math:`\sigma^2/b`, or :math:`\sigma^2(n-b)/(b(n-1))` without replacement."""
        n = None if self.replacement else self.n
        return predicted_variance(self.sigma_sq, self.batch_sizes, n=n)

    @property
    def z_scores(self) -> np.ndarray:
        """(measured − predicted) / stderr: within a few units where the law holds."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return (self.variance - self.predicted) / self.stderr


def _check_batch_sizes(batch_sizes: Sequence[int], n: int, replacement: bool) -> list[int]:
    sizes = list(batch_sizes) if not isinstance(batch_sizes, int | np.integer) else [batch_sizes]
    if not sizes:
        raise ValueError("batch_sizes=[] must list at least one batch size")
    upper = math.inf if replacement else n
    for b in sizes:
        if isinstance(b, bool) or not isinstance(b, numbers.Integral):
            raise TypeError(f"batch_sizes contains {b!r}; each must be an integer")
        if not 1 <= b <= upper:
            allowed = "[1, inf)" if replacement else f"[1, n={n}] without replacement"
            raise ValueError(f"batch_sizes contains {b!r}; each must be in {allowed}")
    return [int(b) for b in sizes]


def minibatch_variance(
    per_sample_grads: Any,
    batch_sizes: Sequence[int],
    *,
    draws: int = 1000,
    replacement: bool = True,
    seed: int = 0,
) -> VarianceCurve:
    r"""Estimate :math:`\mathbb E\|g_B - \bar g\|^2` for each batch size from ``draws`` batches.

    ``per_sample_grads`` is an ``(n, d)`` array (or anything ``numpy.asarray`` reads, a CPU
    tensor included), one gradient per sample at one point :math:`\theta`. Batches are drawn
    uniformly, with or without ``replacement``, from ``numpy``'s generator seeded by ``seed``;
    the mean of a batch is the weighting of the samples by how often each was drawn, over
    :math:`b`.

    >>> curve = minibatch_variance([[0.0], [2.0]], [1, 2], draws=4000, replacement=False)
    >>> curve.sigma_sq, float(curve.variance[1])
    (1.0, 0.0)
    """
    grads = np.asarray(per_sample_grads, dtype=np.float64)
    if grads.ndim != 2 or grads.shape[0] < 2:
        raise ValueError(
            f"per_sample_grads of shape {grads.shape} must be an (n, d) array with n >= 2"
        )
    if not np.all(np.isfinite(grads)):
        raise ValueError("per_sample_grads must be finite; got nan or inf")
    if isinstance(draws, bool) or not isinstance(draws, numbers.Integral):
        raise TypeError(f"draws={draws!r} must be an integer >= 2")
    if draws < 2:
        raise ValueError(f"draws={draws!r} must be an integer >= 2 (a standard error needs two)")
    if not isinstance(replacement, bool):
        raise TypeError(f"replacement={replacement!r} must be True or False")
    n = int(grads.shape[0])
    sizes = _check_batch_sizes(batch_sizes, n, replacement)
    centred = grads - grads.mean(axis=0)
    sigma_sq = float((centred**2).sum(axis=1).mean())
    rng = np.random.default_rng(int(seed))
    rows = np.arange(draws)[:, None] * n
    variance, stderr = [], []
    for b in sizes:
        if replacement:
            index = rng.integers(n, size=(draws, b))
        else:
            index = rng.random((draws, n)).argsort(axis=1)[:, :b]
        counts = np.bincount((rows + index).ravel(), minlength=draws * n).reshape(draws, n)
        deviation = (((counts / b) @ centred) ** 2).sum(axis=1)
        variance.append(float(deviation.mean()))
        stderr.append(float(deviation.std(ddof=1)) / math.sqrt(draws))
    return VarianceCurve(
        np.array(sizes, dtype=float),
        np.array(variance),
        np.array(stderr),
        sigma_sq,
        n,
        int(draws),
        replacement,
    )
