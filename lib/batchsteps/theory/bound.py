r"""``Bound``: one optimizer's constants ``A, B, C`` and everything the template derives from them.

An optimizer's analysis ends in :math:`U(K, b) = A/K + B/b + C \le \tilde\varepsilon`, where the
right-hand side is :math:`\varepsilon^2` for the measure ``"grad_norm_sq"`` (the average of
:math:`\mathbb E\|\nabla f(\theta_k)\|^2`) and :math:`\varepsilon` for ``"variational"``
(the average of :math:`\mathbb E\langle\theta_k - \theta, \nabla f(\theta_k)\rangle`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property

import numpy as np
import sympy as sp

from . import template
from .symbols import NAME_OF, symbols

MEASURES = ("grad_norm_sq", "variational")


@dataclass(frozen=True)
class Parameter:
    """What a symbol means and the range the analysis allows it.

    ``typical`` is a range worth exploring (sliders use it); ``default`` a value inside it.
    """

    meaning: str
    low: float = 0.0
    high: float = math.inf
    low_closed: bool = False
    high_closed: bool = False
    typical: tuple[float, float] = (0.01, 10.0)
    default: float = 1.0
    log_scale: bool = True

    def allows(self, value: float) -> bool:
        above = value >= self.low if self.low_closed else value > self.low
        below = value <= self.high if self.high_closed else value < self.high
        return above and below

    def interval(self) -> str:
        left = "[" if self.low_closed else "("
        right = "]" if self.high_closed else ")"
        return f"{left}{self.low:g}, {self.high:g}{right}"


@dataclass(frozen=True)
class StepSizeCondition:
    """The analysis needs ``symbol < upper`` (``<=`` if ``inclusive``), ``upper`` an expression."""

    symbol: sp.Symbol
    upper: sp.Expr
    reason: str
    inclusive: bool = False


def target_of(measure: str) -> sp.Expr:
    r"""The right-hand side :math:`\tilde\varepsilon` a measure is compared with."""
    if measure == "grad_norm_sq":
        return symbols.epsilon**2
    if measure == "variational":
        return symbols.epsilon
    raise ValueError(f"measure={measure!r} is not known; allowed: {', '.join(MEASURES)}")


def check_values(
    owner: str, assumptions: Mapping[sp.Symbol, Parameter], values: Mapping[str, float], hint=None
) -> dict[str, float]:
    """Check keyword values against ``assumptions``; return them as floats.

    ``owner`` names the bound in messages; ``hint(name)`` may add a reason to the message
    for an unknown name. Raises ``ValueError`` for unknown or missing names, non-finite or
    out-of-range values, and ``TypeError`` for non-numbers, each naming the parameter, its
    value and the allowed range.
    """
    allowed = tuple(NAME_OF[s] for s in assumptions)
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        reason = hint(unknown[0]) if hint else ""
        raise ValueError(
            f"{unknown[0]}={values[unknown[0]]!r} is not a parameter of the {owner}{reason}; "
            f"allowed: {', '.join(allowed)}"
        )
    missing = [name for name in allowed if name not in values]
    if missing:
        raise ValueError(f"{owner} needs a value for {', '.join(missing)}")
    checked: dict[str, float] = {}
    for sym, spec in assumptions.items():
        name = NAME_OF[sym]
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name}={value!r} must be a real number in {spec.interval()}")
        if not math.isfinite(float(value)) or not spec.allows(float(value)):
            raise ValueError(
                f"{name}={value!r} is outside the allowed range {spec.interval()} ({spec.meaning})"
            )
        checked[name] = float(value)
    return checked


@dataclass(frozen=True)
class Bound:
    r"""The bound :math:`A/K + B/b + C \le \tilde\varepsilon` of one optimizer, symbolically.

    Every derived quantity (``steps``, ``sfo``, ``min_batch``, ``critical_batch``,
    ``min_steps``) is the general template of :mod:`batchsteps.theory.template` with this
    optimizer's ``A, B, C`` and target substituted: nothing is typed per optimizer.

    >>> from batchsteps.theory import bound
    >>> bound("sgd").subs(L=1, sigma=1, Delta=1, alpha=0.5, epsilon=0.5).critical_batch
    2.6666666666666665
    """

    name: str
    A: sp.Expr
    B: sp.Expr
    C: sp.Expr
    measure: str
    assumptions: Mapping[sp.Symbol, Parameter]
    conditions: tuple[StepSizeCondition, ...] = field(default=())

    @property
    def target(self) -> sp.Expr:
        r""":math:`\tilde\varepsilon`: :math:`\varepsilon^2` or :math:`\varepsilon`."""
        return target_of(self.measure)

    def _instantiate(self, expr: sp.Expr) -> sp.Expr:
        return expr.subs(
            {
                template.A: self.A,
                template.B: self.B,
                template.C: self.C,
                template.eps_t: self.target,
            },
            simultaneous=True,
        )

    @cached_property
    def steps(self) -> sp.Expr:
        r""":math:`K(b) = A b / ((\tilde\varepsilon - C) b - B)`."""
        return self._instantiate(template.derive().steps)

    @cached_property
    def sfo(self) -> sp.Expr:
        """:math:`N(b) = b K(b)`, stochastic gradients computed."""
        return self._instantiate(template.derive().sfo)

    @cached_property
    def min_batch(self) -> sp.Expr:
        r""":math:`b_0 = B / (\tilde\varepsilon - C)`: below it no K reaches the target."""
        return sp.simplify(self._instantiate(template.derive().min_batch))

    @cached_property
    def critical_batch(self) -> sp.Expr:
        r""":math:`b^\star = 2B/(\tilde\varepsilon - C)`, the minimizer of N(b)."""
        return sp.simplify(self._instantiate(template.derive().critical_batch))

    @cached_property
    def min_steps(self) -> sp.Expr:
        r""":math:`K_{\min} = A/(\tilde\varepsilon - C)`, the limit of K(b) as b grows."""
        return sp.simplify(self._instantiate(template.derive().min_steps))

    @property
    def parameters(self) -> tuple[str, ...]:
        """Keyword names ``subs`` needs, in the order of ``assumptions``."""
        return tuple(NAME_OF[s] for s in self.assumptions)

    def subs(self, **values: float) -> NumericBound:
        """Numeric bound for the given parameter values, each checked against its range.

        Raises ``ValueError`` naming the parameter, its value and the allowed range for unknown
        or missing names, non-finite or out-of-range values, a step size the analysis does not
        cover, or a target not above the non-vanishing term ``C``; ``TypeError`` for non-numbers.
        """
        checked = self._check(values)
        by_symbol = {sym: checked[NAME_OF[sym]] for sym in self.assumptions}
        A, B, C = (float(e.subs(by_symbol)) for e in (self.A, self.B, self.C))
        eps_t = float(self.target.subs(by_symbol))
        if not eps_t > C:
            need = C if self.measure == "variational" else math.sqrt(C)
            raise ValueError(
                f"epsilon={checked['epsilon']!r} is too small: the bound's term C={C:.6g} does "
                f"not vanish, so epsilon must exceed {need:.6g} for {self.name}"
            )
        return NumericBound(self, checked, A, B, C, eps_t)

    def _check(self, values: Mapping[str, float]) -> dict[str, float]:
        checked = check_values(f"{self.name} bound", self.assumptions, values)
        by_symbol = {sym: checked[NAME_OF[sym]] for sym in self.assumptions}
        for condition in self.conditions:
            name = NAME_OF[condition.symbol]
            upper = float(condition.upper.subs(by_symbol))
            inside = checked[name] <= upper if condition.inclusive else checked[name] < upper
            if not inside:
                right = "]" if condition.inclusive else ")"
                raise ValueError(
                    f"{name}={checked[name]!r} is outside the allowed range (0, {upper:.6g}"
                    f"{right}: {condition.reason}"
                )
        return checked


@cache
def _numeric_template() -> dict[str, object]:
    """The template's results as numpy functions of ``(A, B, C, eps_t, b)``."""
    r = template.derive()
    args = (template.A, template.B, template.C, template.eps_t, symbols.b)
    names = ("steps", "sfo", "min_batch", "critical_batch", "min_steps")
    return {name: sp.lambdify(args, getattr(r, name), "numpy") for name in names}


