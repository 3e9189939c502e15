r"""The book's experiments, and every measurement that both trains and estimates.

Part II measures the steps :math:`K(b)` to a target against the batch size :math:`b` for
several optimizers, each at one constant learning rate, and confronts the fitted laws with
the theory. Several chapters show parts of the same measurement, so it is defined here once:

- ``config``: :func:`experiment`, the configuration of an
  experiment at a scale (``BATCHSTEPS_SCALE``: ``book`` or ``full``);
- ``running``: the learning-rate rule (:func:`tune_rates`), the
  whole sweep (:func:`measure`) in worker processes, the result store (:func:`store_folder`);
- ``compare``: fits per optimizer (:func:`fit_optimizers`), the
  theory's ratios, the comparison table and verdicts on the paper's two claims, computed from
  the intervals;
- ``text``: all of that in words and tables for a page;
- ``rates``: the curve at other constant rates
  (:func:`rate_sweep`) and sweeps with the rate tuned per batch size (:func:`tuned_sweep`);
- ``measurements``: the noise scale of a model and along a run,
  the constants of the Adam-type bound along an AMSGrad run;
- ``checks``: the engine against the noisy quadratic's exact
  expectations.

This package sits above :mod:`batchsteps.train` (which measures) and
:mod:`batchsteps.analysis` (which estimates): it is where the two meet.
"""

from __future__ import annotations

from ..analysis import law_preference
from ..environment import STORE_ENV
from .checks import check_engine_nqm, pole_check
from .compare import (
    LACK_OF_FIT_LEVEL,
    NOT_SUPPORTED,
    VERDICTS,
    BudgetArtefact,
    budget_artefact,
    budget_table,
    comparison,
    fit_optimizers,
    largest_smoothness,
    pole_shown,
    theory_band,
    theory_ratios,
    verdicts,
)
from .config import EXPERIMENTS, SCALE_ENV, SCALES, Experiment, current_scale, experiment
from .measurements import (
    full_batch_reference,
    measure_adaptive_run,
    noise_scale,
    noise_scale_during,
)
from .rates import DEFAULT_SEEDS, RATE_FACTORS, RateSweep, rate_sweep, tuned_sweep
from .running import (
    Cost,
    Measured,
    Tuning,
    initial_values,
    measure,
    rate_rule,
    store_folder,
    tune_rates,
)
from .text import (
    budget_verdict,
    left_end,
    left_end_summary,
    present,
    summary,
    theory_check,
    verdict_changes,
)

__all__ = [
    # configuration and running
    "SCALES",
    "SCALE_ENV",
    "STORE_ENV",
    "EXPERIMENTS",
    "Experiment",
    "current_scale",
    "experiment",
    "store_folder",
    "Tuning",
    "rate_rule",
    "tune_rates",
    "Cost",
    "Measured",
    "measure",
    "initial_values",
    # fits, theory, verdicts
    "fit_optimizers",
    "theory_band",
    "theory_ratios",
    "largest_smoothness",
    "comparison",
    "verdicts",
    "pole_shown",
    "law_preference",
    "NOT_SUPPORTED",
    "LACK_OF_FIT_LEVEL",
    "VERDICTS",
    "BudgetArtefact",
    "budget_artefact",
    "budget_table",
    # words
    "present",
    "summary",
    "verdict_changes",
    "theory_check",
    "budget_verdict",
    "left_end",
    "left_end_summary",
    # rates
    "RATE_FACTORS",
    "RateSweep",
    "rate_sweep",
    "DEFAULT_SEEDS",
    "tuned_sweep",
    # measurements along engine runs, the engine's checks
    "noise_scale",
    "noise_scale_during",
    "full_batch_reference",
    "measure_adaptive_run",
    "check_engine_nqm",
    "pole_check",
]
