r"""Fitting a steps-versus-batch-size law to runs, some of which never reached the target.

Each run :math:`j` at batch size :math:`b_j` ends in one of three ways: it **reached** the
target after :math:`K_j` steps; it ran out of its **budget** (:math:`K_j > M_j`, the step
budget ``max_steps``: right-censored); or it **diverged** (reported and counted, but not in the
likelihood: a diverged run says nothing about how many steps a converging run needs). The
seed-to-seed scatter of step counts is multiplicative and grows at small batch sizes, so the
model is, in log space,

.. math::

    \log K_j = \log K(b_j;\,\theta) + \sigma(b_j)\,\varepsilon_j,\qquad
    \varepsilon_j \sim N(0, 1),\qquad
    \log\sigma(b) = \gamma_0 + \gamma_1\,(\log b - \overline{\log b}),

with :math:`K(b;\theta)` a :class:`~batchsteps.analysis.Law` (``noise="power"``; ``"constant"``
fixes :math:`\gamma_1 = 0`). :math:`\exp\log K(b;\theta)` is then the **median steps to the
target over seeds** at :math:`b` (as the runs counted them: the engine's counts, never below
the first passage): the statistic the fitted law describes. The log-likelihood
(:math:`z_j = (\log K_j - \log K(b_j))/\sigma(b_j)`, :math:`c_j = (\log M_j - \log K(b_j))/
\sigma(b_j)`) is

.. math::

    \ell(\theta, \gamma) = \sum_{\text{reached}} \Bigl[-\tfrac12 z_j^2 - \log\sigma(b_j)
    - \tfrac12\log 2\pi\Bigr] + \sum_{\text{budget}} \log\bigl(1 - \Phi(c_j)\bigr),

maximised (L-BFGS-B) from a least-squares fit of the reached runs, itself started from the
law's linearisation. A batch size where every run ran out of budget still informs the fit:
its runs say that :math:`K(b)` is not far below the budget. With :math:`k` free parameters,
:math:`\mathrm{AIC} = -2\ell + 2k`.

**Intervals** are Wald intervals in :math:`\log` of each parameter. The noise parameters are
re-estimated by REML at the fitted law (:math:`-\ell + \frac12\log\det I_{\theta\theta}`:
maximum likelihood puts the scatter too low where few runs fix a parameter); the covariance
of :math:`\log\theta` is the inverse information at them times :math:`n/(n - p)` (``n`` runs
in the likelihood, ``p`` law parameters); the quantile is Student's t whose degrees of freedom
come from the uncertainty of the noise model (Satterthwaite): with :math:`s^2(\gamma)` the
variance of an estimate given the noise parameters, :math:`\nu = 2/\operatorname{Var}(\log
s^2(\hat\gamma))`. A parameter fixed by the few runs at one end of the batch sizes gets few
degrees of freedom and a wide interval; no resampling is involved, so no single run can pin
it. The critical batch goes by the delta method in :math:`\log`. A parameter that ends on a
search bound has no interval (``nan``). In simulation
(:func:`~batchsteps.analysis.coverage_table`) the 95% intervals cover 0.93 to 0.97 at 3 to 8
seeds and up to 40% censoring.

**Lack of fit**: the law against a saturated model (a free median per batch size, same noise
model), as the likelihood ratio :math:`\Lambda` turned into the F statistic of a linear model,
:math:`F = (e^{\Lambda/N} - 1)(N - m - q + 1)/(m - p)` with :math:`N` runs in the likelihood,
:math:`m` batch sizes, :math:`p` law parameters and :math:`q` noise parameters: seed scatter
against misfit between batch sizes.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import overload

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from .. import validation
from .laws import LAW_OBJECTS, Law, resolve_law, weighted_line
from .summary import per_batch

#: The names ``fit_steps(law=...)`` accepts for the book's laws.
LAWS = tuple(LAW_OBJECTS)
PARAMETERS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {name: law.parameters for name, law in LAW_OBJECTS.items()}
)
"""Names of each book law's parameters, as ``Fit.params`` holds them."""

STATUSES = ("reached", "budget", "diverged", "excluded")
"""How a run ended: reached the target; ran out of steps (censored at ``max_steps``); diverged;
excluded (did not reach, for a reason the fit cannot use)."""
NOISE_MODELS = ("power", "constant")
STATISTIC = "median steps to the target over seeds"

_SWEEP_COLUMNS = ("batch_size", "steps", "reached")
_REASONS = MappingProxyType({"reached": "reached", "max_steps": "budget", "diverged": "diverged"})
_LOG_SIGMA = (math.log(1e-6), math.log(1e2))  # search range of log sigma at the centre
_SLOPE = 3.0  # |gamma_1| <= 3: sigma changes at most e^3-fold per e-fold of b
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


# ---------------------------------------------------------------------------------------------
# The likelihood (inner functions trust their inputs)


@dataclass(frozen=True)
class _Data:
    """Runs in the likelihood: log steps (reached) or log budget (censored), and the noise
    model's design (columns of log sigma)."""

    b: np.ndarray
    y: np.ndarray
    censored: np.ndarray
    design: np.ndarray

    @functools.cached_property
    def observed(self) -> np.ndarray:
        return ~self.censored


def _design(b: np.ndarray, noise: str, centre: float) -> np.ndarray:
    if noise == "constant":
        return np.ones((b.size, 1))
    return np.column_stack([np.ones_like(b), np.log(b) - centre])


def _terms(law: Law, data: _Data, phi: np.ndarray, p: int):
    """Per-run ``z``, ``log sigma``, ``sigma`` and the law's ``log K`` at ``phi`` (callers
    silence floating-point warnings: ``log K`` is ``inf`` at or below a pole)."""
    mu = law.log_steps(data.b, phi[:p])
    s = data.design @ phi[p:]
    sigma = np.exp(s)
    return (data.y - mu) / sigma, s, sigma, mu


