r"""The measured curves against the laws and the theory: fits per optimizer, the theory's
ratios, the comparison table, verdicts on the paper's two claims computed from the intervals,
and what a step budget alone does to a fit.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sympy as sp

from .. import validation
from ..analysis import (
    AIC_MARGIN,
    LACK_OF_FIT_LEVEL,
    LAWS,
    Fit,
    Preference,
    fit_steps,
    law_preference,
    per_batch,
)
from ..theory import bound, symbols
from ..theory.momentum import critical_band
from ..train import spec
from .running import Measured, check_measured

__all__ = [
    "fit_runs",
    "fit_optimizers",
    "theory_ratios",
    "theory_band",
    "largest_smoothness",
    "comparison",
    "NOT_SUPPORTED",
    "LACK_OF_FIT_LEVEL",
    "pole_shown",
    "CLAIM_ONE",
    "CLAIM_TWO",
    "VERDICTS",
    "verdicts",
    "BudgetArtefact",
    "budget_artefact",
    "budget_table",
]


def fit_optimizers(
    measured: Measured, measure_name: str, optimizers: tuple[str, ...] | None = None
) -> dict[str, dict[str, object]]:
    """Both laws fitted to each optimizer's runs to one target: ``{optimizer: {law: Fit}}``.

    Every run enters the fit (:func:`batchsteps.analysis.fit_steps` on the sweep frame): a run
    that reached the target with its steps, a run that ran out of the step budget as
    right-censored at ``max_steps`` (it says only that more steps were needed), a diverged run
    counted in ``Fit.counts`` but not in the likelihood. Nothing is dropped for being slow, so
    the few fast survivors at a batch size near the pole do not pull the fit down. An
    optimizer with fewer than three batch sizes where some run reached cannot be fitted and
    is left out (:func:`verdicts` reports it as undecided). ``optimizers``: fit only these
    (default: all the experiment measured); ``measured.experiment.n_boot`` parameter draws
    give each fit its curve band."""
    check_measured(measured, measure_name)
    measured_ones = measured.experiment.optimizers
    if optimizers is None:
        chosen = measured_ones
    else:
        measured_one = functools.partial(
            validation.one_of, allowed=measured_ones, what="an optimizer that was measured"
        )
        chosen = tuple(validation.sequence_of("optimizers", optimizers, measured_one))
    frame = measured.frame[measured.frame["measure"] == measure_name]
    fits: dict[str, dict[str, object]] = {}
    for o in chosen:
        both = fit_runs(frame[frame["optimizer"] == o], measured.experiment.n_boot)
        if both is not None:
            fits[o] = both
    return fits


def fit_runs(runs: pd.DataFrame, n_boot: int) -> dict[str, Fit] | None:
    """Both laws fitted to one optimizer's runs (a sweep frame, censored at its budget), or
    ``None`` with fewer than three batch sizes where some run reached."""
    if runs.loc[runs["reached"], "batch_size"].nunique() < 3:
        return None
    (o,) = runs["optimizer"].unique()
    return {law: fit_steps(runs, law=law, n_boot=n_boot, seed=0)[o] for law in LAWS}


def theory_ratios(optimizer: str, lr: float, sgd_lr: float, **hyper: float) -> tuple[float, float]:
    r"""The theory's prediction of ``optimizer``'s critical batch and minimal steps relative to
    SGD's, same problem and target, each at its own rate, in the limit :math:`L\alpha \to 0`
    (where both bounds hold; :math:`L` of a network is not known).

    The bounds are the optimizers' registered ones (``batchsteps.train.spec(o).bound``, from
    :func:`batchsteps.theory.bound`), at ``lr`` and the optimizer's hyperparameters
    (``hyper`` over its defaults, checked as ``spec(optimizer).resolve`` does: a keyword the
    optimizer does not take is a ``TypeError``, a value out of its range a ``ValueError``,
    whether or not the bound uses it). Heavy ball (``"momentum"``, coefficient :math:`\beta`, rate
    :math:`\alpha_m`; SGD at :math:`\alpha_s`):
    :math:`b^\star_m/b^\star_s \to \alpha_m/((1-\beta)^2\alpha_s)` and
    :math:`K_{\min,m}/K_{\min,s} \to (1-\beta)\alpha_s/\alpha_m`. SGD's own bound gives
    ``(1, 1)``. ``(nan, nan)`` for an optimizer without a bound (Nesterov in the book) or
    whose bound measures another quantity than SGD's (the Adam type's variational measure:
    its constants do not compare with SGD's).

    >>> [round(v, 6) for v in theory_ratios("momentum", 0.1, 0.5, beta=0.9)]
    [20.0, 0.5]
    """
    validation.positive("lr", lr)
    validation.positive("sgd_lr", sgd_lr)
    declared, mine_name, base_name = spec(optimizer), spec(optimizer).bound, spec("sgd").bound
    values = declared.resolve(hyper)
    if mine_name == base_name:
        return 1.0, 1.0
    if mine_name is None or bound(mine_name).measure != bound(base_name).measure:
        return math.nan, math.nan
    S = symbols
    mine, base = bound(mine_name), bound(base_name)
    at_m = {S.alpha: sp.nsimplify(lr), **_hyper_symbols(values)}
    at_s = {S.alpha: sp.nsimplify(sgd_lr)}
    ratios = []
    for name in ("critical_batch", "min_steps"):
        ratio = getattr(mine, name).subs(at_m) / getattr(base, name).subs(at_s)
        ratios.append(float(sp.limit(sp.simplify(ratio), S.L, 0)))
    return ratios[0], ratios[1]


#: Per bound whose proof leaves a constant free, the range of its critical batch's ratio to
#: SGD's over the members worth using (heavy ball: Young's constant, t >= 1,
#: :func:`batchsteps.theory.momentum.critical_band`), from the rates and its values.
_FAMILY_BANDS = {"momentum": lambda lr, sgd_lr, values: critical_band(lr, sgd_lr, values["beta"])}


def theory_band(optimizer: str, lr: float, sgd_lr: float, **hyper: float) -> tuple[float, float]:
    r"""The range of ``optimizer``'s critical batch over SGD's that its proof allows, as
    :math:`L\alpha \to 0`, arguments as for :func:`theory_ratios`. A proof with a free
    constant gives a family of valid bounds: heavy ball's Young's constant
    :math:`\rho = t\sqrt q` puts the ratio anywhere from
    :math:`\alpha_m/((1-\beta)\alpha_s)` (:math:`t \to \infty`) to the headline bound's
    :math:`\alpha_m/((1-\beta)^2\alpha_s)` (:math:`t = 1`, :func:`theory_ratios`); a bound
    without one gives one value twice; ``(nan, nan)`` where :func:`theory_ratios` makes no
    prediction. (:math:`K_{\min}`'s ratio is the same for every member.)

    >>> [round(v, 6) for v in theory_band("momentum", 0.1, 0.5, beta=0.9)]
    [2.0, 20.0]
    """
    top = theory_ratios(optimizer, lr, sgd_lr, **hyper)[0]
    family = _FAMILY_BANDS.get(spec(optimizer).bound)
    if family is None or not math.isfinite(top):
        return top, top
    return family(lr, sgd_lr, spec(optimizer).resolve(hyper))


def _hyper_symbols(values: Mapping[str, float]) -> dict[sp.Symbol, sp.Expr]:
    """The book's symbol of each hyperparameter that has one (``beta``, ``beta1``, ...)."""
    return {getattr(symbols, k): sp.nsimplify(v) for k, v in values.items() if hasattr(symbols, k)}


def largest_smoothness(optimizer: str, lr: float, **hyper: float) -> float:
    r"""The largest smoothness constant :math:`L` for which rate ``lr`` satisfies the
    step-size condition of ``optimizer``'s registered bound (``batchsteps.train.spec(o).bound``;
    ``"sgd"``: :math:`\alpha < 2/L`; ``"momentum"``: :math:`\alpha < 2(1-\beta)^2/(L(1+\beta))`,
    at ``hyper`` over the optimizer's defaults, checked as ``spec(optimizer).resolve`` does),
    solved with sympy from ``Bound.conditions``.
    ``nan`` for an optimizer without a bound or whose condition is not on :math:`\alpha` alone.
    The bound holds at ``lr`` only if the problem's :math:`L` is below this value.

    >>> round(largest_smoothness("sgd", 0.5), 6)
    4.0
    """
    validation.positive("lr", lr)
    declared = spec(optimizer)
    values = declared.resolve(hyper)
    on_rate = (
        []
        if declared.bound is None
        else [c for c in bound(declared.bound).conditions if c.symbol == symbols.alpha]
    )
    if len(on_rate) != 1:
        return math.nan
    upper = on_rate[0].upper.subs(_hyper_symbols(values))
    if upper.free_symbols != {symbols.L}:
        return math.nan
    (limit,) = sp.solve(sp.Eq(upper, sp.nsimplify(lr)), symbols.L)
    return float(limit)


def comparison(
    measured: Measured, fits: Mapping[str, Mapping[str, object]], *, theory: bool = True
) -> pd.DataFrame:
    r"""One row per optimizer: the constant-rate fit's critical batch :math:`b^\star` and
    :math:`K_{\min}` with their intervals, the law the AIC prefers (``preferred_law``:
    ``"constant_lr"``, ``"tuned_lr"`` or ``"indistinguishable"``, see :func:`law_preference`;
    ``delta_aic`` the AIC of the constant-rate law minus the tuned-rate law's), the p-value of
    the constant-rate law's lack-of-fit test (``lack_of_fit_p``), how many runs reached the
    target, ran out of budget (censored) or diverged, the ratios of
    :math:`b^\star` and :math:`K_{\min}` to SGD's (measured), and
    the theory's ratios (:func:`theory_ratios`, the headline bounds';
    ``theory_critical_low``: the bottom of the band :func:`theory_band` allows for
    :math:`b^\star`, whose top is ``theory_critical_ratio``; ``nan`` where the theory makes
    none, and everywhere with ``theory=False``: for a target that is not the bounds'
    measure)."""
    validation.instance("measured", measured, Measured, "a Measured (see measure())")
    validation.mapping_of("fits", fits, what="the mapping fit_optimizers() returns")
    lr = measured.tuning.lr
    rows = []
    for o, by_law in fits.items():
        fit = by_law["constant_lr"]
        preference = law_preference(by_law)
        ratios, low = (math.nan, math.nan), math.nan
        if theory:  # sympy limits: only where the table shows them
            ratios = theory_ratios(o, lr[o], lr.get("sgd", lr[o]))
            low = theory_band(o, lr[o], lr.get("sgd", lr[o]))[0]
        rows.append(
            {
                "optimizer": o,
                "lr": lr[o],
                "critical_batch": fit.critical_batch,
                "critical_low": fit.ci["critical_batch"][0],
                "critical_high": fit.ci["critical_batch"][1],
                "min_steps": fit.min_steps,
                "min_steps_low": fit.ci["min_steps"][0],
                "min_steps_high": fit.ci["min_steps"][1],
                "preferred_law": preference.law,
                "delta_aic": preference.delta_aic,
                "lack_of_fit_p": _lack_of_fit_p(fit),
                "runs_reached": int(fit.counts["reached"].sum()),
                "runs_budget": int(fit.counts["budget"].sum()),
                "runs_diverged": int(fit.counts["diverged"].sum()),
                "theory_critical_low": low,
                "theory_critical_ratio": ratios[0],
                "theory_steps_ratio": ratios[1],
            }
        )
    table = pd.DataFrame(rows).set_index("optimizer")
    if "sgd" in table.index:
        table["critical_ratio"] = table["critical_batch"] / table.loc["sgd", "critical_batch"]
        table["steps_ratio"] = table["min_steps"] / table.loc["sgd", "min_steps"]
    else:
        table["critical_ratio"] = table["steps_ratio"] = math.nan
    return table


#: The verdict on a claim about the constant-rate pole when the data do not show that law.
NOT_SUPPORTED = "not supported by these data"


def pole_shown(by_law: Mapping[str, object]) -> tuple[bool, str]:
    """Whether the runs of one curve show the constant-rate law's pole, and why: that law
    preferred by the AIC by at least ``AIC_MARGIN`` (``by_law``: ``{"constant_lr": Fit,
    "tuned_lr": Fit}``, see :func:`~batchsteps.analysis.law_preference`) and not rejected by
    its lack-of-fit test at ``LACK_OF_FIT_LEVEL``; else the reason in words. Where it is not
    shown, a fitted :math:`b^\\star` and its interval describe the closest curve of that
    shape, not a pole of the data."""
    preference = law_preference(by_law)
    if preference.law == "tuned_lr":
        return False, (
            f"the tuned-rate law, which has no pole, fits better (ΔAIC = "
            f"{preference.delta_aic:.3g} >= {AIC_MARGIN:g})"
        )
    if preference.law == "indistinguishable":
        return False, (
            f"the constant-rate law is not preferred to the tuned-rate law, which has no pole "
            f"(|ΔAIC| = {abs(preference.delta_aic):.2g} < {AIC_MARGIN:g})"
        )
    p_value = _lack_of_fit_p(by_law["constant_lr"])
    if math.isfinite(p_value) and p_value < LACK_OF_FIT_LEVEL:
        return False, (
            f"the constant-rate law misses the medians by more than the seeds scatter "
            f"(lack-of-fit p = {p_value:.2g} < {LACK_OF_FIT_LEVEL:g})"
        )
    return True, f"constant-rate law preferred (ΔAIC = {-preference.delta_aic:.3g})"


def _lack_of_fit_p(fit: object) -> float:
    """The p-value of a fit's lack-of-fit test (``nan`` where it has no degrees of freedom)."""
    return float(fit.lack_of_fit.p_value)


def _claim_one(fit, b_min: float, b_max: float) -> tuple[str, str]:
    low, high = fit.ci["critical_batch"]
    if not (math.isfinite(low) and math.isfinite(high)):
        return "undecided", "no interval for b*"
    if low < b_min:
        return "undecided", f"b* interval reaches below the smallest batch {b_min:g}"
    if high > b_max / 4:
        text = f"b* interval reaches {high:.3g}: no saturation two doublings below {b_max:g}"
        return "fails", text
    table = per_batch(fit.batch_sizes, fit.steps)
    beyond = table[table["batch_size"] >= high]
    first, last = beyond.iloc[0], beyond.iloc[-1]
    fall = first["median"] / last["median"]
    least, most = first["low"] / last["high"], first["high"] / last["low"]
    text = (
        f"from b = {first['batch_size']:g} to {last['batch_size']:g} "
        f"({last['batch_size'] / first['batch_size']:g}x the batch) median steps fall "
        f"{fall:.2f}x (between {least:.2f}x and {most:.2f}x by the medians' intervals)"
    )
    if most <= 2.0:
        return "holds", text
    return ("fails" if least > 2.0 else "undecided"), text


#: The paper's first claim, as :func:`verdicts` names it ...
CLAIM_ONE = "1: a critical batch exists"
#: ... and the two parts of its second.
CLAIM_TWO = ("2a: larger critical batch than SGD", "2b: fewer steps than SGD")
_TOO_FEW = "fewer than three batch sizes where a run reached the target: no fit"
#: The verdicts a claim can get, in the order :func:`summary` lists them.
VERDICTS = ("holds", "fails", "undecided", NOT_SUPPORTED)


def _order(mine: tuple[float, float], other: tuple[float, float], larger: bool) -> str:
    if mine[0] > other[1]:
        return "holds" if larger else "fails"
    if mine[1] < other[0]:
        return "fails" if larger else "holds"
    return "undecided"


def _floor_fit(by_law: Mapping[str, object]):
    """The fit whose :math:`K_{\\min}` judges claim 2b: the tuned-rate law's where the AIC
    prefers it, else the constant-rate law's (the law under test)."""
    return by_law["tuned_lr" if law_preference(by_law).law == "tuned_lr" else "constant_lr"]


def verdicts(measured: Measured, fits: Mapping[str, Mapping[str, object]]) -> pd.DataFrame:
    r"""The paper's two claims, judged per optimizer from the fits and their intervals.

    A claim about the constant-rate law's pole (claim 1, claim 2a) is judged only where the
    runs show that law: the AIC prefers it to the tuned-rate law (which has no pole) by at
    least ``AIC_MARGIN`` and its lack-of-fit test does not reject it (p >=
    ``LACK_OF_FIT_LEVEL``, where the test has degrees of freedom); otherwise the verdict is
    ``NOT_SUPPORTED``, with the reason as evidence (for 2a, the optimizer's or SGD's).

    Claim 1 (a critical batch exists past which steps barely fall): the interval of
    :math:`b^\star` must lie inside the measured range with two doublings to spare (else
    *fails* at the top, *undecided* at the bottom); then, from the first measured batch at or
    above the interval to the largest, the median steps may fall by at most a factor 2 (the
    law's own promise, :math:`K(b^\star) = 2K_{\min}`): *holds* if even the extreme ends of
    the two medians' intervals give at most 2, *fails* if even the nearest ends give more,
    *undecided* otherwise. Claim 2 (momentum and Adam-type reach it at larger batches and
    with fewer steps than SGD), two parts per optimizer: *holds* where the two intervals are
    disjoint in the claimed order, *fails* where disjoint the other way, *undecided* where
    they overlap. Claim 2b compares :math:`K_{\min}`, which both laws have: each optimizer's
    from the tuned-rate law where the AIC prefers it, else from the constant-rate law.
    Returns rows ``claim, optimizer, verdict, evidence``; verdicts are ``VERDICTS``.
    """
    validation.instance("measured", measured, Measured, "a Measured (see measure())")
    b_min, b_max = min(measured.experiment.batch_sizes), max(measured.experiment.batch_sizes)
    shown = {o: pole_shown(by_law) for o, by_law in fits.items()}
    rows = []
    for o in measured.experiment.optimizers:
        if o not in fits:
            rows.append((CLAIM_ONE, o, "undecided", _TOO_FEW))
    for o, by_law in fits.items():
        if shown[o][0]:
            verdict, text = _claim_one(by_law["constant_lr"], b_min, b_max)
            rows.append((CLAIM_ONE, o, verdict, f"{shown[o][1]}; {text}"))
        else:
            rows.append((CLAIM_ONE, o, NOT_SUPPORTED, shown[o][1]))
    base = fits.get("sgd")
    for o in measured.experiment.optimizers:
        if o != "sgd" and (o not in fits or base is None):
            for claim in CLAIM_TWO:
                rows.append((claim, o, "undecided", _TOO_FEW))
    for o, by_law in fits.items():
        if o == "sgd" or base is None:
            continue
        fit, other = by_law["constant_lr"], base["constant_lr"]
        claim, name = CLAIM_TWO[0], "critical_batch"
        if not (shown[o][0] and shown["sgd"][0]):
            why = shown[o][1] if not shown[o][0] else f"for SGD: {shown['sgd'][1]}"
            rows.append((claim, o, NOT_SUPPORTED, why))
        else:
            mine, theirs = fit.ci[name], other.ci[name]
            text = f"{o} [{mine[0]:.3g}, {mine[1]:.3g}] vs SGD [{theirs[0]:.3g}, {theirs[1]:.3g}]"
            rows.append((claim, o, _order(mine, theirs, True), text))
        fit, other = _floor_fit(by_law), _floor_fit(base)
        mine, theirs = fit.ci["min_steps"], other.ci["min_steps"]
        text = (
            f"{o} [{mine[0]:.3g}, {mine[1]:.3g}] ({fit.law}) vs SGD "
            f"[{theirs[0]:.3g}, {theirs[1]:.3g}] ({other.law})"
        )
        rows.append((CLAIM_TWO[1], o, _order(mine, theirs, False), text))
    return pd.DataFrame(rows, columns=["claim", "optimizer", "verdict", "evidence"])


# The step budget's own pole


@dataclass(frozen=True)
class BudgetArtefact:
    r"""What a step budget alone does to the constant-rate fit.

    Runs of a curve *without* a pole, :math:`K(b) = S_{\min}(1 + B_{\mathrm{noise}}/b)` times
    log-normal seed scatter (standard deviation ``scatter`` of :math:`\log K`), stopped at
    ``max_steps`` like the measured runs (a run that would need more is not reached, reason
    ``"max_steps"``), and both laws fitted to them exactly as the measurements are
    (``fits``). ``budget_pole`` is where the pole-free curve crosses the budget,
    :math:`S_{\min}B_{\mathrm{noise}}/(\text{max\_steps} - S_{\min})`: below it the median
    run cannot finish, so a fitted pole near it may be the budget's, not the optimizer's.
    """

    min_steps: float
    noise_scale: float
    scatter: float
    max_steps: int
    budget_pole: float
    frame: pd.DataFrame = field(repr=False)
    fits: Mapping[str, object] | None = field(repr=False)

    @property
    def preference(self) -> Preference | None:
        """The law the AIC prefers on the cut curve (``None`` when it could not be fitted)."""
        return None if self.fits is None else law_preference(self.fits)


def budget_artefact(
    min_steps: float,
    noise_scale: float,
    *,
    batch_sizes: tuple[int, ...],
    seeds: int,
    max_steps: int,
    scatter: float,
    n_boot: int = 200,
    seed: int | np.random.Generator = 0,
) -> BudgetArtefact:
    r"""Simulate a pole-free curve cut at a step budget and fit both laws to it.

    ``min_steps`` :math:`S_{\min}` and ``noise_scale`` :math:`B_{\mathrm{noise}}` (> 0) give
    the curve :math:`S_{\min}(1 + B_{\mathrm{noise}}/b)` at ``batch_sizes`` (at least three
    distinct integers >= 1); ``seeds`` runs per batch size with :math:`\log K` scattered by
    ``scatter`` (>= 0, drawn from ``numpy``'s generator seeded by ``seed``, an integer >= 0, or
    from the ``numpy.random.Generator`` given); ``max_steps`` the budget; ``n_boot`` >= 0
    parameter draws per fit. Returns a :class:`BudgetArtefact`.

    >>> art = budget_artefact(100.0, 16.0, batch_sizes=(2, 4, 8, 16, 32, 64), seeds=3,
    ...                       max_steps=500, scatter=0.0, n_boot=0)
    >>> round(art.budget_pole, 3), int((~art.frame["reached"]).sum())
    (4.0, 3)
    """
    min_steps = validation.positive("min_steps", min_steps)
    validation.positive("noise_scale", noise_scale)
    size = functools.partial(validation.integer, low=1)
    # three batch sizes at least: fewer can never be fitted
    batch_sizes = tuple(
        validation.sequence_of("batch_sizes", batch_sizes, size, min_size=3, distinct=True)
    )
    validation.real("scatter", scatter, low=0)
    validation.integer("seeds", seeds, low=1)
    validation.integer("max_steps", max_steps, low=1)
    validation.integer("n_boot", n_boot, low=0)
    if max_steps <= min_steps:
        allowed = f"> min_steps={min_steps:g} (else no run finishes)"
        raise validation.value_error("max_steps", max_steps, allowed)
    rng = validation.generator("seed", seed)
    sizes = np.repeat(np.asarray(batch_sizes, dtype=float), seeds)
    steps = np.ceil(
        min_steps * (1 + noise_scale / sizes) * np.exp(scatter * rng.standard_normal(sizes.size))
    )
    reached = steps <= max_steps
    frame = pd.DataFrame(
        {
            "optimizer": "pole-free",
            "batch_size": sizes.astype(int),
            "seed": np.tile(np.arange(seeds), len(batch_sizes)),
            "steps": np.where(reached, steps, -1).astype(int),
            "reached": reached,
            "reason": np.where(reached, "reached", "max_steps"),
            "max_steps": int(max_steps),
        }
    )
    pole = min_steps * noise_scale / (max_steps - min_steps)
    return BudgetArtefact(
        float(min_steps), float(noise_scale), float(scatter), int(max_steps), float(pole),
        frame, fit_runs(frame, n_boot),
    )  # fmt: skip


def budget_table(measured: Measured, fits: Mapping[str, Mapping[str, object]]) -> pd.DataFrame:
    r"""Per optimizer: the measured constant-rate fit's pole :math:`b_0` with its interval and
    the law the AIC prefers, beside what the step budget alone would produce: the tuned-rate
    fit of the same runs (a curve without a pole) simulated with the same batch sizes, seeds,
    seed scatter (its RMSE of :math:`\log K`) and budget (:func:`budget_artefact`), fitted
    the same way. Columns: ``measured_b0``, ``measured_b0_low``, ``measured_b0_high``,
    ``measured_prefers``, ``budget_pole``, ``artefact_b0``, ``artefact_critical``,
    ``artefact_prefers``. A measured :math:`b_0` close to the artefact's says the budget
    alone could have made that pole."""
    validation.instance("measured", measured, Measured, "a Measured (see measure())")
    validation.mapping_of("fits", fits, what="the mapping fit_optimizers() returns")
    exp = measured.experiment
    rows = []
    for o, by_law in fits.items():
        constant, tuned = by_law["constant_lr"], by_law["tuned_lr"]
        runs = measured.frame[measured.frame["optimizer"] == o]
        art = budget_artefact(
            tuned.min_steps, tuned.params["noise_scale"], batch_sizes=exp.batch_sizes,
            seeds=len(exp.seeds), max_steps=int(runs["max_steps"].max()),
            scatter=tuned.rmse_log, n_boot=exp.n_boot,
        )  # fmt: skip
        fitted = art.fits["constant_lr"] if art.fits is not None else None
        rows.append(
            {
                "optimizer": o,
                "measured_b0": constant.params["min_batch"],
                "measured_b0_low": constant.ci["min_batch"][0],
                "measured_b0_high": constant.ci["min_batch"][1],
                "measured_prefers": law_preference(by_law).law,
                "budget_pole": art.budget_pole,
                "artefact_b0": math.nan if fitted is None else fitted.params["min_batch"],
                "artefact_critical": math.nan if fitted is None else fitted.critical_batch,
                "artefact_prefers": "no fit" if art.fits is None else art.preference.law,
            }
        )
    return pd.DataFrame(rows).set_index("optimizer")
