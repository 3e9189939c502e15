r"""Steps-versus-batch-size laws as objects: parameters, prediction, inverse, linearisation.

A law says how the steps :math:`K` to a target fall with the batch size :math:`b`. Two are
in the book:

.. math::

    \text{ConstantRateLaw:}\quad K(b) = K_{\min}\,\frac{b}{b - b_0}\quad (b > b_0 > 0),
    \qquad
    \text{TunedRateLaw:}\quad K(b) = S_{\min}\Bigl(1 + \frac{B_{\mathrm{noise}}}{b}\Bigr).

The first is the template's :math:`A b/((\tilde\varepsilon - C) b - B)` with
:math:`K_{\min} = A/(\tilde\varepsilon - C)` and :math:`b_0 = B/(\tilde\varepsilon - C)` (a
constant learning rate); the second is what a learning rate tuned for each batch size gives
(McCandlish et al.'s empirical law). Both define the critical batch size where the steps are
twice their minimum, :math:`K(b_{\mathrm{crit}}) = 2K_{\min}`: :math:`2b_0`, resp.
:math:`B_{\mathrm{noise}}`.

Every parameter of a law is positive; the fitter works in the coordinates
:math:`\theta = \log(\text{parameters})`, where intervals are symmetric and stay positive.
A new law is one subclass of :class:`Law`: its parameter names, :meth:`Law.log_steps`, the
coordinates where it is a straight line in :math:`1/b` (:meth:`Law.linear_coordinates`,
:meth:`Law.from_line`), its search bounds and its critical batch. The rest (prediction,
inverse, starting values, gradient) has defaults that any law satisfies.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import ClassVar

import numpy as np
from scipy import optimize

from .. import validation

_FD_STEP = 1e-6  # relative step of the default central-difference gradient
_EDGE = 1e-6  # a coordinate this close to a bound (share of the range) is on it
_INNER = 1e-9  # starting values keep this fraction of the search range away from its bounds

ParamsLike = Mapping[str, float] | Sequence[float] | np.ndarray


class Law(abc.ABC):
    r"""A law :math:`K(b;\,p)` with positive parameters :math:`p`, fitted in :math:`\theta =
    \log p`.

    Subclasses set ``name`` (how ``fit_steps(law=...)`` may name it), ``parameters`` (keys of
    ``Fit.params``, in order), ``symbols`` (the book's symbol of each parameter), and implement
    :meth:`log_steps`, :meth:`linear_coordinates`, :meth:`from_line`, :meth:`log_bounds` and
    :meth:`critical_batch`.
    """

    name: ClassVar[str]
    parameters: ClassVar[tuple[str, ...]]
    symbols: ClassVar[Mapping[str, str]]
    label: ClassVar[str] = "law"
    """How a figure or table names the law."""
    critical_symbol: ClassVar[str] = "b_crit"
    """The book's symbol of the law's critical batch."""

    # --- what a law must say ------------------------------------------------------------------

    @abc.abstractmethod
    def log_steps(self, b: np.ndarray, theta: Sequence) -> np.ndarray:
        r""":math:`\log K(b)` at :math:`\theta = \log p` (entries of ``theta`` broadcast
        against ``b``); ``inf`` where the target is never reached (at or below a pole)."""

    @abc.abstractmethod
    def linear_coordinates(self, b: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r"""``(x, y)`` in which the law is the straight line ``y = intercept + slope x``."""

    @abc.abstractmethod
    def from_line(self, intercept: float, slope: float) -> dict[str, float]:
        """The parameters a straight line in :meth:`linear_coordinates` implies (possibly
        outside their allowed range: a starting point, not a fit)."""

    @abc.abstractmethod
    def log_bounds(self, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r"""Search bounds of :math:`\theta` given the batch sizes of runs that reached the
        target (a pole must stay below all of them)."""

    @abc.abstractmethod
    def critical_batch(self, params: ParamsLike) -> float:
        r"""Where :math:`K(b_{\mathrm{crit}}) = 2K_{\min}`."""

    # --- defaults -----------------------------------------------------------------------------

    def at_bound(self, theta: np.ndarray, b: np.ndarray) -> np.ndarray:
        r"""Which coordinates of :math:`\theta` sit on their search bound (within
        :math:`10^{-6}` of its range): such an estimate is a limit of what the data allow."""
        low, high = self.log_bounds(b)
        width = np.where(np.isfinite(high - low), high - low, 1.0)
        with np.errstate(invalid="ignore"):
            return (theta - low <= _EDGE * width) | (high - theta <= _EDGE * width)

    def pole(self, params: ParamsLike) -> float:
        """The batch size at and below which the target is never reached (0: none)."""
        return 0.0

    def min_samples(self, params: ParamsLike) -> float:
        r"""The fewest samples :math:`\inf_b bK(b)` (numerically over :math:`\log b`
        unless a law gives it exactly)."""
        theta = self.theta_of(params)
        pole = self.pole(params)
        low = math.log(pole) + 1e-9 if pole > 0 else -30.0

        def log_samples(u: float) -> float:
            with np.errstate(over="ignore", divide="ignore"):
                return u + float(self.log_steps(np.array([math.exp(u)]), theta)[0])

        best = optimize.minimize_scalar(log_samples, bounds=(low, 60.0), method="bounded")
        return float(math.exp(min(best.fun, log_samples(low))))

    def gradient(self, b: np.ndarray, theta: np.ndarray) -> np.ndarray:
        r""":math:`\partial \log K(b)/\partial\theta`, shape ``(len(b), len(theta))``
        (central differences unless a law gives it exactly)."""
        columns = []
        for i in range(len(theta)):
            step = np.zeros(len(theta))
            step[i] = _FD_STEP * max(1.0, abs(theta[i]))
            up, down = self.log_steps(b, theta + step), self.log_steps(b, theta - step)
            columns.append((up - down) / (2.0 * step[i]))
        return np.column_stack(columns)

    def params_of(self, theta: Sequence[float]) -> dict[str, float]:
        r"""``{name: exp(theta_i)}``."""
        return {n: float(math.exp(t)) for n, t in zip(self.parameters, theta, strict=True)}

    def values_of(self, params: ParamsLike) -> np.ndarray:
        """The parameters in order, from a mapping by name or a sequence; positive, finite."""
        if isinstance(params, Mapping):
            if any(n not in params for n in self.parameters):
                allowed = f"a mapping with {self.name}'s parameters {list(self.parameters)}"
                raise validation.value_error("params", dict(params), allowed)
            values = [params[n] for n in self.parameters]
        else:
            values = list(params)
            if len(values) != len(self.parameters):
                allowed = f"one value per parameter of {self.name}, {list(self.parameters)}"
                raise validation.value_error("params", params, allowed)
        return validation.real_array("params", values, low=0, low_open=True)

    def theta_of(self, params: ParamsLike) -> np.ndarray:
        r""":math:`\theta = \log p` from a mapping by name or a sequence in order."""
        return np.log(self.values_of(params))

    def predict(self, b: np.ndarray | float, params: ParamsLike) -> np.ndarray | float:
        r""":math:`K(b)` (``inf`` where the target is never reached).

        >>> TunedRateLaw().predict(64.0, {"min_steps": 500.0, "noise_scale": 64.0})
        1000.0
        """
        batch = np.asarray(b, dtype=float)
        with np.errstate(over="ignore"):
            value = np.exp(self.log_steps(batch, self.theta_of(params)))
        return float(value) if np.ndim(value) == 0 else value

    def inverse(self, steps: np.ndarray | float, params: ParamsLike) -> np.ndarray | float:
        r"""The batch size :math:`b` with :math:`K(b) =` ``steps`` (``inf`` where ``steps`` is
        at or below the law's limit :math:`K(\infty)`); by bracketing in :math:`\log b`
        unless a law gives it exactly. :math:`K` must decrease in :math:`b`."""
        theta = self.theta_of(params)
        k = np.asarray(steps, dtype=float)
        floor = float(np.exp(self.log_steps(np.array([1e300]), theta))[0])
        pole = self.pole(params)

        def gap(u: float, target: float) -> float:
            with np.errstate(over="ignore"):
                return float(self.log_steps(np.array([math.exp(u)]), theta)[0]) - math.log(target)

        def one(target: float) -> float:
            if target <= floor * (1.0 + 1e-12):
                return math.inf
            lo = math.log(pole) if pole > 0 else 0.0
            hi = lo + 1.0
            while gap(hi, target) > 0:
                hi += 2.0 * (hi - lo)
            step = 1.0
            while pole == 0 and gap(lo, target) < 0:
                lo -= step
                step *= 2.0
            if pole > 0:
                lo += 1e-15 * max(1.0, abs(lo))
            return math.exp(optimize.brentq(gap, lo, hi, args=(target,), xtol=1e-14, rtol=1e-14))

        value = np.vectorize(one, otypes=[float])(k)
        return float(value) if np.ndim(value) == 0 else value

    def starts(self, b: np.ndarray, k: np.ndarray) -> list[np.ndarray]:
        r"""Starting values of :math:`\theta`: the straight line's parameters (clipped into the
        bounds), then a few spread over the bounds of the last coordinate."""
        low, high = self.log_bounds(b)
        x, y = self.linear_coordinates(b, k)
        intercept, slope = weighted_line(x, y, 1.0 / y**2)
        line = self.from_line(intercept, slope)
        guess = np.array([math.log(v) if v > 0 else math.nan for v in line.values()])
        fallback = np.array([math.log(float(np.median(k)))] * len(self.parameters))
        first = np.where(np.isfinite(guess), guess, fallback)
        width = np.where(np.isfinite(high - low), high - low, 0.0)
        inner_low, inner_high = low + _INNER * width, high - _INNER * width
        starts = [np.clip(first, inner_low, inner_high)]
        last_low = low[-1] if np.isfinite(low[-1]) else first[-1] - 5.0
        last_high = high[-1] if np.isfinite(high[-1]) else first[-1] + 5.0
        for fraction in (0.25, 0.6, 0.95):
            start = starts[0].copy()
            start[-1] = last_low + fraction * (last_high - last_low)
            starts.append(np.clip(start, inner_low, inner_high))
        return starts

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))


def weighted_line(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted least-squares line ``y = intercept + slope x`` (weights on squared residuals)."""
    design = np.column_stack([np.ones_like(x), x]) * np.sqrt(w)[:, None]
    (intercept, slope), *_ = np.linalg.lstsq(design, y * np.sqrt(w), rcond=None)
    return float(intercept), float(slope)


_B0_CEILING = 1.0 - 1e-6  # b0 stays below this fraction of the smallest reached b
_B0_FLOOR = 1e-9  # and above this fraction of it (b0 -> 0 is "no pole")
_NOISE_RANGE = 1e4  # B_noise is searched in [min b / 1e4, max b * 1e4]


class ConstantRateLaw(Law):
    r""":math:`K(b) = K_{\min}\,b/(b - b_0)`: the constant-rate template, pole :math:`b_0`,
    critical batch :math:`b^\star = 2b_0`.

    Linear as :math:`1/K = 1/K_{\min} - (b_0/K_{\min})(1/b)`.

    >>> law = ConstantRateLaw()
    >>> law.predict(16.0, {"min_steps": 1000.0, "min_batch": 8.0})
    2000.0
    >>> law.critical_batch({"min_steps": 1000.0, "min_batch": 8.0})
    16.0
    """

    name = "constant_lr"
    parameters = ("min_steps", "min_batch")
    symbols = MappingProxyType({"min_steps": "K_min", "min_batch": "b0"})
    label = "constant-rate law"
    critical_symbol = "b*"

    def log_steps(self, b, theta):
        pole = np.exp(theta[1])
        with np.errstate(divide="ignore", invalid="ignore"):
            value = theta[0] + np.log(b) - np.log(b - pole)
        return np.where(b > pole, value, np.inf)

    def gradient(self, b, theta):
        pole = math.exp(theta[1])
        with np.errstate(divide="ignore", invalid="ignore"):
            second = np.where(b > pole, pole / (b - pole), 0.0)
        return np.column_stack([np.ones_like(b), second])

    def linear_coordinates(self, b, k):
        return 1.0 / b, 1.0 / k

    def from_line(self, intercept, slope):
        with np.errstate(divide="ignore", invalid="ignore"):
            return {"min_steps": 1.0 / intercept, "min_batch": -slope / intercept}

    def log_bounds(self, b):
        low = math.log(_B0_FLOOR * b.min())
        return np.array([-np.inf, low]), np.array([np.inf, math.log(_B0_CEILING * b.min())])

    def critical_batch(self, params):
        return 2.0 * float(self.values_of(params)[1])

    def starts(self, b, k):
        r"""The straight line's start, then :math:`b_0` at 5%, 50% and 95% of the smallest
        batch size (where a pole can be seen; the default spread is in :math:`\log b_0`)."""
        line = super().starts(b, k)[0]
        spread = [np.array([line[0], math.log(f * b.min())]) for f in (0.05, 0.5, 0.95)]
        return [line, *spread]

    def at_bound(self, theta, b):
        r""":math:`b_0 < 10^{-6} \min b` (no pole to speak of: the likelihood is flat there) or
        :math:`b_0 > (1 - 10^{-5}) \min b`, with :math:`\min b` over reached runs."""
        pole = math.exp(theta[1])
        return np.array([False, pole < 1e-6 * b.min() or pole > (1.0 - 1e-5) * b.min()])

    def pole(self, params):
        return float(self.values_of(params)[1])

    def min_samples(self, params):
        r""":math:`4K_{\min}b_0`, at :math:`b^\star = 2b_0`."""
        min_steps, pole = self.values_of(params)
        return float(4.0 * min_steps * pole)

    def predict(self, b, params):
        r""":math:`K_{\min} b/(b - b_0)`, ``inf`` for :math:`b \le b_0` (exactly at the pole)."""
        min_steps, pole = self.values_of(params)
        batch = np.asarray(b, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(batch > pole, min_steps * batch / (batch - pole), np.inf)
        return float(value) if np.ndim(value) == 0 else value

    def inverse(self, steps, params):
        r""":math:`b = K b_0/(K - K_{\min})`; ``inf`` for :math:`K \le K_{\min}`."""
        min_steps, pole = self.values_of(params)
        k = np.asarray(steps, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(k > min_steps, k * pole / (k - min_steps), np.inf)
        return float(value) if np.ndim(value) == 0 else value


class TunedRateLaw(Law):
    r""":math:`K(b) = S_{\min}(1 + B_{\mathrm{noise}}/b)`: the rate tuned per batch size, no
    pole, critical batch :math:`B_{\mathrm{noise}}`.

    Linear as :math:`K = S_{\min} + S_{\min}B_{\mathrm{noise}}(1/b)`.

    >>> TunedRateLaw().inverse(1000.0, {"min_steps": 500.0, "noise_scale": 64.0})
    64.0
    """

    name = "tuned_lr"
    parameters = ("min_steps", "noise_scale")
    symbols = MappingProxyType({"min_steps": "S_min", "noise_scale": "B_noise"})
    label = "tuned-rate law"
    critical_symbol = "B_noise"

    def log_steps(self, b, theta):
        return theta[0] + np.log1p(np.exp(theta[1]) / b)

    def min_samples(self, params):
        r""":math:`S_{\min}B_{\mathrm{noise}}`, approached as :math:`b \to 0`."""
        min_steps, noise = self.values_of(params)
        return float(min_steps * noise)

    def predict(self, b, params):
        r""":math:`S_{\min}(1 + B_{\mathrm{noise}}/b)`."""
        min_steps, noise = self.values_of(params)
        value = min_steps * (1.0 + noise / np.asarray(b, dtype=float))
        return float(value) if np.ndim(value) == 0 else value

    def gradient(self, b, theta):
        noise = math.exp(theta[1])
        return np.column_stack([np.ones_like(b), noise / (b + noise)])

    def linear_coordinates(self, b, k):
        return 1.0 / b, k

    def from_line(self, intercept, slope):
        with np.errstate(divide="ignore", invalid="ignore"):
            return {"min_steps": intercept, "noise_scale": slope / intercept}

    def log_bounds(self, b):
        low, high = math.log(b.min() / _NOISE_RANGE), math.log(b.max() * _NOISE_RANGE)
        return np.array([-np.inf, low]), np.array([np.inf, high])

    def critical_batch(self, params):
        return float(self.values_of(params)[1])

    def at_bound(self, theta, b):
        r""":math:`B_{\mathrm{noise}}` three decades or more outside the batch sizes (where
        only :math:`S_{\min}` or only :math:`S_{\min}B_{\mathrm{noise}}` is determined)."""
        noise = math.exp(theta[1])
        return np.array([False, noise < 1e-3 * b.min() or noise > 1e3 * b.max()])

    def inverse(self, steps, params):
        r""":math:`b = S_{\min}B_{\mathrm{noise}}/(K - S_{\min})`; ``inf`` for
        :math:`K \le S_{\min}`."""
        min_steps, noise = self.values_of(params)
        k = np.asarray(steps, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(k > min_steps, min_steps * noise / (k - min_steps), np.inf)
        return float(value) if np.ndim(value) == 0 else value


LAW_OBJECTS: Mapping[str, Law] = MappingProxyType(
    {law.name: law for law in (ConstantRateLaw(), TunedRateLaw())}
)
"""The book's laws by name: ``"constant_lr"`` and ``"tuned_lr"``."""


def resolve_law(law: object) -> Law:
    """A :class:`Law` from a law object or one of the names in :data:`LAW_OBJECTS`."""
    if isinstance(law, Law):
        return law
    if isinstance(law, type) and issubclass(law, Law):
        raise TypeError(f"law={law!r} is a class; pass an instance, e.g. law={law.__name__}()")
    if not isinstance(law, str):
        raise validation.type_error("law", law, f"a Law object or one of {list(LAW_OBJECTS)}")
    return LAW_OBJECTS[validation.one_of("law", law, LAW_OBJECTS)]