def _mills(z: np.ndarray, log_sf: np.ndarray) -> np.ndarray:
    r""":math:`\varphi(z)/(1 - \Phi(z))` given :math:`\log(1 - \Phi(z))`; 0 at
    :math:`z = -\infty`."""
    return np.where(np.isneginf(z), 0.0, np.exp(-0.5 * z**2 - _HALF_LOG_2PI - log_sf))


def _nll(phi: np.ndarray, law: Law, data: _Data, p: int) -> tuple[float, np.ndarray]:
    """Negative log-likelihood and its gradient in ``phi = (theta, gamma)``."""
    z, s, sigma, mu = _terms(law, data, phi, p)
    obs, cens = data.observed, data.censored
    z_obs, z_cens = z[obs], z[cens]
    if not np.all(np.isfinite(z_obs)):
        return math.inf, np.zeros_like(phi)
    log_sf = special.log_ndtr(-z_cens)
    value = float(np.sum(0.5 * z_obs**2 + s[obs]) + _HALF_LOG_2PI * z_obs.size - np.sum(log_sf))
    mills = _mills(z_cens, log_sf)
    d_mu = np.empty_like(z)
    d_s = np.empty_like(z)
    d_mu[obs] = -z_obs / sigma[obs]
    d_s[obs] = 1.0 - z_obs**2
    d_mu[cens] = -mills / sigma[cens]
    d_s[cens] = np.where(mills > 0, -mills * z_cens, 0.0)
    jac = np.where(np.isfinite(mu)[:, None], law.gradient(data.b, phi[:p]), 0.0)
    return value, np.concatenate([jac.T @ d_mu, data.design.T @ d_s])


def _minimise(law: Law, data: _Data, start: np.ndarray, bounds: list, p: int) -> np.ndarray:
    result = optimize.minimize(
        _nll, start, args=(law, data, p), jac=True, method="L-BFGS-B", bounds=bounds,
        options={"maxiter": 500, "ftol": 1e-12, "gtol": 1e-8},
    )  # fmt: skip
    return result.x


def _theta_information(law: Law, data: _Data, phi: np.ndarray, p: int) -> np.ndarray:
    r"""Information on :math:`\theta` at fixed noise parameters: :math:`\sum_j w_j J_j J_j^T/
    \sigma_j^2` (:math:`w = 1` reached, :math:`\lambda(\lambda - c)` censored)."""
    z, _, sigma, mu = _terms(law, data, phi, p)
    weight = np.ones_like(z)
    z_cens = z[data.censored]
    mills = _mills(z_cens, special.log_ndtr(-z_cens))
    weight[data.censored] = np.where(mills > 0, mills * (mills - z_cens), 0.0)
    jac = np.where(np.isfinite(mu)[:, None], law.gradient(data.b, phi[:p]), 0.0)
    return (jac * (weight / sigma**2)[:, None]).T @ jac


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


@dataclass(frozen=True)
class LackOfFit:
    r"""The law against a free median per batch size: ``statistic`` :math:`F` with ``df``
    (numerator, denominator) and its ``p_value``; ``likelihood_ratio`` is :math:`\Lambda =
    2(\ell_{\mathrm{saturated}} - \ell_{\mathrm{law}})`. A small p-value says the law misses
    the batch sizes' medians by more than the seed scatter allows. ``nan`` where there are no
    degrees of freedom (as many batch sizes as parameters, or one run per batch size)."""

    statistic: float
    df: tuple[int, int]
    p_value: float
    likelihood_ratio: float
    test: str = "F (likelihood ratio against one free median per batch size)"


