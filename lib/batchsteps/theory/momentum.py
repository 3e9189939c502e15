r"""Heavy ball: :math:`m_k = \beta m_{k-1} + g_k`, :math:`\theta_{k+1} = \theta_k - \alpha m_k`.

The auxiliary point :math:`z_k = \theta_k + \tfrac{\beta}{1-\beta}(\theta_k - \theta_{k-1})`
moves like SGD with rate :math:`\eta = \alpha/(1-\beta)`. With Young's inequality and a free
:math:`\rho > 0`, :math:`q = L^2\beta^2\alpha^2/(1-\beta)^4` and
:math:`c(\rho) = 2 - \rho - L\eta - q/\rho`,

.. math:: \frac1K\sum_k \mathbb E\|\nabla f(\theta_k)\|^2 \le
   \frac{2\Delta}{\eta c K} + \frac{\sigma^2 (L\eta + q/\rho)}{c\, b},

and :math:`\rho = \sqrt q` maximizes :math:`c`, giving
:math:`c = 2 - L\alpha(1+\beta)/(1-\beta)^2`, valid for :math:`\alpha < 2(1-\beta)^2/(L(1+\beta))`.
Every other :math:`\rho > 0` with :math:`c(\rho) > 0` gives a valid bound too:
``momentum_bound(t)`` is the member :math:`\rho = t\sqrt q`, and its critical batch depends on
``t`` (:func:`small_rate_ratios`). Since :math:`c(t\sqrt q) = c(\sqrt q/t)`, a member
:math:`t < 1` has the :math:`A` of its mirror :math:`1/t` and a larger :math:`B`, so it is
never worth using: :func:`critical_band` ranges over :math:`t \ge 1`.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from .. import validation
from .bounds import Bound, Parameter, StepSizeCondition
from .notation import symbols as S
from .sgd import PARAMETERS as SGD_PARAMETERS
from .sgd import constants, sgd_bound

rho = sp.Symbol(r"\rho", positive=True)
"""The free constant of Young's inequality in step 2 of the derivation."""

PARAMETERS = {
    **SGD_PARAMETERS,
    S.beta: Parameter(
        "momentum coefficient β",
        low=0.0,
        high=1.0,
        low_closed=True,
        typical=(0.0, 0.99),
        default=0.9,
        log_scale=False,
    ),
}


def effective_rate() -> sp.Expr:
    r""":math:`\eta = \alpha/(1-\beta)`, the rate of the auxiliary SGD sequence."""
    return S.alpha / (1 - S.beta)


def coupling() -> sp.Expr:
    r""":math:`q = L^2\beta^2\alpha^2/(1-\beta)^4`, from bounding :math:`\|z_k - \theta_k\|^2`."""
    return S.L**2 * S.beta**2 * S.alpha**2 / (1 - S.beta) ** 4


def descent_coefficient(free: sp.Expr = rho) -> sp.Expr:
    r""":math:`c(\rho) = 2 - \rho - L\eta - q/\rho`."""
    return 2 - free - S.L * effective_rate() - coupling() / free


@cache
def best_rho() -> sp.Expr:
    r"""The :math:`\rho` maximizing :math:`c(\rho)`: the positive root of :math:`c'(\rho) = 0`."""
    (root,) = sp.solve(sp.diff(descent_coefficient(), rho), rho)
    return sp.simplify(root)


def averaged_bound(free: sp.Expr = rho) -> sp.Expr:
    """The right-hand side ``2Δ/(η c K) + σ²(Lη + q/ρ)/(c b)`` for a given ``ρ``."""
    eta, c = effective_rate(), descent_coefficient(free)
    return 2 * S.Delta / (eta * c * S.K) + S.sigma**2 * (S.L * eta + coupling() / free) / (c * S.b)


YOUNG = Parameter(
    "Young's constant ρ in units of its best value √q (t = 1 maximises c)",
    typical=(0.1, 10.0),
    default=1.0,
)
"""The range of ``t`` when it is kept as a parameter of the family (``momentum_bound(S.t)``)."""


def _check_t(t: float | sp.Expr) -> sp.Expr:
    """``t``: the symbol ``symbols.t`` itself, or a finite real number > 0 made exact."""
    if isinstance(t, sp.Symbol):
        if t != S.t:
            raise validation.value_error("t", t, "a finite real number > 0 or the symbol symbols.t")
        return t
    validation.real("t", t, low=0, low_open=True, note="or the symbol symbols.t")
    return sp.nsimplify(t)


def rate_limit(t: float | sp.Expr = 1) -> sp.Expr:
    r"""The largest :math:`\alpha` with :math:`c(t\sqrt q) > 0`:
    :math:`2(1-\beta)^2 / (L((1-\beta) + (t + 1/t)\beta))`; at ``t = 1``,
    :math:`2(1-\beta)^2/(L(1+\beta))`."""
    return _rate_limit(_check_t(t))


@cache
def _rate_limit(t: sp.Expr) -> sp.Expr:
    (root,) = sp.solve(descent_coefficient(t * best_rho()), S.alpha)
    return sp.factor(sp.simplify(root))


def momentum_bound(t: float | sp.Expr = 1) -> Bound:
    r"""Momentum's bound with Young's constant :math:`\rho = t\sqrt q`; at ``β = 0`` it is SGD's.

    ``t = 1`` (the default, the headline bound of the book) is the :math:`\rho` that maximises
    :math:`c`, hence the best :math:`A`; other ``t > 0`` trade a larger :math:`A` for a smaller
    :math:`B`. ``t = symbols.t`` keeps ``t`` as a parameter of the bound (range :data:`YOUNG`).
    Derived once per ``t`` in a process (cached, as :func:`best_rho` and :func:`rate_limit`).

    >>> momentum_bound(2).conditions[0].upper
    4*(\beta - 1)**2/(L*(3*\beta + 2))
    """
    return _momentum_bound(_check_t(t))


