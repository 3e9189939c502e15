r"""The seed paper's framework, specialised to SGD, for a side-by-side with the book's bound.

Iiduka (2021, arXiv:2108.11713) bounds a variational measure,
:math:`V_K(\theta) = \frac1K\sum_{k<K}\mathbb E\langle\theta_k - \theta, \nabla f(\theta_k)\rangle`
for a fixed comparison point :math:`\theta`, with target :math:`\varepsilon`, under bounded
iterates :math:`(\theta_{k,i} - \theta_i)^2 \le D` and a bounded gradient. This module follows
that framework as the book's Adam-type chapter reconstructs it, at :math:`\beta_1 = 0` and
:math:`H_k = I` (plain SGD), and with the gradient bound on :math:`\nabla f` only
(:math:`\|\nabla f\| \le G`), so that the noise keeps its :math:`\sigma^2/b`. Expanding
:math:`\|\theta_{k+1} - \theta\|^2` for :math:`\theta_{k+1} = \theta_k - \alpha g_k` and
telescoping:

.. math:: V_K(\theta) \le \frac{dD}{2\alpha K} + \frac{\alpha\sigma^2}{2b} + \frac{\alpha G^2}{2}.
"""

from __future__ import annotations

import sympy as sp

from .bounds import Bound, Parameter
from .notation import symbols as S
from .sgd import PARAMETERS as SGD_PARAMETERS
from .sgd import constants

x, g = sp.symbols("x g", real=True)
"""One coordinate: :math:`x = \\theta_{k,i} - \\theta_i` and :math:`g = g_{k,i}`."""

PARAMETERS = {
    S.d: Parameter("dimension of θ", typical=(1.0, 1e6), default=100.0),
    S.D: Parameter("bound on (θ_k,i − θ_i)², every coordinate and step", default=1.0),
    S.G: Parameter("bound on the true gradient, ‖∇f(θ)‖ ≤ G", default=1.0),
    S.sigma: SGD_PARAMETERS[S.sigma],
    S.alpha: SGD_PARAMETERS[S.alpha],
    S.epsilon: Parameter("target of the variational measure", typical=(0.01, 10.0), default=1.0),
}


def inner_product_step() -> sp.Expr:
    r""":math:`\langle\theta_k-\theta, g_k\rangle` per coordinate, from the expansion of the
    distance: :math:`(x^2 - (x - \alpha g)^2)/(2\alpha) + \alpha g^2/2` (equal to :math:`xg`)."""
    return (x**2 - (x - S.alpha * g) ** 2) / (2 * S.alpha) + S.alpha * g**2 / 2


def telescoped_average() -> sp.Expr:
    r"""The telescoped average: :math:`(dD + K\alpha^2(G^2 + \sigma^2/b))/(2\alpha K)`.

    The distances telescope to at most :math:`\|\theta_0 - \theta\|^2 \le dD`;
    :math:`\mathbb E\|g_k\|^2 = \mathbb E\|\nabla f(\theta_k)\|^2 + \mathbb E\|g_k -
    \nabla f(\theta_k)\|^2 \le G^2 + \sigma^2/b`.
    """
    second_moment = S.G**2 + S.sigma**2 / S.b
    return (S.d * S.D + S.K * S.alpha**2 * second_moment) / (2 * S.alpha * S.K)


def variational_sgd_bound() -> Bound:
    r"""SGD in the paper's framework: :math:`A = dD/(2\alpha)`, :math:`B = \alpha\sigma^2/2`,
    :math:`C = \alpha G^2/2`, measure ``"variational"`` (target :math:`\varepsilon`).

    >>> variational_sgd_bound().C
    G**2*\alpha/2
    """
    A, B, C = constants(telescoped_average())
    return Bound(
        name="sgd",
        A=A,
        B=B,
        C=C,
        measure="variational",
        assumptions=PARAMETERS,
    )
