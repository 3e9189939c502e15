r"""SGD on the one-dimensional quadratic :math:`f(\theta) = L\theta^2/2`: the bound, exactly.

A batch of size :math:`b` gives :math:`g_k = L\theta_k + \xi_k` with zero-mean noise of variance
:math:`\sigma^2/b`, independent across steps. The second moment :math:`s_k = \mathbb E\theta_k^2`
then obeys, exactly,

.. math:: s_{k+1} = (1 - L\alpha)^2 s_k + \alpha^2\sigma^2/b,

with fixed point :math:`s^\star = \alpha\sigma^2/(L(2 - L\alpha)b)` for :math:`0 < \alpha < 2/L`,
where :math:`\mathbb E f'(\theta)^2 = L^2 s^\star = L\alpha\sigma^2/((2 - L\alpha)b)`: the term
:math:`B/b` of SGD's bound, with equality. The average over the first K steps is
:func:`averaged_gradient_sq`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sympy as sp

from .. import validation
from .notation import symbols as S

s = sp.Symbol("s", nonnegative=True)
"""The second moment :math:`\\mathbb E\\theta_k^2` at one step."""

s0 = sp.Symbol("s_0", positive=True)
"""The starting second moment :math:`\\theta_0^2` (a fixed start), so :math:`\\Delta = L s_0/2`."""


def contraction() -> sp.Expr:
    r""":math:`r = (1 - L\alpha)^2`, the factor by which the distance to :math:`s^\star` shrinks."""
    return (1 - S.L * S.alpha) ** 2


def second_moment_step(current: sp.Expr = s) -> sp.Expr:
    r"""The next moment :math:`(1 - L\alpha)^2 s_k + \alpha^2\sigma^2/b`, given ``current``."""
    return contraction() * current + S.alpha**2 * S.sigma**2 / S.b


def stationary_second_moment() -> sp.Expr:
    r"""The fixed point :math:`s^\star = \alpha\sigma^2/(L(2 - L\alpha)b)` of the recursion."""
    (fixed,) = sp.solve(sp.Eq(s, second_moment_step(s)), s)
    return sp.factor(fixed)


def stationary_gradient_sq() -> sp.Expr:
    r""":math:`\mathbb E f'(\theta)^2 = L^2 s^\star = L\alpha\sigma^2/((2 - L\alpha) b)`.

    >>> stationary_gradient_sq()
    -L*\alpha*\sigma**2/(b*(L*\alpha - 2))
    """
    return sp.factor(S.L**2 * stationary_second_moment())


def averaged_gradient_sq() -> sp.Expr:
    r"""The exact :math:`\frac1K\sum_{k<K}\mathbb E f'(\theta_k)^2` from :math:`s_0 = \theta_0^2`:

    .. math:: L^2 s^\star + \frac{L^2 (s_0 - s^\star)(1 - r^K)}{(1 - r)K},

    since :math:`s_k - s^\star = r^k (s_0 - s^\star)` with :math:`r = (1-L\alpha)^2`.
    """
    r, fixed = contraction(), stationary_second_moment()
    return S.L**2 * fixed + S.L**2 * (s0 - fixed) * (1 - r**S.K) / ((1 - r) * S.K)


def last_gradient_sq() -> sp.Expr:
    r"""The exact :math:`\mathbb E f'(\theta_K)^2 = L^2 s^\star + L^2 r^K (s_0 - s^\star)`: the
    last iterate approaches the stationary value geometrically, not like :math:`1/K`."""
    fixed = stationary_second_moment()
    return S.L**2 * fixed + S.L**2 * contraction() ** S.K * (s0 - fixed)


def expected_steps(
    batch_sizes: Sequence[float],
    *,
    L: float,
    lr: float,
    sigma: float,
    theta0: float,
    target: float,
    decay: float | None = None,
    max_steps: int = 100_000,
) -> np.ndarray:
    r"""The first :math:`K` with :math:`\mathbb E f'(\theta_K)^2 \le` ``target``, exactly, per
    batch size (``-1`` where not within ``max_steps``): the recursion of
    :func:`second_moment_step` from :math:`s_0 = \theta_0^2`, at the rate
    :math:`\alpha_k = \alpha/(1 + k/\kappa)` with :math:`\kappa` = ``decay``, or constant
    :math:`\alpha` when ``decay`` is ``None``. ``0 < lr < 2/L``; every other value positive.

    With a constant rate the stationary value :math:`B/b` makes every :math:`b \le b_0` fail; a
    decaying rate drives :math:`\mathbb E f'^2` to 0 at every :math:`b`.

    >>> expected_steps([1, 100], L=1.0, lr=0.5, sigma=1.0, theta0=1.0, target=0.01).tolist()
    [-1, 4]
    """
    L, sigma = validation.positive("L", L), validation.positive("sigma", sigma)
    lr = validation.real(
        "lr", lr, low=0, high=2 / L, low_open=True, high_open=True, note="the upper end is 2/L"
    )
    theta0, target = validation.positive("theta0", theta0), validation.positive("target", target)
    if decay is not None:
        decay = validation.positive("decay", decay)
    max_steps = validation.integer("max_steps", max_steps, low=1)
    b = validation.real_array("batch_sizes", batch_sizes, low=0, low_open=True)
    moment = np.full(b.shape, theta0**2)
    steps = np.full(b.shape, -1, dtype=int)
    steps[L**2 * moment <= target] = 0
    for k in range(max_steps):
        if np.all(steps >= 0):
            break
        rate = lr if decay is None else lr / (1 + k / decay)
        moment = (1 - L * rate) ** 2 * moment + rate**2 * sigma**2 / b
        steps[(steps < 0) & (L**2 * moment <= target)] = k + 1
    return steps
