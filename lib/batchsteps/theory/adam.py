r"""The Adam-type family as one preconditioned method, and its bound.

Every member updates

.. math:: m_k = \beta_1 m_{k-1} + (1-\beta_1) g_k,\qquad
   \theta_{k+1} = \theta_k - \alpha H_k^{-1} m_k,\qquad H_k = \operatorname{diag}(h_k),

and differs only in how :math:`h_k` is built (see :data:`FAMILY`). Under (A3) (gradients
bounded by :math:`G`, iterates within :math:`(\theta_{k,i}-\theta_i)^2 \le D` of the comparison
point, :math:`h_{\min} \le h_{k,i} \le h_{\max}` and :math:`h_{k+1,i} \ge h_{k,i}`) the
variational measure :math:`V_K(\theta) = \frac1K\sum_k \mathbb E\langle\theta_k-\theta,
\nabla f(\theta_k)\rangle` obeys

.. math:: V_K(\theta) \le \frac{d D h_{\max}}{2\alpha(1-\beta_1)K}
   + \frac{\alpha\sigma^2}{(1+\beta_1) h_{\min}\, b}
   + \frac{\beta_1\sqrt{dD}\,G}{1-\beta_1} + \frac{\alpha G^2}{(1-\beta_1) h_{\min}}.

The functions below are the steps of that derivation, each one a sympy expression the book's
chapter displays and checks; :func:`adam_bound` and its siblings assemble them.

What the bound does not show: under (A3) :math:`\|g_k\| \le G` surely, so :math:`\|m_k\|^2 \le
G^2` bounds the noise term with no :math:`b` (:func:`b_free_averaged_bound`), and that bound is
smaller for every :math:`b` (:func:`split_excess`): the best guarantee of this proof does not
depend on the batch size. And :math:`V_K(\theta)` is not a stationarity measure for nonconvex
:math:`f`. :mod:`batchsteps.theory.adam_smooth` bounds the gradient norm instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import sympy as sp

from .. import validation
from .adam_smooth import peel_last
from .bounds import Bound, Parameter, StepSizeCondition
from .notation import BY_NAME
from .notation import symbols as S
from .sgd import PARAMETERS as SGD_PARAMETERS
from .sgd import constants

x, h, g, m_prev = sp.symbols(r"x h g m_{k-1}", real=True)
"""One coordinate of the step: :math:`x = \\theta_{k,i} - \\theta_i`, :math:`h = h_{k,i}`,
:math:`g = g_{k,i}`, :math:`m_{k-1} = m_{k-1,i}`."""

i, k = sp.symbols("i k", integer=True, nonnegative=True)
"""Lag and step in :math:`m_k = (1-\\beta_1)\\sum_{i=0}^{k} \\beta_1^{i} g_{k-i}`."""


def _below_one(total: sp.Expr) -> sp.Expr:
    """The branch of a geometric sum valid for :math:`0 \\le \\beta_1 < 1`."""
    if not isinstance(total, sp.Piecewise):
        return total
    for expr, cond in total.args:
        if not isinstance(cond, sp.Eq) and not expr.has(sp.Sum):
            return expr
    raise ValueError(f"total={total} has no branch for beta1 < 1")


@dataclass(frozen=True)
class Instance:
    """One member of the family: how it builds :math:`m`, :math:`v` and :math:`h`.

    Strings are LaTeX. ``monotone`` says whether the method itself guarantees
    :math:`h_{k+1} \\ge h_k` (``True``) or the analysis has to assume it (``False``).
    """

    name: str
    label: str
    m: str
    v: str
    h: str
    monotone: bool
    torch: str


FAMILY: tuple[Instance, ...] = (
    Instance(
        "adam",
        "Adam",
        r"\beta_1 m_{k-1} + (1-\beta_1) g_k",
        r"\beta_2 v_{k-1} + (1-\beta_2) g_k \odot g_k",
        r"\sqrt{v_k} + \delta",
        False,
        "torch.optim.Adam: bias-corrected m/(1-β₁ᵏ), v/(1-β₂ᵏ)",
    ),
    Instance(
        "amsgrad",
        "AMSGrad",
        r"\beta_1 m_{k-1} + (1-\beta_1) g_k",
        r"\hat v_k = \max(\hat v_{k-1}, \beta_2 v_{k-1} + (1-\beta_2) g_k \odot g_k)",
        r"\sqrt{\hat v_k} + \delta",
        True,
        "torch.optim.Adam(amsgrad=True): the max on the raw v, then bias corrections",
    ),
    Instance(
        "rmsprop",
        "RMSProp",
        r"g_k \quad (\beta_1 = 0)",
        r"\beta_2 v_{k-1} + (1-\beta_2) g_k \odot g_k",
        r"\sqrt{v_k} + \delta",
        False,
        "torch.optim.RMSprop(alpha=β₂): no bias correction",
    ),
    Instance(
        "adabelief",
        "AdaBelief",
        r"\beta_1 m_{k-1} + (1-\beta_1) g_k",
        r"\beta_2 s_{k-1} + (1-\beta_2)(g_k - m_k)^{\odot 2} + \delta",
        r"\sqrt{s_k} + \delta",
        False,
        "not in torch.optim (the adabelief-pytorch package)",
    ),
)
"""The four instances of :math:`\\theta \\leftarrow \\theta - \\alpha H^{-1} m` the book treats."""


def momentum_average() -> sp.Expr:
    r""":math:`m_k = \beta_1 m_{k-1} + (1-\beta_1) g_k`, one coordinate."""
    return S.beta1 * m_prev + (1 - S.beta1) * g


def one_step_identity() -> tuple[sp.Expr, sp.Expr]:
    r"""Step 1: the weighted-norm expansion, solved for the gradient term (one coordinate).

    With :math:`\theta_{k+1} - \theta = x - \alpha m_k/h`, both sides below are equal:

    .. math:: 2\alpha(1-\beta_1)\,x g = h x^2 - h(x - \alpha m_k/h)^2
       - 2\alpha\beta_1 x m_{k-1} + \alpha^2 m_k^2/h.

    Returns ``(lhs, rhs)``; summing over coordinates gives the vector identity.
    """
    m = momentum_average()
    lhs = 2 * S.alpha * (1 - S.beta1) * x * g
    after = x - S.alpha * m / h
    rhs = h * x**2 - h * after**2 - 2 * S.alpha * S.beta1 * x * m_prev + S.alpha**2 * m**2 / h
    return lhs, rhs


def telescoped_distances(steps: int) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    r"""Step 2: :math:`\sum_{k<K} h_k(x_k^2 - x_{k+1}^2)` for one coordinate and ``steps`` = K.

    Returns ``(total, regrouped, upper)``: the sum, the same sum regrouped as
    :math:`h_0x_0^2 + \sum_{k=1}^{K-1}(h_k - h_{k-1})x_k^2 - h_{K-1}x_K^2`, and the bound
    :math:`D\,h_{K-1}` it implies when every :math:`h_k - h_{k-1} \ge 0` and :math:`x_k^2 \le D`.
    """
    steps = validation.integer("steps", steps, low=1)
    xs = sp.symbols(f"x_0:{steps + 1}", real=True)
    hs = sp.symbols(f"h_0:{steps}", positive=True)
    total = sum(hs[i] * (xs[i] ** 2 - xs[i + 1] ** 2) for i in range(steps))
    regrouped = (
        hs[0] * xs[0] ** 2
        + sum((hs[i] - hs[i - 1]) * xs[i] ** 2 for i in range(1, steps))
        - hs[-1] * xs[-1] ** 2
    )
    return total, regrouped, S.D * hs[-1]


h_seq, x_seq = sp.IndexedBase("h"), sp.IndexedBase("x")
j = sp.Symbol("j", integer=True)
"""One coordinate's :math:`h_j` and :math:`x_j = \\theta_{j,i} - \\theta_i` for a symbolic K."""


