r"""The template every bound in the book ends in: :math:`U(K, b) = A/K + B/b + C`.

Asking :math:`U \le \tilde\varepsilon` and solving for the number of steps gives, once and for
every optimizer,

.. math::

    K(b) = \frac{A b}{(\tilde\varepsilon - C) b - B},\qquad
    b_0 = \frac{B}{\tilde\varepsilon - C},\qquad
    b^\star = \operatorname*{arg\,min}_{b > b_0} b K(b) = 2 b_0,\qquad
    K_{\min} = \lim_{b\to\infty} K(b) = \frac{A}{\tilde\varepsilon - C}.

The expressions are derived here by sympy from generic positive symbols ``A, B, C`` and the
target ``eps_t``; an optimizer's bound substitutes its own constants into them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy as sp

from .notation import symbols

A, B = sp.symbols("A B", positive=True)
C = sp.Symbol("C", nonnegative=True)
eps_t = sp.Symbol(r"\tilde{\varepsilon}", positive=True)
"""Generic constants of the template and its right-hand side :math:`\\tilde\\varepsilon`."""


@dataclass(frozen=True)
class TemplateResults:
    """The template's consequences as sympy expressions in ``A, B, C, eps_t`` and ``b``."""

    bound: sp.Expr
    steps: sp.Expr
    sfo: sp.Expr
    min_batch: sp.Expr
    critical_batch: sp.Expr
    min_steps: sp.Expr


@cache
def derive() -> TemplateResults:
    """Derive K(b), N(b) = b K(b), b0, b* and K_min from ``A/K + B/b + C <= eps_t``.

    >>> r = derive()
    >>> sp.simplify(r.critical_batch - 2 * r.min_batch)
    0
    """
    b, K = symbols.b, symbols.K
    bound = A / K + B / b + C
    (steps,) = sp.solve(sp.Eq(bound, eps_t), K)
    steps = sp.factor(steps)
    _, denominator = sp.fraction(sp.together(steps))
    (min_batch,) = sp.solve(denominator, b)
    sfo = sp.factor(b * steps)
    # N'(b) = 0 has the roots 0 and 2 b0; the minimizer is the one above the pole b0.
    roots = sp.solve(sp.diff(sfo, b), b)
    (critical_batch,) = [r for r in roots if sp.simplify(r - min_batch) != 0 and r != 0]
    min_steps = sp.limit(steps, b, sp.oo)
    return TemplateResults(bound, steps, sfo, min_batch, critical_batch, min_steps)
