"""Torch measurements: workloads, the registry of optimizers, the multi-replica engine, sweeps
and their store, and the recorders that measure along an engine run.

torch is imported by the modules here, so ``batchsteps.train`` is loaded only when used.
"""

from __future__ import annotations

from .engine import (
    Snapshot,
    StepsResult,
    measure_stacked,
    measure_steps,
    measure_targets,
    resolve_device,
    steps_to_target,
)
from .gradients import ExactNoiseScale, TwoBatchNorms, exact_noise_scale, two_batch_norms
from .optimizers import BatchedOptimizer, optimizer
from .recorders import (
    AdaptiveRecorder,
    LossRecorder,
    NoiseRecorder,
    flat_params,
    replica_module,
    sampled_loss,
)
from .registry import (
    DEFAULTS,
    OPTIMIZERS,
    HyperParameter,
    OptimizerSpec,
    PlotStyle,
    RateGrid,
    hyper_names,
    register,
    spec,
    unregister,
)
from .schedules import (
    Constant,
    InverseTime,
    Schedule,
    WarmupThenDecay,
    constant,
    inverse_time,
    warmup_then_decay,
)
from .store import StoreReport, StoreVersionError, StoreWarning, check_store
from .sweeps import sweep
from .targets import Target, parse_target, parse_targets
from .workloads import WORKLOADS, Workload, digits_data, mlp, read_idx, resnet20, workload

__all__: list[str] = [
    "steps_to_target",
    "sweep",
    "check_store",
    "StoreReport",
    "StoreVersionError",
    "StoreWarning",
    "measure_steps",
    "measure_targets",
    "measure_stacked",
    "StepsResult",
    "Snapshot",
    "resolve_device",
    "Schedule",
    "constant",
    "inverse_time",
    "warmup_then_decay",
    "Constant",
    "InverseTime",
    "WarmupThenDecay",
    "Workload",
    "workload",
    "WORKLOADS",
    "mlp",
    "resnet20",
    "read_idx",
    "digits_data",
    "OPTIMIZERS",
    "DEFAULTS",
    "OptimizerSpec",
    "HyperParameter",
    "RateGrid",
    "PlotStyle",
    "register",
    "unregister",
    "spec",
    "hyper_names",
    "optimizer",
    "BatchedOptimizer",
    "Target",
    "parse_target",
    "parse_targets",
    "LossRecorder",
    "NoiseRecorder",
    "AdaptiveRecorder",
    "sampled_loss",
    "flat_params",
    "replica_module",
    "TwoBatchNorms",
    "two_batch_norms",
    "ExactNoiseScale",
    "exact_noise_scale",
]