def telescoped_sums(steps: sp.Expr = S.K) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    r"""Step 2 for a symbolic number of steps: ``(total, regrouped, slack)``.

    ``total`` is :math:`\sum_{j<K} h_j(x_j^2 - x_{j+1}^2)`, ``regrouped`` the same sum as
    :math:`h_0x_0^2 + \sum_{j=1}^{K-1}(h_j - h_{j-1})x_j^2 - h_{K-1}x_K^2`, and ``slack`` is
    :math:`Dh_{K-1}` minus ``regrouped``, written as
    :math:`h_0(D - x_0^2) + \sum_{j=1}^{K-1}(h_j - h_{j-1})(D - x_j^2) + h_{K-1}x_K^2`: every
    term is non-negative when :math:`h` grows and :math:`x_j^2 \le D`.
    """
    h_, x_ = h_seq, x_seq
    total = sp.Sum(h_[j] * (x_[j] ** 2 - x_[j + 1] ** 2), (j, 0, steps - 1))
    inner = sp.Sum((h_[j] - h_[j - 1]) * x_[j] ** 2, (j, 1, steps - 1))
    regrouped = h_[0] * x_[0] ** 2 + inner - h_[steps - 1] * x_[steps] ** 2
    slack = (
        h_[0] * (S.D - x_[0] ** 2)
        + sp.Sum((h_[j] - h_[j - 1]) * (S.D - x_[j] ** 2), (j, 1, steps - 1))
        + h_[steps - 1] * x_[steps] ** 2
    )
    return total, regrouped, slack


