"""batchsteps: steps to an epsilon-stationary point as a rational function of the batch size.

Subpackages load on first use, so ``import batchsteps`` stays light (no torch):

- ``batchsteps.theory``: sympy bounds ``A/K + B/b + C`` and what follows from them;
- ``batchsteps.train``: torch workloads, optimizers, the multi-replica engine, sweeps;
- ``batchsteps.analysis``: fits of the steps-vs-batch laws, noise-scale estimation;
- ``batchsteps.experiments``: the book's experiments and every measurement that trains and
  estimates (tuned sweeps, the noise scale along a run, the engine's checks);
- ``batchsteps.viz``: the house plotting style, widget panels, in-browser explorers.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__version__ = "0.1.0"
__all__ = ["theory", "train", "analysis", "experiments", "viz", "__version__"]

_SUBPACKAGES = {"theory", "train", "analysis", "experiments", "viz"}


def __getattr__(name: str) -> ModuleType:
    if name in _SUBPACKAGES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'batchsteps' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
