r"""Fitting the two steps-versus-batch-size laws to measured step counts.

Two laws describe how the steps :math:`K` to a target fall with the batch size :math:`b`:

.. math::

    \text{constant\_lr:}\quad K(b) = K_{\min}\,\frac{b}{b - b_0}\quad (b > b_0 > 0),
    \qquad
    \text{tuned\_lr:}\quad K(b) = K_{\min}\Bigl(1 + \frac{B_{\mathrm{noise}}}{b}\Bigr).

The first is the template's :math:`A b/((\tilde\varepsilon - C) b - B)` with
:math:`K_{\min} = A/(\tilde\varepsilon - C)` and :math:`b_0 = B/(\tilde\varepsilon - C)` (a
constant learning rate); the second is what a learning rate tuned for each batch size gives
(McCandlish et al.'s empirical law). Both report the critical batch size where the fitted
steps are twice their minimum, :math:`K(b_{\mathrm{crit}}) = 2K_{\min}`: :math:`2b_0` for the
first, :math:`B_{\mathrm{noise}}` for the second.

Step counts span decades and their seed-to-seed scatter is multiplicative, so both laws are
fitted by least squares on :math:`\log K` (``scipy.optimize.least_squares``, bounded:
:math:`0 \le b_0 < \min b`; :math:`B_{\mathrm{noise}} > 0`), started from the linearisations

.. math::

    \frac1K = \frac1{K_{\min}} - \frac{b_0}{K_{\min}}\,\frac1b, \qquad
    K = K_{\min} + K_{\min}B_{\mathrm{noise}}\,\frac1b,

and from a few spread starts, keeping the best. With :math:`n` points, :math:`p = 2` law
parameters and residual sum of squares :math:`\mathrm{RSS}` of :math:`\log K`, the Akaike
criterion of Gaussian log-residuals with unknown variance is

.. math:: \mathrm{AIC} = n \ln(\mathrm{RSS}/n) + 2(p + 1),

smaller is better; both laws have the same :math:`p`, so on the same data the difference of
their AIC is :math:`n \ln(\mathrm{RSS}_1/\mathrm{RSS}_2)`.

Intervals are percentile bootstrap intervals. With several runs (seeds) at a batch size the
runs are resampled with replacement within each batch size, their deviations from that batch
size's mean log-steps scaled by :math:`\sqrt{n_b/(n_b-1)}` (:math:`n_b` runs there: plain
resampling shrinks the spread by :math:`(n_b-1)/n_b`, which with 3 to 5 seeds visibly
narrows the intervals); with one run per batch size the log-residuals are resampled (scaled
by :math:`\sqrt{n/(n-p)}`) around the fitted curve. Both keep the measured batch sizes fixed,
so every resample can be fitted by the same law.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import overload

import numpy as np
import pandas as pd
from scipy import optimize

from .summary import _check_level

LAWS = ("constant_lr", "tuned_lr")
PARAMETERS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {"constant_lr": ("min_steps", "min_batch"), "tuned_lr": ("min_steps", "noise_scale")}
)
"""Names of each law's parameters, as ``Fit.params`` holds them."""

_N_LAW_PARAMS = 2
_B0_CEILING = 1.0 - 1e-6  # b0 stays below this fraction of the smallest measured b
_NOISE_RANGE = 1e4  # B_noise is searched in [min b / 1e4, max b * 1e4]
_AT_BOUND = 1e-6
_SWEEP_COLUMNS = ("batch_size", "steps", "reached")


# ---------------------------------------------------------------------------------------------
# The two laws: log-model, Jacobian, bounds, starts (inner functions trust their inputs)


def _log_model(law: str, x: np.ndarray, b: np.ndarray) -> np.ndarray:
    if law == "constant_lr":
        return x[0] + np.log(b) - np.log(b - x[1])
    return x[0] + np.log1p(np.exp(x[1]) / b)