def telescoping_induction() -> dict[str, tuple[sp.Expr, sp.Expr]]:
    r"""Both identities of step 2 for every :math:`K \ge 1`, by induction on K.

    Returns ``{"regrouping": (base, step), "slack": (base, step)}``: the residuals of
    ``total - regrouped`` and of ``D h_{K-1} - regrouped - slack`` at :math:`K = 1`, and the
    change of each residual from K to K + 1 (the last term of every sum split off). All four
    are zero: the identities hold at K = 1 and are preserved by every step.
    """

    def residuals(n: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
        total, regrouped, slack = telescoped_sums(n)
        return total - regrouped, S.D * h_seq[n - 1] - regrouped - slack

    at_one, at_next, at_k = residuals(sp.Integer(1)), residuals(S.K + 1), residuals(S.K)
    checks = {}
    for index, name in enumerate(("regrouping", "slack")):
        base = sp.expand(at_one[index].doit())
        step = sp.expand(peel_last(at_next[index], S.K) - at_k[index])
        checks[name] = (base, step)
    return checks


def telescoping_bound() -> sp.Expr:
    r"""Step 2, over all coordinates: :math:`\sum_i D h_{K-1,i} \le d D h_{\max}`."""
    return S.d * S.D * S.h_max


def momentum_weights() -> sp.Expr:
    r"""The weights of m: :math:`(1-\beta_1)\sum_{i=0}^{k}\beta_1^{i} = 1 - \beta_1^{k+1} \le 1`."""
    total = _below_one(sp.summation(S.beta1**i, (i, 0, k)))
    return sp.powsimp(sp.expand(sp.simplify((1 - S.beta1) * total)))


def momentum_weight_slack() -> sp.Expr:
    r""":math:`1 - (1-\beta_1)\sum_{i\le k}\beta_1^i = \beta_1^{k+1} \ge 0`: the weights of m add
    up to at most one, so :math:`\|m_k\| \le G` when every :math:`\|g_j\| \le G` (triangle
    inequality)."""
    return sp.simplify(1 - momentum_weights())


def radius() -> sp.Expr:
    r""":math:`\|\theta_k - \theta\| \le \sqrt{\sum_{i=1}^{d} D} = \sqrt{dD}` from
    :math:`(\theta_{k,i} - \theta_i)^2 \le D` in each of the d coordinates."""
    return sp.sqrt(sp.Sum(S.D, (i, 1, S.d)).doit())


def cross_term_bound() -> sp.Expr:
    r"""Step 3a: :math:`-2\alpha\beta_1\langle\theta_k - \theta, m_{k-1}\rangle \le
    2\alpha\beta_1\,\|\theta_k - \theta\|\,\|m_{k-1}\|` (Cauchy-Schwarz) with :func:`radius`
    and :math:`\|m_{k-1}\| \le G` (:func:`momentum_weight_slack`)."""
    return 2 * S.alpha * S.beta1 * radius() * S.G


def split_inequality() -> tuple[sp.Expr, sp.Expr]:
    r""":math:`2u^2 + 2w^2 - (u+w)^2 = (u-w)^2 \ge 0`, per coordinate: returns both sides;
    summed over coordinates it is :math:`\|u+w\|^2 \le 2\|u\|^2 + 2\|w\|^2`."""
    u, w = sp.symbols("u w", real=True)
    return 2 * u**2 + 2 * w**2 - (u + w) ** 2, (u - w) ** 2


def noise_weight_sum(last: sp.Expr = k) -> sp.Expr:
    r""":math:`(1-\beta_1)^2\sum_{i=0}^{k}\beta_1^{2i}`: the variance factor of the noise in m.

    ``last=sympy.oo`` gives the infinite series, :math:`(1-\beta_1)/(1+\beta_1)`, which bounds
    every finite one (the terms are non-negative).
    """
    total = _below_one(sp.summation(S.beta1 ** (2 * i), (i, 0, last)))
    return sp.factor(sp.simplify((1 - S.beta1) ** 2 * total))


def second_moment_bound() -> sp.Expr:
    r"""Step 3b: :math:`\mathbb E\|m_k\|^2 \le 2G^2 + 2(1-\beta_1)\sigma^2/((1+\beta_1)b)`.

    Split :math:`g_j = \nabla f(\theta_j) + \xi_j` and use :math:`\|u+w\|^2 \le 2\|u\|^2 +
    2\|w\|^2`: the mean part is a sub-average of vectors of norm at most G; the noise terms are
    martingale differences, so their cross products vanish in expectation and the variance is
    the weight sum of :func:`noise_weight_sum` times :math:`\sigma^2/b`, at most its
    infinite-series value.
    """
    return 2 * S.G**2 + 2 * noise_weight_sum(sp.oo) * S.sigma**2 / S.b


def averaged_bound() -> sp.Expr:
    r"""Step 4: sum the per-step inequality over K steps and divide by :math:`2\alpha(1-\beta_1)K`.

    .. math:: V_K(\theta) \le \frac{dDh_{\max} + K\,[2\alpha\beta_1\sqrt{dD}G
       + \alpha^2\,\mathbb E\|m\|^2/h_{\min}]}{2\alpha(1-\beta_1)K}
    """
    per_step = cross_term_bound() + S.alpha**2 * second_moment_bound() / S.h_min
    return (telescoping_bound() + S.K * per_step) / (2 * S.alpha * (1 - S.beta1) * S.K)


def b_free_second_moment_bound() -> sp.Expr:
    r""":math:`\|m_k\|^2 \le G^2` surely: m is a sub-average of stochastic gradients, each of
    norm at most G under (A3) (:func:`momentum_weight_slack`). No batch size appears."""
    return S.G**2


def b_free_averaged_bound() -> sp.Expr:
    r"""Step 4 with :func:`b_free_second_moment_bound` in place of the split:

    .. math:: V_K(\theta) \le \frac{dDh_{\max} + K\,[2\alpha\beta_1\sqrt{dD}G
       + \alpha^2 G^2/h_{\min}]}{2\alpha(1-\beta_1)K}
    """
    per_step = cross_term_bound() + S.alpha**2 * b_free_second_moment_bound() / S.h_min
    return (telescoping_bound() + S.K * per_step) / (2 * S.alpha * (1 - S.beta1) * S.K)


def split_excess() -> sp.Expr:
    r"""The split bound minus the b-free one:
    :math:`\alpha(G^2(1+\beta_1)b + 2(1-\beta_1)\sigma^2)/(2bh_{\min}(1-\beta_1)(1+\beta_1))`."""
    return sp.factor(sp.simplify(averaged_bound() - b_free_averaged_bound()))


def split_excess_terms() -> tuple[sp.Expr, sp.Expr]:
    r""":func:`split_excess` as two terms, each positive for :math:`0 \le \beta_1 < 1`:
    :math:`\alpha G^2/(2h_{\min}(1-\beta_1))` and :math:`\alpha\sigma^2/(bh_{\min}(1+\beta_1))`."""
    return (
        S.alpha * S.G**2 / (2 * S.h_min * (1 - S.beta1)),
        S.alpha * S.sigma**2 / (S.b * S.h_min * (1 + S.beta1)),
    )


_H_RANGE = (1e-9, 10.0)
PARAMETERS = {
    S.alpha: Parameter("constant learning rate α", typical=(1e-4, 0.1), default=1e-3),
    S.beta1: Parameter(
        "first-moment coefficient β₁",
        low=0.0,
        high=1.0,
        low_closed=True,
        typical=(0.0, 0.999),
        default=0.9,
        log_scale=False,
    ),
    S.sigma: SGD_PARAMETERS[S.sigma],
    S.G: Parameter("bound on the stochastic gradient norm ‖g_k‖ (A3)", typical=(0.1, 100.0)),
    S.D: Parameter(
        "bound on (θ_k,i − θ_i)² for every coordinate i (A3)", typical=(1e-6, 10.0), default=1e-4
    ),
    S.d: Parameter("number of parameters d", typical=(1.0, 1e7), default=100.0),
    S.h_min: Parameter(
        "lower bound of the preconditioner entries h_k,i (A3)", typical=_H_RANGE, default=0.01
    ),
    S.h_max: Parameter(
        "upper bound of the preconditioner entries h_k,i (A3)", typical=_H_RANGE, default=1.0
    ),
    S.epsilon: Parameter("target ε of the variational measure", typical=(0.1, 1e3), default=5.0),
}
"""Parameters of the family's bound; :math:`\\beta_2` and :math:`\\delta` enter only through
:math:`h_{\\min}, h_{\\max}`."""

_ORDER = StepSizeCondition(
    S.h_min, S.h_max, "the preconditioner bounds need h_min <= h_max", inclusive=True
)


def _family_bound(name: str, average: sp.Expr, parameters: dict) -> Bound:
    A, B, C = constants(average)
    return Bound(
        name=name,
        A=A,
        B=B,
        C=C,
        measure="variational",
        assumptions=parameters,
        conditions=(_ORDER,),
    )


@cache
def adam_bound() -> Bound:
    r"""Adam, analysed under the monotone assumption :math:`h_{k+1} \ge h_k` (AMSGrad-type).

    :math:`A = dDh_{\max}/(2\alpha(1-\beta_1))`, :math:`B = \alpha\sigma^2/((1+\beta_1)h_{\min})`,
    :math:`C = \beta_1\sqrt{dD}G/(1-\beta_1) + \alpha G^2/((1-\beta_1)h_{\min})`.

    >>> adam_bound().measure
    'variational'
    """
    return _family_bound("adam", averaged_bound(), PARAMETERS)


@cache
def amsgrad_bound() -> Bound:
    """AMSGrad: the same constants as :func:`adam_bound`; its max makes h monotone."""
    return _family_bound("amsgrad", averaged_bound(), PARAMETERS)


@cache
def adabelief_bound() -> Bound:
    """AdaBelief: the same constants; its h comes from the EMA of ``(g - m)^2`` (often small)."""
    return _family_bound("adabelief", averaged_bound(), PARAMETERS)


@cache
def rmsprop_bound() -> Bound:
    r"""RMSProp: the family at :math:`\beta_1 = 0` (no momentum, no cross term).

    :math:`A = dDh_{\max}/(2\alpha)`, :math:`B = \alpha\sigma^2/h_{\min}`,
    :math:`C = \alpha G^2/h_{\min}`.
    """
    parameters = {s: p for s, p in PARAMETERS.items() if s != S.beta1}
    return _family_bound("rmsprop", averaged_bound().subs(S.beta1, 0), parameters)


def b_free_bound() -> Bound:
    r"""The family's bound with :math:`\|m_k\|^2 \le G^2`: :math:`B = 0`, so K does not depend
    on b and the fewest gradients :math:`bK` are spent at :math:`b = 1`.

    :math:`A = dDh_{\max}/(2\alpha(1-\beta_1))`,
    :math:`C = \beta_1\sqrt{dD}G/(1-\beta_1) + \alpha G^2/(2(1-\beta_1)h_{\min})`.
    """
    parameters = {s: p for s, p in PARAMETERS.items() if s != S.sigma}
    return _family_bound("adam-b-free", b_free_averaged_bound(), parameters)


def largest_beta1(bnd: Bound) -> sp.Expr:
    r"""The :math:`\beta_1` at which :math:`C = \varepsilon`: above it no K reaches the target.

    For the family :math:`C(\beta_1) = (\beta_1\sqrt{dD}G + \alpha G^2/h_{\min})/(1-\beta_1)`
    grows without bound, so the target caps the momentum:
    :math:`\beta_1 < (\varepsilon - \alpha G^2/h_{\min})/(\varepsilon + \sqrt{dD}G)`.
    """
    if not isinstance(bnd, Bound) or S.beta1 not in bnd.assumptions:
        raise validation.type_error("bnd", bnd, "a Bound with the parameter beta1")
    (root,) = sp.solve(sp.Eq(bnd.C, S.epsilon), S.beta1)
    return sp.simplify(root)


@dataclass(frozen=True)
class ParameterSweep:
    """The numeric bound along a grid of one parameter; ``nan`` where the analysis excludes it.

    ``C`` is the non-vanishing term; ``critical_batch`` and ``min_steps`` are :math:`b^\\star`
    and :math:`K_{\\min}`; ``reason`` holds the first refusal met (empty if none).
    """

    name: str
    parameter: str
    grid: np.ndarray
    C: np.ndarray
    critical_batch: np.ndarray
    min_steps: np.ndarray
    reason: str


def parameter_sweep(
    bnd: Bound, values: Mapping[str, float], parameter: str, grid: Sequence[float]
) -> ParameterSweep:
    """Evaluate ``bnd.subs(**values, parameter=x)`` for every ``x`` in ``grid``.

    ``values`` holds every other parameter of the bound (``epsilon`` included); points the
    analysis does not cover (a step size too large, a target not above C) give ``nan``.
    """
    validation.instance("bnd", bnd, Bound)
    validation.one_of("parameter", parameter, bnd.parameters)
    points = validation.real_array("grid", grid, finite=False)
    others = [name for name in bnd.parameters if name != parameter]
    validation.keys(f"values (the {bnd.name} bound's parameters but {parameter})", values, others)
    fixed = {BY_NAME[name]: float(v) for name, v in values.items()}
    C_of = sp.lambdify(BY_NAME[parameter], bnd.C.subs(fixed))
    rows, reason = [], ""
    for x in points:
        try:
            num = bnd.subs(**values, **{parameter: float(x)})
            rows.append((num.C, num.critical_batch, num.min_steps))
        except ValueError as error:
            reason = reason or str(error)
            rows.append((float(C_of(float(x))), math.nan, math.nan))
    C, critical, minimum = (np.array(col, dtype=float) for col in zip(*rows, strict=True))
    return ParameterSweep(bnd.name, parameter, points, C, critical, minimum, reason)
