r"""Plain SGD, :math:`\theta_{k+1} = \theta_k - \alpha g_k` with :math:`0 < \alpha < 2/L`.

The descent lemma in expectation gives, per step,
:math:`\mathbb E f_{k+1} \le \mathbb E f_k - \alpha(1 - L\alpha/2)\,\mathbb E\|\nabla f_k\|^2
+ L\alpha^2\sigma^2/(2b)`; telescoping K steps and dividing by :math:`K\alpha(1 - L\alpha/2)`:

.. math:: \frac1K\sum_k \mathbb E\|\nabla f(\theta_k)\|^2 \le
   \frac{2\Delta}{\alpha(2 - L\alpha)K} + \frac{L\alpha\sigma^2}{(2 - L\alpha) b}.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from .bounds import Bound, Parameter, StepSizeCondition
from .notation import symbols as S

PARAMETERS = {
    S.L: Parameter("smoothness constant of f (A1)", typical=(0.1, 10.0), default=1.0),
    S.sigma: Parameter(
        "standard deviation of a one-sample gradient (A2)", typical=(0.1, 10.0), default=1.0
    ),
    S.Delta: Parameter("initial gap f(θ0) − f*", typical=(0.1, 100.0), default=1.0),
    S.alpha: Parameter("constant learning rate", typical=(0.001, 1.9), default=0.1),
    S.epsilon: Parameter("target accuracy ε", typical=(0.01, 1.0), default=0.1),
}


def telescoped_average() -> sp.Expr:
    """Right-hand side of the telescoped descent inequality, divided by K alpha (1 - L alpha/2)."""
    decrease = S.alpha * (1 - S.L * S.alpha / 2)
    noise_per_step = S.L * S.alpha**2 * S.sigma**2 / (2 * S.b)
    return (S.Delta + S.K * noise_per_step) / (S.K * decrease)


def constants(average: sp.Expr) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """Split an expression ``A/K + B/b + C`` into ``(A, B, C)``."""
    without_k = sp.limit(average, S.K, sp.oo)
    C = sp.limit(without_k, S.b, sp.oo)
    A = sp.factor(sp.simplify((average - without_k) * S.K))
    B = sp.factor(sp.simplify((without_k - C) * S.b))
    if A.has(S.K, S.b) or B.has(S.K, S.b):
        raise ValueError(f"average={average} is not of the form A/K + B/b + C")
    return A, B, sp.factor(C)


@cache
def sgd_bound() -> Bound:
    """SGD's bound: ``A = 2Δ/(α(2 − Lα))``, ``B = Lασ²/(2 − Lα)``, ``C = 0`` (derived once
    in a process, then cached).

    >>> sgd_bound().critical_batch
    -2*L*\\alpha*\\sigma**2/(\\varepsilon**2*(L*\\alpha - 2))
    """
    A, B, C = constants(telescoped_average())
    return Bound(
        name="sgd",
        A=A,
        B=B,
        C=C,
        measure="grad_norm_sq",
        assumptions=PARAMETERS,
        conditions=(StepSizeCondition(S.alpha, 2 / S.L, "SGD's analysis needs alpha < 2/L"),),
    )
