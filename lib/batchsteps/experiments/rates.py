r"""Learning rates around the rule: one optimizer's curve at several constant rates
(:func:`rate_sweep`), and sweeps with the rate tuned per batch size (:func:`tuned_sweep`).

With the rate tuned per batch size, the steps should follow
:math:`K(b) = S_{\min}(1 + B_{\text{noise}}/b)`, a curve without a pole; at one constant rate
the constant-rate law :math:`K_{\min} b/(b - b_0)` may fit, with a pole that moves with the
rate.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from .. import validation
from ..analysis import TunedSweep, best_rate, law_preference
from ..environment import show_progress
from ..train import Target, Workload, parse_target, sweep
from .compare import fit_runs
from .running import Measured, check_measured, measure_curves, store_folder, worker_pool
from .text import interval_text

__all__ = ["RATE_FACTORS", "RateSweep", "rate_sweep", "DEFAULT_SEEDS", "tuned_sweep"]


#: The constant rates :func:`rate_sweep` measures, as multiples of the tuned one.
RATE_FACTORS = (0.5, 1.0, 2.0)


@dataclass(frozen=True)
class RateSweep:
    r"""One optimizer's constant-rate curves at several rates, and the curve tuned among them.

    ``frame``: the runs (a sweep frame, one row per run, with ``lr``); ``rates``: the rates,
    ascending; ``fits``: rate -> ``{law: Fit}`` (absent where fewer than three batch sizes had
    every run reach); ``tuned``: the runs of the best of these rates at each batch size
    (:func:`batchsteps.analysis.best_rate`), ``tuned_fits`` both laws fitted to them (the
    rate tuned per batch size, coarsely: among ``rates`` only); ``seconds``: compute time of
    the cells at the added rates, as measured when they ran, ``cached`` how many of those
    cells this call read from the store, and ``wall`` the seconds this call took.
    """

    optimizer: str
    measure: str
    rates: tuple[float, ...]
    frame: pd.DataFrame = field(repr=False)
    fits: Mapping[float, Mapping[str, object]] = field(repr=False)
    tuned: pd.DataFrame = field(repr=False)
    tuned_fits: Mapping[str, object] | None = field(repr=False)
    seconds: float
    cached: int
    wall: float

    def table(self) -> pd.DataFrame:
        r"""One row per rate (and ``"tuned per b"``): :math:`b_0`, :math:`b^\star` and
        :math:`K_{\min}` of the constant-rate law with intervals, the law the AIC prefers,
        and how many runs reached the target, ran out of budget or diverged."""
        rows = []
        for rate in self.rates:
            runs = self.frame[self.frame["lr"] == rate]
            rows.append(_rate_row(f"{rate:g}", runs, self.fits.get(rate)))
        rows.append(_rate_row("tuned per b", self.tuned, self.tuned_fits))
        return pd.DataFrame(rows).set_index("rate")


def _rate_row(name: str, runs: pd.DataFrame, by_law: Mapping[str, object] | None) -> dict:
    reasons = runs["reason"].value_counts()
    row = {
        "rate": name,
        "reached": int(reasons.get("reached", 0)),
        "out of budget": int(reasons.get("max_steps", 0)),
        "diverged": int(reasons.get("diverged", 0)),
    }
    if by_law is None:
        return row | {"AIC prefers": "no fit (fewer than 3 batch sizes reached)"}
    fit = by_law["constant_lr"]
    return row | {
        "b0 [95%]": interval_text(fit.params["min_batch"], *fit.ci["min_batch"]),
        "b* [95%]": interval_text(fit.critical_batch, *fit.ci["critical_batch"]),
        "K_min [95%]": interval_text(fit.min_steps, *fit.ci["min_steps"]),
        "AIC prefers": law_preference(by_law).text,
    }


def rate_sweep(
    measured: Measured,
    optimizer: str = "sgd",
    measure_name: str = "loss",
    factors: tuple[float, ...] = RATE_FACTORS,
    store: str | os.PathLike | None = None,
) -> RateSweep:
    r"""``optimizer``'s constant-rate curve to one target at several rates: the rate
    :func:`tune_rates` chose times each of ``factors`` (default ``RATE_FACTORS``: half, the
    same, double), same batch sizes, seeds, budget and skip rule as ``measured``; the curve
    at the chosen rate is ``measured``'s own, the others are run (or read from the store).
    Both laws are fitted to each, and to the best of these rates per batch size. Returns a
    :class:`RateSweep`.
    """
    check_measured(measured, measure_name)
    what = "an optimizer that was measured"
    validation.one_of("optimizer", optimizer, measured.experiment.optimizers, what)
    validation.sequence_of("factors", factors, validation.positive)
    exp, lr = measured.experiment, measured.tuning.lr[optimizer]
    start = time.perf_counter()
    folder = str(store_folder(exp, store) / "sweep")
    rates = sorted({round(lr * f, 10) for f in factors})
    others = [(optimizer, rate) for rate in rates if rate != lr]
    pool = worker_pool(dataclasses.replace(exp, workers=min(exp.workers, len(others))))
    try:
        label = f"{exp.name}: {optimizer} at other rates"
        done = measure_curves(pool, exp, others, [measure_name], folder, label)
    finally:
        if pool is not None:
            pool.shutdown()
    own = measured.runs(optimizer, measure_name)
    added = [c[measure_name][0] for c in done]
    frame = pd.concat([own, *added], ignore_index=True)
    frame = frame[frame["lr"].isin(rates)].reset_index(drop=True)
    fits = {}
    for rate in rates:
        both = fit_runs(frame[frame["lr"] == rate], exp.n_boot)
        if both is not None:
            fits[rate] = both
    tuned = best_rate(frame).drop(columns=["lr_at_edge", "n_rates"])
    cells = pd.concat(added).drop_duplicates(["batch_size", "lr"]) if added else frame.iloc[:0]
    seconds = float(cells["wall_time"].sum())
    cached = int(cells["cached"].astype(bool).sum())
    return RateSweep(
        optimizer, measure_name, tuple(rates), frame, MappingProxyType(fits), tuned,
        fit_runs(tuned, exp.n_boot), seconds, cached, time.perf_counter() - start,
    )  # fmt: skip


#: Seeds per cell of :func:`tuned_sweep` unless told otherwise: with 2 seeds the 95% intervals
#: of a tuned-rate fit covered the truth 81.5% of the time in simulation; 5 is the fewest the
#: book's fits are calibrated for.
DEFAULT_SEEDS = 5


def tuned_sweep(
    workload: str | Workload,
    optimizer: str,
    lrs: Mapping[int, Sequence[float]],
    *,
    seeds: Sequence[int] | int = DEFAULT_SEEDS,
    target: str,
    max_steps: int,
    device: str | None = None,
    store: str | None = None,
    progress: bool | None = None,
    executor: Any = None,
    check_every: int | None = None,
    **hyper: float,
) -> TunedSweep:
    r"""Steps to ``target`` at every batch size of ``lrs`` (a mapping batch size, an integer
    >= 1 -> a non-empty sequence of rates > 0, as :func:`~batchsteps.analysis.rate_grid`
    gives) for ``optimizer`` (one registered name), each rate run for all ``seeds`` with
    :func:`batchsteps.train.sweep`, then the best rate per batch size
    (:func:`~batchsteps.analysis.best_rate`).

    ``target`` is one string (not a list: the best rate is chosen for one target) naming a
    full-training-set measure and a threshold:
    ``"loss<=x"`` (training loss at most x), ``"grad_norm_sq<=x"`` (squared gradient norm, the
    theory's measure) or ``"accuracy>=x"`` (training accuracy at least x), x a finite number;
    a run's steps are the first step at which the engine's checks found it held: its first
    passage where a check follows every step (``check_every=1``, or by default a loss target
    on a small MLP of ``Linear`` and ``ReLU`` layers, see
    :func:`~batchsteps.train.measure_steps`), else never earlier than the first passage and
    later where the measure hovers about the target (:class:`~batchsteps.train.StepsResult`).
    ``max_steps`` is the step budget
    of every run (a run that has not met the target by then is not reached, reason
    ``"max_steps"``). ``seeds``: a number of seeds (``0 .. seeds-1``) or a list of them,
    default :data:`DEFAULT_SEEDS` (with fewer, the fits' intervals cover the truth less often
    than they claim: :func:`~batchsteps.analysis.coverage_table` measures it). ``progress``:
    one progress bar over all cells (``tqdm.auto``: a widget in Jupyter, text in a terminal);
    ``None`` shows it everywhere but in the book's build. ``store`` (a folder) makes a rerun
    read finished cells. ``executor`` (a ``concurrent.futures.Executor`` or a Dask
    ``Client``) runs the cells in parallel, as :func:`batchsteps.train.sweep` does; batch
    sizes that share their rates go to it together. ``device``, ``check_every`` and ``hyper``
    (the optimizer's hyperparameters) are :func:`batchsteps.train.sweep`'s.

    Returns a :class:`~batchsteps.analysis.TunedSweep`.
    """
    validation.string("optimizer", optimizer, nonempty=True)
    validation.mapping_of("lrs", lrs, what="a mapping batch size -> list of rates")
    grid = {
        validation.integer("a batch size of lrs", b, low=1): tuple(
            validation.sequence_of(f"lrs[{b!r}]", rates, validation.positive)
        )
        for b, rates in lrs.items()
    }
    validation.instance("target", target, (str, Target), "one target, e.g. 'loss<=0.1'")
    parse_target(target)
    shown = show_progress(progress)
    common = dict(seeds=seeds, target=target, max_steps=max_steps, store=store, device=device)
    common["check_every"] = check_every
    common |= {"progress": False, **hyper}
    cells = sum(len(r) for r in grid.values())
    start = time.perf_counter()
    parts = []
    groups: dict[tuple[float, ...], list[int]] = {}
    for b, rates in grid.items():
        groups.setdefault(rates, []).append(b)
    with tqdm(total=cells, desc=f"{optimizer}, tuned rate", unit="cell", disable=not shown) as bar:
        for rates, sizes in groups.items():
            bar.set_postfix_str(f"b={', '.join(map(str, sizes))}", refresh=False)
            parts.append(
                sweep(workload, optimizer, sizes, lr=list(rates), executor=executor, **common)
            )
            bar.update(len(rates) * len(sizes))
    runs = pd.concat(parts, ignore_index=True)
    wall = time.perf_counter() - start
    return TunedSweep(runs, best_rate(runs), grid, wall, cells)
