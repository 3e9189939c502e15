r"""A learning rate tuned for each batch size: the bound minimised over :math:`\alpha`.

A constant-rate bound gives the steps :math:`K(b, \alpha)` needed for the target. Choosing, for
every batch size, the rate that needs the fewest steps gives

.. math:: \alpha^\star(b) = \operatorname*{arg\,min}_\alpha K(b, \alpha), \qquad
   K^\star(b) = K(b, \alpha^\star(b)).

For SGD sympy finds :math:`\alpha^\star(b) = \varepsilon^2 b / (L(\varepsilon^2 b + \sigma^2))`
and :math:`K^\star(b) = (2\Delta L/\varepsilon^2)(1 + \sigma^2/(\varepsilon^2 b))`: the law
:math:`S = S_{\min}(1 + B_{\text{noise}}/B)` of McCandlish et al. (2018), whose pole sits at
:math:`b = 0` instead of at :math:`b_0`. Nothing here is typed per optimizer: the minimisation
runs on the :class:`~batchsteps.theory.Bound` of :func:`~batchsteps.theory.bound`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import sympy as sp

from .. import validation
from .bounds import Bound, Parameter, check_batch, check_values
from .momentum import momentum_bound
from .notation import NAME_OF
from .notation import symbols as S
from .sgd import sgd_bound

TUNABLE_BOUNDS: Mapping[str, Callable[[], Bound]] = {"sgd": sgd_bound, "momentum": momentum_bound}
TUNABLE = tuple(TUNABLE_BOUNDS)
"""Bounds whose minimisation over the rate is derived and tested."""


def positive_form(expr: sp.Expr, assumptions: Mapping[sp.Symbol, Parameter]) -> sp.Expr:
    r"""``expr`` with every parameter of bounded range written through a positive symbol.

    A parameter allowed in :math:`(\ell, h)` with :math:`h < \infty` becomes
    :math:`\ell + (h - \ell)\,u/(1 + u)` with :math:`u > 0` (so :math:`\beta \in [0, 1)` becomes
    :math:`u/(1+u)`): sympy's sign inference, which knows only that symbols are positive, can
    then decide the sign of ``expr`` over the whole allowed range.
    """
    replace = {}
    for sym, spec in assumptions.items():
        if math.isfinite(spec.high):
            u = sp.Symbol(f"u_{NAME_OF[sym]}", positive=True)
            replace[sym] = spec.low + (spec.high - spec.low) * u / (1 + u)
    return sp.factor(sp.simplify(sp.sympify(expr).subs(replace)))


def concavity(bound: Bound) -> sp.Expr:
    r""":math:`\partial^2_\alpha (1/K)`: for SGD :math:`-L(\varepsilon^2 b + \sigma^2)/(\Delta b)`,
    negative and free of :math:`\alpha`, so :math:`1/K` is concave in the rate."""
    return sp.factor(sp.simplify(sp.diff(sp.cancel(1 / bound.steps), S.alpha, 2)))


def _is_maximiser(root: sp.Expr, bound: Bound) -> bool:
    """Whether ``root`` is positive and inside the step-size conditions over the whole parameter
    range (decided symbolically, with :func:`positive_form`)."""
    gaps = [root] + [c.upper - root for c in bound.conditions]
    return all(positive_form(g, bound.assumptions).is_positive for g in gaps)


def minimise_over_rate(bound: Bound) -> tuple[sp.Expr, sp.Expr]:
    r"""Solve :math:`\partial_\alpha K(b, \alpha) = 0` for the rate that minimises the steps.

    Minimising :math:`K` is maximising its reciprocal :math:`1/K = ((\tilde\varepsilon - C) b
    - B)/(A b)`. The method requires :math:`1/K` to be concave in :math:`\alpha` over the whole
    parameter range (:func:`concavity` negative, decided symbolically): then a stationary point
    is the maximiser, and it is kept if it is positive and inside the step-size conditions for
    every allowed parameter value. For SGD and momentum :math:`1/K` is quadratic in
    :math:`\alpha`, the numerator of its derivative linear, and there is one root.
    Returns :math:`(\alpha^\star(b), K^\star(b))`; ``ValueError`` if concavity or the root
    cannot be established.
    """
    if not positive_form(-concavity(bound), bound.assumptions).is_positive:
        raise ValueError(f"bound={bound.name!r}: 1/K is not provably concave in alpha")
    speed = sp.cancel(1 / bound.steps)
    numerator, _ = sp.fraction(sp.together(sp.diff(speed, S.alpha)))
    roots = [r for r in sp.solve(numerator, S.alpha) if _is_maximiser(r, bound)]
    if len(roots) != 1:
        raise ValueError(
            f"bound={bound.name!r}: expected one rate minimising K(b, alpha), found {roots}"
        )
    (lr,) = roots
    return sp.factor(sp.simplify(lr)), sp.factor(sp.simplify(bound.steps.subs(S.alpha, lr)))


@dataclass(frozen=True)
class TunedBound:
    r"""The steps :math:`K^\star(b)` of a bound whose learning rate is tuned for each b.

    ``steps`` is :math:`K^\star(b)`, ``lr`` the minimising rate :math:`\alpha^\star(b)`; the
    law has the form :math:`K^\star(b) = S_{\min}(1 + B_{\text{noise}}/b)`, with
    ``min_steps`` :math:`S_{\min} = \lim_{b\to\infty} K^\star(b)`, ``noise_batch``
    :math:`B_{\text{noise}}`, ``critical_batch`` the b where :math:`K^\star = 2 S_{\min}`,
    ``max_lr`` :math:`\lim_{b\to\infty}\alpha^\star(b)` and ``min_sfo``
    :math:`E_{\min} = \lim_{b\to 0} b K^\star(b)`.

    >>> from batchsteps.theory import tuned_bound
    >>> tuned_bound("sgd").subs(L=1, sigma=1, Delta=1, epsilon=0.5).noise_batch
    4.0
    """

    name: str
    bound: Bound
    lr: sp.Expr
    steps: sp.Expr

    @property
    def measure(self) -> str:
        """The measure of the underlying bound (``"grad_norm_sq"`` for SGD and momentum)."""
        return self.bound.measure

    @property
    def assumptions(self) -> Mapping[sp.Symbol, Parameter]:
        """The bound's parameters less the learning rate, which is no longer free."""
        return {s: p for s, p in self.bound.assumptions.items() if s != S.alpha}

    @property
    def parameters(self) -> tuple[str, ...]:
        """Keyword names ``subs`` needs."""
        return tuple(NAME_OF[s] for s in self.assumptions)

    @cached_property
    def sfo(self) -> sp.Expr:
        r""":math:`N^\star(b) = b K^\star(b)`, stochastic gradients computed."""
        return sp.factor(S.b * self.steps)

    @cached_property
    def min_steps(self) -> sp.Expr:
        r""":math:`S_{\min} = \lim_{b\to\infty} K^\star(b)`."""
        return sp.factor(sp.limit(self.steps, S.b, sp.oo))

    @cached_property
    def noise_batch(self) -> sp.Expr:
        r""":math:`B_{\text{noise}} = \lim_{b\to\infty} b\,(K^\star(b)/S_{\min} - 1)`."""
        return sp.factor(sp.limit(S.b * (self.steps / self.min_steps - 1), S.b, sp.oo))

    @cached_property
    def critical_batch(self) -> sp.Expr:
        r"""The batch where :math:`K^\star(b) = 2 S_{\min}`: twice the fewest steps."""
        (root,) = sp.solve(sp.Eq(self.steps, 2 * self.min_steps), S.b)
        return sp.factor(root)

    @cached_property
    def min_batch(self) -> sp.Expr:
        r"""The pole of :math:`K^\star(b)`: :math:`b = 0`, where the constant-rate law has
        :math:`b_0 > 0` (derived, not typed: the root of the denominator)."""
        _, denominator = sp.fraction(sp.together(self.steps))
        z = sp.Symbol("z", real=True)  # b itself is positive, which would hide the root 0
        (pole,) = sp.solve(denominator.subs(S.b, z), z)
        return pole

    @cached_property
    def max_lr(self) -> sp.Expr:
        r""":math:`\alpha_{\max} = \lim_{b\to\infty}\alpha^\star(b)`: where linear scaling stops."""
        return sp.factor(sp.limit(self.lr, S.b, sp.oo))

    @cached_property
    def min_sfo(self) -> sp.Expr:
        r""":math:`E_{\min} = \lim_{b\to 0} b K^\star(b)`: the fewest samples, at tiny batches."""
        return sp.factor(sp.limit(self.sfo, S.b, 0, "+"))

    def __getstate__(self) -> dict:
        """Pickled without ``_functions`` (generated code does not pickle; made again on use)."""
        return {k: v for k, v in self.__dict__.items() if k != "_functions"}

    @cached_property
    def _functions(self) -> dict[str, Callable[..., np.ndarray]]:
        args = (*self.assumptions, S.b)
        names = ("steps", "lr", "sfo", "min_steps", "noise_batch", "critical_batch", "max_lr")
        names += ("min_batch",)
        return {n: sp.lambdify(args, getattr(self, n), "numpy") for n in names}

    def subs(self, **values: float) -> NumericTunedBound:
        """Numeric tuned bound for the given parameter values (no ``alpha``: it is tuned).

        Raises ``ValueError`` naming the parameter, its value and the allowed range for unknown
        or missing names, non-finite or out-of-range values; ``TypeError`` for non-numbers.
        """
        return NumericTunedBound(self, self._check(values))

    def _check(self, values: Mapping[str, float]) -> dict[str, float]:
        def hint(name: str) -> str:
            return " (the tuned bound chooses it)" if name == "alpha" else ""

        return check_values(f"tuned {self.name} bound", self.assumptions, values, hint)


