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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import validation


def predicted_variance(sigma_sq: float, batch_sizes: Any, *, n: int | None = None) -> np.ndarray:
    r""":math:`\sigma^2/b`, times :math:`(n-b)/(n-1)` when the population size ``n`` is given.

    ``sigma_sq``: a finite real number >= 0; ``batch_sizes``: a number or an array of finite
    real numbers >= 1 (the result has its shape), at most ``n`` when ``n`` is given; ``n``:
    ``None`` (drawing with replacement) or an integer >= 2 (without).

    >>> predicted_variance(2.0, [1, 2], n=3).tolist()
    [2.0, 0.5]
    """
    sigma_sq = validation.real("sigma_sq", sigma_sq, low=0)
    b = validation.real_array("batch_sizes", batch_sizes, ndim=None, low=1)
    if n is not None:
        n = validation.integer("n", n, low=2)
        if np.any(b > n):
            raise validation.value_error(
                "batch_sizes", batch_sizes, f"at most n={n} (drawn without replacement)"
            )
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
    """A batch size or several, integers >= 1 (and <= n without replacement)."""
    sizes = [batch_sizes] if isinstance(batch_sizes, int | np.integer) else batch_sizes
    upper = None if replacement else n
    return validation.sequence_of(
        "batch_sizes", sizes, lambda name, b: validation.integer(name, b, low=1, high=upper)
    )


def minibatch_variance(
    per_sample_grads: Any,
    batch_sizes: Sequence[int],
    *,
    draws: int = 1000,
    replacement: bool = True,
    seed: int | np.random.Generator = 0,
) -> VarianceCurve:
    r"""Estimate :math:`\mathbb E\|g_B - \bar g\|^2` for each batch size from ``draws`` batches.

    ``per_sample_grads`` is an ``(n, d)`` array (or anything ``numpy.asarray`` reads, a CPU
    tensor included), one gradient per sample at one point :math:`\theta`. Batches are drawn
    uniformly, with or without ``replacement``, from ``numpy``'s generator seeded by ``seed``
    (an integer >= 0, or a ``numpy.random.Generator`` to draw from);
    the mean of a batch is the weighting of the samples by how often each was drawn, over
    :math:`b`.

    >>> curve = minibatch_variance([[0.0], [2.0]], [1, 2], draws=4000, replacement=False)
    >>> curve.sigma_sq, float(curve.variance[1])
    (1.0, 0.0)
    """
    grads = validation.real_array("per_sample_grads", per_sample_grads, ndim=2)
    if grads.shape[0] < 2:
        raise validation.value_error("per_sample_grads", per_sample_grads, "(n, d) with n >= 2")
    draws = validation.integer("draws", draws, low=2)  # a standard error needs two
    replacement = validation.boolean("replacement", replacement)
    n = int(grads.shape[0])
    sizes = _check_batch_sizes(batch_sizes, n, replacement)
    rng = validation.generator("seed", seed)
    centred = grads - grads.mean(axis=0)
    sigma_sq = float((centred**2).sum(axis=1).mean())
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
