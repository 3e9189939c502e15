r"""Heavy ball: :math:`m_k = \beta m_{k-1} + g_k`, :math:`\theta_{k+1} = \theta_k - \alpha m_k`.

The auxiliary point :math:`z_k = \theta_k + \tfrac{\beta}{1-\beta}(\theta_k - \theta_{k-1})`
moves like SGD with rate :math:`\eta = \alpha/(1-\beta)`. With Young's inequality and a free
:math:`\rho > 0`, :math:`q = L^2\beta^2\alpha^2/(1-\beta)^4` and
:math:`c(\rho) = 2 - \rho - L\eta - q/\rho`,

.. math:: \frac1K\sum_k \mathbb E\|\nabla f(\theta_k)\|^2 \le
   \frac{2\Delta}{\eta c K} + \frac{\sigma^2 (L\eta + q/\rho)}{c\, b},

and :math:`\rho = \sqrt q` maximizes :math:`c`, giving
:math:`c = 2 - L\alpha(1+\beta)/(1-\beta)^2`, valid for :math:`\alpha < 2(1-\beta)^2/(L(1+\beta))`.
"""

from __future__ import annotations

import sympy as sp

from .bound import Bound, Parameter, StepSizeCondition
from .sgd import PARAMETERS as SGD_PARAMETERS
from .sgd import constants
from .symbols import symbols as S

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


def best_rho() -> sp.Expr:
    r"""The :math:`\rho` maximizing :math:`c(\rho)`: the positive root of :math:`c'(\rho) = 0`."""
    (root,) = sp.solve(sp.diff(descent_coefficient(), rho), rho)
    return sp.simplify(root)


def averaged_bound(free: sp.Expr = rho) -> sp.Expr:
    """The right-hand side ``2Δ/(η c K) + σ²(Lη + q/ρ)/(c b)`` for a given ``ρ``."""
    eta, c = effective_rate(), descent_coefficient(free)
    return 2 * S.Delta / (eta * c * S.K) + S.sigma**2 * (S.L * eta + coupling() / free) / (c * S.b)


def momentum_bound() -> Bound:
    """Momentum's bound at the best ``ρ``; at ``β = 0`` it is SGD's."""
    A, B, C = constants(averaged_bound(best_rho()))
    limit = 2 * (1 - S.beta) ** 2 / (S.L * (1 + S.beta))
    return Bound(
        name="momentum",
        A=sp.factor(A),
        B=sp.factor(B),
        C=C,
        measure="grad_norm_sq",
        assumptions=PARAMETERS,
        conditions=(
            StepSizeCondition(
                S.alpha, limit, "momentum's analysis needs alpha < 2(1-beta)^2/(L(1+beta))"
            ),
        ),
    )