def _jacobian(law: str, x: np.ndarray, b: np.ndarray) -> np.ndarray:
    if law == "constant_lr":
        return np.column_stack([np.ones_like(b), 1.0 / (b - x[1])])
    noise = np.exp(x[1])
    return np.column_stack([np.ones_like(b), noise / (b + noise)])


def _bounds(law: str, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if law == "constant_lr":
        return np.array([-np.inf, 0.0]), np.array([np.inf, _B0_CEILING * b.min()])
    low, high = math.log(b.min() / _NOISE_RANGE), math.log(b.max() * _NOISE_RANGE)
    return np.array([-np.inf, low]), np.array([np.inf, high])


def _params_of(law: str, x: np.ndarray) -> tuple[float, float]:
    second = float(x[1]) if law == "constant_lr" else float(np.exp(x[1]))
    return float(np.exp(x[0])), second


def _critical_of(law: str, second: np.ndarray | float) -> np.ndarray | float:
    return 2.0 * second if law == "constant_lr" else second


def _weighted_line(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted least-squares line ``y = intercept + slope x`` (weights on squared residuals)."""
    design = np.column_stack([np.ones_like(x), x]) * np.sqrt(w)[:, None]
    (intercept, slope), *_ = np.linalg.lstsq(design, y * np.sqrt(w), rcond=None)
    return float(intercept), float(slope)


def _line_of(law: str, b: np.ndarray, k: np.ndarray) -> tuple[float, float]:
    # Weights 1/y^2 make the linear residuals relative, as the log-space fit's are.
    y = 1.0 / k if law == "constant_lr" else k
    return _weighted_line(1.0 / b, y, 1.0 / y**2)


def _starts(law: str, b: np.ndarray, k: np.ndarray) -> list[np.ndarray]:
    low, high = _bounds(law, b)
    intercept, slope = _line_of(law, b, k)
    log_min = math.log(k.min())
    if law == "constant_lr":
        linear = (-slope / intercept) if intercept > 0 else 0.5 * b.min()
        log_linear = -math.log(intercept) if intercept > 0 else log_min
        seconds = [linear, 0.05 * b.min(), 0.5 * b.min(), 0.95 * b.min()]
        firsts = [log_linear, log_min, log_min, log_min]
    else:
        linear = slope / intercept if intercept > 0 and slope > 0 else b.min()
        log_linear = math.log(intercept) if intercept > 0 else log_min
        spread = [b.min(), math.sqrt(b.min() * b.max()), b.max()]
        seconds = [math.log(linear)] + [math.log(s) for s in spread]
        firsts = [log_linear, log_min, log_min, log_min]
    inner_low = low[1] + 1e-9 * (high[1] - low[1])
    inner_high = high[1] - 1e-9 * (high[1] - low[1])
    return [
        np.array([f, min(max(s, inner_low), inner_high)])
        for f, s in zip(firsts, seconds, strict=True)
    ]


def _solve(law: str, b: np.ndarray, y: np.ndarray, starts: Sequence[np.ndarray]) -> np.ndarray:
    """The best bounded least-squares solution of ``log K = model(b)`` over several starts."""
    low, high = _bounds(law, b)
    best, best_cost = None, np.inf
    for x0 in starts:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            result = optimize.least_squares(
                lambda x: _log_model(law, x, b) - y,
                x0,
                jac=lambda x: _jacobian(law, x, b),
                bounds=(low, high),
                method="trf",
                x_scale="jac",
            )
        if np.isfinite(result.cost) and result.cost < best_cost:
            best, best_cost = result.x, result.cost
    if best is None:
        raise RuntimeError(f"least squares found no finite solution for law={law!r}")
    return best


def _at_bound(law: str, x: np.ndarray, b: np.ndarray) -> tuple[str, ...]:
    low, high = _bounds(law, b)
    scale = high[1] - low[1]
    if abs(x[1] - low[1]) <= _AT_BOUND * scale or abs(high[1] - x[1]) <= _AT_BOUND * scale:
        return (PARAMETERS[law][1],)
    return ()


def _predict(law: str, min_steps, second, b):
    """K(b) for parameter arrays broadcast against ``b``; ``inf`` at or below the pole."""
    if law == "tuned_lr":
        return min_steps * (1.0 + second / b)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = min_steps * b / (b - second)
    return np.where(b > second, value, np.inf)


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Linearisation:
    r"""A straight-line fit in the coordinates where a law is linear in :math:`x = 1/b`.

    ``constant_lr``: :math:`y = 1/K = 1/K_{\min} - (b_0/K_{\min})\,x`;
    ``tuned_lr``: :math:`y = K = K_{\min} + K_{\min}B_{\mathrm{noise}}\,x`. The line is fitted
    with weights :math:`1/y^2` (relative residuals); ``params`` are the law's parameters it
    implies (possibly outside their allowed range: it is a starting point, not the fit).
    """

    law: str
    x: np.ndarray
    y: np.ndarray
    intercept: float
    slope: float
    params: Mapping[str, float]


@dataclass(frozen=True, eq=False)
class Fit:
    r"""One law fitted to measured steps against batch size, with what is needed to judge it.

    ``params`` maps the law's parameter names (:data:`PARAMETERS`) to estimates; ``ci`` maps
    each of them and ``"critical_batch"`` to a ``(low, high)`` percentile bootstrap interval
    at ``level`` (``(nan, nan)`` without bootstrap). ``batch_sizes``/``steps`` are the runs
    used (reached the target), ``residuals`` their :math:`\log K - \log \hat K(b)`;
    ``excluded_batch_sizes`` has one entry per run that did not reach the target.
    ``bootstrap`` is ``"seeds"``, ``"points"`` or ``"none"``; ``draws`` the bootstrap
    estimates per parameter (``n_boot`` successful resamples). ``at_bound`` names parameters
    that ended on a search bound (:math:`b_0 = 0` or at the smallest :math:`b`, or
    :math:`B_{\mathrm{noise}}` far outside the measured batch sizes): such an estimate is only
    a limit of what the data allow. ``excluded_reasons`` counts the excluded runs by the
    sweep's ``reason`` column (e.g. ``"diverged"``, ``"max_steps"``) when a frame was fitted.
    ``rmse_log`` is :math:`\sqrt{\mathrm{RSS}/n}` and ``aic`` is
    :math:`n\ln(\mathrm{RSS}/n) + 2(p + 1)`, ``p = 2``, both on natural-log steps
    (``-inf`` for a perfect fit).
    """

    law: str
    params: Mapping[str, float]
    ci: Mapping[str, tuple[float, float]]
    level: float
    rmse_log: float
    aic: float
    n_points: int
    n_excluded: int
    batch_sizes: np.ndarray
    steps: np.ndarray
    residuals: np.ndarray
    excluded_batch_sizes: tuple[float, ...]
    bootstrap: str
    n_boot: int
    draws: Mapping[str, np.ndarray] = field(repr=False)
    at_bound: tuple[str, ...] = ()
    excluded_reasons: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def partly_reached(self) -> tuple[float, ...]:
        """Batch sizes where some runs reached the target and some did not. The runs used
        there are the faster ones, so the fit sees too few steps at these sizes (a
        survivorship bias, largest near the pole): a reader should know where they are."""
        used, missed = set(self.batch_sizes.tolist()), set(self.excluded_batch_sizes)
        return tuple(sorted(used & missed))

    @property
    def min_steps(self) -> float:
        r""":math:`K_{\min}`: the fitted steps as :math:`b \to \infty`."""
        return self.params["min_steps"]

    @property
    def critical_batch(self) -> float:
        r"""Where the fitted steps are :math:`2K_{\min}`: :math:`2b_0`, or
        :math:`B_{\mathrm{noise}}` for the tuned-rate law."""
        return float(_critical_of(self.law, self.params[PARAMETERS[self.law][1]]))

    @property
    def critical_batch_in_range(self) -> bool:
        """Whether the critical batch lies within the measured batch sizes; if not, it is an
        extrapolation of the law, not something the data show."""
        return bool(self.batch_sizes.min() <= self.critical_batch <= self.batch_sizes.max())

    def predict(self, b: np.ndarray | float) -> np.ndarray | float:
        r"""Fitted :math:`K(b)` for positive finite ``b``; ``inf`` for :math:`b \le b_0`.

        >>> fit = fit_steps([2, 4, 8, 16, 32], [300, 200, 150, 125, 112.5], "tuned_lr", n_boot=0)
        >>> round(float(fit.predict(64)), 3)
        106.25
        """
        batch = _checked_positive("b", b)
        value = _predict(
            self.law, self.params["min_steps"], self.params[PARAMETERS[self.law][1]], batch
        )
        return float(value) if np.ndim(value) == 0 else value

    def batch_size_for(self, steps: np.ndarray | float) -> np.ndarray | float:
        r"""Smallest batch size whose fitted steps are at most ``steps``; ``inf`` if
        ``steps`` :math:`\le K_{\min}`. The inverse of :meth:`predict`:
        :math:`b = K b_0/(K - K_{\min})` or :math:`K_{\min}B_{\mathrm{noise}}/(K - K_{\min})`.
        """
        k = _checked_positive("steps", steps)
        second = self.params[PARAMETERS[self.law][1]]
        scale = second * (k if self.law == "constant_lr" else self.min_steps)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(k > self.min_steps, scale / (k - self.min_steps), np.inf)
        return float(value) if np.ndim(value) == 0 else value

    def band(
        self, b: np.ndarray | float, level: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise percentile band of the bootstrap curves :math:`K(b)` at ``level``
        (default: the fit's); arrays of ``nan`` without bootstrap draws."""
        level = self.level if level is None else _check_level(level)
        batch = np.atleast_1d(_checked_positive("b", b))
        first, second = (self.draws[name] for name in PARAMETERS[self.law])
        if first.size == 0:
            nan = np.full(batch.shape, np.nan)
            return nan, nan.copy()
        curves = _predict(self.law, first[:, None], second[:, None], batch[None, :])
        tail = (1.0 - level) / 2.0
        low, high = np.quantile(curves, [tail, 1.0 - tail], axis=0)
        return low, high

    def table(self) -> pd.DataFrame:
        """One row per parameter and ``critical_batch``: ``estimate, low, high``."""
        rows = {**self.params, "critical_batch": self.critical_batch}
        return pd.DataFrame(
            [(name, value, *self.ci[name]) for name, value in rows.items()],
            columns=["parameter", "estimate", "low", "high"],
        ).set_index("parameter")

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return (
            f"Fit(law={self.law!r}, {shown}, critical_batch={self.critical_batch:.4g}, "
            f"n_points={self.n_points}, n_excluded={self.n_excluded}, "
            f"rmse_log={self.rmse_log:.3g}, aic={self.aic:.4g}, bootstrap={self.bootstrap!r})"
        )


# ---------------------------------------------------------------------------------------------
# Validation at the public boundary


def _check_law(law: object) -> str:
    if not isinstance(law, str) or law not in LAWS:
        raise ValueError(f"law={law!r} is not a known law; allowed: {', '.join(LAWS)}")
    return law


def _numeric_array(name: str, values: object) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{name}={values!r} must be an array of real numbers")
    if array.ndim != 1:
        raise ValueError(f"{name}={values!r} must be one-dimensional, not of shape {array.shape}")
    return array.astype(float)


def _checked_positive(name: str, values: object) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{name}={values!r} must be a positive real number or array of them")
    array = array.astype(float)
    if not np.all(np.isfinite(array) & (array > 0)):
        raise ValueError(f"{name}={values!r} must be positive and finite")
    return array


def _check_boot(n_boot: object, seed: object) -> tuple[int, np.random.Generator]:
    if isinstance(n_boot, bool) or not isinstance(n_boot, numbers.Integral):
        raise TypeError(f"n_boot={n_boot!r} must be an integer >= 0")
    if n_boot < 0:
        raise ValueError(f"n_boot={n_boot!r} is outside the allowed range: an integer >= 0")
    if isinstance(seed, np.random.Generator):
        return int(n_boot), seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise TypeError(f"seed={seed!r} must be a non-negative integer or a numpy Generator")
    return int(n_boot), np.random.default_rng(int(seed))


def _curve(batch_sizes: object, steps: object, reached: object) -> tuple[np.ndarray, ...]:
    """Validated ``(b, K)`` of the runs that reached, and the batch sizes of those that did not."""
    b = _numeric_array("batch_sizes", batch_sizes)
    k = _numeric_array("steps", steps)
    if b.size != k.size:
        raise ValueError(
            f"batch_sizes has {b.size} entries but steps has {k.size}; they must be equal"
        )
    if reached is None:
        mask = np.ones(b.size, dtype=bool)
    else:
        mask = np.asarray(reached)
        if mask.dtype != bool:
            raise TypeError(f"reached={reached!r} must be an array of booleans")
        if mask.shape != b.shape:
            raise ValueError(
                f"reached has shape {mask.shape} but batch_sizes has {b.shape}; they must match"
            )
    bad = ~(np.isfinite(b) & (b > 0))
    if bad.any():
        raise ValueError(
            f"batch_sizes={b[bad][:5].tolist()} (at positions {np.flatnonzero(bad)[:5].tolist()}) "
            "must be positive and finite"
        )
    bad = mask & ~(np.isfinite(k) & (k > 0))
    if bad.any():
        raise ValueError(
            f"steps={k[bad][:5].tolist()} (at positions {np.flatnonzero(bad)[:5].tolist()}) must "
            "be positive and finite; mark runs that did not reach the target with "
            "reached=False (steps_to_target gives -1 for them: pass reached=steps > 0)"
        )
    used_b, used_k = b[mask], k[mask]
    distinct = np.unique(used_b).size
    if distinct < _N_LAW_PARAMS + 1:
        raise ValueError(
            f"batch_sizes has {distinct} distinct value(s) among the {used_b.size} runs that "
            f"reached the target ({int((~mask).sum())} excluded); a law with {_N_LAW_PARAMS} "
            f"parameters needs at least {_N_LAW_PARAMS + 1}"
        )
    order = np.argsort(used_b, kind="stable")
    return used_b[order], used_k[order], np.sort(b[~mask])


# ---------------------------------------------------------------------------------------------
# Fitting and the bootstrap


def linearise(
    batch_sizes: np.ndarray | Sequence[float],
    steps: np.ndarray | Sequence[float],
    law: str = "constant_lr",
) -> Linearisation:
    r"""The straight line a law becomes in :math:`x = 1/b`: :math:`1/K` (constant_lr) or
    :math:`K` (tuned_lr) against :math:`1/b`, with the parameters it implies.

    ``batch_sizes``, ``steps``: 1-D, equal length, positive and finite, at least three
    distinct batch sizes. These lines give :func:`fit_steps` its starting values.

    >>> lin = linearise([2, 4, 8, 16], [200, 133.33333, 114.28571, 106.66667])
    >>> [round(v, 3) for v in lin.params.values()]
    [100.0, 1.0]
    """
    law = _check_law(law)
    b, k, _ = _curve(batch_sizes, steps, None)
    intercept, slope = _line_of(law, b, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        if law == "constant_lr":
            params = {"min_steps": 1.0 / intercept, "min_batch": -slope / intercept}
        else:
            params = {"min_steps": intercept, "noise_scale": slope / intercept}
    y = 1.0 / k if law == "constant_lr" else k
    x = 1.0 / b
    for array in (x, y):
        array.setflags(write=False)
    return Linearisation(
        law,
        x,
        y,
        intercept,
        slope,
        MappingProxyType({n: float(v) for n, v in params.items()}),
    )


def _resampled_logs(
    b: np.ndarray, y: np.ndarray, fitted: np.ndarray, n_boot: int, rng: np.random.Generator
) -> tuple[str, np.ndarray]:
    """``(method, Y)`` with one resampled log-steps vector per row of ``Y``."""
    values, counts = np.unique(b, return_counts=True)
    if counts.max() > 1:
        # b is sorted, so each batch size's runs are one contiguous block.
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        picks = [
            s + rng.integers(0, c, size=(n_boot, c)) for s, c in zip(starts, counts, strict=True)
        ]
        index = np.concatenate(picks, axis=1)
        group = np.repeat(np.arange(counts.size), counts)
        mean = (np.bincount(group, weights=y) / counts)[group]
        inflate = np.sqrt(counts / np.maximum(counts - 1, 1))[group]
        return "seeds", mean[None, :] + inflate[None, :] * (y[index] - mean[index])
    n = y.size
    residuals = (y - fitted) * math.sqrt(n / (n - _N_LAW_PARAMS))
    residuals -= residuals.mean()
    return "points", fitted[None, :] + residuals[rng.integers(0, n, size=(n_boot, n))]


def _fit_curve(
    law: str,
    b: np.ndarray,
    k: np.ndarray,
    excluded: np.ndarray,
    level: float,
    n_boot: int,
    rng: np.random.Generator,
) -> Fit:
    y = np.log(k)
    x = _solve(law, b, y, _starts(law, b, k))
    fitted = _log_model(law, x, b)
    residuals = y - fitted
    n = y.size
    rss = float(residuals @ residuals)
    aic = n * math.log(rss / n) + 2 * (_N_LAW_PARAMS + 1) if rss > 0 else -math.inf
    names = PARAMETERS[law]
    estimate = dict(zip(names, _params_of(law, x), strict=True))

    draws_x = np.empty((0, 2))
    method = "none"
    if n_boot > 0:
        method, samples = _resampled_logs(b, y, fitted, n_boot, rng)
        solved = []
        for row in samples:
            try:
                solved.append(_solve(law, b, row, [x]))
            except (RuntimeError, ValueError, np.linalg.LinAlgError):
                continue  # a resample the optimizer cannot fit: counted by n_boot below
        draws_x = np.array(solved).reshape(-1, 2)
    first = np.exp(draws_x[:, 0])
    second = draws_x[:, 1] if law == "constant_lr" else np.exp(draws_x[:, 1])
    draws = {names[0]: first, names[1]: second, "critical_batch": _critical_of(law, second)}
    tail = (1.0 - level) / 2.0
    ci = {}
    for name, values in draws.items():
        values.setflags(write=False)
        bounds = np.quantile(values, [tail, 1.0 - tail]) if values.size else (np.nan, np.nan)
        ci[name] = (float(bounds[0]), float(bounds[1]))
    for array in (b, k, residuals):
        array.setflags(write=False)
    return Fit(
        law=law,
        params=MappingProxyType(estimate),
        ci=MappingProxyType(ci),
        level=level,
        rmse_log=math.sqrt(rss / n),
        aic=aic,
        n_points=int(n),
        n_excluded=int(excluded.size),
        batch_sizes=b,
        steps=k,
        residuals=residuals,
        excluded_batch_sizes=tuple(float(v) for v in excluded),
        bootstrap=method,
        n_boot=int(draws_x.shape[0]),
        draws=MappingProxyType(draws),
        at_bound=_at_bound(law, x, b),
    )


def _fit_frame(
    frame: pd.DataFrame, law: str, by: str | Sequence[str], level: float, n_boot: int, rng
) -> dict:
    keys = [by] if isinstance(by, str) else list(by)
    missing = [c for c in (*keys, *_SWEEP_COLUMNS) if c not in frame.columns]
    if missing:
        raise ValueError(
            f"frame lacks the column(s) {', '.join(map(repr, missing))}; a sweep frame has "
            f"{', '.join(map(repr, (*keys, *_SWEEP_COLUMNS)))} (columns: {list(frame.columns)})"
        )
    if frame["reached"].dtype != bool:
        raise TypeError(f"frame column 'reached' has dtype {frame['reached'].dtype}; need bool")
    if "seed" in frame.columns:
        duplicated = frame.duplicated([*keys, "batch_size", "seed"])
        if duplicated.any():
            row = frame[duplicated].iloc[0]
            raise ValueError(
                f"frame has several runs for {dict(row[[*keys, 'batch_size', 'seed']])}: it "
                f"mixes configurations; filter it or pass by= more columns than {keys}"
            )
    fits = {}
    for key, group in frame.groupby(keys if len(keys) > 1 else keys[0], sort=True, dropna=False):
        try:
            b, k, excluded = _curve(
                group["batch_size"].to_numpy(),
                group["steps"].to_numpy(),
                group["reached"].to_numpy(),
            )
        except ValueError as error:
            where = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
            raise ValueError(f"{where}: {error}") from error
        fit = _fit_curve(law, b, k, excluded, level, n_boot, rng)
        if "reason" in group.columns:
            counts = group.loc[~group["reached"], "reason"].astype(str).value_counts()
            reasons = MappingProxyType({str(r): int(n) for r, n in counts.sort_index().items()})
            fit = dataclasses.replace(fit, excluded_reasons=reasons)
        fits[key] = fit
    return fits


@overload
def fit_steps(
    batch_sizes: pd.DataFrame,
    steps: None = None,
    law: str = "constant_lr",
    *,
    reached: None = None,
    by: str | Sequence[str] = "optimizer",
    level: float = 0.95,
    n_boot: int = 1000,
    seed: int | np.random.Generator = 0,
) -> dict[object, Fit]: ...


@overload
def fit_steps(
    batch_sizes: np.ndarray | Sequence[float],
    steps: np.ndarray | Sequence[float],
    law: str = "constant_lr",
    *,
    reached: np.ndarray | Sequence[bool] | None = None,
    by: str | Sequence[str] = "optimizer",
    level: float = 0.95,
    n_boot: int = 1000,
    seed: int | np.random.Generator = 0,
) -> Fit: ...


def fit_steps(
    batch_sizes: pd.DataFrame | np.ndarray | Sequence[float],
    steps: np.ndarray | Sequence[float] | None = None,
    law: str = "constant_lr",
    *,
    reached: np.ndarray | Sequence[bool] | None = None,
    by: str | Sequence[str] = "optimizer",
    level: float = 0.95,
    n_boot: int = 1000,
    seed: int | np.random.Generator = 0,
) -> Fit | dict[object, Fit]:
    r"""Fit :math:`K(b) = K_{\min} b/(b - b_0)` (``law="constant_lr"``) or
    :math:`K(b) = K_{\min}(1 + B_{\mathrm{noise}}/b)` (``"tuned_lr"``) to measured steps.

    Arrays: ``batch_sizes`` and ``steps`` 1-D of equal length, one entry per run (repeat a
    batch size for several seeds); ``reached`` (booleans, optional) marks runs that reached
    the target: the others are excluded from the fit and counted in ``Fit.n_excluded``. Steps
    of the runs used must be positive and finite, batch sizes always; at least three distinct
    batch sizes must remain. Every run is one point of the fit in log space, so a batch size
    weighs as many runs as reached there; where only some did, the survivors are the fast
    ones (see ``Fit.partly_reached``). Returns one :class:`Fit`.

    A sweep ``DataFrame`` (columns ``batch_size, steps, reached`` and ``by``, default
    ``"optimizer"``; ``seed`` optional) as ``batchsteps.train.sweep`` returns: one curve per
    value of ``by``, and a ``dict`` from that value (a tuple for several columns) to its
    :class:`Fit`. Two runs with the same ``by`` value, batch size and seed mean the frame
    mixes configurations (a ``ValueError``: filter it, or group by more columns).

    ``level`` in (0, 1) is the interval level; ``n_boot >= 0`` bootstrap resamples (0: no
    intervals, ``ci`` holds ``nan``) drawn from ``numpy.random.default_rng(seed)`` (or the
    Generator given), so results are reproducible. Raises ``ValueError``/``TypeError`` naming
    the argument for anything else.

    >>> b = [16, 32, 64, 128, 256, 512]
    >>> fit = fit_steps(b, [1000 * x / (x - 8) for x in b], n_boot=0)
    >>> round(fit.params["min_batch"], 6), round(fit.min_steps, 3), round(fit.critical_batch, 6)
    (8.0, 1000.0, 16.0)
    """
    law = _check_law(law)
    level = _check_level(level)
    n_boot, rng = _check_boot(n_boot, seed)
    if isinstance(batch_sizes, pd.DataFrame):
        if steps is not None or reached is not None:
            raise ValueError(
                "steps and reached must be None when batch_sizes is a sweep DataFrame "
                f"(got steps={steps!r}, reached={reached!r}): the frame's columns are used"
            )
        if not isinstance(by, str) and not (
            isinstance(by, Sequence) and by and all(isinstance(c, str) for c in by)
        ):
            raise TypeError(f"by={by!r} must be a column name or a non-empty list of them")
        return _fit_frame(batch_sizes, law, by, level, n_boot, rng)
    if steps is None:
        raise ValueError("steps=None: give the measured steps, one per entry of batch_sizes")
    b, k, excluded = _curve(batch_sizes, steps, reached)
    return _fit_curve(law, b, k, excluded, level, n_boot, rng)


def compare_laws(fits: Mapping[str, Fit]) -> pd.DataFrame:
    r"""Akaike weights of fits of different laws to the same data: one row per law with
    ``aic``, ``delta_aic`` (:math:`\Delta_i = \mathrm{AIC}_i - \min_j \mathrm{AIC}_j`) and
    ``weight`` :math:`w_i = e^{-\Delta_i/2}/\sum_j e^{-\Delta_j/2}`, sorted best first.

    The fits must share their used batch sizes and steps (``ValueError`` otherwise).
    """
    if not isinstance(fits, Mapping) or not fits:
        raise TypeError(f"fits={fits!r} must be a non-empty mapping from a name to a Fit")
    items = list(fits.items())
    for name, fit in items:
        if not isinstance(fit, Fit):
            raise TypeError(f"fits[{name!r}]={fit!r} must be a Fit")
    reference = items[0][1]
    for name, fit in items[1:]:
        same = np.array_equal(fit.batch_sizes, reference.batch_sizes) and np.array_equal(
            fit.steps, reference.steps
        )
        if not same:
            raise ValueError(
                f"fits[{name!r}] was fitted to other data than fits[{items[0][0]!r}]; AIC "
                "compares laws only on the same points"
            )
    aic = np.array([fit.aic for _, fit in items])
    delta = aic - aic.min() if np.isfinite(aic.min()) else np.where(aic == aic.min(), 0.0, np.inf)
    weight = np.exp(-delta / 2.0)
    table = pd.DataFrame(
        {
            "law": [f.law for _, f in items],
            "aic": aic,
            "delta_aic": delta,
            "weight": weight / weight.sum(),
        },
        index=pd.Index([name for name, _ in items], name="name"),
    )
    return table.sort_values("delta_aic")
