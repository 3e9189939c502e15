"""Torch measurements: workloads, optimizers, the multi-replica engine, sweeps.

torch is imported by the modules here, so ``batchsteps.train`` is loaded only when used.
"""

from __future__ import annotations

__all__: list[str] = []
