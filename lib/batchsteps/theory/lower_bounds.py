r"""Minimax lower bounds for finding an :math:`\varepsilon`-stationary point, beside the tuned law.

For :math:`L`-smooth :math:`f` with :math:`f(\theta_0) - \inf f \le \Delta`, in high enough
dimension and up to universal constants:

- with exact gradients, every first-order method needs
  :math:`\Omega(L\Delta/\varepsilon^2)` gradient evaluations, hence steps
  (Carmon, Duchi, Hinder, Sidford 2020, *Lower bounds for finding stationary points I*);
- with unbiased stochastic gradients of variance :math:`\sigma^2`, every method needs
  :math:`\Omega(L\Delta\sigma^2/\varepsilon^4)` of them (Arjevani, Carmon, Duchi, Foster,
  Srebro, Woodworth 2023, *Lower bounds for non-convex stochastic optimization*).

A method with batch size :math:`b` computes :math:`b` stochastic gradients per step, so its
steps are at least the larger of the two: :math:`K \ge \max(L\Delta/\varepsilon^2,
L\Delta\sigma^2/(\varepsilon^4 b))` up to constants, and the maximum is within a factor 2 of
the sum :func:`minimax_steps`. The expressions here drop the unknown universal constants.
"""

from __future__ import annotations

import sympy as sp

from .notation import symbols as S


def steps_lower_bound() -> sp.Expr:
    r""":math:`L\Delta/\varepsilon^2`: the order of the steps any method needs (exact gradients)."""
    return S.L * S.Delta / S.epsilon**2


def samples_lower_bound() -> sp.Expr:
    r""":math:`L\Delta\sigma^2/\varepsilon^4`: the order of the stochastic gradients any method
    needs."""
    return S.L * S.Delta * S.sigma**2 / S.epsilon**4


def minimax_steps() -> sp.Expr:
    r""":math:`L\Delta/\varepsilon^2 + L\Delta\sigma^2/(\varepsilon^4 b)`: within a factor 2 of
    :math:`\max` of the two lower bounds on the steps at batch size :math:`b`.

    >>> sp.factor(minimax_steps())
    L*\Delta*(\sigma**2 + \varepsilon**2*b)/(\varepsilon**4*b)
    """
    return steps_lower_bound() + samples_lower_bound() / S.b
