r"""The gradient noise scale of McCandlish et al. (2018), estimated from measured gradient norms.

With :math:`G = \nabla f(\theta)` the full-data gradient and :math:`\Sigma` the covariance of a
one-sample gradient, a batch of b samples drawn uniformly with replacement has
:math:`\mathbb E\|g_b\|^2 = \|G\|^2 + \operatorname{tr}\Sigma / b`. Two batch sizes
:math:`b_s < b_l` give unbiased estimates of both terms,

.. math:: \widehat{\|G\|^2} = \frac{b_l\|g_l\|^2 - b_s\|g_s\|^2}{b_l - b_s},\qquad
   \widehat{\operatorname{tr}\Sigma} = \frac{\|g_s\|^2 - \|g_l\|^2}{1/b_s - 1/b_l},

which are averaged over independent draws before the simple noise scale
:math:`B_{\text{simple}} = \operatorname{tr}\Sigma / \|G\|^2` is taken. The squared norms are
measured in :mod:`batchsteps.train` (:func:`~batchsteps.train.two_batch_norms`, and along an
engine run :class:`~batchsteps.train.NoiseRecorder`); here they become estimates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .. import validation


def _interval(value: float, spread: float) -> tuple[float, float]:
    return (float(value - spread), float(value + spread))


def _ratio_interval(
    num: float, den: float, var_num: float, var_den: float, cov: float, t: float
) -> tuple[float, float]:
    r"""Fieller's interval for :math:`\mu_n/\mu_d` from two correlated normal means, in
    :math:`[0, \infty]`: :math:`(0, \infty)` when the denominator is not resolved from zero
    (or its mean is not even positive)."""
    a = den * den - t * t * var_den
    half_b = num * den - t * t * cov
    c = num * num - t * t * var_num
    disc = half_b * half_b - a * c
    if den <= 0 or a <= 0 or disc < 0:
        return (0.0, math.inf)
    root = math.sqrt(disc)
    return (max(0.0, float((half_b - root) / a)), max(0.0, float((half_b + root) / a)))


@dataclass(frozen=True)
class NoiseScale:
    r"""Two-batch estimates of :math:`\|G\|^2`, :math:`\operatorname{tr}\Sigma` and
    :math:`B_{\text{simple}}`, each with a ``confidence`` interval over ``draws`` draws.

    ``grad_norm_sq_ci`` and ``trace_sigma_ci`` are Student-t intervals of the mean over draws;
    ``b_simple_ci`` is Fieller's interval for the ratio of the two means (clipped to
    :math:`[0, \infty]`, unbounded when :math:`\|G\|^2` is not resolved from zero).
    ``small_norm_sq``/``large_norm_sq`` are the measured :math:`\|g_s\|^2, \|g_l\|^2` per draw;
    ``loss`` is the mean loss of the large batches (an unbiased estimate of the training loss).
    """

    grad_norm_sq: float
    grad_norm_sq_ci: tuple[float, float]
    trace_sigma: float
    trace_sigma_ci: tuple[float, float]
    b_simple: float
    b_simple_ci: tuple[float, float]
    small: int
    large: int
    draws: int
    confidence: float
    loss: float = math.nan
    small_norm_sq: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    large_norm_sq: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)

    @property
    def grad_norm_sq_draws(self) -> np.ndarray:
        r"""The per-draw estimates :math:`(b_l\|g_l\|^2 - b_s\|g_s\|^2)/(b_l - b_s)`."""
        b_s, b_l = self.small, self.large
        return (b_l * self.large_norm_sq - b_s * self.small_norm_sq) / (b_l - b_s)

    @property
    def trace_sigma_draws(self) -> np.ndarray:
        r"""The per-draw estimates :math:`(\|g_s\|^2 - \|g_l\|^2)/(1/b_s - 1/b_l)`."""
        return (self.small_norm_sq - self.large_norm_sq) / (1 / self.small - 1 / self.large)


def noise_scale_from_norms(
    small_norm_sq: Sequence[float] | np.ndarray,
    large_norm_sq: Sequence[float] | np.ndarray,
    small: int,
    large: int,
    *,
    confidence: float = 0.95,
    loss: float = math.nan,
) -> NoiseScale:
    r"""The two-batch estimator from measured squared norms :math:`\|g_s\|^2, \|g_l\|^2`.

    Draw d gives :math:`\widehat{\|G\|^2}_d` and :math:`\widehat{\operatorname{tr}\Sigma}_d`
    (see the module); their means carry Student-t intervals, and
    :math:`B_{\text{simple}} = \overline{\operatorname{tr}\Sigma}/\overline{\|G\|^2}`
    (``inf`` when the mean :math:`\|G\|^2` is not positive) Fieller's interval.

    ``small_norm_sq``, ``large_norm_sq``: one squared norm (finite, >= 0) per draw, at least two
    draws, as many of each; ``small`` >= 1 and ``large`` > ``small`` the batch sizes;
    ``confidence`` in (0, 1); ``loss``: a real number, the mean loss of the large batches
    (``nan``, the default, when not measured), kept in the result.

    >>> r = noise_scale_from_norms([3.0, 3.2], [1.2, 1.2], 1, 10)
    >>> round(r.grad_norm_sq, 3), round(r.trace_sigma, 3)
    (0.989, 2.111)
    """
    # non-finite norms: did training diverge?
    x = validation.real_array("small_norm_sq", small_norm_sq, min_size=2, low=0)
    y = validation.real_array("large_norm_sq", large_norm_sq, min_size=2, low=0)
    if x.shape != y.shape:
        allowed = f"one entry per entry of small_norm_sq ({x.size})"
        raise validation.value_error("large_norm_sq", large_norm_sq, allowed)
    small = validation.integer("small", small, low=1)
    large = validation.integer("large", large, low=small + 1)
    draws = x.size
    confidence = validation.probability("confidence", confidence, low_open=True, high_open=True)
    loss = validation.real("loss", loss, finite=False, note="nan when not measured")
    grads = (large * y - small * x) / (large - small)
    traces = (x - y) / (1 / small - 1 / large)
    g_mean, s_mean = float(grads.mean()), float(traces.mean())
    cov = np.cov(np.stack([traces, grads]), ddof=1) / draws
    t = float(stats.t.ppf(0.5 + confidence / 2, draws - 1))
    ratio = s_mean / g_mean if g_mean > 0 else math.inf
    return NoiseScale(
        grad_norm_sq=g_mean,
        grad_norm_sq_ci=_interval(g_mean, t * math.sqrt(cov[1, 1])),
        trace_sigma=s_mean,
        trace_sigma_ci=_interval(s_mean, t * math.sqrt(cov[0, 0])),
        b_simple=ratio,
        b_simple_ci=_ratio_interval(s_mean, g_mean, cov[0, 0], cov[1, 1], cov[0, 1], t),
        small=small,
        large=large,
        draws=draws,
        confidence=confidence,
        loss=loss,
        small_norm_sq=x,
        large_norm_sq=y,
    )


@dataclass(frozen=True)
class NoiseScaleTrace:
    """Noise-scale estimates recorded along a training run: ``estimates[i]`` at ``steps[i]``."""

    steps: np.ndarray
    estimates: tuple[NoiseScale, ...]

    def _field(self, name: str) -> np.ndarray:
        return np.array([getattr(e, name) for e in self.estimates], dtype=float)

    @property
    def b_simple(self) -> np.ndarray:
        r""":math:`B_{\text{simple}}` at each recorded step."""
        return self._field("b_simple")

    @property
    def grad_norm_sq(self) -> np.ndarray:
        r""":math:`\|G\|^2` at each recorded step."""
        return self._field("grad_norm_sq")

    @property
    def trace_sigma(self) -> np.ndarray:
        r""":math:`\operatorname{tr}\Sigma` at each recorded step."""
        return self._field("trace_sigma")

    @property
    def loss(self) -> np.ndarray:
        """The estimated training loss at each recorded step."""
        return self._field("loss")

    def to_frame(self) -> pd.DataFrame:
        """One row per recorded step: estimates and interval ends."""
        rows = []
        for step, e in zip(self.steps, self.estimates, strict=True):
            row: dict[str, float] = {"step": int(step), "loss": e.loss}
            for name in ("grad_norm_sq", "trace_sigma", "b_simple"):
                low, high = getattr(e, f"{name}_ci")
                row |= {name: getattr(e, name), f"{name}_low": low, f"{name}_high": high}
            rows.append(row)
        return pd.DataFrame(rows)
