r"""RMSProp (the Adam-type family at :math:`\beta_1 = 0`) under smoothness: a bound on the gradient.

The update is :math:`\theta_{k+1,i} = \theta_{k,i} - \alpha g_{k,i}/h_{k,i}` with
:math:`h_{k,i} = \sqrt{v_{k,i}} + \delta` and :math:`v_k = \beta_2 v_{k-1} + (1-\beta_2)\,
g_k\odot g_k` (``torch.optim.RMSprop(alpha=β₂, eps=δ)``, no bias correction). Assume (A1)
:math:`f` is :math:`L`-smooth with :math:`\Delta = f(\theta_0) - f^\star`; (A2) :math:`g_k` is
unbiased given the past, with :math:`\mathbb E\|g_k - \nabla f(\theta_k)\|^2 \le \sigma^2/b`;
:math:`\|\nabla f(\theta_k)\| \le G` (the true gradient only); and
:math:`h_{\min} \le \sqrt{\beta_2 v_{k-1,i}} + \delta` and :math:`h_{k,i} \le h_{\max}` along
the run (:math:`h_{\min} = \delta` always works). With

.. math:: c = \frac1{h_{\max}} - \frac{\sqrt{1-\beta_2}\,G + L\alpha/2}{h_{\min}^2} > 0,\qquad
   e = \frac{\sqrt{1-\beta_2}\,G + L\alpha/2}{h_{\min}^2},

.. math:: \frac1K\sum_{k<K}\mathbb E\|\nabla f(\theta_k)\|^2 \le \frac{\Delta}{\alpha c K}
   + \frac{e\,\sigma^2}{c\,b}.

The proof replaces :math:`h_k`, which depends on the current batch, by the proxy
:math:`\tilde h_k = \sqrt{\beta_2 v_{k-1}} + \delta`, fixed before the batch is drawn, and pays
for the difference with the :math:`\sqrt{1-\beta_2}\,G` term; at :math:`\beta_2 = 1` (or for any
preconditioner fixed before the batch) that term vanishes. Each function below is one step,
returned as sympy expressions whose identities the tests and the chapter assert.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

import numpy as np
import sympy as sp

from .. import validation
from .bounds import Bound, Parameter, StepSizeCondition
from .notation import symbols as S
from .sgd import PARAMETERS as SGD_PARAMETERS
from .sgd import constants

df, g, xi = sp.symbols(r"\partial_i{f} g \xi", real=True)
"""One coordinate: the true gradient :math:`\\partial_i f(\\theta_k)`, the stochastic one
:math:`g = g_{k,i}`, its noise :math:`\\xi = g - \\partial_i f`."""

h, h_proxy = sp.symbols(r"h \tilde{h}", positive=True)
"""One coordinate of the preconditioner :math:`h_{k,i}` and of its proxy :math:`\\tilde h_{k,i}`."""

old, new = sp.symbols(r"p q", nonnegative=True)
""":math:`p = \\beta_2 v_{k-1,i}` (the decayed average) and :math:`q = (1-\\beta_2) g_{k,i}^2`."""

delta = sp.Symbol(r"\delta", positive=True)
grad_sq = sp.Symbol(r"\|\nabla f(\theta_k)\|^2", nonnegative=True)
variance = sp.Symbol(r"\mathbb{E}\xi^2", nonnegative=True)
"""Per-step stand-ins: :math:`\\|\\nabla f(\\theta_k)\\|^2` and a coordinate's noise variance."""

k = sp.Symbol("k", integer=True)
F = sp.IndexedBase("F")
"""Step index and :math:`F_k = \\mathbb E f(\\theta_k)` for the telescoping sum."""


def step() -> sp.Expr:
    r"""The update of one coordinate, :math:`\theta_{k+1,i} - \theta_{k,i} = -\alpha g/h`."""
    return -S.alpha * g / h


def descent_lemma() -> sp.Expr:
    r"""(A1) per coordinate: :math:`\partial_i f\,\Delta\theta_i + \tfrac L2\Delta\theta_i^2`.

    Summed over coordinates this is the descent lemma
    :math:`f(\theta_{k+1}) \le f(\theta_k) + \langle\nabla f, \Delta\theta\rangle
    + \tfrac L2\|\Delta\theta\|^2`, an assumption of the analysis, not a sympy result.
    """
    return df * step() + S.L / 2 * step() ** 2


def preconditioners() -> tuple[sp.Expr, sp.Expr]:
    r""":math:`h = \sqrt{p + q} + \delta` and the proxy :math:`\tilde h = \sqrt p + \delta`."""
    return sp.sqrt(old + new) + delta, sp.sqrt(old) + delta


