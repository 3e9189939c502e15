"""Analysis of measurements: fits of the steps-vs-batch laws, their intervals and coverage,
noise-scale estimates, the constants of the Adam-type bound, the engine's checks against exact
values and its step counts against the first passage, and the practitioner's recipe. numpy,
scipy and pandas only: measurements come in as numbers (from :mod:`batchsteps.train`), never
as models.
"""

from __future__ import annotations

from .adaptive_constants import AdaptiveRun, adaptive_run, bound_at, envelope
from .coverage import coverage_table, simulate_runs
from .first_passage import (
    FirstPassageAudit,
    late_counts,
    read_first_passage_audit,
    tuned_audit_text,
)
from .fit import (
    LAWS,
    PARAMETERS,
    STATUSES,
    Fit,
    LackOfFit,
    Linearisation,
    compare_laws,
    fit_steps,
    linearise,
    run_status,
)
from .laws import ConstantRateLaw, Law, TunedRateLaw, resolve_law
from .noise import NoiseScale, NoiseScaleTrace, noise_scale_from_norms
from .nqm_check import EngineCheck, PoleCheck, noise_floor_pole
from .published import Published, read_published
from .recipe import (
    AIC_MARGIN,
    LACK_OF_FIT_LEVEL,
    BatchChoice,
    Preference,
    TunedSweep,
    batch_sizes_around,
    best_rate,
    choose_batch_size,
    describe_rates,
    fit_laws,
    format_law_table,
    law_preference,
    law_table,
    law_verdict,
    rate_grid,
)
from .summary import MedianInterval, median_interval, per_batch
from .variance import VarianceCurve, minibatch_variance, predicted_variance

__all__ = [
    # laws and their fits
    "Law",
    "ConstantRateLaw",
    "TunedRateLaw",
    "resolve_law",
    "LAWS",
    "PARAMETERS",
    "STATUSES",
    "Fit",
    "LackOfFit",
    "Linearisation",
    "fit_steps",
    "compare_laws",
    "linearise",
    "run_status",
    "MedianInterval",
    "median_interval",
    "per_batch",
    "coverage_table",
    "simulate_runs",
    # the recipe on measured numbers
    "rate_grid",
    "batch_sizes_around",
    "best_rate",
    "TunedSweep",
    "describe_rates",
    "fit_laws",
    "AIC_MARGIN",
    "LACK_OF_FIT_LEVEL",
    "Preference",
    "law_preference",
    "law_verdict",
    "law_table",
    "format_law_table",
    "BatchChoice",
    "choose_batch_size",
    "Published",
    "read_published",
    # noise, variance, the Adam-type constants, the engine's checks
    "NoiseScale",
    "NoiseScaleTrace",
    "noise_scale_from_norms",
    "VarianceCurve",
    "minibatch_variance",
    "predicted_variance",
    "AdaptiveRun",
    "adaptive_run",
    "envelope",
    "bound_at",
    "EngineCheck",
    "PoleCheck",
    "noise_floor_pole",
    "FirstPassageAudit",
    "read_first_passage_audit",
    "late_counts",
    "tuned_audit_text",
]
