r"""The book's experiments in one place: configurations per scale, the shared Part II sweep.

Part II measures the steps :math:`K(b)` to a target against the batch size :math:`b` for
several optimizers, each at one constant learning rate, and confronts the fitted laws with
the theory. Several chapters show parts of the same measurement, so it is defined here once:

- :func:`experiment` gives the configuration of an experiment (``"digits"``, ``"fashion"``,
  ``"cifar"``) at a scale: ``"book"`` (the default: sized so the book builds on two CPU
  cores) or ``"full"`` (paper scale, for a GPU), read from the environment variable
  ``BATCHSTEPS_SCALE`` unless given;
- :func:`tune` applies the book's learning-rate rule: on a factor-2 grid, the rate with the
  fewest steps to the loss target at one large batch size, halved;
- :func:`measure` runs (or reads from the result store) the whole sweep of an experiment:
  every optimizer at its tuned rate, every batch size, every target;
- :func:`fit_laws`, :func:`comparison` and :func:`verdicts` turn it into the fits, the table
  of measured critical batches and minimal steps beside the theory's prediction, and a
  verdict on each of the paper's two claims computed from the intervals.

The result store is a folder of JSON cells (see :func:`batchsteps.train.sweep`); by default
``_build/stores/<scale>/`` under the book's root, or the folder named by ``BATCHSTEPS_STORE``.
A chapter that finds the cells computed by another chapter of the same build reads them.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
import time
from collections.abc import Mapping
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .analysis.recipe import AIC_MARGIN, Preference, law_preference
from .environment import STORE_ENV, show_progress, store_root

__all__ = [
    "SCALES",
    "SCALE_ENV",
    "STORE_ENV",
    "EXPERIMENTS",
    "Experiment",
    "Tuning",
    "Cost",
    "Measured",
    "current_scale",
    "experiment",
    "store_folder",
    "tune",
    "measure",
    "fit_laws",
    "comparison",
    "theory_ratios",
    "largest_smoothness",
    "verdicts",
    "AIC_MARGIN",
    "NOT_SUPPORTED",
    "LACK_OF_FIT_LEVEL",
    "VERDICTS",
    "Preference",
    "law_preference",
    "RATE_FACTORS",
    "RateSweep",
    "rate_sweep",
    "BudgetArtefact",
    "budget_artefact",
    "budget_table",
    "budget_verdict",
    "theory_check",
    "left_end",
    "left_end_summary",
    "initial_values",
    "present",
    "summary",
]

#: The scales of the book's experiments.
SCALES = ("book", "full")
#: Environment variable choosing the scale (``book`` when unset or empty).
SCALE_ENV = "BATCHSTEPS_SCALE"
#: The experiments, in the order of the book.
EXPERIMENTS = ("digits", "fashion", "cifar")

#: The optimizers of the book-scale digits sweep (all of them at full scale).
_BOOK_OPTIMIZERS = ("sgd", "momentum", "adam")
_HEAVY_BALL = ("momentum", "nesterov")


def _grid(start: float, count: int) -> tuple[float, ...]:
    return tuple(round(start * 2.0**i, 10) for i in range(count))


_LR_GRIDS = {
    "sgd": _grid(0.1, 6),
    "momentum": _grid(0.02, 6),
    "nesterov": _grid(0.02, 6),
    "adam": _grid(0.002, 6),
    "amsgrad": _grid(0.002, 6),
    "rmsprop": _grid(0.001, 6),
    "adabelief": _grid(0.002, 6),
}


@dataclass(frozen=True, eq=False)
class Experiment:
    r"""Everything that determines one experiment's measurements at one scale.

    ``targets`` maps a measure (``"grad_norm_sq"``: :math:`\|\nabla f\|^2 \le \varepsilon^2`,
    the theory's measure; ``"loss"``: the practitioner's) to the engine's target text.
    Learning rates come from :func:`tune`: for each optimizer the grid ``lr_grid[o]`` is run at
    ``tune_batch`` with ``tune_seeds`` to ``tune_target`` (at most ``tune_max_steps`` steps);
    the fastest rate (fewest median steps; the smallest rate within ``tune_tolerance`` of the
    fewest) is halved. ``skip_after``: the batch sizes are swept from the largest down, and
    once that many consecutive batch sizes had no run reach the target the smaller ones are
    not run (the law says they cannot do better); ``None`` runs every cell. ``workers``:
    processes running curves in parallel; ``n_boot``: bootstrap resamples of each fit.
    """

    name: str
    scale: str
    workload: str
    workload_options: Mapping[str, object]
    optimizers: tuple[str, ...]
    batch_sizes: tuple[int, ...]
    seeds: tuple[int, ...]
    targets: Mapping[str, str]
    max_steps: int
    lr_grid: Mapping[str, tuple[float, ...]]
    tune_batch: int
    tune_seeds: tuple[int, ...]
    tune_target: str
    tune_max_steps: int
    tune_tolerance: float
    skip_after: int | None
    workers: int
    n_boot: int
    device: str | None = None

    def table(self) -> pd.DataFrame:
        """The configuration as a one-column table (for a page)."""
        rows = {
            "workload": " ".join(
                [self.workload, *(f"{k}={v}" for k, v in self.workload_options.items())]
            ),
            "optimizers": ", ".join(self.optimizers),
            "batch sizes": ", ".join(map(str, self.batch_sizes)),
            "seeds per cell": len(self.seeds),
            "targets": "; ".join(self.targets.values()),
            "max steps": self.max_steps,
            "rate tuned at batch": self.tune_batch,
            "tuning seeds": len(self.tune_seeds),
            "skip after misses": "never" if self.skip_after is None else self.skip_after,
            "bootstrap resamples": self.n_boot,
            "worker processes": self.workers,
        }
        return pd.DataFrame({self.scale: pd.Series(rows, dtype=object)})


def current_scale(value: str | None = None) -> str:
    """The scale: ``value`` if given, else ``$BATCHSTEPS_SCALE``, else ``"book"``.

    >>> current_scale("full")
    'full'
    """
    given = value if value is not None else (os.environ.get(SCALE_ENV) or "book")
    if not isinstance(given, str):
        raise TypeError(f"scale={given!r} must be a str; allowed: {', '.join(SCALES)}")
    text = given.strip().lower()
    if text not in SCALES:
        where = "scale" if value is not None else f"${SCALE_ENV}"
        raise ValueError(f"{where}={given!r} is not a known scale; allowed: {', '.join(SCALES)}")
    return text


def _workers(limit: int) -> int:
    return max(1, min(limit, os.cpu_count() or 1))


def experiment(name: str = "digits", scale: str | None = None) -> Experiment:
    r"""The configuration of experiment ``name`` (one of :data:`EXPERIMENTS`) at a scale.

    ``scale``: ``"book"`` or ``"full"``; ``None`` reads ``$BATCHSTEPS_SCALE``. The
    ``"cifar"`` experiment (ResNet-20 on CIFAR-10) exists only at full scale.

    >>> experiment("digits", "book").batch_sizes
    (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
    """
    if not isinstance(name, str) or name not in EXPERIMENTS:
        raise ValueError(f"name={name!r} is not a known experiment; allowed: {EXPERIMENTS}")
    level = current_scale(scale)
    full = level == "full"
    if name == "cifar" and not full:
        raise ValueError(
            f"name='cifar' runs only at scale 'full' (got scale {level!r}): set {SCALE_ENV}=full"
        )
    common = {
        "name": name,
        "scale": level,
        "lr_grid": dict(_LR_GRIDS),
        "tune_tolerance": 0.1,
        "skip_after": None if full else 2,
        "n_boot": 1000 if full else 200,
    }
    if name == "digits":
        return Experiment(
            workload="digits-mlp",
            workload_options={},
            optimizers=tuple(_LR_GRIDS) if full else _BOOK_OPTIMIZERS,
            batch_sizes=tuple(2**k for k in range(0 if full else 1, 13 if full else 11)),
            seeds=tuple(range(16 if full else 5)),
            targets={"grad_norm_sq": "grad_norm_sq<=0.001", "loss": "loss<=0.1"},
            max_steps=10_000 if full else 2000,
            tune_batch=256,
            tune_seeds=tuple(range(4 if full else 2)),
            tune_target="loss<=0.1",
            tune_max_steps=1000 if full else 400,
            workers=_workers(4 if full else 2),
            **common,
        )
    if name == "fashion":
        return Experiment(
            workload="fashion-mnist-mlp",
            workload_options={} if full else {"n_train": 5000, "hidden": 16},
            optimizers=tuple(_LR_GRIDS) if full else ("sgd", "momentum", "adam"),
            batch_sizes=tuple(2**k for k in range(1 if full else 2, 13 if full else 9)),
            seeds=tuple(range(8 if full else 3)),
            targets={"loss": "loss<=0.6"},
            max_steps=20_000 if full else 1500,
            tune_batch=256,
            tune_seeds=tuple(range(2 if full else 1)),
            tune_target="loss<=0.6",
            tune_max_steps=2000 if full else 500,
            workers=_workers(4 if full else 2),
            **common,
        )
    return Experiment(
        workload="cifar10-resnet20",
        workload_options={},
        optimizers=("sgd", "momentum", "adam"),
        batch_sizes=tuple(2**k for k in range(4, 13)),
        seeds=tuple(range(4)),
        targets={"accuracy": "accuracy>=0.8"},
        max_steps=40_000,
        tune_batch=1024,
        tune_seeds=(0,),
        tune_target="accuracy>=0.8",
        tune_max_steps=4000,
        workers=1,
        device="cuda",
        **common,
    )


def store_folder(exp: Experiment, store: str | os.PathLike | None = None) -> Path:
    """Folder of ``exp``'s result cells: ``store`` if given, else ``$BATCHSTEPS_STORE``, else
    the user's cache folder (:func:`batchsteps.environment.store_root`); then
    ``/<scale>/<name>``. The book's build keeps its store in ``_build/stores``."""
    return store_root(store) / exp.scale / exp.name


# ---------------------------------------------------------------------------------------------
# Running: one curve (optimizer x target) per task, batch sizes from the largest down


_WORKLOADS: dict[str, object] = {}


def _workload(exp: Experiment):
    from .train import workload

    key = f"{exp.workload}:{sorted(exp.workload_options.items())}"
    if key not in _WORKLOADS:
        _WORKLOADS[key] = workload(exp.workload, **dict(exp.workload_options))
    return _WORKLOADS[key]


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def _tune_one(exp: Experiment, optimizer: str, folder: str) -> pd.DataFrame:
    from .train import sweep

    return sweep(
        _workload(exp), optimizer, [exp.tune_batch], lr=list(exp.lr_grid[optimizer]),
        seeds=list(exp.tune_seeds), target=exp.tune_target, max_steps=exp.tune_max_steps,
        store=folder, progress=False, device=exp.device,
    )  # fmt: skip


def _curve(
    exp: Experiment, optimizer: str, measure: str, lr: float, folder: str
) -> tuple[pd.DataFrame, list[int]]:
    """One optimizer's runs to one target, batch sizes from the largest down; the batch
    sizes skipped by the ``skip_after`` rule are returned beside the runs."""
    from .train import sweep

    frames, skipped, misses = [], [], 0
    for b in sorted(exp.batch_sizes, reverse=True):
        if exp.skip_after is not None and misses >= exp.skip_after:
            skipped.append(b)
            continue
        frame = sweep(
            _workload(exp), optimizer, [b], lr=lr, seeds=list(exp.seeds),
            target=exp.targets[measure], max_steps=exp.max_steps, store=folder,
            progress=False, device=exp.device,
        )  # fmt: skip
        frame.insert(0, "measure", measure)
        frames.append(frame)
        misses = 0 if frame["reached"].any() else misses + 1
    return pd.concat(frames, ignore_index=True), sorted(skipped)


def _pool(exp: Experiment):
    """A pool of ``exp.workers`` fresh processes (spawned: no state shared with a notebook's
    kernel), or ``None`` to run in this process."""
    if exp.workers <= 1:
        return None
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    try:
        context = mp.get_context("spawn")
        return ProcessPoolExecutor(exp.workers, mp_context=context, initializer=_init_worker)
    except (OSError, NotImplementedError):  # no process support here: run in this process
        return None


def _run_all(pool, tasks: list[tuple], function, label: str) -> list:
    """``function(*task)`` for every task, in the pool if any, in order; one progress bar over
    the tasks (``tqdm.auto``: a widget in Jupyter, text in a terminal, none in the book build)."""
    with tqdm(total=len(tasks), desc=label, disable=not show_progress(None)) as bar:
        if pool is None or len(tasks) <= 1:
            results = []
            for task in tasks:
                results.append(function(*task))
                bar.update()
            return results
        futures = [pool.submit(function, *task) for task in tasks]
        for _ in as_completed(futures):
            bar.update()
        return [f.result() for f in futures]


# ---------------------------------------------------------------------------------------------
# Tuning


@dataclass(frozen=True)
class Tuning:
    r"""The learning-rate rule applied: per optimizer and grid rate, the median steps to the
    tuning target at the tuning batch size (``inf`` where a seed did not reach it);
    ``fastest`` the rate with the fewest (the smallest within the tolerance), ``lr`` the rate
    used, :math:`\alpha = \alpha_{\mathrm{fast}}/2`."""

    table: pd.DataFrame
    fastest: Mapping[str, float]
    lr: Mapping[str, float]
    batch_size: int
    target: str


def _rule(table: pd.DataFrame, tolerance: float) -> tuple[float, float]:
    best = table["median_steps"].min()
    if not math.isfinite(best):
        raise RuntimeError(
            f"no rate on the grid {table['lr'].tolist()} reached the tuning target: widen it"
        )
    fastest = float(table.loc[table["median_steps"] <= (1 + tolerance) * best, "lr"].min())
    return fastest, fastest / 2.0


def tune(exp: Experiment, store: str | os.PathLike | None = None) -> Tuning:
    r"""Apply the book's learning-rate rule to every optimizer of ``exp``.

    For each rate :math:`\alpha` on the optimizer's factor-2 grid, train
    ``len(exp.tune_seeds)`` seeds at :math:`b =` ``exp.tune_batch`` to ``exp.tune_target``;
    :math:`\alpha_{\mathrm{fast}}` is the rate with the fewest median steps (all seeds must
    reach; the smallest rate within ``exp.tune_tolerance`` of the fewest), and the rate used is
    :math:`\alpha_{\mathrm{fast}}/2`. For SGD's bound the fewest steps as
    :math:`b \to \infty`, :math:`K_{\min} = 2\Delta/(\alpha(2 - L\alpha)\varepsilon^2)`, are
    reached at :math:`\alpha = 1/L`, half the rate :math:`2/L` beyond which gradient descent on
    a quadratic diverges: large-batch training is fastest near that edge, so halving it
    estimates the bound's best rate without knowing :math:`L`.
    """
    if not isinstance(exp, Experiment):
        raise TypeError(f"exp={exp!r} must be an Experiment (see experiment())")
    pool = _pool(exp)
    try:
        return _tune(exp, store, pool)
    finally:
        if pool is not None:
            pool.shutdown()


def _tune(exp: Experiment, store, pool) -> Tuning:
    folder = str(store_folder(exp, store) / "tuning")
    frames = _run_all(
        pool, [(exp, o, folder) for o in exp.optimizers], _tune_one, f"{exp.name}: tuning rates"
    )
    rows, fastest, chosen = [], {}, {}
    for o, frame in zip(exp.optimizers, frames, strict=True):
        for lr, group in frame.groupby("lr", sort=True):
            reached = bool(group["reached"].all())
            median = float(group["steps"].median()) if reached else math.inf
            rows.append((o, float(lr), median, int(group["reached"].sum()), len(group)))
    table = pd.DataFrame(rows, columns=["optimizer", "lr", "median_steps", "reached", "runs"])
    for o in exp.optimizers:
        fastest[o], chosen[o] = _rule(table[table["optimizer"] == o], exp.tune_tolerance)
    return Tuning(
        table, MappingProxyType(fastest), MappingProxyType(chosen), exp.tune_batch, exp.tune_target
    )


# ---------------------------------------------------------------------------------------------
# The sweep


@dataclass(frozen=True)
class Cost:
    r"""What a sweep cost: ``cells`` (optimizer x batch size x target, all seeds at once),
    ``cached`` of them read from the store, ``replica_steps`` (training steps summed over runs:
    the steps of runs that reached the target, ``max_steps`` for the others, an upper bound
    for diverged ones), ``sample_gradients`` (the same weighted by :math:`b`: the SFO cost),
    ``seconds`` (compute time of the cells when they ran, summed) and ``wall`` (seconds this
    call took, tuning included; small when everything came from the store)."""

    cells: int
    cached: int
    replica_steps: int
    sample_gradients: int
    seconds: float
    wall: float


def _cost(frame: pd.DataFrame, wall: float) -> Cost:
    steps = np.where(frame["reached"], frame["steps"], frame["max_steps"]).astype(np.int64)
    keys = ["measure", "optimizer", "batch_size", "lr"]
    cells = frame.drop_duplicates(keys)
    return Cost(
        cells=len(cells),
        cached=int(cells["cached"].sum()),
        replica_steps=int(steps.sum()),
        sample_gradients=int((steps * frame["batch_size"].to_numpy()).sum()),
        seconds=float(cells["wall_time"].sum()),
        wall=float(wall),
    )


@dataclass(frozen=True)
class Measured:
    """An experiment's measurements: ``frame`` (one row per run, the sweep's columns and
    ``measure``), ``skipped`` (``measure, optimizer, batch_size`` of the cells not run by the
    skip rule), the ``tuning`` that chose the rates, and the ``cost``."""

    experiment: Experiment
    tuning: Tuning
    frame: pd.DataFrame = field(repr=False)
    skipped: pd.DataFrame = field(repr=False)
    cost: Cost

    def runs(self, optimizer: str, measure: str) -> pd.DataFrame:
        """The runs of one optimizer to one target (``ValueError`` if not measured)."""
        rows = self.frame[
            (self.frame["optimizer"] == optimizer) & (self.frame["measure"] == measure)
        ]
        if rows.empty:
            raise ValueError(
                f"optimizer={optimizer!r}, measure={measure!r} was not measured; measured: "
                f"{self.experiment.optimizers} x {tuple(self.experiment.targets)}"
            )
        return rows


_MEMO: dict[tuple, Measured] = {}


def measure(
    name: str | Experiment = "digits",
    scale: str | None = None,
    store: str | os.PathLike | None = None,
) -> Measured:
    """Run (or read from the store) the whole sweep of experiment ``name`` (or of the
    :class:`Experiment` given): the learning-rate rule (:func:`tune`), then every optimizer at
    its rate to every target at every batch size (from the largest down, with the
    experiment's skip rule). Cells already in the store are read, not recomputed; within one
    process the result of a named experiment is also kept in memory."""
    exp = name if isinstance(name, Experiment) else experiment(name, scale)
    folder = store_folder(exp, store)
    key = (exp.name, exp.scale, str(folder))
    if not isinstance(name, Experiment) and key in _MEMO:
        return _MEMO[key]
    start = time.perf_counter()
    pool = _pool(exp)
    try:
        tuning = _tune(exp, store, pool)
        tasks = [
            (exp, o, m, tuning.lr[o], str(folder / "sweep"))
            for m in exp.targets
            for o in exp.optimizers
        ]
        results = _run_all(pool, tasks, _curve, f"{exp.name}: steps-vs-batch curves")
    finally:
        if pool is not None:
            pool.shutdown()
    frame = pd.concat([r[0] for r in results], ignore_index=True)
    skipped = pd.DataFrame(
        [(t[2], t[1], b) for t, r in zip(tasks, results, strict=True) for b in r[1]],
        columns=["measure", "optimizer", "batch_size"],
    )
    measured = Measured(exp, tuning, frame, skipped, _cost(frame, time.perf_counter() - start))
    _MEMO[key] = measured
    return measured


# ---------------------------------------------------------------------------------------------
# Fits, the comparison with the theory, verdicts


def _check_measured(measured: object, measure_name: object) -> None:
    if not isinstance(measured, Measured):
        raise TypeError(f"measured={measured!r} must be a Measured (see measure())")
    if measure_name not in measured.experiment.targets:
        raise ValueError(
            f"measure={measure_name!r} was not measured; allowed: "
            f"{', '.join(measured.experiment.targets)}"
        )


def initial_values(exp: Experiment, seeds: int = 5) -> dict[str, float]:
    r"""Median over the first ``seeds`` seeds of each measure of ``exp.targets`` at the
    starting point :math:`\theta_0` (full training set), e.g. the loss and the squared
    gradient norm before any step: what a target is a fraction of."""
    if not isinstance(exp, Experiment):
        raise TypeError(f"exp={exp!r} must be an Experiment (see experiment())")
    if isinstance(seeds, bool) or not isinstance(seeds, numbers.Integral) or seeds < 1:
        raise ValueError(f"seeds={seeds!r} must be an int >= 1")
    import torch

    from .train.engine import _device

    problem = _workload(exp).problem(_device(exp.device))
    with torch.no_grad():
        params = problem.init(list(range(int(seeds))))
        return {m: float(problem.measure(params, m).median()) for m in exp.targets}


def fit_laws(
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
    _check_measured(measured, measure_name)
    chosen = measured.experiment.optimizers if optimizers is None else tuple(optimizers)
    unknown = [o for o in chosen if o not in measured.experiment.optimizers]
    if unknown:
        raise ValueError(
            f"optimizers={optimizers!r}: {unknown[0]!r} was not measured; measured: "
            f"{', '.join(measured.experiment.optimizers)}"
        )
    frame = measured.frame[measured.frame["measure"] == measure_name]
    fits: dict[str, dict[str, object]] = {}
    for o in chosen:
        both = _fit_both(frame[frame["optimizer"] == o], measured.experiment.n_boot)
        if both is not None:
            fits[o] = both
    return fits


def _fit_both(runs: pd.DataFrame, n_boot: int) -> dict[str, object] | None:
    """Both laws fitted to one optimizer's runs (a sweep frame, censored at its budget), or
    ``None`` with fewer than three batch sizes where some run reached."""
    from .analysis import LAWS, fit_steps

    if runs.loc[runs["reached"], "batch_size"].nunique() < 3:
        return None
    (o,) = runs["optimizer"].unique()
    return {law: fit_steps(runs, law=law, n_boot=n_boot, seed=0)[o] for law in LAWS}


def theory_ratios(optimizer: str, lr: float, sgd_lr: float, **hyper: float) -> tuple[float, float]:
    r"""The theory's prediction of ``optimizer``'s critical batch and minimal steps relative to
    SGD's, same problem and target, each at its own rate, in the limit :math:`L\alpha \to 0`
    (where both bounds hold; :math:`L` of a network is not known).

    Heavy ball (``"momentum"``, coefficient :math:`\beta`, rate :math:`\alpha_m`; SGD at
    :math:`\alpha_s`): :math:`b^\star_m/b^\star_s \to \alpha_m/((1-\beta)^2\alpha_s)` and
    :math:`K_{\min,m}/K_{\min,s} \to (1-\beta)\alpha_s/\alpha_m`,
    computed from :func:`batchsteps.theory.bound`. ``"sgd"`` gives ``(1, 1)``. Other optimizers:
    ``(nan, nan)`` (Nesterov has no bound in the book; the Adam-type bound measures another
    quantity, so its constants do not compare with SGD's).

    >>> [round(v, 6) for v in theory_ratios("momentum", 0.1, 0.5, beta=0.9)]
    [20.0, 0.5]
    """
    for argument, value in (("lr", lr), ("sgd_lr", sgd_lr)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
            raise ValueError(f"{argument}={value!r} must be a positive real number")
    if optimizer == "sgd":
        return 1.0, 1.0
    if optimizer != "momentum":
        return math.nan, math.nan
    import sympy as sp

    from .theory import bound, symbols

    beta = float(hyper.get("beta", 0.9))
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta={beta!r} is outside the allowed range [0, 1)")
    S = symbols
    mine, base = bound("momentum"), bound("sgd")
    at_m = {S.alpha: sp.nsimplify(lr), S.beta: sp.nsimplify(beta)}
    at_s = {S.alpha: sp.nsimplify(sgd_lr)}
    ratios = []
    for name in ("critical_batch", "min_steps"):
        ratio = getattr(mine, name).subs(at_m) / getattr(base, name).subs(at_s)
        ratios.append(float(sp.limit(sp.simplify(ratio), S.L, 0)))
    return ratios[0], ratios[1]


def largest_smoothness(optimizer: str, lr: float, **hyper: float) -> float:
    r"""The largest smoothness constant :math:`L` for which rate ``lr`` satisfies the
    step-size condition of ``optimizer``'s bound (``"sgd"``: :math:`\alpha < 2/L`;
    ``"momentum"``: :math:`\alpha < 2(1-\beta)^2/(L(1+\beta))`), solved with sympy from
    :attr:`batchsteps.theory.Bound.conditions`. ``nan`` for an optimizer whose condition is
    not on :math:`\alpha`. The bound holds at ``lr`` only if the problem's :math:`L` is below
    this value.

    >>> round(largest_smoothness("sgd", 0.5), 6)
    4.0
    """
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not lr > 0:
        raise ValueError(f"lr={lr!r} must be a positive real number")
    if optimizer not in ("sgd", "momentum"):
        return math.nan
    import sympy as sp

    from .theory import bound, symbols

    (condition,) = bound(optimizer).conditions
    values = {symbols.beta: sp.nsimplify(float(hyper.get("beta", 0.9)))}
    (limit,) = sp.solve(sp.Eq(condition.upper.subs(values), sp.nsimplify(lr)), symbols.L)
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
    the theory's ratios (:func:`theory_ratios`; ``nan`` where it makes none, and everywhere
    with ``theory=False``: for a target that is not the bounds' measure)."""
    if not isinstance(measured, Measured):
        raise TypeError(f"measured={measured!r} must be a Measured (see measure())")
    if not isinstance(fits, Mapping) or not fits:
        raise TypeError(f"fits={fits!r} must be the mapping fit_laws() returns")
    lr = measured.tuning.lr
    rows = []
    for o, by_law in fits.items():
        fit = by_law["constant_lr"]
        preference = law_preference(by_law)
        hyper = {"beta": 0.9} if o in _HEAVY_BALL else {}
        ratios = theory_ratios(o, lr[o], lr.get("sgd", lr[o]), **hyper)
        ratios = ratios if theory else (math.nan, math.nan)
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
#: The smallest p-value of the lack-of-fit test at which a law still counts as fitting.
LACK_OF_FIT_LEVEL = 0.05


def _pole_shown(by_law: Mapping[str, object]) -> tuple[bool, str]:
    """Whether the runs show the constant-rate law's pole: that law preferred by the AIC by
    at least :data:`AIC_MARGIN` and not rejected by its lack-of-fit test; else why not."""
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
    from .analysis import per_batch

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


_CLAIM_ONE = "1: a critical batch exists"
_CLAIM_TWO = ("2a: larger critical batch than SGD", "2b: fewer steps than SGD")
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
    least :data:`AIC_MARGIN` and its lack-of-fit test does not reject it (p >=
    :data:`LACK_OF_FIT_LEVEL`, where the test has degrees of freedom); otherwise the verdict is
    :data:`NOT_SUPPORTED`, with the reason as evidence (for 2a, the optimizer's or SGD's).

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
    Returns rows ``claim, optimizer, verdict, evidence``; verdicts are :data:`VERDICTS`.
    """
    if not isinstance(measured, Measured):
        raise TypeError(f"measured={measured!r} must be a Measured (see measure())")
    b_min, b_max = min(measured.experiment.batch_sizes), max(measured.experiment.batch_sizes)
    shown = {o: _pole_shown(by_law) for o, by_law in fits.items()}
    rows = []
    for o in measured.experiment.optimizers:
        if o not in fits:
            rows.append((_CLAIM_ONE, o, "undecided", _TOO_FEW))
    for o, by_law in fits.items():
        if shown[o][0]:
            verdict, text = _claim_one(by_law["constant_lr"], b_min, b_max)
            rows.append((_CLAIM_ONE, o, verdict, f"{shown[o][1]}; {text}"))
        else:
            rows.append((_CLAIM_ONE, o, NOT_SUPPORTED, shown[o][1]))
    base = fits.get("sgd")
    for o in measured.experiment.optimizers:
        if o != "sgd" and (o not in fits or base is None):
            for claim in _CLAIM_TWO:
                rows.append((claim, o, "undecided", _TOO_FEW))
    for o, by_law in fits.items():
        if o == "sgd" or base is None:
            continue
        fit, other = by_law["constant_lr"], base["constant_lr"]
        claim, name = _CLAIM_TWO[0], "critical_batch"
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
        rows.append((_CLAIM_TWO[1], o, _order(mine, theirs, False), text))
    return pd.DataFrame(rows, columns=["claim", "optimizer", "verdict", "evidence"])


def _interval(value: float, low: float, high: float) -> str:
    return f"{value:.3g} [{low:.3g}, {high:.3g}]"


def _ratio(value: float) -> str:
    return "none" if not math.isfinite(value) else f"{value:.3g}"


def present(table: pd.DataFrame) -> pd.DataFrame:
    r"""The :func:`comparison` table as a page shows it: estimates with their intervals as
    text, measured ratios to SGD beside the theory's, the law the AIC prefers."""
    if not isinstance(table, pd.DataFrame) or "critical_batch" not in table.columns:
        raise TypeError(f"table={table!r} must be what comparison() returns")
    rows = {}
    for o, row in table.iterrows():
        rows[o] = {
            "rate α": f"{row['lr']:g}",
            "b* [95% interval]": _interval(
                row["critical_batch"], row["critical_low"], row["critical_high"]
            ),
            "K_min [95% interval]": _interval(
                row["min_steps"], row["min_steps_low"], row["min_steps_high"]
            ),
            "b* / SGD's: measured": _ratio(row["critical_ratio"]),
            "b* / SGD's: theory": _ratio(row["theory_critical_ratio"]),
            "K_min / SGD's: measured": _ratio(row["steps_ratio"]),
            "K_min / SGD's: theory": _ratio(row["theory_steps_ratio"]),
            "AIC prefers": Preference(row["preferred_law"], row["delta_aic"], AIC_MARGIN).text,
            "lack of fit p": f"{row['lack_of_fit_p']:.2g}",
            "runs reached / out of budget / diverged": (
                f"{row['runs_reached']} / {row['runs_budget']} / {row['runs_diverged']}"
            ),
        }
    return pd.DataFrame(rows).T.rename_axis("optimizer")


# ---------------------------------------------------------------------------------------------
# The rate swept


#: The rates of :func:`rate_sweep`, as factors of the rate the book's rule chose.
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
        "b0 [95%]": _interval(fit.params["min_batch"], *fit.ci["min_batch"]),
        "b* [95%]": _interval(fit.critical_batch, *fit.ci["critical_batch"]),
        "K_min [95%]": _interval(fit.min_steps, *fit.ci["min_steps"]),
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
    :func:`tune` chose times each of ``factors`` (default :data:`RATE_FACTORS`: half, the
    same, double), same batch sizes, seeds, budget and skip rule as ``measured``; the curve
    at the chosen rate is ``measured``'s own, the others are run (or read from the store).
    Both laws are fitted to each, and to the best of these rates per batch size. Returns a
    :class:`RateSweep`.
    """
    _check_measured(measured, measure_name)
    if optimizer not in measured.experiment.optimizers:
        raise ValueError(
            f"optimizer={optimizer!r} was not measured; measured: "
            f"{', '.join(measured.experiment.optimizers)}"
        )
    if not factors or any(
        isinstance(f, bool) or not isinstance(f, numbers.Real) or not f > 0 for f in factors
    ):
        raise ValueError(f"factors={factors!r} must be a non-empty tuple of positive numbers")
    from .analysis import best_rate

    exp, lr = measured.experiment, measured.tuning.lr[optimizer]
    start = time.perf_counter()
    folder = str(store_folder(exp, store) / "sweep")
    rates = sorted({round(lr * f, 10) for f in factors})
    tasks = [(exp, optimizer, measure_name, rate, folder) for rate in rates if rate != lr]
    pool = _pool(dataclasses.replace(exp, workers=min(exp.workers, len(tasks))))
    try:
        results = _run_all(pool, tasks, _curve, f"{exp.name}: {optimizer} at other rates")
    finally:
        if pool is not None:
            pool.shutdown()
    own = measured.runs(optimizer, measure_name)
    frame = pd.concat([own] + [r[0] for r in results], ignore_index=True)
    frame = frame[frame["lr"].isin(rates)].reset_index(drop=True)
    fits = {}
    for rate in rates:
        both = _fit_both(frame[frame["lr"] == rate], exp.n_boot)
        if both is not None:
            fits[rate] = both
    tuned = best_rate(frame).drop(columns=["lr_at_edge", "n_rates"])
    added = [r[0] for r in results]
    cells = pd.concat(added).drop_duplicates(["batch_size", "lr"]) if added else frame.iloc[:0]
    seconds = float(cells["wall_time"].sum())
    cached = int(cells["cached"].astype(bool).sum())
    return RateSweep(
        optimizer, measure_name, tuple(rates), frame, MappingProxyType(fits), tuned,
        _fit_both(tuned, exp.n_boot), seconds, cached, time.perf_counter() - start,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
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
    seed: int = 0,
) -> BudgetArtefact:
    r"""Simulate a pole-free curve cut at a step budget and fit both laws to it.

    ``min_steps`` :math:`S_{\min}` and ``noise_scale`` :math:`B_{\mathrm{noise}}` (> 0) give
    the curve :math:`S_{\min}(1 + B_{\mathrm{noise}}/b)`; ``seeds`` runs per batch size with
    :math:`\log K` scattered by ``scatter`` (>= 0, drawn from ``numpy``'s generator seeded by
    ``seed``); ``max_steps`` the budget. Returns a :class:`BudgetArtefact`.

    >>> art = budget_artefact(100.0, 16.0, batch_sizes=(2, 4, 8, 16, 32, 64), seeds=3,
    ...                       max_steps=500, scatter=0.0, n_boot=0)
    >>> round(art.budget_pole, 3), int((~art.frame["reached"]).sum())
    (4.0, 3)
    """
    for name, value in (("min_steps", min_steps), ("noise_scale", noise_scale)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
            raise ValueError(f"{name}={value!r} must be a positive real number")
    if isinstance(scatter, bool) or not isinstance(scatter, numbers.Real) or not scatter >= 0:
        raise ValueError(f"scatter={scatter!r} must be a real number >= 0")
    for name, value in (("seeds", seeds), ("max_steps", max_steps)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name}={value!r} must be an int >= 1")
    if max_steps <= min_steps:
        raise ValueError(
            f"max_steps={max_steps!r} must exceed min_steps={min_steps!r}: else no run finishes"
        )
    rng = np.random.default_rng(seed)
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
        frame, _fit_both(frame, n_boot),
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
    if not isinstance(measured, Measured):
        raise TypeError(f"measured={measured!r} must be a Measured (see measure())")
    if not isinstance(fits, Mapping) or not fits:
        raise TypeError(f"fits={fits!r} must be the mapping fit_laws() returns")
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


def budget_verdict(table: pd.DataFrame) -> str:
    r"""One sentence from a :func:`budget_table`: for each optimizer whether its measured pole
    is beyond what the step budget alone produces (the lower end of the measured
    :math:`b_0`'s interval above the artefact's :math:`b_0`) or could be the budget's (it is
    not), with the numbers.

    >>> t = pd.DataFrame({"measured_b0": [9.9, 27.6], "measured_b0_low": [8.1, 27.1],
    ...                   "measured_b0_high": [12.0, 28.2], "artefact_b0": [11.8, 3.8]},
    ...                  index=pd.Index(["sgd", "momentum"], name="optimizer"))
    >>> for part in budget_verdict(t).split("; "):
    ...     print(part)
    the budget alone could have made the pole of sgd (b0 9.9 [8.1, 12] against 11.8)
    the pole of momentum is beyond the budget's (27.6 [27.1, 28.2] against 3.8)
    """
    need = {"measured_b0", "measured_b0_low", "measured_b0_high", "artefact_b0"}
    if not isinstance(table, pd.DataFrame) or not need <= set(table.columns):
        raise TypeError(f"table must be what budget_table() returns (columns {sorted(need)})")
    parts = []
    for o, row in table.iterrows():
        measured = _interval(row["measured_b0"], row["measured_b0_low"], row["measured_b0_high"])
        art = row["artefact_b0"]
        if not math.isfinite(art):
            parts.append(f"no pole-free fit for {o} (the cut curve reached at too few sizes)")
        elif row["measured_b0_low"] > art:
            parts.append(f"the pole of {o} is beyond the budget's ({measured} against {art:.3g})")
        else:
            parts.append(
                f"the budget alone could have made the pole of {o} (b0 {measured} against "
                f"{art:.3g})"
            )
    return "; ".join(parts)


def theory_check(table: pd.DataFrame, verdict: pd.DataFrame, optimizer: str = "momentum") -> str:
    r"""One sentence comparing ``optimizer``'s measured ratios to SGD's with the theory's, from
    a :func:`comparison` table and the :func:`verdicts` of the same fits: for :math:`b^\star`
    and for :math:`K_{\min}`, whether the measured order agrees with the predicted one
    (claims 2a and 2b: intervals disjoint the predicted way), opposes it, is undecided or not
    supported, and by what factor the measured ratio differs from the predicted one."""
    if not isinstance(table, pd.DataFrame) or "theory_critical_ratio" not in table.columns:
        raise TypeError(f"table={type(table).__name__} must be what comparison() returns")
    if not isinstance(verdict, pd.DataFrame) or "verdict" not in verdict.columns:
        raise TypeError(f"verdict={type(verdict).__name__} must be what verdicts() returns")
    if optimizer not in table.index or "sgd" not in table.index:
        raise ValueError(
            f"optimizer={optimizer!r}: the table must hold it and 'sgd'; it holds "
            f"{', '.join(map(str, table.index))}"
        )
    rows = verdict[verdict["optimizer"] == optimizer].set_index("claim")
    row = table.loc[optimizer]
    parts = []
    for claim, name, measured, theory in (
        (_CLAIM_TWO[0], "b*", row["critical_ratio"], row["theory_critical_ratio"]),
        (_CLAIM_TWO[1], "K_min", row["steps_ratio"], row["theory_steps_ratio"]),
    ):
        said = rows.loc[claim, "verdict"] if claim in rows.index else "undecided"
        if said == NOT_SUPPORTED:
            parts.append(
                f"for {name} the comparison is {NOT_SUPPORTED} ({rows.loc[claim, 'evidence']})"
            )
            continue
        direction = {
            "holds": "in the predicted direction (intervals disjoint)",
            "fails": "opposite to the prediction (intervals disjoint)",
            "undecided": "of undecided direction (intervals overlap)",
        }[said]
        size = ""
        if math.isfinite(theory) and math.isfinite(measured) and measured > 0:
            factor = theory / measured
            if factor >= 1:
                size = f", {factor:.2g} times smaller than predicted"
            else:
                size = f", {1 / factor:.2g} times larger than predicted"
        parts.append(f"the measured ratio of {name}, {measured:.3g}, is {direction}{size}")
    return "; ".join(parts)


def left_end(measured: Measured) -> pd.DataFrame:
    """At the smallest batch size of each measured curve (optimizer x target, skipped cells
    counted as not run): how many runs reached the target, ran out of budget or diverged."""
    if not isinstance(measured, Measured):
        raise TypeError(f"measured={measured!r} must be a Measured (see measure())")
    b_min = min(measured.experiment.batch_sizes)
    rows = []
    for (m, o), group in measured.frame.groupby(["measure", "optimizer"], sort=False):
        at = group[group["batch_size"] == b_min]["reason"].value_counts()
        skipped = measured.skipped
        was_skipped = bool(
            len(skipped)
            and ((skipped["measure"] == m) & (skipped["optimizer"] == o)
                 & (skipped["batch_size"] == b_min)).any()
        )  # fmt: skip
        rows.append(
            {
                "target": m,
                "optimizer": o,
                "batch_size": b_min,
                "reached": int(at.get("reached", 0)),
                "out of budget": int(at.get("max_steps", 0)),
                "diverged": int(at.get("diverged", 0)),
                "skipped": was_skipped,
            }
        )
    return pd.DataFrame(rows)


def left_end_summary(measured: Measured) -> str:
    """One sentence from :func:`left_end`: of the measured curves, how many have no run
    reaching the target at the smallest batch size, and why (budget, divergence, or not run
    because the two batch sizes above it had none)."""
    table = left_end(measured)
    none = table[table["reached"] == 0]
    budget = int(((none["out of budget"] > 0) & (none["diverged"] == 0)).sum())
    diverged = int((none["diverged"] > 0).sum())
    skipped = int(none["skipped"].sum())
    b_min = int(table["batch_size"].iloc[0]) if len(table) else 0
    text = (
        f"at b = {b_min}, {len(none)} of the {len(table)} measured curves have no run reaching "
        f"the target"
    )
    if len(none):
        text += (
            f" ({budget} because every run there ran out of the step budget, {diverged} with "
            f"runs that diverged, {skipped} not run: the two batch sizes above had no run reach)"
        )
    return text


def summary(verdicts_table: pd.DataFrame) -> dict[str, str]:
    """One plain sentence per claim from a :func:`verdicts` table (several tables may be
    concatenated, with a ``target`` column): for each verdict, where it was reached.

    >>> table = pd.DataFrame({"claim": ["1"] * 2, "optimizer": ["sgd", "adam"],
    ...                       "verdict": ["holds", "fails"], "evidence": ["", ""]})
    >>> summary(table)["1"]
    'holds for sgd; fails for adam'
    """
    need = {"claim", "optimizer", "verdict"}
    if not isinstance(verdicts_table, pd.DataFrame) or not need <= set(verdicts_table.columns):
        raise TypeError(f"verdicts_table must be a DataFrame with columns {sorted(need)}")
    sentences = {}
    for claim, group in verdicts_table.groupby("claim", sort=True):
        parts = []
        for verdict in VERDICTS:
            chosen = group[group["verdict"] == verdict]
            if chosen.empty:
                continue
            if "target" in chosen.columns:
                pairs = zip(chosen["optimizer"], chosen["target"], strict=True)
                where = [f"{o} ({t})" for o, t in pairs]
            else:
                where = list(chosen["optimizer"])
            parts.append(f"{verdict} for {', '.join(where)}")
        sentences[str(claim)] = "; ".join(parts)
    return sentences