def decoupling_identity() -> tuple[sp.Expr, sp.Expr]:
    r"""Step 1: :math:`-\alpha\,\partial_i f\, g/h = -\alpha\,\partial_i f\, g/\tilde h
    + \alpha\,\partial_i f\, g\,(h - \tilde h)/(h\tilde h)`; returns ``(lhs, rhs)``."""
    lhs = -S.alpha * df * g / h
    rhs = -S.alpha * df * g / h_proxy + S.alpha * df * g * (h - h_proxy) / (h * h_proxy)
    return lhs, rhs


def proxy_gap() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    r"""Step 2: :math:`h - \tilde h = \sqrt{p+q} - \sqrt p \le \sqrt q = \sqrt{1-\beta_2}\,|g|`.

    Returns ``(gap, bound, square_slack)``; ``square_slack`` is
    :math:`(\sqrt p + \sqrt q)^2 - (p + q) = 2\sqrt{pq} \ge 0`: the bound squared exceeds the
    square of :math:`\sqrt{p+q}`, and both are non-negative, so :math:`\sqrt{p+q} \le
    \sqrt p + \sqrt q`.
    """
    full, proxy = preconditioners()
    gap = sp.simplify(full - proxy)
    bound = sp.sqrt(new)
    square_slack = sp.expand((sp.sqrt(old) + sp.sqrt(new)) ** 2 - (old + new))
    return gap, bound, square_slack


def coupling_slack() -> sp.Expr:
    r"""Step 3: :math:`r/(h\tilde h) \le \bar r/h_{\min}^2` when :math:`0 \le r \le \bar r`
    and :math:`h \ge \tilde h \ge h_{\min}`.

    Written with non-negative symbols :math:`h = \tilde h + r`, :math:`\tilde h = h_{\min} + a`,
    :math:`\bar r = r + c`, the difference :math:`\bar r/h_{\min}^2 - r/(h\tilde h)` is returned
    as one fraction whose numerator and denominator expand to sums of non-negative terms.
    """
    r, a, c = sp.symbols("r a c", nonnegative=True)
    proxy = S.h_min + a
    slack = (r + c) / S.h_min**2 - r / ((proxy + r) * proxy)
    numerator, denominator = sp.fraction(sp.together(slack))
    return sp.expand(numerator) / sp.expand(denominator)


def second_moment() -> sp.Expr:
    r""":math:`\mathbb E_k g^2 = (\partial_i f)^2 + \mathbb E\xi^2`: expand :math:`(\partial_i f +
    \xi)^2` and use :math:`\mathbb E_k\xi = 0` (unbiased, A2)."""
    square = sp.expand((df + xi) ** 2)
    return square.subs(xi**2, variance).subs(xi, 0)


def expected_step() -> sp.Expr:
    r"""Step 4: :math:`\mathbb E_k f(\theta_{k+1}) - f(\theta_k)` is at most

    .. math:: -\frac{\alpha}{h_{\max}}\|\nabla f\|^2
       + \frac{\alpha\sqrt{1-\beta_2}\,G}{h_{\min}^2}\Bigl(\|\nabla f\|^2 + \frac{\sigma^2}{b}\Bigr)
       + \frac{L\alpha^2}{2h_{\min}^2}\Bigl(\|\nabla f\|^2 + \frac{\sigma^2}{b}\Bigr).

    The proxy term has mean :math:`-\alpha\sum_i(\partial_i f)^2/\tilde h_i` because
    :math:`\tilde h` is fixed before the batch; the coupling term is at most
    :math:`\alpha\sqrt{1-\beta_2}\sum_i|\partial_i f|\,g_i^2/h_{\min}^2` (steps 2, 3) with
    :math:`|\partial_i f| \le \|\nabla f\| \le G`; the curvature term
    :math:`\tfrac L2\alpha^2\sum_i g_i^2/h_i^2 \le \tfrac L2\alpha^2\|g\|^2/h_{\min}^2`; and
    :math:`\mathbb E_k\|g\|^2 \le \|\nabla f\|^2 + \sigma^2/b` (:func:`second_moment`).
    """
    moment = grad_sq + S.sigma**2 / S.b
    proxy_term = -S.alpha * grad_sq / S.h_max
    coupling = S.alpha * sp.sqrt(1 - S.beta2) * S.G * moment / S.h_min**2
    curvature = S.L * S.alpha**2 * moment / (2 * S.h_min**2)
    return proxy_term + coupling + curvature


