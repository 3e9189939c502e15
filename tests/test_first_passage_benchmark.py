"""benchmarks/first_passage.py on a small store: it reruns the stored cells both ways, writes
an audit the library reads, and merges parts run side by side."""

import pytest

import batchsteps as bs
import batchsteps.train as bt
import scripts


@pytest.mark.slow  # two small sweeps, each rerun twice: about 15 s
def test_the_audit_of_a_small_store_is_read_back_and_merges(tmp_path):
    store = tmp_path / "store"
    common = dict(seeds=[0, 1], max_steps=300)
    bt.sweep("digits-mlp", "sgd", [32, 128], lr=0.4, target="grad_norm_sq<=0.01",
             store=store / "gradient", **common)  # fmt: skip
    bt.sweep("digits-mlp", "momentum", 64, lr=0.1, target="loss<=0.5",
             store=store / "loss", **common)  # fmt: skip
    parts = []
    for folder in ("gradient", "loss"):
        part = tmp_path / f"{folder}.json"
        scripts.run("first_passage", str(store), "--only", folder, "--json", str(part))
        parts.append(part)
    merged = tmp_path / "audit.json"
    scripts.run("first_passage", "--merge", *map(str, parts), "--json", str(merged))
    audit = bs.analysis.read_first_passage_audit(merged)
    assert sorted(audit.frame["folder"].unique()) == ["gradient", "loss"]
    assert len(audit.runs("gradient")) == 4 and len(audit.runs("loss")) == 2
    # a loss target on digits is checked after every step: its counts are first passages
    loss = audit.runs("loss")
    assert (loss["book"] == loss["every_step"]).all()
