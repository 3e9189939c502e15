"""benchmarks/denormals.py runs (it once broke unnoticed when the record hook's argument
changed) and finds the same final parameters with and without the flush."""

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "denormals.py"


def test_the_quick_run_compares_every_optimizer_and_finds_the_same_parameters():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"],
        capture_output=True, text=True, check=True, env=env, timeout=300,
    ).stdout  # fmt: skip
    rows = [line.split("|") for line in out.splitlines() if line.startswith("| ")]
    repeats = [row for row in rows if row[2].strip() == "1"]
    assert [row[1].strip() for row in repeats] == ["sgd", "momentum", "adam"], out
    assert all(row[6].strip() == "True" for row in repeats), out