@dataclass(frozen=True)
class NumericTunedBound:
    """A tuned bound with numbers for every parameter.

    ``steps(b)``, ``sfo(b)`` and ``lr(b)`` take batch sizes: a finite real number > 0 (not a
    bool) or an array of them.
    """

    tuned: TunedBound
    values: Mapping[str, float]

    def _call(self, name: str, b: np.ndarray | float = 1.0) -> np.ndarray:
        args = [self.values[n] for n in self.tuned.parameters]
        with np.errstate(divide="ignore", invalid="ignore"):
            out = self.tuned._functions[name](*args, np.asarray(b, dtype=float))
        return np.broadcast_to(np.asarray(out, dtype=float), np.shape(b))

    def _constant(self, name: str) -> float:
        return float(self._call(name))

    @property
    def min_steps(self) -> float:
        r""":math:`S_{\min}`: the steps of an unbounded batch."""
        return self._constant("min_steps")

    @property
    def noise_batch(self) -> float:
        r""":math:`B_{\text{noise}}` of the law :math:`S_{\min}(1 + B_{\text{noise}}/b)`."""
        return self._constant("noise_batch")

    @property
    def critical_batch(self) -> float:
        r"""Where :math:`K^\star(b) = 2 S_{\min}`."""
        return self._constant("critical_batch")

    @property
    def min_batch(self) -> float:
        """The pole of the tuned law: 0."""
        return self._constant("min_batch")

    @property
    def max_lr(self) -> float:
        r""":math:`\alpha_{\max}`: the tuned rate at an unbounded batch."""
        return self._constant("max_lr")

    def _evaluate(self, name: str, b: np.ndarray | float) -> np.ndarray | float:
        result = np.asarray(self._call(name, check_batch(b)))
        return float(result) if result.ndim == 0 else result

    def steps(self, b: np.ndarray | float) -> np.ndarray | float:
        r""":math:`K^\star(b)` at batch sizes ``b > 0``."""
        return self._evaluate("steps", b)

    def sfo(self, b: np.ndarray | float) -> np.ndarray | float:
        r""":math:`b K^\star(b)` at batch sizes ``b > 0``."""
        return self._evaluate("sfo", b)

    def lr(self, b: np.ndarray | float) -> np.ndarray | float:
        r""":math:`\alpha^\star(b)` at batch sizes ``b > 0``."""
        return self._evaluate("lr", b)


_CACHE: dict[str, TunedBound] = {}


def tune(bound: Bound) -> TunedBound:
    """The tuned-rate version of any bound whose steps sympy can minimise over ``alpha``."""
    validation.instance("bound", bound, Bound)
    lr, steps = minimise_over_rate(bound)
    return TunedBound(name=bound.name, bound=bound, lr=lr, steps=steps)


def tuned_bound(name: str) -> TunedBound:
    r"""The bound of optimizer ``name`` with its rate tuned per batch size: ``.steps``, ``.lr``.

    ``name`` is ``"sgd"`` or ``"momentum"``. For SGD,
    :math:`K^\star(b) = \frac{2\Delta L}{\varepsilon^2}\bigl(1 + \frac{\sigma^2}{\varepsilon^2 b}
    \bigr)` and :math:`\alpha^\star(b) = \frac{\varepsilon^2 b}{L(\varepsilon^2 b + \sigma^2)}`.

    >>> tuned_bound("sgd").lr
    \varepsilon**2*b/(L*(\sigma**2 + \varepsilon**2*b))
    """
    validation.one_of("name", name, TUNABLE)
    if name not in _CACHE:
        _CACHE[name] = tune(TUNABLE_BOUNDS[name]())
    return _CACHE[name]