def decrease_and_noise() -> tuple[sp.Expr, sp.Expr]:
    r"""Read :func:`expected_step` as :math:`-\alpha c\|\nabla f\|^2 + \alpha e\sigma^2/b`;
    returns ``(c, e)``."""
    per_step = sp.expand(expected_step())
    c = sp.simplify(-sp.diff(per_step, grad_sq) / S.alpha)
    e = sp.simplify(per_step.subs(grad_sq, 0) * S.b / (S.alpha * S.sigma**2))
    return c, e


def peel_last(expr: sp.Expr, upper: sp.Expr) -> sp.Expr:
    r"""Split the last term off every sum in ``expr`` whose upper limit is ``upper``:
    :math:`\sum_{k=l}^{u} t_k = \sum_{k=l}^{u-1} t_k + t_u` (the induction step's one move)."""
    peeled = {}
    for total in expr.atoms(sp.Sum):
        function, (index, low, high) = total.function, total.limits[0]
        if high == upper:
            peeled[total] = sp.Sum(function, (index, low, high - 1)) + function.subs(index, high)
    return expr.xreplace(peeled)


def telescoping_induction() -> tuple[sp.Expr, sp.Expr]:
    r""":math:`\sum_{k=0}^{K-1}(F_k - F_{k+1}) = F_0 - F_K` for every :math:`K \ge 1`, by
    induction: returns the residuals ``(base, step)`` of the case :math:`K = 1` and of
    :math:`K \to K + 1`, both zero."""

    def residual(n: sp.Expr) -> sp.Expr:
        return sp.Sum(F[k] - F[k + 1], (k, 0, n - 1)) - (F[0] - F[n])

    base = sp.expand(residual(sp.Integer(1)).doit())
    step_residual = sp.expand(peel_last(residual(S.K + 1), S.K) - residual(S.K))
    return base, step_residual


def averaged_bound() -> sp.Expr:
    r"""Step 5: sum :func:`expected_step` over :math:`k < K` (telescoping, :math:`F_0 - F_K
    \le \Delta`) and divide by :math:`\alpha c K`:

    .. math:: \frac1K\sum_k\mathbb E\|\nabla f(\theta_k)\|^2 \le
       \frac{\Delta + K\alpha e\sigma^2/b}{\alpha c K}.
    """
    c, e = decrease_and_noise()
    return (S.Delta + S.K * S.alpha * e * S.sigma**2 / S.b) / (S.alpha * c * S.K)


def largest_rate() -> sp.Expr:
    r"""The step-size limit :math:`c > 0`:
    :math:`\alpha < 2(h_{\min}^2 - \sqrt{1-\beta_2}\,G h_{\max})/(L h_{\max})`, empty unless
    :math:`\sqrt{1-\beta_2}\,G h_{\max} < h_{\min}^2`."""
    c, _ = decrease_and_noise()
    (root,) = sp.solve(sp.Eq(c, 0), S.alpha)
    return sp.factor(root)


PARAMETERS = {
    S.L: SGD_PARAMETERS[S.L],
    S.sigma: SGD_PARAMETERS[S.sigma],
    S.Delta: SGD_PARAMETERS[S.Delta],
    S.alpha: Parameter("constant learning rate α", typical=(1e-4, 0.5), default=0.01),
    S.beta2: Parameter(
        "second-moment coefficient β₂",
        low=0.0,
        high=1.0,
        low_closed=True,
        high_closed=True,
        typical=(0.9, 1.0),
        default=0.999,
        log_scale=False,
    ),
    S.G: Parameter("bound on the true gradient norm ‖∇f(θ_k)‖", typical=(0.01, 10.0)),
    S.h_min: Parameter(
        "lower bound of h_k,i and of its proxy √(β₂v_k−1,i) + δ", typical=(1e-3, 10.0), default=0.5
    ),
    S.h_max: Parameter("upper bound of the preconditioner entries h_k,i", typical=(1e-3, 10.0)),
    S.epsilon: SGD_PARAMETERS[S.epsilon],
}
"""Parameters of the RMSProp bound; δ enters only through :math:`h_{\\min}, h_{\\max}`."""


@cache
def rmsprop_smooth_bound() -> Bound:
    r"""RMSProp's bound on :math:`\frac1K\sum_k\mathbb E\|\nabla f(\theta_k)\|^2`:
    :math:`A = \Delta/(\alpha c)`, :math:`B = e\sigma^2/c`, :math:`C = 0` (derived once in a
    process, then cached).

    >>> bnd = rmsprop_smooth_bound()
    >>> bnd.measure, bnd.C
    ('grad_norm_sq', 0)
    """
    A, B, C = constants(averaged_bound())
    condition = StepSizeCondition(
        S.alpha,
        largest_rate(),
        "the RMSProp analysis needs c > 0, i.e. alpha < 2 (h_min^2 - sqrt(1 - beta2) G h_max)"
        " / (L h_max); no alpha qualifies unless sqrt(1 - beta2) G h_max < h_min^2",
    )
    order = StepSizeCondition(
        S.h_min, S.h_max, "the preconditioner bounds need h_min <= h_max", inclusive=True
    )
    return Bound(
        name="rmsprop-smooth",
        A=A,
        B=B,
        C=C,
        measure="grad_norm_sq",
        assumptions=PARAMETERS,
        conditions=(order, condition),
    )


