r"""``Bound``: one optimizer's constants ``A, B, C`` and everything the template derives from them.

An optimizer's analysis ends in :math:`U(K, b) = A/K + B/b + C \le \tilde\varepsilon`, where the
right-hand side is :math:`\varepsilon^2` for the measure ``"grad_norm_sq"`` (the average of
:math:`\mathbb E\|\nabla f(\theta_k)\|^2`) and :math:`\varepsilon` for ``"variational"``
(the average of :math:`\mathbb E\langle\theta_k - \theta, \nabla f(\theta_k)\rangle`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property

import numpy as np
import sympy as sp

from .. import validation
from . import template
from .notation import NAME_OF, symbols

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

    def check(self, name: str, value: object) -> float:
        """``value`` as a float: ``TypeError`` unless a real number, ``ValueError`` unless finite
        and in this range (the message names ``name`` and says what the parameter means)."""
        return validation.real(
            name, value, low=self.low, high=self.high, low_open=not self.low_closed,
            high_open=not self.high_closed, note=self.meaning,
        )  # fmt: skip


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
    raise validation.value_error("measure", measure, f"one of {', '.join(map(repr, MEASURES))}")


def check_values(
    owner: str, assumptions: Mapping[sp.Symbol, Parameter], values: Mapping[str, float], hint=None
) -> dict[str, float]:
    """Check keyword values against ``assumptions``; return them as floats.

    ``owner`` names the bound in messages; ``hint(name)`` may add a reason to the message
    for an unknown name. Raises ``ValueError`` for unknown or missing names, non-finite or
    out-of-range values, and ``TypeError`` for non-numbers, each naming the parameter, its
    value and the allowed range.
    """
    specs = assumptions.items()
    allowed = [NAME_OF[sym] for sym in assumptions]
    validation.keys(f"the parameters of the {owner}", values, allowed, required=True, note=hint)
    return {NAME_OF[sym]: spec.check(NAME_OF[sym], values[NAME_OF[sym]]) for sym, spec in specs}


def check_batch(b: object) -> np.ndarray:
    """``b``, a batch size where a numeric bound is evaluated, as a float array of its shape: a
    finite real number (not a bool) > 0 or an array of them."""
    return validation.real_array("b", b, ndim=None, min_size=0, low=0, low_open=True)


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
        A, B, C, eps_t = self._numbers(checked, (self.A, self.B, self.C, self.target))
        if not eps_t > C:
            need = C if self.measure == "variational" else math.sqrt(C)
            raise validation.value_error(
                "epsilon", checked["epsilon"], f"> {need:.6g} for {self.name} (the bound's term "
                f"C={C:.6g} does not vanish)",
            )  # fmt: skip
        return NumericBound(self, checked, A, B, C, eps_t)

    def constants(self, **values: float) -> tuple[float, float, float]:
        """The constants ``(A, B, C)`` at the given values of every parameter but
        ``epsilon`` (they do not depend on the target), each checked as :meth:`subs` checks it,
        the step-size conditions included."""
        if "epsilon" in values:
            raise validation.value_error(
                "epsilon", values["epsilon"], "left out (A, B and C do not depend on the target)"
            )
        checked = self._check({**values, "epsilon": 1.0})  # any target: A, B, C ignore it
        A, B, C = self._numbers(checked, (self.A, self.B, self.C))
        return A, B, C

    def __getstate__(self) -> dict:
        """Pickled without ``_functions`` (generated code does not pickle; made again on use)."""
        return {k: v for k, v in self.__dict__.items() if k != "_functions"}

    @cached_property
    def _functions(self) -> dict[sp.Expr, object]:
        """Each constant the numeric bound needs (``A, B, C``, the target, each condition's
        upper limit) as a float function of the parameters, in the order of ``assumptions``."""
        exprs = (self.A, self.B, self.C, self.target, *(c.upper for c in self.conditions))
        return {e: sp.lambdify(tuple(self.assumptions), e, "math") for e in exprs}

    def _numbers(self, checked: Mapping[str, float], exprs: tuple[sp.Expr, ...]) -> list[float]:
        """``exprs`` at the checked values, as floats. Evaluated in floating point (a few
        microseconds, where ``expr.subs`` takes milliseconds: sweeps over a parameter call
        ``subs`` thousands of times); where that raises or is not finite, the exact
        substitution decides, as it always did."""
        args = [checked[NAME_OF[sym]] for sym in self.assumptions]
        out = []
        for expr in exprs:
            try:
                value = float(self._functions[expr](*args))
            except (ArithmeticError, ValueError, TypeError):
                value = math.nan
            if not math.isfinite(value):
                by_symbol = {sym: checked[NAME_OF[sym]] for sym in self.assumptions}
                value = float(expr.subs(by_symbol))
            out.append(value)
        return out

    def _check(self, values: Mapping[str, float]) -> dict[str, float]:
        checked = check_values(f"{self.name} bound", self.assumptions, values)
        uppers = self._numbers(checked, tuple(c.upper for c in self.conditions))
        for condition, upper in zip(self.conditions, uppers, strict=True):
            name = NAME_OF[condition.symbol]
            inside = checked[name] <= upper if condition.inclusive else checked[name] < upper
            if not inside:
                right = "]" if condition.inclusive else ")"
                raise validation.value_error(
                    name,
                    checked[name],
                    f"a real number in (0, {upper:.6g}{right} ({condition.reason})",
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

    ``steps(b)`` and ``sfo(b)`` take a real number or an array of them (not nan, not bool) and
    give ``inf`` where ``b <= b0``.
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
        batch = check_batch(b)
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
