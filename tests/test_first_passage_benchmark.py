"""benchmarks/first_passage.py on a small store: it reruns the stored cells both ways, writes
an audit the library reads, and merges parts run side by side."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import batchsteps as bs
import batchsteps.train as bt

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "first_passage.py"


@pytest.mark.slow  # two small sweeps, each rerun twice: about 15 s
def test_the_audit_of_a_small_store_is_read_back_and_merges(tmp_path):
    store = tmp_path / "store"
    common = dict(seeds=[0, 1], max_steps=300)
    bt.sweep("digits-mlp", "sgd", [32, 128], lr=0.4, target="grad_norm_sq<=0.01",
             store=store / "gradient", **common)  # fmt: skip
    bt.sweep("digits-mlp", "momentum", 64, lr=0.1, target="loss<=0.5",
             store=store / "loss", **common)  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    parts = []
    for folder in ("gradient", "loss"):
        part = tmp_path / f"{folder}.json"
        subprocess.run(
            [sys.executable, str(SCRIPT), str(store), "--only", folder, "--json", str(part)],
            capture_output=True, text=True, check=True, env=env, timeout=600,
        )  # fmt: skip
        parts.append(part)
    merged = tmp_path / "audit.json"
    subprocess.run(
        [sys.executable, str(SCRIPT), "--merge", *map(str, parts), "--json", str(merged)],
        capture_output=True, text=True, check=True, env=env, timeout=60,
    )  # fmt: skip
    audit = bs.analysis.read_first_passage_audit(merged)
    assert sorted(audit.frame["folder"].unique()) == ["gradient", "loss"]
    assert len(audit.runs("gradient")) == 4 and len(audit.runs("loss")) == 2
    # a loss target on digits is checked after every step: its counts are first passages
    loss = audit.runs("loss")
    assert (loss["book"] == loss["every_step"]).all()
