r"""The critical batch size of a model, step by step: the analysis side of the recipe.

The recipe a practitioner follows with their own :class:`~batchsteps.train.Workload`:

1. measure the gradient noise scale :math:`B_{\text{simple}}` along a short run
   (:func:`batchsteps.experiments.noise_scale_during`): it says where the critical batch is
   likely to be, and :func:`batch_sizes_around` gives the batch sizes to sweep;
2. sweep them, each with a small grid of learning rates (:func:`rate_grid`,
   :func:`batchsteps.experiments.tuned_sweep`), keeping for each batch size the rate with the
   fewest steps (:func:`best_rate`);
3. fit both laws (:func:`fit_laws`, :func:`law_table`): with the rate tuned per batch size the
   measurements should follow :math:`K(b) = S_{\min}(1 + B_{\text{noise}}/b)`;
4. choose a batch size (:func:`choose_batch_size`): the critical batch, where steps and
   samples are each twice their minimum, or the smallest batch that meets a step budget.

This module holds the steps that work on measured numbers (grids, the best rate, fits,
tables, the choice); the sweeps themselves run in :mod:`batchsteps.experiments`. Nothing here
is specific to a built-in workload.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .. import validation
from .fit import LAWS, PARAMETERS, Fit, fit_steps


def _batch_list(batch_sizes: object) -> list[int]:
    """Distinct integers >= 1, at least one."""
    size = functools.partial(validation.integer, low=1)
    return validation.sequence_of("batch_sizes", batch_sizes, size, distinct=True)


# ---------------------------------------------------------------------------------------------
# 1-2. Batch sizes around the noise scale, a small grid of rates per batch size, the best rate


# Natural logs of the float range a rate may span, a factor e inside each end so that the
# products and the rounding to 6 significant digits stay finite and > 0.
_LOG_HUGE = math.log(sys.float_info.max) - 1.0
_LOG_TINY = math.log(math.ulp(0.0)) + 1.0
# The smallest ratio of a rate grid: neighbours 1 - 1/1.0001 ~ 1e-4 apart (relative), ten
# times the spacing of 6 significant digits, stay distinct after rounding.
_MIN_RATIO = 1.0001
_RATIO_WHY = "closer to 1, rates rounded to 6 significant digits could repeat"


def _check_rate_range(
    sizes: list[int], base_lr: float, base_batch: int, width: int, ratio: float, max_lr: float
) -> None:
    """``ValueError`` unless every rate of :func:`rate_grid` is a finite float > 0: its
    extremes in logs, before any grid is built."""
    top, bottom = (width + 1) // 2 - 1, width // 2
    log_ratio = math.log(ratio)
    if (width - 1) * log_ratio > _LOG_HUGE:
        allowed = (
            f"a real number >= {_MIN_RATIO} with ratio**(width - 1) a finite float (width={width})"
        )
        raise validation.value_error("ratio", ratio, allowed)
    log_ceiling = math.log(max_lr) - top * log_ratio
    for b in sizes:
        linear = math.log(base_lr) + math.log(b) - math.log(base_batch)
        centre = min(log_ceiling, linear)
        low, high = centre - bottom * log_ratio, centre + top * log_ratio
        if linear > _LOG_HUGE or low < _LOG_TINY or high > _LOG_HUGE:
            raise ValueError(
                f"batch_sizes, base_lr, base_batch, width, ratio and max_lr must give rates that "
                f"are finite floats > 0, got at batch size {validation.shown(b)} rates from about "
                f"1e{low / math.log(10):.0f} to 1e{high / math.log(10):.0f} (linear scaling "
                f"1e{linear / math.log(10):.0f}; base_lr={base_lr!r}, base_batch={base_batch}, "
                f"width={width}, ratio={ratio!r}, max_lr={max_lr!r})"
            )


def rate_grid(
    batch_sizes: Sequence[int],
    *,
    base_lr: float,
    base_batch: int,
    width: int = 4,
    ratio: float = 2.0,
    max_lr: float = math.inf,
) -> dict[int, tuple[float, ...]]:
    r"""A geometric grid of ``width`` rates for each batch size around linear scaling from
    ``base_lr`` at ``base_batch``, no rate above ``max_lr``.

    With :math:`w` = ``width``, :math:`r` = ``ratio`` and the exponents
    :math:`j = -\lfloor w/2\rfloor, \dots, \lceil w/2\rceil - 1` (one more below the centre
    than above when :math:`w` is even, as many when it is odd), the grid of batch size
    :math:`b` is :math:`c(b)\,r^{j}` with centre

    .. math::

        c(b) = \min\bigl(\alpha_0\, b/b_{\text{base}},\;
                         \alpha_{\max}\, r^{-(\lceil w/2\rceil - 1)}\bigr),

    linear scaling, capped so that the largest rate tried is ``max_lr`` (the shape of the tuned
    rate :math:`\alpha^\star(b) = \alpha_{\max}/(1 + B_{\text{noise}}/b)`). Rates are rounded
    to 6 significant digits. ``batch_sizes``: distinct integers >= 1; ``base_batch`` and
    ``width`` >= 1, ``ratio`` >= 1.0001 (closer to 1, rounded rates could repeat: from 1.0001
    each grid's rates are distinct), ``base_lr`` (finite) and ``max_lr`` > 0; every rate of
    the grid, and the linear-scaling rate, must be a finite float > 0 (a ``ValueError``
    otherwise).

    >>> rate_grid([4, 8], base_lr=0.4, base_batch=4, width=3)
    {4: (0.2, 0.4, 0.8), 8: (0.4, 0.8, 1.6)}
    >>> rate_grid([4, 8, 16], base_lr=0.4, base_batch=4, width=3, max_lr=0.8)
    {4: (0.2, 0.4, 0.8), 8: (0.2, 0.4, 0.8), 16: (0.2, 0.4, 0.8)}
    """
    sizes = _batch_list(batch_sizes)
    base_lr = validation.positive("base_lr", base_lr)
    base_batch = validation.integer("base_batch", base_batch, low=1)
    width = validation.integer("width", width, low=1)
    ratio = validation.real("ratio", ratio, low=_MIN_RATIO, note=_RATIO_WHY)
    max_lr = validation.positive("max_lr", max_lr, finite=False)
    _check_rate_range(sizes, base_lr, base_batch, width, ratio, max_lr)
    powers = np.arange(width) - width // 2
    ceiling = max_lr / ratio ** int(powers[-1])
    grid = {}
    for b in sizes:
        centre = min(ceiling, base_lr * b / base_batch)
        grid[b] = tuple(min(max_lr, float(f"{centre * ratio**p:.6g}")) for p in powers)
    return grid


def batch_sizes_around(
    center: float, *, factor: float = 8.0, n_max: int | None = None
) -> list[int]:
    r"""Powers of two from ``center / factor`` to ``center * factor``, each end rounded to the
    nearest power in log scale (at least 1, at most ``n_max``, the training-set size, if given):
    the batch sizes a short sweep should cover when the critical batch is expected near
    ``center`` (a measured :math:`B_{\text{simple}}`, say). When the whole span lies above
    ``n_max``, the largest power of two at most ``n_max`` alone.

    >>> batch_sizes_around(40.0, factor=4)
    [8, 16, 32, 64, 128]
    """
    center = validation.positive("center", center)
    factor = validation.real("factor", factor, low=1)
    if n_max is not None:
        n_max = validation.integer("n_max", n_max, low=1)
    low = max(0, round(math.log2(center / factor)))
    high = max(low, round(math.log2(center * factor)))
    if n_max is not None:
        high = min(high, math.floor(math.log2(n_max)))
        low = min(low, high)
    return [2**k for k in range(low, high + 1)]


def best_rate(frame: pd.DataFrame, by: str = "optimizer") -> pd.DataFrame:
    r"""The runs of the best learning rate at each batch size: the rate whose median steps
    over seeds is smallest (a run that did not reach counts as :math:`+\infty`; ties go to
    the smaller rate).

    ``frame`` is a non-empty sweep frame (columns ``by``, a column name, and ``batch_size, lr,
    seed, steps, reached``, the last booleans) with several rates per batch size. Returns its
    rows at the chosen rates, with two more columns: ``lr_at_edge`` (the chosen rate is the
    smallest or largest tried at that batch size: the grid should then be widened before the
    minimum is trusted) and ``n_rates``. The result can be passed to
    :func:`~batchsteps.analysis.fit_steps` as it is.
    """
    validation.instance("frame", frame, pd.DataFrame, "a pandas DataFrame (a sweep)")
    by = validation.string("by", by, nonempty=True)
    validation.columns("frame", frame, (by, "batch_size", "lr", "steps", "reached"))
    if frame.empty:
        raise validation.value_error(
            "frame", frame, "a non-empty sweep (runs to choose a rate from)"
        )
    validation.bool_array("frame['reached']", frame["reached"])
    cost = frame["steps"].where(frame["reached"], np.inf).astype(float)
    medians = cost.groupby([frame[by], frame["batch_size"], frame["lr"]]).median().reset_index()
    medians.columns = [by, "batch_size", "lr", "median"]
    chosen = []
    for (key, b), group in medians.groupby([by, "batch_size"], sort=True):
        group = group.sort_values("lr", kind="stable")
        best = group.iloc[int(np.argmin(group["median"].to_numpy()))]
        edge = best["lr"] in (group["lr"].min(), group["lr"].max())
        chosen.append({by: key, "batch_size": b, "lr": best["lr"], "lr_at_edge": bool(edge),
                       "n_rates": len(group)})  # fmt: skip
    picks = pd.DataFrame(chosen)
    return frame.merge(picks, on=[by, "batch_size", "lr"], how="inner").reset_index(drop=True)


@dataclass(frozen=True)
class TunedSweep:
    """A sweep with the rate tuned per batch size (as
    :func:`batchsteps.experiments.tuned_sweep` runs it): ``runs`` (every rate, one row per seed),
    ``tuned`` (:func:`best_rate` of ``runs``), ``grid`` (the rates tried per batch size),
    ``wall_time`` (seconds the whole sweep took, cells read from a store included) and
    ``n_cells`` (batch size x rate cells)."""

    runs: pd.DataFrame
    tuned: pd.DataFrame
    grid: Mapping[int, tuple[float, ...]]
    wall_time: float
    n_cells: int

    @property
    def n_runs(self) -> int:
        """Training runs in the sweep (cells x seeds)."""
        return len(self.runs)

    def _cells(self) -> pd.DataFrame:
        validation.columns("runs", self.runs, ["batch_size", "lr", "wall_time", "cached"])
        return self.runs.drop_duplicates(["batch_size", "lr"])

    @property
    def compute_time(self) -> float:
        """Seconds the cells took to compute, wherever and whenever that was (a cell read
        from a store counts the seconds its record says it took)."""
        return float(self._cells()["wall_time"].sum())

    @property
    def n_cached(self) -> int:
        """Cells read from a store, not computed by this sweep."""
        return int(self._cells()["cached"].sum())


def describe_rates(sweep: TunedSweep, batch_size: int) -> str:
    """What the rates tried at one batch size of a :class:`TunedSweep` gave, in words: the
    median steps at each rate (a run that did not reach counts as never), the runs out of
    budget at each, and the rate kept.

    >>> runs = pd.DataFrame({"optimizer": "sgd", "batch_size": 4, "lr": [0.1, 0.1, 0.2, 0.2],
    ...                      "seed": [0, 1, 0, 1], "steps": [300, 320, 200, -1],
    ...                      "reached": [True, True, True, False]})
    >>> sweep = TunedSweep(runs, best_rate(runs), {4: (0.1, 0.2)}, 0.0, 2)
    >>> print(describe_rates(sweep, 4).replace("; ", ";\\n"))
    at b = 4, median steps 310 / never at rates 0.1 / 0.2 (runs that did not reach: 0 / 1 of 2);
    rate kept 0.1
    """
    validation.instance("sweep", sweep, TunedSweep, "a TunedSweep (see tuned_sweep)")
    validation.one_of("batch_size", batch_size, sweep.grid)
    runs = sweep.runs[sweep.runs["batch_size"] == batch_size]
    cost = runs["steps"].where(runs["reached"], np.inf).astype(float)
    medians = cost.groupby(runs["lr"]).median().sort_index()
    missed = (~runs["reached"]).groupby(runs["lr"]).sum().reindex(medians.index)
    counts = runs.groupby("lr").size().reindex(medians.index)
    steps = " / ".join("never" if not math.isfinite(m) else f"{m:.0f}" for m in medians)
    rates = " / ".join(f"{r:g}" for r in medians.index)
    misses = " / ".join(str(int(n)) for n in missed)
    kept = float(sweep.tuned.loc[sweep.tuned["batch_size"] == batch_size, "lr"].iloc[0])
    return (
        f"at b = {batch_size}, median steps {steps} at rates {rates} (runs that did not reach: "
        f"{misses} of {int(counts.iloc[0])}); rate kept {kept:g}"
    )


# ---------------------------------------------------------------------------------------------
# 3. Both laws, side by side


def fit_laws(
    batch_sizes: pd.DataFrame | np.ndarray | Sequence[float],
    steps: np.ndarray | Sequence[float] | None = None,
    *,
    reached: np.ndarray | Sequence[bool] | None = None,
    status: np.ndarray | Sequence[str] | None = None,
    max_steps: float | np.ndarray | Sequence[float] | None = None,
    by: str | Sequence[str] = "optimizer",
    noise: str = "power",
    level: float = 0.95,
    n_boot: int = 1000,
    seed: int | np.random.Generator = 0,
) -> dict[str, Fit] | dict[object, dict[str, Fit]]:
    r"""Both laws fitted to the same runs: ``{"constant_lr": Fit, "tuned_lr": Fit}``
    (see :func:`~batchsteps.analysis.fit_steps` for the arguments). Give ``max_steps`` (the
    step budget) with ``reached`` so that runs that did not reach are right-censored at the
    budget rather than dropped: dropping them keeps only the fast runs near the pole. For a
    curve without seed scatter (an exact expectation, one published point per batch size)
    ``noise="constant"``: its residuals are misfit, which has no reason to shrink with b.
    A sweep ``DataFrame`` (as ``batchsteps.train.sweep`` returns, read as ``fit_steps`` reads
    it: how each run ended from its ``reason``) gives one such pair per value of ``by``:
    ``{value: {"constant_lr": Fit, "tuned_lr": Fit}}``."""
    if isinstance(batch_sizes, pd.DataFrame):
        given = dict(steps=steps, reached=reached, status=status, max_steps=max_steps)
        per_law = {
            law: fit_steps(batch_sizes, law=law, **given, by=by, noise=noise, level=level,
                           n_boot=n_boot, seed=seed)
            for law in LAWS
        }  # fmt: skip
        return {key: {law: per_law[law][key] for law in LAWS} for key in per_law[LAWS[0]]}
    given = dict(reached=reached, status=status, max_steps=max_steps, noise=noise, level=level)
    return {
        law: fit_steps(batch_sizes, steps, law, **given, n_boot=n_boot, seed=seed) for law in LAWS
    }


#: How much lower one law's AIC must be for it to count as preferred (Burnham and Anderson's
#: rule of thumb: below 2 the data do not tell the two laws apart).
AIC_MARGIN = 2.0
#: The smallest p-value of the lack-of-fit test at which a law still counts as fitting.
LACK_OF_FIT_LEVEL = 0.05


@dataclass(frozen=True)
class Preference:
    r"""Which of the two laws the Akaike criterion prefers for one curve.

    ``law``: ``"constant_lr"`` or ``"tuned_lr"`` when its AIC is lower by at least ``margin``,
    else ``"indistinguishable"``; ``delta_aic`` is
    :math:`\mathrm{AIC}_{\text{constant}} - \mathrm{AIC}_{\text{tuned}}` (positive: the
    tuned-rate law, the one without a pole, fits better).
    """

    law: str
    delta_aic: float
    margin: float

    @property
    def text(self) -> str:
        """The preference in words, e.g. ``"tuned_lr (by 12.3)"``."""
        if self.law == "indistinguishable":
            return f"indistinguishable (|ΔAIC| = {abs(self.delta_aic):.2g} < {self.margin:g})"
        return f"{self.law} (by {abs(self.delta_aic):.3g})"


def law_preference(by_law: Mapping[str, Any], margin: float = AIC_MARGIN) -> Preference:
    r"""The law preferred by the AIC among the constant-rate and tuned-rate fits of one curve
    (``{"constant_lr": Fit, "tuned_lr": Fit}``, as :func:`~batchsteps.analysis.fit_laws`
    gives): the one whose AIC is lower by at least ``margin`` (default ``AIC_MARGIN`` = 2),
    else ``"indistinguishable"``. A smaller difference is no evidence for either law.

    >>> from types import SimpleNamespace as F
    >>> law_preference({"constant_lr": F(aic=10.0), "tuned_lr": F(aic=4.0)}).law
    'tuned_lr'
    >>> law_preference({"constant_lr": F(aic=10.0), "tuned_lr": F(aic=11.5)}).text
    'indistinguishable (|ΔAIC| = 1.5 < 2)'
    """
    margin = validation.real("margin", margin, low=0)
    return _preference("by_law", by_law, margin)


def _preference(name: str, by_law: object, margin: float) -> Preference:
    """:func:`law_preference` of ``by_law``, which the messages call ``name``."""
    validation.mapping_of(name, by_law, what="a mapping law -> Fit of the same runs")
    validation.keys(name, by_law, ("constant_lr", "tuned_lr"), required=True)
    aic = {}
    for law in ("constant_lr", "tuned_lr"):
        entry = validation.attributes(f"{name}[{law!r}]", by_law[law], ("aic",), "a Fit")
        aic[law] = validation.real(f"{name}[{law!r}].aic", entry.aic, finite=False)
    delta = aic["constant_lr"] - aic["tuned_lr"]
    if delta >= margin:
        law = "tuned_lr"
    elif delta <= -margin:
        law = "constant_lr"
    else:
        law = "indistinguishable"
    return Preference(law, delta, float(margin))


_LAW_WORDS = {"constant_lr": "constant-rate law", "tuned_lr": "tuned-rate law"}


def law_verdict(fits: Mapping[object, Mapping[str, Fit]]) -> str:
    r"""One sentence on which law the data sets follow, computed from the fits: for each law
    the data sets where the AIC prefers it by at least ``AIC_MARGIN`` (with the range of
    :math:`|\Delta\mathrm{AIC}|`), and those where the two are indistinguishable.

    ``fits`` maps a data-set name to ``{law: Fit}`` (as :func:`fit_laws` gives).

    >>> from types import SimpleNamespace as F
    >>> text = law_verdict({"a": {"constant_lr": F(aic=30.0), "tuned_lr": F(aic=4.0)},
    ...                     "b": {"constant_lr": F(aic=9.0), "tuned_lr": F(aic=8.0)}})
    >>> for part in text.split("; "):
    ...     print(part)
    the AIC prefers the tuned-rate law for a (by 26)
    it cannot tell the two laws apart for b (|ΔAIC| 1)
    """
    validation.mapping_of("fits", fits, what="a mapping name -> {law: Fit}")
    by = {name: _preference(f"fits[{name!r}]", by_law, AIC_MARGIN) for name, by_law in fits.items()}
    parts = []
    for law, words in _LAW_WORDS.items():
        chosen = {n: p for n, p in by.items() if p.law == law}
        if chosen:
            sizes = sorted(abs(p.delta_aic) for p in chosen.values())
            spread = f"{sizes[0]:.3g}" if len(sizes) == 1 else f"{sizes[0]:.3g} to {sizes[-1]:.3g}"
            names = "all of them" if len(chosen) == len(by) > 1 else ", ".join(map(str, chosen))
            parts.append(f"the AIC prefers the {words} for {names} (by {spread})")
    tied = {n: p for n, p in by.items() if p.law == "indistinguishable"}
    if tied:
        sizes = ", ".join(f"{abs(p.delta_aic):.2g}" for p in tied.values())
        what = "the AIC" if not parts else "it"
        parts.append(
            f"{what} cannot tell the two laws apart for {', '.join(map(str, tied))} "
            f"(|ΔAIC| {sizes})"
        )
    return "; ".join(parts)


def law_table(fits: Mapping[object, Mapping[str, Fit]]) -> pd.DataFrame:
    r"""One row per (data set, law): the parameters, :math:`\mathrm{RMSE}` of log steps, AIC,
    :math:`\Delta\mathrm{AIC}` within the data set, and the critical batch with its interval.

    ``fits``: a non-empty mapping from a data-set name to a non-empty ``{law: Fit}``, each
    key the name of its Fit's law (as :func:`fit_laws` gives). Columns:
    ``min_steps``, ``min_batch`` (:math:`b_0`, constant-rate law) or ``noise_scale``
    (:math:`B_{\text{noise}}`, tuned-rate law), ``rmse_log``, ``aic``, ``delta_aic``,
    ``critical_batch``, ``critical_low``, ``critical_high``, ``n_points`` (runs that reached),
    ``in_range`` (whether the critical batch lies within the measured batch sizes), and the
    runs that did not reach by how they ended: ``n_budget`` (out of budget, censored),
    ``n_diverged``, ``n_excluded``.
    """
    fit_of = functools.partial(validation.instance, types=Fit)
    laws_of = functools.partial(validation.mapping_of, item=fit_of, what="a mapping law -> Fit")
    validation.mapping_of("fits", fits, laws_of, what="a mapping name -> {law: Fit}")
    for name, by_law in fits.items():
        for law, fit in by_law.items():
            if law != fit.law:
                raise ValueError(
                    f"fits[{name!r}] must map each law's name to its own Fit (key == fit.law), "
                    f"got {validation.shown(law)}: a Fit of {fit.law!r}"
                )
    rows = []
    for name, by_law in fits.items():
        best = min(f.aic for f in by_law.values())
        for law, fit in by_law.items():
            low, high = fit.ci["critical_batch"]
            row: dict[str, Any] = {"data": name, "law": law, "min_steps": fit.min_steps}
            row |= {p: fit.params.get(p, math.nan) for p in ("min_batch", "noise_scale")}
            row |= {"rmse_log": fit.rmse_log, "aic": fit.aic, "delta_aic": fit.aic - best}
            row |= {"critical_batch": fit.critical_batch, "critical_low": low}
            row |= {"critical_high": high, "n_points": fit.n_points}
            row["in_range"] = fit.critical_batch_in_range
            counts = fit.counts.sum() if fit.counts is not None else pd.Series(dtype=int)
            for status in ("budget", "diverged", "excluded"):
                row[f"n_{status}"] = int(counts.get(status, 0))
            rows.append(row)
    return pd.DataFrame(rows).set_index(["data", "law"])


# ---------------------------------------------------------------------------------------------
# 4. Choosing a batch size


@dataclass(frozen=True)
class BatchChoice:
    r"""A batch size read off a fitted law, and what it costs.

    ``batch_size`` is a power of two (or the cap ``largest`` itself, see
    :func:`choose_batch_size`); ``steps`` :math:`\hat K(b)` and ``samples``
    :math:`b\hat K(b)` are the fit's predictions there, ``steps_over_min`` is
    :math:`\hat K(b)/K_{\min}` and ``samples_over_min`` is :math:`b\hat K(b)/\min_b b\hat K(b)`
    (how many times the fewest steps and the fewest samples it spends); ``rule`` says why it
    was chosen; ``measured`` whether it lies within the batch sizes whose runs reached the
    target (else the choice extrapolates the law, and ``rule`` says so).
    """

    batch_size: int
    steps: float
    samples: float
    steps_over_min: float
    samples_over_min: float
    rule: str
    measured: bool


def _min_samples(fit: Fit) -> float:
    r"""The fewest samples :math:`\min_b bK(b)`: :math:`4K_{\min}b_0` at :math:`b = 2b_0`, or
    :math:`S_{\min}B_{\text{noise}}` as :math:`b \to 0` for the tuned-rate law."""
    second = fit.params[PARAMETERS[fit.law][1]]
    factor = 4.0 if fit.law == "constant_lr" else 1.0
    return factor * fit.min_steps * second


def choose_batch_size(
    fit: Fit, *, max_steps: float | None = None, largest: int | None = None
) -> BatchChoice:
    r"""The batch size to train with, from a fitted law.

    Without a step budget: the power of two nearest (in :math:`\log b`) to the critical batch,
    where steps are :math:`2K_{\min}` and (tuned-rate law) samples are twice their minimum.
    With ``max_steps``: the smallest power of two whose predicted steps are at most
    ``max_steps``, the cheapest batch in samples that meets the budget (``ValueError`` if the
    budget is at or below :math:`K_{\min}`: no batch size meets it). ``largest`` (an integer
    >= 1, e.g. the training set's size) caps the choice at the largest power of two up to it;
    under a budget that such a power misses but ``largest`` meets, the choice is ``largest``
    (``ValueError`` if the budget needs more than ``largest``). A fit with a parameter on its
    search bound (``fit.at_bound``: the data only bound it) determines neither, and is
    refused; a choice outside the batch sizes that reached is marked (``measured``) and said
    in ``rule``, as is a law that fails its lack-of-fit test (p < ``LACK_OF_FIT_LEVEL``).
    """
    validation.instance("fit", fit, Fit)
    if fit.at_bound:
        raise validation.value_error(
            "fit", fit, f"a fit that determines its parameters ({', '.join(fit.at_bound)} "
            "sits on its search bound: the data only bound it; measure a wider range of batch "
            "sizes)"
        )  # fmt: skip
    cap = None  # the largest power of two up to largest
    if largest is not None:
        cap = 1 << (validation.integer("largest", largest, low=1).bit_length() - 1)
    if max_steps is None:
        b = 2 ** round(math.log2(max(fit.critical_batch, 1.0)))
        rule = f"nearest power of two to the critical batch {fit.critical_batch:.3g}"
        if cap is not None and b > cap:
            b, rule = cap, f"{rule}, capped at largest={largest}"
    else:
        budget = validation.real(
            "max_steps", max_steps, low=fit.min_steps, low_open=True,
            note=f"the fitted K_min={fit.min_steps:.4g}, the steps of an unbounded batch",
        )  # fmt: skip
        needed = float(fit.batch_size_for(budget))
        b = 2 ** math.ceil(math.log2(max(needed, 1.0)))
        rule = f"smallest power of two with at most {budget:.4g} predicted steps"
        if cap is not None and b > cap:
            if needed > largest:
                raise validation.value_error(
                    "max_steps", max_steps,
                    f"a budget a batch size up to largest={largest} meets (it needs {needed:.4g})",
                )  # fmt: skip
            b = largest  # the next power of two is above it, largest itself meets the budget
            rule = f"largest={largest}: at most {budget:.4g} predicted steps (no power of two is)"
    low, high = float(fit.batch_sizes.min()), float(fit.batch_sizes.max())
    measured = low <= b <= high
    if not measured:
        rule += f" (outside the batch sizes that reached, {low:g} to {high:g}: an extrapolation)"
    p_value = fit.lack_of_fit.p_value
    if p_value < LACK_OF_FIT_LEVEL:
        rule += f" (the law misses the medians: lack-of-fit p = {p_value:.2g})"
    steps = float(fit.predict(float(b)))
    return BatchChoice(
        batch_size=int(b),
        steps=steps,
        samples=b * steps,
        steps_over_min=steps / fit.min_steps,
        samples_over_min=b * steps / _min_samples(fit),
        rule=rule,
        measured=measured,
    )


class TextTable(pd.DataFrame):
    """A table of text, as :func:`format_law_table` gives it: a DataFrame that prints whole,
    every row and column, where a plain DataFrame would be cut to the terminal's width with
    ``...`` (in a script, a console, a log). Notebooks show it as HTML, like any DataFrame."""

    @property
    def _constructor(self) -> type[TextTable]:
        return TextTable

    def __repr__(self) -> str:
        return self.to_string()


def format_law_table(table: pd.DataFrame, digits: int = 3) -> TextTable:
    r""":func:`law_table` as text for a page: one row per (data set, law) with :math:`K_{\min}`,
    the law's second parameter (:math:`b_0` or :math:`B_{\text{noise}}`), RMSE of log steps,
    AIC, :math:`\Delta`\ AIC and the critical batch with its interval, each to ``digits``
    significant digits (an integer >= 1; numbers of more digits in full, with thousands
    separators), and how
    many runs reached the target, ran out of budget or diverged. Returns a
    :class:`TextTable`, which ``print`` shows whole in a script.
    """
    validation.instance("table", table, pd.DataFrame, "the DataFrame law_table returns")
    validation.columns("table", table, ("critical_batch",))
    digits = validation.integer("digits", digits, low=1)

    def number(value: float) -> str:
        if not math.isfinite(value):
            return "–"
        return f"{value:,.0f}" if abs(value) >= 10**digits else f"{value:.{digits}g}"

    rows = []
    for (name, law), row in table.iterrows():
        second = row["min_batch"] if law == "constant_lr" else row["noise_scale"]
        interval = f"[{number(row['critical_low'])}, {number(row['critical_high'])}]"
        rows.append(
            {
                "data": name,
                "law": "constant rate" if law == "constant_lr" else "tuned rate",
                "K_min": number(row["min_steps"]),
                "b0 or B_noise": number(second),
                "RMSE log K": f"{row['rmse_log']:.3f}",
                "AIC": f"{row['aic']:.1f}",
                "ΔAIC": f"{row['delta_aic']:.1f}",
                "critical batch": number(row["critical_batch"]),
                "interval": interval,
                "runs reached / out of budget / diverged": (
                    f"{row['n_points']} / {row['n_budget']} / {row['n_diverged']}"
                ),
            }
        )
    return TextTable(pd.DataFrame(rows).set_index(["data", "law"]))