@dataclass(frozen=True)
class NumericBound:
    """A bound with numbers for every parameter: the constants, b0, b*, K_min as floats.

    ``steps(b)`` and ``sfo(b)`` take scalars or arrays and give ``inf`` where ``b <= b0``.
    """

    bound: Bound
    values: Mapping[str, float]
    A: float
    B: float
    C: float
    target: float

    def _constant(self, name: str) -> float:
        return float(_numeric_template()[name](self.A, self.B, self.C, self.target, 1.0))

    @property
    def min_batch(self) -> float:
        """b0: the pole of K(b)."""
        return self._constant("min_batch")

    @property
    def critical_batch(self) -> float:
        """b*: the minimizer of N(b), where K(b*) = 2 K_min."""
        return self._constant("critical_batch")

    @property
    def min_steps(self) -> float:
        """K_min: the limit of K(b) as b grows."""
        return self._constant("min_steps")

    def _evaluate(self, name: str, b: np.ndarray | float) -> np.ndarray | float:
        batch = np.asarray(b, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = _numeric_template()[name](self.A, self.B, self.C, self.target, batch)
        result = np.where(batch > self.min_batch, value, np.inf)
        return float(result) if result.ndim == 0 else result

    def steps(self, b: np.ndarray | float) -> np.ndarray | float:
        """K(b): steps for the bound to certify the target; ``inf`` for ``b <= b0``."""
        return self._evaluate("steps", b)

    def sfo(self, b: np.ndarray | float) -> np.ndarray | float:
        """N(b) = b K(b): stochastic gradients computed; ``inf`` for ``b <= b0``."""
        return self._evaluate("sfo", b)
