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

import sympy as sp

from .symbols import symbols as S

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
