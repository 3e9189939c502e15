"""Analysis of measurements: fits of the steps-vs-batch laws, noise-scale estimation."""

from __future__ import annotations

__all__: list[str] = []

from .coverage import coverage_table, simulate_runs  # noqa: E402
from .fit import (  # noqa: E402
    LAWS,
    PARAMETERS,
    STATUSES,
    Fit,
    LackOfFit,
    Linearisation,
    compare_laws,
    fit_steps,
    linearise,
)
from .laws import ConstantRateLaw, Law, TunedRateLaw, resolve_law  # noqa: E402
from .summary import MedianInterval, median_interval, per_batch  # noqa: E402

__all__ += ["LAWS", "PARAMETERS", "STATUSES", "Fit", "LackOfFit", "Linearisation"]
__all__ += ["compare_laws", "fit_steps", "linearise", "coverage_table", "simulate_runs"]
__all__ += ["ConstantRateLaw", "Law", "TunedRateLaw", "resolve_law"]
__all__ += ["MedianInterval", "median_interval", "per_batch"]
from .variance import VarianceCurve, minibatch_variance, predicted_variance  # noqa: E402

__all__ += ["VarianceCurve", "minibatch_variance", "predicted_variance"]
from .noise import (  # noqa: E402
    EngineNoiseRecorder,
    ExactNoiseScale,
    NoiseScale,
    NoiseScaleRecorder,
    NoiseScaleTrace,
    exact_noise_scale,
    noise_scale,
    noise_scale_along,
    noise_scale_from_norms,
)

__all__ += ["EngineNoiseRecorder", "ExactNoiseScale", "NoiseScale", "NoiseScaleRecorder"]
__all__ += ["NoiseScaleTrace"]
__all__ += ["exact_noise_scale", "noise_scale", "noise_scale_along", "noise_scale_from_norms"]
from .nqm_check import EngineCheck, check_engine_nqm, sampled_loss  # noqa: E402
from .published import Published, read_published  # noqa: E402
from .recipe import (  # noqa: E402
    BatchChoice,
    TunedSweep,
    batch_grid,
    best_rate,
    choose_batch_size,
    fit_laws,
    format_law_table,
    law_table,
    noise_scale_during,
    rate_grid,
    tuned_sweep,
)

__all__ += ["EngineCheck", "check_engine_nqm", "sampled_loss", "Published", "read_published"]
__all__ += ["BatchChoice", "TunedSweep", "batch_grid", "best_rate", "choose_batch_size", "fit_laws"]
__all__ += ["law_table", "noise_scale_during", "rate_grid", "tuned_sweep", "format_law_table"]
