"""Torch measurements: workloads, optimizers, the multi-replica engine, sweeps and their store.

torch is imported by the modules here, so ``batchsteps.train`` is loaded only when used.
"""

from __future__ import annotations

from .engine import StepsResult, measure_steps, steps_to_target
from .optimizers import DEFAULTS, OPTIMIZERS, BatchedOptimizer, optimizer
from .store import StoreReport, StoreVersionError, StoreWarning, check_store
from .sweep import sweep
from .targets import Target, parse_target
from .workloads import WORKLOADS, Workload, mlp, read_idx, resnet20, workload

__all__: list[str] = [
    "steps_to_target",
    "sweep",
    "check_store",
    "StoreReport",
    "StoreVersionError",
    "StoreWarning",
    "measure_steps",
    "StepsResult",
    "Workload",
    "workload",
    "WORKLOADS",
    "mlp",
    "resnet20",
    "read_idx",
    "OPTIMIZERS",
    "DEFAULTS",
    "optimizer",
    "BatchedOptimizer",
    "Target",
    "parse_target",
]