@dataclass(frozen=True)
class QuadraticCheck:
    r"""RMSProp on :math:`f(\theta) = \tfrac L2\|\theta\|^2` with Gaussian noise, against its bound.

    ``measured`` is :math:`\frac1K\sum_{k<K}\|\nabla f(\theta_k)\|^2` averaged over ``runs``
    independent runs (an estimate of the left side of the theorem); ``bound`` is
    :math:`A/K + B/b` with every constant measured along those runs (``values``: ``G`` the
    largest :math:`\|\nabla f(\theta_k)\|`, ``h_min`` the smallest proxy entry, ``h_max`` the
    largest :math:`h_{k,i}`, ``Delta`` = :math:`f(\theta_0)`); ``delta`` the :math:`\delta` of
    :math:`h = \sqrt v + \delta`.
    """

    values: Mapping[str, float]
    delta: float
    steps: int
    batch_size: int
    runs: int
    measured: float
    bound: float


def quadratic_check(
    *,
    L: float = 1.0,
    sigma: float = 0.5,
    batch_size: int = 4,
    alpha: float = 0.01,
    beta2: float = 0.999,
    delta: float = 0.5,
    dim: int = 4,
    steps: int = 300,
    runs: int = 400,
    start: float = 0.5,
    seed: int = 0,
) -> QuadraticCheck:
    r"""Run RMSProp (:math:`\beta_1 = 0`, no bias correction) on
    :math:`f(\theta) = \tfrac L2\|\theta\|^2` in ``dim`` coordinates from
    :math:`\theta_0 = (\text{start}, \dots)`, with :math:`g_k = \nabla f(\theta_k) + \xi_k`,
    :math:`\xi_k \sim N(0, \sigma^2/(b\,\text{dim})\,I)` (so :math:`\mathbb E\|\xi_k\|^2 =
    \sigma^2/b`), and evaluate :func:`rmsprop_smooth_bound` at the constants measured.

    ``beta2`` in [0, 1]; the others positive (``dim``, ``steps``, ``runs``, ``batch_size``
    integers >= 1). Raises ``ValueError`` from the bound if the measured constants leave no
    admissible rate (then lower ``alpha`` or raise ``delta``).

    >>> check = quadratic_check(steps=50, runs=50)
    >>> check.measured <= check.bound
    True
    """
    L, sigma, alpha, delta, start = (
        validation.positive(n, v)
        for n, v in (("L", L), ("sigma", sigma), ("alpha", alpha), ("delta", delta),
                     ("start", start))
    )  # fmt: skip
    beta2 = validation.probability("beta2", beta2)
    b, dim, steps, runs = (
        validation.integer(n, v, low=1)
        for n, v in (("batch_size", batch_size), ("dim", dim), ("steps", steps), ("runs", runs))
    )
    rng = validation.generator("seed", seed)
    theta = np.full((runs, dim), start)
    v = np.zeros((runs, dim))
    total, G, h_min, h_max = 0.0, 0.0, math.inf, 0.0
    for _ in range(steps):
        grad = L * theta
        total += float(np.mean(np.sum(grad**2, axis=1)))
        G = max(G, float(np.max(np.linalg.norm(grad, axis=1))))
        g = grad + rng.normal(scale=sigma / math.sqrt(b * dim), size=grad.shape)
        h_min = min(h_min, float(np.min(np.sqrt(beta2 * v) + delta)))
        v = beta2 * v + (1.0 - beta2) * g**2
        h = np.sqrt(v) + delta
        h_max = max(h_max, float(np.max(h)))
        theta = theta - alpha * g / h
    values = dict(L=L, sigma=sigma, Delta=0.5 * L * dim * start**2, alpha=alpha, beta2=beta2)
    values.update(G=G, h_min=h_min, h_max=h_max)
    num = rmsprop_smooth_bound().subs(**values, epsilon=1.0)
    bound = num.A / steps + num.B / b + num.C
    return QuadraticCheck(MappingProxyType(values), delta, steps, b, runs, total / steps, bound)