@dataclass(frozen=True, eq=False)
class Fit:
    r"""One law fitted to runs against batch size, with what is needed to judge it.

    ``law`` is the law's name and ``model`` the :class:`~batchsteps.analysis.Law`; ``params``
    maps its parameter names to estimates of the **median steps to the target over seeds**
    (``statistic``). ``ci`` maps each parameter and ``"critical_batch"`` to a ``(low, high)``
    interval at ``level`` (Wald in log, t quantile with ``df`` degrees of freedom, see the
    module; ``(nan, nan)`` for a parameter on a search bound), ``se_log`` the standard errors
    of their logs.

    The runs: ``batch_sizes``/``steps`` are those that reached the target (``residuals`` their
    :math:`\log K - \log\hat K(b)`); ``censored_batch_sizes``/``censored_steps`` those that ran
    out of budget and the budget (they enter the likelihood as :math:`K >` budget);
    ``excluded_batch_sizes`` has one entry per run that did not reach (budget, diverged or
    excluded); ``counts`` tabulates per batch size how many runs did what (:data:`STATUSES`);
    ``excluded_reasons`` counts the runs that did not reach by the sweep's ``reason`` column.

    ``noise_model`` and ``noise_params`` describe :math:`\sigma(b)` (see :meth:`sigma`);
    ``log_likelihood`` and ``aic`` (:math:`-2\ell + 2k`, ``k`` = law and noise parameters) are
    comparable between laws fitted to the same runs; ``rmse_log`` is the root mean square of
    ``residuals``. ``draws`` holds ``n_boot`` parameter draws from the fitted sampling
    distribution (multivariate t in log, ``bootstrap="parametric"``; empty for ``n_boot=0``):
    :meth:`band` reads its pointwise curve band from them. :meth:`medians` gives the
    statistic per batch size (runs over budget counted), :attr:`lack_of_fit` the test against a
    free median per batch size, ``interval`` names the interval method. ``at_bound`` names
    parameters that ended on a search bound (:math:`b_0 \to 0` or at the smallest reached :math:`b`,
    :math:`B_{\mathrm{noise}}` far outside the batch sizes): a limit, not an estimate.
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
    model: Law | None = None
    counts: pd.DataFrame | None = field(default=None, repr=False)
    censored_batch_sizes: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    censored_steps: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    se_log: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    df: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    noise_model: str = "power"
    noise_params: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    log_likelihood: float = math.nan
    statistic: str = STATISTIC
    interval: str = "Wald in log, REML noise, Satterthwaite t quantile"
    _phi: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    _centre: float = field(default=0.0, repr=False)

    @property
    def partly_reached(self) -> tuple[float, ...]:
        """Batch sizes where some runs reached the target and some did not."""
        used, missed = set(self.batch_sizes.tolist()), set(self.excluded_batch_sizes)
        return tuple(sorted(used & missed))

    @property
    def n_censored(self) -> int:
        """Runs that ran out of budget (in the likelihood as right-censored)."""
        return int(self.censored_batch_sizes.size)

    @property
    def min_steps(self) -> float:
        r""":math:`K_{\min}` (:math:`S_{\min}`): the fitted steps as :math:`b \to \infty`."""
        return self.params["min_steps"]

    @property
    def critical_batch(self) -> float:
        r"""Where the fitted steps are :math:`2K_{\min}`: :math:`2b_0`, or
        :math:`B_{\mathrm{noise}}` for the tuned-rate law."""
        return self.model.critical_batch(self.params)

    @property
    def pole(self) -> float:
        """The fitted law's pole (:math:`b_0`; 0 for a law without one)."""
        return self.model.pole(self.params)

    @property
    def critical_batch_in_range(self) -> bool:
        """Whether the critical batch lies within the batch sizes that reached the target; if
        not, it is an extrapolation of the law, not something the data show."""
        return bool(self.batch_sizes.min() <= self.critical_batch <= self.batch_sizes.max())

    def predict(self, b: np.ndarray | float) -> np.ndarray | float:
        r"""Fitted :math:`K(b)` for positive finite ``b``; ``inf`` at or below a pole.

        >>> fit = fit_steps([2, 4, 8, 16, 32], [300, 200, 150, 125, 112.5], "tuned_lr", n_boot=0)
        >>> round(float(fit.predict(64)), 3)
        106.25
        """
        return self.model.predict(_checked_positive("b", b), self.params)

    def batch_size_for(self, steps: np.ndarray | float) -> np.ndarray | float:
        r"""Smallest batch size whose fitted steps are at most ``steps``; ``inf`` if
        ``steps`` :math:`\le K_{\min}`: the law's inverse."""
        return self.model.inverse(_checked_positive("steps", steps), self.params)

    def sigma(self, b: np.ndarray | float) -> np.ndarray | float:
        r"""Fitted standard deviation of :math:`\log K` over seeds at ``b``."""
        batch = _checked_positive("b", b)
        value = np.exp(
            _design(np.atleast_1d(batch), self.noise_model, self._centre)
            @ self._phi[len(self.params) :]
        )
        return float(value[0]) if np.ndim(batch) == 0 else value

    def band(
        self, b: np.ndarray | float, level: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise band of the curves :math:`K(b)` of the parameter ``draws`` at ``level``
        (default: the fit's); arrays of ``nan`` without draws."""
        level = (
            self.level
            if level is None
            else validation.probability("level", level, low_open=True, high_open=True)
        )
        batch = np.atleast_1d(_checked_positive("b", b))
        first = self.draws[self.model.parameters[0]]
        if first.size == 0:
            nan = np.full(batch.shape, np.nan)
            return nan, nan.copy()
        theta = [np.log(self.draws[n])[:, None] for n in self.model.parameters]
        with np.errstate(over="ignore"):
            curves = np.exp(self.model.log_steps(batch[None, :], theta))
        tail = (1.0 - level) / 2.0
        low, high = np.quantile(curves, [tail, 1.0 - tail], axis=0)
        return low, high

    def medians(self, level: float | None = None) -> pd.DataFrame:
        """The fitted statistic measured per batch size: :func:`per_batch` of the runs that
        reached and of those over budget (slower than all that reached), at ``level``
        (default: the fit's). Diverged and excluded runs are not in it (see ``counts``)."""
        level = (
            self.level
            if level is None
            else validation.probability("level", level, low_open=True, high_open=True)
        )
        b = np.concatenate([self.batch_sizes, self.censored_batch_sizes])
        k = np.concatenate([self.steps, self.censored_steps])
        over = np.concatenate([np.zeros(self.n_points, bool), np.ones(self.n_censored, bool)])
        return per_batch(b, k, level, censored=over)

    @functools.cached_property
    def lack_of_fit(self) -> LackOfFit:
        """The lack-of-fit test (computed on first access): see :class:`LackOfFit`."""
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return _lack_of_fit(self)

    def table(self) -> pd.DataFrame:
        """One row per parameter and ``critical_batch``: ``estimate, low, high, df``."""
        rows = {**self.params, "critical_batch": self.critical_batch}
        return pd.DataFrame(
            [(n, v, *self.ci[n], self.df.get(n, math.nan)) for n, v in rows.items()],
            columns=["parameter", "estimate", "low", "high", "df"],
        ).set_index("parameter")

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        if self.counts is None:
            runs = f"n_points={self.n_points}, n_excluded={self.n_excluded}"
        else:  # each run once, by how it ended (out-of-budget runs are censored in the fit)
            words = {"budget": "out of budget (censored)"}
            runs = "runs: " + ", ".join(
                f"{int(self.counts[s].sum())} {words.get(s, s)}" for s in STATUSES
            )
        return (
            f"Fit(law={self.law!r}, {shown}, critical_batch={self.critical_batch:.4g}, "
            f"{runs}, rmse_log={self.rmse_log:.3g}, aic={self.aic:.4g})"
        )


# ---------------------------------------------------------------------------------------------
# Validation


def _checked_positive(name: str, values: object) -> np.ndarray:
    return validation.real_array(name, values, ndim=None, low=0, low_open=True)


def _statuses(
    n: int, reached: object, status: object, max_steps: object
) -> tuple[np.ndarray, np.ndarray]:
    """Per-run status and budget (``nan`` where none) from the three ways of saying it."""
    if reached is not None and status is not None:
        raise ValueError("give reached or status, not both: status says more")
    budget = np.full(n, np.nan)
    if max_steps is not None:
        array = _checked_positive("max_steps", max_steps)
        if array.ndim > 1 or (array.ndim == 1 and array.size != n):
            raise validation.value_error("max_steps", max_steps, f"one number or one per run ({n})")
        budget = np.broadcast_to(array, (n,)).copy()
    if status is not None:
        labels = validation.sequence_of(
            "status", status, lambda name, s: validation.one_of(name, s, STATUSES), min_size=0
        )
        if len(labels) != n:
            raise validation.value_error(
                "status", status, f"a sequence of {n} entries (one per run)"
            )
        labels = np.array(labels, dtype=str).reshape(n)
        if np.any((labels == "budget") & np.isnan(budget)):
            raise validation.value_error(
                "max_steps", max_steps, "the step budget that the 'budget' runs ran out of"
            )
        return labels, budget
    if reached is None:
        return np.full(n, "reached"), budget
    mask = validation.bool_array("reached", reached, size=n)
    missed = "budget" if max_steps is not None else "excluded"
    return np.where(mask, "reached", missed), budget


def _runs(batch_sizes: object, steps: object, status: np.ndarray) -> tuple[np.ndarray, ...]:
    b = validation.real_array("batch_sizes", batch_sizes, min_size=0, finite=False)
    k = validation.real_array("steps", steps, min_size=0, finite=False)
    if b.size != k.size:
        raise validation.value_error("steps", steps, f"one entry per batch size ({b.size})")
    bad = ~(np.isfinite(b) & (b > 0))
    if bad.any():
        at = np.flatnonzero(bad)[:5].tolist()
        allowed = f"finite real numbers > 0 (not so at positions {at})"
        raise validation.value_error("batch_sizes", b[bad][:5].tolist(), allowed)
    bad = (status == "reached") & ~(np.isfinite(k) & (k > 0))
    if bad.any():
        at = np.flatnonzero(bad)[:5].tolist()
        allowed = (
            f"finite real numbers > 0 (not so at positions {at}; mark runs that did not reach "
            "the target with reached=False (steps_to_target gives -1 for them: pass "
            "reached=steps > 0) or with status='budget'/'diverged')"
        )
        raise validation.value_error("steps", k[bad][:5].tolist(), allowed)
    return b, k


def _check_budget(k: np.ndarray, status: np.ndarray, budget: np.ndarray) -> None:
    """A run that reached the target took at most its budget: more is a budget that is not
    the one the runs had (and would censor other runs below steps that were reached)."""
    over = (status == "reached") & (k > budget)  # False where the budget is nan
    if over.any():
        at = np.flatnonzero(over)[:5].tolist()
        raise validation.value_error(
            "steps", k[over][:5].tolist(),
            f"at most the run's max_steps for a run that reached the target (over it at "
            f"positions {at}, max_steps {budget[over][:5].tolist()})",
        )  # fmt: skip


def _check_enough(law: Law, b: np.ndarray, status: np.ndarray) -> None:
    used = b[status == "reached"]
    distinct = np.unique(used).size
    p = len(law.parameters)
    if distinct < p + 1:
        raise ValueError(
            f"batch_sizes has {distinct} distinct value(s) among the {used.size} runs that "
            f"reached the target ({int((status != 'reached').sum())} excluded); a law with {p} "
            f"parameters needs at least {p + 1}"
        )


# ---------------------------------------------------------------------------------------------
# Fitting


def _least_squares(law: Law, b: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The best bounded least-squares fit of ``log K = law(b)`` to reached runs, over the
    law's starting values."""
    low, high = law.log_bounds(b)
    y = np.log(k)
    best, best_cost = None, np.inf
    for x0 in law.starts(b, k):
        result = optimize.least_squares(
            lambda x: law.log_steps(b, x) - y, x0, jac=lambda x: law.gradient(b, x),
            bounds=(low, high), method="trf", x_scale="jac",
        )  # fmt: skip
        if np.isfinite(result.cost) and result.cost < best_cost:
            best, best_cost = result.x, result.cost
        if best is not None and not law.at_bound(best, b).any():
            break  # an interior optimum from the line's start: the other starts are for bounds
    if best is None:
        raise RuntimeError(f"least squares found no finite solution for law={law!r}")
    return best


def _noise_start(data: _Data, residuals: np.ndarray) -> np.ndarray:
    """Noise parameters to start from: the scatter of the least-squares residuals, flat in b."""
    rms = math.sqrt(max(float(np.mean(residuals**2)), 1e-12))
    start = np.zeros(data.design.shape[1])
    start[0] = min(max(math.log(rms), _LOG_SIGMA[0] + 1.0), _LOG_SIGMA[1] - 1.0)
    return start


def _log_variances(law: Law, data: _Data, phi: np.ndarray, p: int, free, gradients) -> np.ndarray:
    r""":math:`\log s^2` of each row of ``gradients`` (log-gradients over the free law
    coordinates) from the information on :math:`\theta` at the noise parameters in ``phi``."""
    info = _theta_information(law, data, phi, p)[np.ix_(free, free)]
    solved = np.linalg.solve(info, gradients.T)
    return np.log(np.einsum("ij,ji->i", gradients, solved))


def _restricted(gamma, law: Law, data: _Data, theta: np.ndarray, p: int, free) -> float:
    r"""Approximate restricted (REML) criterion of the noise parameters at fixed
    :math:`\theta`: :math:`-\ell + \tfrac12\log\det I_{\theta\theta}`."""
    phi = np.concatenate([theta, gamma])
    info = _theta_information(law, data, phi, p)[np.ix_(free, free)]
    sign, logdet = np.linalg.slogdet(info)
    return _nll(phi, law, data, p)[0] + 0.5 * logdet if sign > 0 else math.inf


def _noise_fit(law: Law, data: _Data, phi: np.ndarray, bounds: list, p: int, free):
    """REML noise parameters at the law's estimate and their covariance (inverse Hessian of
    the criterion by central differences)."""
    args = (law, data, phi[:p], p, free)
    gamma = optimize.minimize(
        _restricted, phi[p:], args=args, method="L-BFGS-B", bounds=bounds[p:],
        options={"ftol": 1e-10, "gtol": 1e-6},
    ).x  # fmt: skip
    q, h = gamma.size, 1e-3
    hessian = np.empty((q, q))
    for i in range(q):
        for j in range(i, q):
            e_i, e_j = np.eye(q)[i] * h, np.eye(q)[j] * h
            hessian[i, j] = hessian[j, i] = (
                _restricted(gamma + e_i + e_j, *args)
                - _restricted(gamma + e_i - e_j, *args)
                - _restricted(gamma - e_i + e_j, *args)
                + _restricted(gamma - e_i - e_j, *args)
            ) / (4 * h * h)
    return gamma, np.linalg.inv(hessian)


def _estimate(law: Law, data: _Data, phi: np.ndarray, bounds: list, at_bound, level: float):
    r"""``(se_log, df, ci, cov)`` of each law parameter and the critical batch.

    The noise parameters are re-estimated by REML at the law's estimate (maximum likelihood
    puts the scatter too low where few runs fix a parameter); the covariance of
    :math:`\theta` is the inverse information at them times :math:`n/(n - p)` (``n`` runs in
    the likelihood, ``p`` law parameters: the factor of least squares, which also absorbs the
    cost of estimated weights), and the t degrees of freedom are
    Satterthwaite's :math:`\nu = 2/\operatorname{Var}(\log s^2)`, with :math:`\log s^2`
    differentiated in the noise parameters, between 1 and :math:`n - k`."""
    p = len(law.parameters)
    names = (*law.parameters, "critical_batch")
    params = law.params_of(phi[:p])
    free = ~at_bound
    n, k = data.b.size, int(free.sum()) + phi.size - p
    nan = {name: math.nan for name in names}
    cov = np.full((phi.size, phi.size), np.nan)
    try:
        gamma, cov_noise = _noise_fit(law, data, phi, bounds, p, free)
        adjusted = np.concatenate([phi[:p], gamma])
        info = _theta_information(law, data, adjusted, p)[np.ix_(free, free)]
        inner = np.linalg.inv(info) * n / (n - p)
        if n <= k or not np.all(np.isfinite(inner)) or np.any(np.diag(inner) <= 0):
            raise np.linalg.LinAlgError("information not positive definite")
        if not np.all(np.isfinite(cov_noise)) or np.any(np.diag(cov_noise) <= 0):
            raise np.linalg.LinAlgError("noise information not positive definite")
    except np.linalg.LinAlgError:
        return nan, nan, {name: (math.nan, math.nan) for name in names}, cov
    cov[:p, :p][np.ix_(free, free)] = inner
    cov[p:, p:] = cov_noise
    crit_gradient = np.empty(p)
    for i in range(p):
        step = np.zeros(p)
        step[i] = 1e-6
        up = math.log(law.critical_batch(law.params_of(phi[:p] + step)))
        down = math.log(law.critical_batch(law.params_of(phi[:p] - step)))
        crit_gradient[i] = (up - down) / 2e-6
    gradients = np.vstack([np.eye(p), crit_gradient])
    centres = np.array([*phi[:p], math.log(law.critical_batch(params))])
    defined = ~np.any((np.abs(gradients) > 1e-12) & at_bound, axis=1)
    g = gradients[:, free]
    variance = np.einsum("ij,jk,ik->i", g, inner, g)
    q = phi.size - p
    slopes = np.empty((len(names), q))
    for i in range(q):
        up, down = adjusted.copy(), adjusted.copy()
        up[p + i] += 1e-4
        down[p + i] -= 1e-4
        slopes[:, i] = (
            _log_variances(law, data, up, p, free, g) - _log_variances(law, data, down, p, free, g)
        ) / 2e-4
    spread = np.einsum("ij,jk,ik->i", slopes, cov_noise, slopes)
    ceiling = float(n - k)
    with np.errstate(divide="ignore"):
        nu = np.where(spread > 0, np.clip(2.0 / spread, 1.0, ceiling), ceiling)
    t = stats.t.ppf(0.5 + level / 2.0, nu)
    se, df, ci = {}, {}, {}
    for i, name in enumerate(names):
        if not defined[i]:
            se[name], df[name], ci[name] = math.nan, math.nan, (math.nan, math.nan)
            continue
        half = t[i] * math.sqrt(variance[i])
        se[name], df[name] = math.sqrt(variance[i]), float(nu[i])
        with np.errstate(over="ignore"):
            ci[name] = (float(np.exp(centres[i] - half)), float(np.exp(centres[i] + half)))
    return se, df, ci, cov


def _draws(law, phi, cov, df, n_boot, rng) -> dict[str, np.ndarray]:
    """Parameter draws from the multivariate t in log (empty without an interval)."""
    p = len(law.parameters)
    block = cov[:p, :p]
    names = law.parameters
    finite = [df[n] for n in names if math.isfinite(df[n])]
    if n_boot == 0 or not np.all(np.isfinite(block)) or not finite:
        empty = {n: np.empty(0) for n in names}
        return {**empty, "critical_batch": np.empty(0)}
    nu = min(finite)
    normal = rng.multivariate_normal(np.zeros(p), block, size=n_boot, method="eigh")
    scale = np.sqrt(nu / rng.chisquare(nu, size=n_boot))[:, None]
    theta = phi[:p] + normal * scale
    values = {n: np.exp(theta[:, i]) for i, n in enumerate(names)}
    values["critical_batch"] = np.array([law.critical_batch(row) for row in np.exp(theta)])
    return values


def _fit_runs(*args) -> Fit:
    """:func:`_fit_curve` with floating-point warnings silenced: ``log K`` is ``inf`` at or
    below a pole, and optimizers probe outside where the law is finite."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return _fit_curve(*args)


def _fit_curve(
    law: Law,
    b: np.ndarray,
    k: np.ndarray,
    status: np.ndarray,
    budget: np.ndarray,
    noise: str,
    level: float,
    n_boot: int,
    rng: np.random.Generator,
) -> Fit:
    p = len(law.parameters)
    order = np.argsort(b, kind="stable")
    b, k, status, budget = b[order], k[order], status[order], budget[order]
    reached = status == "reached"
    censored = status == "budget"
    used = reached | censored
    b_reached, k_reached = b[reached], k[reached]
    if noise == "power" and (reached.sum() < p + 5 or np.unique(b_reached).size < 3):
        noise = "constant"  # too few runs to say how the scatter changes with b
    theta = _least_squares(law, b_reached, k_reached)
    centre = float(np.mean(np.log(b[used])))
    data = _Data(
        b=b[used],
        y=np.where(
            reached, np.log(np.where(reached, k, 1.0)), np.log(np.nan_to_num(budget, nan=1.0))
        )[used],
        censored=censored[used],
        design=_design(b[used], noise, centre),
    )
    low, high = law.log_bounds(b_reached)
    bounds = [
        (None if not np.isfinite(lo) else float(lo), None if not np.isfinite(hi) else float(hi))
        for lo, hi in zip(low, high, strict=True)
    ]
    bounds += [_LOG_SIGMA] + [(-_SLOPE, _SLOPE)] * (data.design.shape[1] - 1)
    residuals = np.log(k_reached) - law.log_steps(b_reached, theta)
    start = np.concatenate([theta, _noise_start(data, residuals)])
    phi = _minimise(law, data, start, bounds, p)
    nll = _nll(phi, law, data, p)[0]
    at_bound = law.at_bound(phi[:p], b_reached)
    se, df, ci, cov = _estimate(law, data, phi, bounds, at_bound, level)
    names = law.parameters
    params = law.params_of(phi[:p])
    residuals = np.log(k_reached) - law.log_steps(b_reached, phi[:p])
    draws = _draws(law, phi, cov, df, n_boot, rng)
    for array in (b_reached, k_reached, residuals, *draws.values()):
        array.setflags(write=False)
    missed = b[~reached]
    sizes, where = np.unique(b, return_inverse=True)
    table = np.zeros((sizes.size, len(STATUSES)), dtype=int)
    np.add.at(table, (where, [STATUSES.index(v) for v in status]), 1)
    return Fit(
        law=law.name,
        params=MappingProxyType(params),
        ci=MappingProxyType(ci),
        level=level,
        rmse_log=math.sqrt(float(np.mean(residuals**2))),
        aic=2.0 * nll + 2.0 * phi.size,
        n_points=int(reached.sum()),
        n_excluded=int(missed.size),
        batch_sizes=b_reached,
        steps=k_reached,
        residuals=residuals,
        excluded_batch_sizes=tuple(float(v) for v in missed),
        bootstrap="parametric" if draws[names[0]].size else "none",
        n_boot=int(draws[names[0]].size),
        draws=MappingProxyType(draws),
        at_bound=tuple(n for n, f in zip(names, at_bound, strict=True) if f),
        model=law,
        counts=pd.DataFrame(
            table, index=pd.Index(sizes, name="batch_size"), columns=list(STATUSES)
        ),
        censored_batch_sizes=b[censored],
        censored_steps=budget[censored],
        se_log=MappingProxyType(se),
        df=MappingProxyType(df),
        noise_model=noise,
        noise_params=MappingProxyType(
            {"sigma_centre": math.exp(phi[p]), "centre_batch": math.exp(centre)}
            | ({"slope": float(phi[p + 1])} if noise == "power" else {})
        ),
        log_likelihood=-nll,
        _phi=phi,
        _centre=centre,
    )


class _Saturated:
    """One free log-median per batch size: the model the lack-of-fit test compares with."""

    def __init__(self, sizes: np.ndarray):
        self.sizes = sizes

    def log_steps(self, b: np.ndarray, theta: np.ndarray) -> np.ndarray:
        return np.asarray(theta)[np.searchsorted(self.sizes, b)]

    def gradient(self, b: np.ndarray, theta: np.ndarray) -> np.ndarray:
        return (np.searchsorted(self.sizes, b)[:, None] == np.arange(self.sizes.size)).astype(float)


def _lack_of_fit(fit: Fit) -> LackOfFit:
    law = fit.model
    p = len(law.parameters)
    b = np.concatenate([fit.batch_sizes, fit.censored_batch_sizes])
    y = np.concatenate([np.log(fit.steps), np.log(fit.censored_steps)])
    censored = np.concatenate([np.zeros(fit.n_points, bool), np.ones(fit.n_censored, bool)])
    design = _design(b, fit.noise_model, fit._centre)
    n, q = b.size, design.shape[1]
    m = np.unique(b).size
    df1, df2 = m - p, n - m - q + 1
    sizes = np.unique(fit.batch_sizes)
    if df1 <= 0 or df2 <= 0 or sizes.size == fit.n_points:
        return LackOfFit(math.nan, (int(df1), int(df2)), math.nan, math.nan)
    # Saturated: one free log-median per batch size with a reached run; batch sizes where every
    # run ran out of budget contribute 0 (their median goes to infinity).
    keep = np.isin(b, sizes)
    saturated = _Saturated(sizes)
    data = _Data(b=b[keep], y=y[keep], censored=censored[keep], design=design[keep])
    means = np.array([np.mean(np.log(fit.steps[fit.batch_sizes == s])) for s in sizes])
    start = np.concatenate([means, fit._phi[p:]])
    bounds = [(None, None)] * sizes.size + [_LOG_SIGMA] + [(-_SLOPE, _SLOPE)] * (q - 1)
    phi = _minimise(saturated, data, start, bounds, sizes.size)
    full = _Data(b=b, y=y, censored=censored, design=design)
    law_nll = _nll(fit._phi, law, full, p)[0]
    ratio = max(2.0 * (law_nll - _nll(phi, saturated, data, sizes.size)[0]), 0.0)
    statistic = math.expm1(ratio / n) * df2 / df1
    return LackOfFit(statistic, (int(df1), int(df2)), float(stats.f.sf(statistic, df1, df2)), ratio)


def _fit_frame(
    frame: pd.DataFrame, law: Law, by: str | Sequence[str], noise: str, level: float,
    n_boot: int, rng: np.random.Generator,
) -> dict:  # fmt: skip
    keys = [by] if isinstance(by, str) else list(by)
    validation.columns("frame", frame, (*keys, *_SWEEP_COLUMNS))
    if frame.empty:
        raise validation.value_error("frame", frame, "a non-empty sweep (runs to fit)")
    validation.bool_array("frame['reached']", frame["reached"])
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
        status, budget, reasons = _frame_statuses(group)
        where = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        try:
            b, k = _runs(group["batch_size"].to_numpy(), group["steps"].to_numpy(), status)
            _check_budget(k, status, budget)
            _check_enough(law, b, status)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from error
        fit = _fit_runs(law, b, k, status, budget, noise, level, n_boot, rng)
        fits[key] = dataclasses.replace(fit, excluded_reasons=reasons)
    return fits


def run_status(frame: pd.DataFrame) -> np.ndarray:
    """Each run's status (:data:`STATUSES`) in a sweep frame, as the fits read a frame:
    ``"reached"`` where the ``reached`` column says so; else by the ``reason`` column:
    ``"max_steps"`` -> ``"budget"`` (censored at the run's ``max_steps`` column),
    ``"diverged"``, anything else (or no such column) -> ``"excluded"``. For the array form of
    :func:`fit_steps` and :func:`~batchsteps.analysis.fit_laws` (``status=``, with
    ``max_steps=``), so that a diverged run is not taken for one out of budget."""
    validation.instance("frame", frame, pd.DataFrame, "a sweep frame (pandas DataFrame)")
    validation.columns("frame", frame, ("reached",))
    return _frame_statuses(frame)[0]


def _frame_statuses(group: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, Mapping[str, int]]:
    """Statuses from a sweep frame: ``reached``; else by ``reason`` (``"max_steps"`` ->
    budget, censored at the ``max_steps`` column; ``"diverged"``; anything else, or no
    ``reason`` column, -> excluded)."""
    reached = group["reached"].to_numpy()
    if "reason" in group.columns:
        reason = group["reason"].astype(str).to_numpy()
    else:
        reason = np.full(reached.size, "unknown")
    status = np.array([_REASONS.get(r, "excluded") for r in reason], dtype=object)
    if "max_steps" in group.columns:
        budget = group["max_steps"].to_numpy(dtype=float)
    else:
        budget = np.full(reached.size, np.nan)
    status[reached] = "reached"
    lost = (status == "budget") & np.isnan(budget)
    if lost.any():
        raise ValueError(
            f"frame has {int(lost.sum())} run(s) whose reason is 'max_steps' but no budget (a "
            "'max_steps' column, the budget they ran out of): without it they would be dropped, "
            "not censored"
        )
    status[~reached & (status == "reached")] = "excluded"
    counts = pd.Series(reason[~reached]).value_counts()
    reasons = MappingProxyType({str(r): int(n) for r, n in counts.sort_index().items()})
    return status.astype(str), budget, reasons


def linearise(
    batch_sizes: np.ndarray | Sequence[float],
    steps: np.ndarray | Sequence[float],
    law: str | Law = "constant_lr",
) -> Linearisation:
    r"""The straight line a law becomes in :math:`x = 1/b`: :math:`1/K` (constant_lr) or
    :math:`K` (tuned_lr) against :math:`1/b`, with the parameters it implies.

    ``batch_sizes``, ``steps``: 1-D, equal length, positive and finite, at least three
    distinct batch sizes. These lines give :func:`fit_steps` its starting values.

    >>> lin = linearise([2, 4, 8, 16], [200, 133.33333, 114.28571, 106.66667])
    >>> [round(v, 3) for v in lin.params.values()]
    [100.0, 1.0]
    """
    model = resolve_law(law)
    status = np.full(np.size(batch_sizes), "reached")
    b, k = _runs(batch_sizes, steps, status)
    _check_enough(model, b, status)
    x, y = model.linear_coordinates(b, k)
    intercept, slope = weighted_line(x, y, 1.0 / y**2)
    params = model.from_line(intercept, slope)
    x, y = np.array(x, dtype=float), np.array(y, dtype=float)
    for array in (x, y):
        array.setflags(write=False)
    return Linearisation(
        model.name, x, y, intercept, slope,
        MappingProxyType({n: float(v) for n, v in params.items()}),
    )  # fmt: skip


@overload
def fit_steps(
    batch_sizes: pd.DataFrame,
    steps: None = None,
    law: str | Law = "constant_lr",
    *,
    reached: None = None,
    status: None = None,
    max_steps: None = None,
    by: str | Sequence[str] = "optimizer",
    noise: str = "power",
    level: float = 0.95,
    n_boot: int = 1000,
    seed: int | np.random.Generator = 0,
) -> dict[object, Fit]: ...


@overload
def fit_steps(
    batch_sizes: np.ndarray | Sequence[float],
    steps: np.ndarray | Sequence[float],
    law: str | Law = "constant_lr",
    *,
    reached: np.ndarray | Sequence[bool] | None = None,
    status: np.ndarray | Sequence[str] | None = None,
    max_steps: float | np.ndarray | Sequence[float] | None = None,
    by: str | Sequence[str] = "optimizer",
    noise: str = "power",
    level: float = 0.95,
    n_boot: int = 1000,
    seed: int | np.random.Generator = 0,
) -> Fit: ...


def fit_steps(
    batch_sizes: pd.DataFrame | np.ndarray | Sequence[float],
    steps: np.ndarray | Sequence[float] | None = None,
    law: str | Law = "constant_lr",
    *,
    reached: np.ndarray | Sequence[bool] | None = None,
    status: np.ndarray | Sequence[str] | None = None,
    max_steps: float | np.ndarray | Sequence[float] | None = None,
    by: str | Sequence[str] = "optimizer",
    noise: str = "power",
    level: float = 0.95,
    n_boot: int = 1000,
    seed: int | np.random.Generator = 0,
) -> Fit | dict[object, Fit]:
    r"""Fit a law (a :class:`~batchsteps.analysis.Law`, or ``"constant_lr"`` for
    :math:`K_{\min} b/(b - b_0)`, ``"tuned_lr"`` for :math:`S_{\min}(1 + B_{\mathrm{noise}}/b)`)
    to runs by the censored likelihood of the module docstring.

    Arrays: ``batch_sizes`` and ``steps`` 1-D of equal length, one entry per run (repeat a
    batch size for several seeds). How each run ended: ``status`` (``"reached"``,
    ``"budget"``: ran out of ``max_steps``, ``"diverged"``, ``"excluded"``), or the older
    ``reached`` booleans (not reached: ``"budget"`` if ``max_steps`` is given, else
    ``"excluded"``), or neither (all reached). ``max_steps``: one budget or one per run,
    needed for ``"budget"`` runs (their ``steps`` are ignored). At least three distinct batch
    sizes must have a run that reached. Returns one :class:`Fit`.

    A non-empty sweep ``DataFrame`` (columns ``batch_size, steps, reached`` and ``by``, default
    ``"optimizer"``; ``seed``, ``reason`` and ``max_steps`` used when present) as
    ``batchsteps.train.sweep`` returns: ``reason`` ``"max_steps"`` is a budget run,
    ``"diverged"`` a diverged one, any other reason an excluded one. One curve per value of
    ``by``, and a ``dict`` from that value (a tuple for several columns) to its :class:`Fit`.

    ``noise``: ``"power"`` (:math:`\log\sigma` linear in :math:`\log b`; with fewer than
    :math:`p + 5` reached runs or three batch sizes the fit falls back to ``"constant"``, and
    ``Fit.noise_model`` says so) or ``"constant"``. ``level`` in (0, 1) is the interval level;
    ``n_boot >= 0`` parameter draws for ``Fit.draws`` and ``Fit.band`` from
    ``numpy.random.default_rng(seed)`` (or the Generator given). Raises
    ``ValueError``/``TypeError`` naming the argument for anything else.

    >>> b = [16, 32, 64, 128, 256, 512]
    >>> fit = fit_steps(b, [1000 * x / (x - 8) for x in b], n_boot=0)
    >>> round(fit.params["min_batch"], 6), round(fit.min_steps, 3), round(fit.critical_batch, 6)
    (8.0, 1000.0, 16.0)
    """
    model = resolve_law(law)
    noise = validation.one_of("noise", noise, NOISE_MODELS)
    level = validation.probability("level", level, low_open=True, high_open=True)
    n_boot = validation.integer("n_boot", n_boot, low=0)
    rng = validation.generator("seed", seed)
    if isinstance(batch_sizes, pd.DataFrame):
        given = {"steps": steps, "reached": reached, "status": status, "max_steps": max_steps}
        if named := [k for k, v in given.items() if v is not None]:
            raise ValueError(
                "steps, reached, status and max_steps must be None when batch_sizes is a sweep "
                f"DataFrame (got {', '.join(named)}): the frame's columns are used"
            )
        if not isinstance(by, str):
            validation.sequence_of("by", by, validation.string)
        return _fit_frame(batch_sizes, model, by, noise, level, n_boot, rng)
    if isinstance(batch_sizes, Mapping):
        raise validation.type_error(
            "batch_sizes", batch_sizes, "an array of batch sizes or a sweep DataFrame "
            "(make one of a dict of columns with pandas.DataFrame)"
        )  # fmt: skip
    if steps is None:
        raise validation.value_error("steps", steps, "the measured steps, one per batch size")
    labels, budget = _statuses(np.size(batch_sizes), reached, status, max_steps)
    b, k = _runs(batch_sizes, steps, labels)
    _check_budget(k, labels, budget)
    _check_enough(model, b, labels)
    return _fit_runs(model, b, k, labels, budget, noise, level, n_boot, rng)


def compare_laws(fits: Mapping[str, Fit]) -> pd.DataFrame:
    r"""Akaike weights of fits of different laws to the same runs: one row per law with
    ``aic``, ``delta_aic`` (:math:`\Delta_i = \mathrm{AIC}_i - \min_j \mathrm{AIC}_j`) and
    ``weight`` :math:`w_i = e^{-\Delta_i/2}/\sum_j e^{-\Delta_j/2}`, sorted best first.

    The fits must share their runs (``ValueError`` otherwise).
    """
    fit_of = functools.partial(validation.instance, types=Fit)
    items = list(validation.mapping_of("fits", fits, fit_of, what="a mapping name -> Fit").items())
    reference = items[0][1]
    for name, fit in items[1:]:
        same = all(
            np.array_equal(getattr(fit, a), getattr(reference, a))
            for a in ("batch_sizes", "steps", "censored_batch_sizes", "censored_steps")
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
