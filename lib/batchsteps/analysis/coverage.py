r"""How well :func:`~batchsteps.analysis.fit_steps` does on runs whose truth is known.

:func:`simulate_runs` draws sweeps as the book's look: a law's median steps at each batch
size, log-normal seed-to-seed scatter that grows towards small batch sizes,

.. math:: \log K_j = \log K(b_j) + \sigma(b_j)\,\varepsilon_j,\qquad
          \sigma(b) = \sigma_{\mathrm{small}}\,(b/b_{\min})^{-\kappa},

with :math:`\kappa` set by ``sigma_large`` at the largest batch size, and a step budget
``max_steps`` placed so that a fraction ``censoring`` of the runs at the smallest batch size
is expected to run out of it (fewer at the next sizes: censoring concentrated at the small
end, as in a real sweep). :func:`coverage_table` fits many such sweeps and reports how often
the intervals cover the truth, the median relative error of each estimate and how many fits
gave no interval.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType

import numpy as np
import pandas as pd
from scipy import stats

from .. import validation
from .fit import fit_steps
from .laws import Law, resolve_law

BATCH_SIZES = tuple(2.0**k for k in range(3, 11))
"""Default batch sizes of a simulated sweep: 8 to 1024."""
TRUTH: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "constant_lr": MappingProxyType({"min_steps": 1000.0, "min_batch": 6.0}),
        "tuned_lr": MappingProxyType({"min_steps": 500.0, "noise_scale": 64.0}),
    }
)
"""Default true parameters per book law: :math:`b^\\star = 12` and :math:`B_{\\mathrm{noise}} =
64`, both inside the default batch sizes."""


def simulate_runs(
    law: str | Law,
    params: Mapping[str, float] | Sequence[float],
    *,
    seeds: int = 5,
    batch_sizes: Sequence[float] = BATCH_SIZES,
    censoring: float = 0.0,
    sigma_small: float = 0.4,
    sigma_large: float = 0.02,
    seed: int | np.random.Generator = 0,
) -> pd.DataFrame:
    r"""One simulated sweep: a frame with ``batch_size, seed, steps, reached, reason,
    max_steps`` as :func:`batchsteps.train.sweep` gives (``steps`` -1 and reason
    ``"max_steps"`` for runs past the budget), ready for :func:`fit_steps`.

    ``law``: a law name or :class:`~batchsteps.analysis.Law`; ``params``: its parameters, a
    mapping with exactly the law's names (or a sequence in their order), each finite and > 0;
    ``seeds`` >= 1 runs per batch size; ``batch_sizes``: at least 3 distinct finite numbers
    > 0. ``censoring`` in [0, 1): expected fraction of runs over budget at the smallest batch
    size (0: ``max_steps`` is infinite in effect, the largest float); ``sigma_small`` and
    ``sigma_large`` (> 0): scatter of :math:`\log K` at the smallest and largest batch size.
    Batch sizes at or below a pole never reach (reason ``"max_steps"``). Steps are whole
    (rounded up) and the budget a whole number of steps, as in a sweep: a run reaches exactly
    when its steps are at most ``max_steps``.

    >>> frame = simulate_runs("tuned_lr", {"min_steps": 500.0, "noise_scale": 64.0}, seeds=3)
    >>> frame.shape, bool(frame["reached"].all())
    ((24, 6), True)
    """
    model = resolve_law(law)
    if isinstance(params, Mapping):
        validation.keys("params", params, model.parameters, required=True)
        values = [validation.positive(f"params[{n!r}]", params[n]) for n in model.parameters]
    else:
        values = validation.sequence_of("params", params, validation.positive)
    theta = model.theta_of(values)
    seeds = validation.integer("seeds", seeds, low=1)
    sizes = validation.sequence_of(
        "batch_sizes", batch_sizes, validation.positive, min_size=3, distinct=True
    )
    b = np.sort(np.array(sizes))
    censoring = validation.probability("censoring", censoring, high_open=True)
    small = validation.positive("sigma_small", sigma_small)
    large = validation.positive("sigma_large", sigma_large)
    rng = validation.generator("seed", seed)
    slope = math.log(small / large) / math.log(b[-1] / b[0]) if b[-1] > b[0] else 0.0
    runs = np.repeat(b, seeds)
    sigma = small * (runs / b[0]) ** (-slope)
    median = model.log_steps(runs, theta)
    log_steps = median + sigma * rng.standard_normal(runs.size)
    first = float(model.log_steps(b[:1], theta)[0])
    if censoring > 0 and math.isfinite(first):  # whole steps, as a sweep's max_steps
        budget = max(1.0, math.floor(math.exp(first + small * stats.norm.isf(censoring))))
    else:
        budget = np.finfo(float).max
    with np.errstate(over="ignore"):
        steps = np.ceil(np.exp(log_steps))  # the first whole step at which the run is there
    reached = steps <= budget
    return pd.DataFrame(
        {
            "batch_size": runs,
            "seed": np.tile(np.arange(seeds), b.size),
            "steps": np.where(reached, steps, -1.0),
            "reached": reached,
            "reason": np.where(reached, "reached", "max_steps"),
            "max_steps": np.full(runs.size, float(budget)),
        }
    )


def coverage_table(
    laws: Sequence[str | Law] = ("constant_lr", "tuned_lr"),
    seeds: Sequence[int] = (3, 5, 8),
    censoring: Sequence[float] = (0.0, 0.2, 0.4),
    *,
    replications: int = 400,
    level: float = 0.95,
    truth: Mapping[str, Mapping[str, float]] | None = None,
    seed: int = 0,
    **simulation: float,
) -> pd.DataFrame:
    r"""Coverage of :func:`fit_steps`' intervals on simulated sweeps with known truth.

    ``laws``, ``seeds`` and ``censoring`` are non-empty sequences (of law names or
    :class:`~batchsteps.analysis.Law` objects, of integers >= 1, of fractions in [0, 1)).
    For each law, number of seeds and censoring fraction, ``replications`` sweeps from
    :func:`simulate_runs` (``simulation`` passes ``batch_sizes``, ``sigma_small``,
    ``sigma_large``) are fitted; one row per parameter and ``critical_batch`` gives
    ``coverage`` (share of intervals at ``level`` that contain the truth, a fit without an
    interval counting as a miss), ``no_interval`` (share of such fits), ``mean_error`` (the
    relative bias, mean of estimate/truth - 1), ``median_error`` and ``replications``.
    ``truth`` maps a law's name to its parameters (default :data:`TRUTH`). A coverage from
    ``r`` replications has a Monte-Carlo standard error of about
    :math:`\sqrt{0.95 \cdot 0.05/r}` (0.011 for 400).

    Cost: one fit per replication and setting, about 10 to 15 ms on one core: the default
    18 settings x 400 replications take about 2 minutes; ``replications=20`` about 5 s.

    >>> table = coverage_table(["tuned_lr"], seeds=[5], censoring=[0.2], replications=5)
    >>> table[["parameter", "replications"]].to_numpy().tolist()
    [['min_steps', 5], ['noise_scale', 5], ['critical_batch', 5]]
    """
    seeds = validation.sequence_of("seeds", seeds, lambda n, s: validation.integer(n, s, low=1))
    censoring = validation.sequence_of(
        "censoring", censoring, lambda n, c: validation.probability(n, c, high_open=True)
    )
    models = validation.sequence_of(
        "laws", laws, lambda name, law: validation.prefixed(name, resolve_law, law)
    )
    truth = TRUTH if truth is None else truth
    replications = validation.integer("replications", replications, low=1)
    level = validation.probability("level", level, low_open=True, high_open=True)
    rng = validation.generator("seed", seed)
    rows = []
    for model in models:
        if model.name not in truth:
            raise validation.value_error(
                "truth", truth, f"a mapping law -> parameters, with {model.name!r}"
            )
        params = dict(truth[model.name])
        targets = {**params, "critical_batch": model.critical_batch(params)}
        for n_seeds in seeds:
            for fraction in censoring:
                covered = dict.fromkeys(targets, 0)
                missing = dict.fromkeys(targets, 0)
                errors = {name: [] for name in targets}
                for _ in range(replications):
                    frame = simulate_runs(
                        model, params, seeds=n_seeds, censoring=fraction, seed=rng, **simulation
                    )
                    fit = fit_steps(
                        frame["batch_size"].to_numpy(), frame["steps"].to_numpy(), model,
                        status=np.where(frame["reached"], "reached", "budget"),
                        max_steps=frame["max_steps"].to_numpy(), level=level, n_boot=0,
                    )  # fmt: skip
                    estimates = {**fit.params, "critical_batch": fit.critical_batch}
                    for name, value in targets.items():
                        low, high = fit.ci[name]
                        covered[name] += bool(low <= value <= high)
                        missing[name] += not (math.isfinite(low) and math.isfinite(high))
                        errors[name].append(estimates[name] / value - 1.0)
                for name in targets:
                    rows.append(
                        {
                            "law": model.name,
                            "seeds": int(n_seeds),
                            "censoring": float(fraction),
                            "parameter": name,
                            "coverage": covered[name] / replications,
                            "no_interval": missing[name] / replications,
                            "mean_error": float(np.mean(errors[name])),
                            "median_error": float(np.median(errors[name])),
                            "replications": replications,
                        }
                    )
    return pd.DataFrame(rows)
