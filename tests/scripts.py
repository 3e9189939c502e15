"""The benchmark scripts as the tests run them: imported as modules, or run as a reader would
run them (a fresh interpreter, one thread), their standard output returned."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` imported as a module (its ``main`` not run)."""
    spec = importlib.util.spec_from_file_location(f"{name}_benchmark", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(name: str, *args: str, timeout: float = 600) -> str:
    """Standard output of ``benchmarks/<name>.py args`` in a fresh interpreter on one thread;
    a non-zero exit fails (``CalledProcessError``)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "BATCHSTEPS_WORKERS": "1"}
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / f"{name}.py"), *args],
        capture_output=True, text=True, check=True, env=env, timeout=timeout,
    ).stdout  # fmt: skip