@cache
def _momentum_bound(t: sp.Expr) -> Bound:
    A, B, C = constants(averaged_bound(t * best_rho()))
    assumptions = {**PARAMETERS, S.t: YOUNG} if t == S.t else PARAMETERS
    reason = "momentum's analysis needs alpha < 2(1-beta)^2/(L(1+beta))"
    if t != 1:
        reason = f"momentum's analysis at rho = {t} sqrt(q) needs c > 0, alpha < {rate_limit(t)}"
    return Bound(
        name="momentum",
        A=sp.factor(A),
        B=sp.factor(B),
        C=C,
        measure="grad_norm_sq",
        assumptions=assumptions,
        conditions=(StepSizeCondition(S.alpha, rate_limit(t), reason),),
    )


def small_rate_ratios(t: float | sp.Expr = S.t) -> tuple[sp.Expr, sp.Expr]:
    r"""Momentum's :math:`K_{\min}` and :math:`b^\star` over SGD's at equal :math:`\alpha \to 0`.

    With :math:`\rho = t\sqrt q` the limits are :math:`1 - \beta` (for every ``t``) and
    :math:`1/(1-\beta) + \beta/(t(1-\beta)^2)`, which is :math:`1/(1-\beta)^2`
    at ``t = 1`` and falls to :math:`1/(1-\beta)` as ``t`` grows.

    >>> small_rate_ratios(1)[1]
    (\beta - 1)**(-2)
    """
    family, sgd = momentum_bound(t), sgd_bound()
    ratios = (
        sp.limit(family.min_steps / sgd.min_steps, S.alpha, 0),
        sp.limit(family.critical_batch / sgd.critical_batch, S.alpha, 0),
    )
    return tuple(sp.factor(sp.simplify(r)) for r in ratios)


def jensen_gap(k: int) -> sp.Expr:
    r"""Lagrange's identity for ``k`` weighted scalars, as an expression that expands to 0.

    :math:`(\sum_i w_i)(\sum_i w_i x_i^2) - (\sum_i w_i x_i)^2
    - \tfrac12\sum_{i,j} w_i w_j (x_i - x_j)^2`. The last sum is non-negative for
    :math:`w_i \ge 0`, so :math:`(\sum_i w_i x_i)^2 \le (\sum_i w_i)\sum_i w_i x_i^2`; applied
    to each coordinate and summed, this is step 3's bound
    :math:`\|\sum_i w_i g_i\|^2 \le (\sum_i w_i)\sum_i w_i\|g_i\|^2`.

    >>> sp.expand(jensen_gap(3))
    0
    """
    k = validation.integer("k", k, low=1)
    w = sp.symbols(f"w0:{k}", nonnegative=True)
    x = sp.symbols(f"x0:{k}", real=True)
    total = sum(w)
    spread = sum(w[i] * w[j] * (x[i] - x[j]) ** 2 for i in range(k) for j in range(k)) / 2
    weighted = sum(wi * xi for wi, xi in zip(w, x, strict=True))
    return total * sum(wi * xi**2 for wi, xi in zip(w, x, strict=True)) - weighted**2 - spread


def critical_ratio(lr: float, sgd_lr: float, beta: float, t: float | sp.Expr = S.t) -> sp.Expr:
    r"""Momentum's :math:`b^\star` at rate ``lr`` over SGD's at ``sgd_lr``, as :math:`L \to 0`.

    :math:`(\alpha_m/\alpha_s)\,(1/(1-\beta) + \beta/(t(1-\beta)^2))`: both critical batches are
    linear in the rate at small :math:`L\alpha`, so unequal rates only scale the ratio of
    :func:`small_rate_ratios`. ``lr, sgd_lr > 0``, ``0 <= beta < 1``; ``t`` as for
    :func:`momentum_bound` (symbolic by default).

    >>> critical_ratio(0.1, 0.5, 0.9, 1)
    20
    """
    validation.positive("lr", lr)
    validation.positive("sgd_lr", sgd_lr)
    validation.probability("beta", beta, high_open=True)
    family, sgd = momentum_bound(t), sgd_bound()
    at_m = {S.alpha: sp.nsimplify(lr), S.beta: sp.nsimplify(beta)}
    ratio = family.critical_batch.subs(at_m) / sgd.critical_batch.subs(
        S.alpha, sp.nsimplify(sgd_lr)
    )
    return sp.factor(sp.limit(sp.simplify(ratio), S.L, 0))


def critical_band(lr: float, sgd_lr: float, beta: float) -> tuple[float, float]:
    r"""The range of :func:`critical_ratio` over the family's members :math:`t \ge 1` (a member
    :math:`t < 1` is beaten in both constants by its mirror :math:`1/t`; at finite
    :math:`L\alpha` some :math:`t > 1` lose to :math:`t = 1` too, but as :math:`L\alpha \to 0`
    each gives a valid bound): from its limit as :math:`t \to \infty`,
    :math:`(\alpha_m/\alpha_s)/(1-\beta)`, to its value at :math:`t = 1`, the headline bound's
    :math:`(\alpha_m/\alpha_s)/(1-\beta)^2`. Arguments as for :func:`critical_ratio`.

    >>> [round(v, 6) for v in critical_band(0.1, 0.5, 0.9)]
    [2.0, 20.0]
    """
    ratio = critical_ratio(lr, sgd_lr, beta)
    return float(sp.limit(ratio, S.t, sp.oo)), float(ratio.subs(S.t, 1))
