"""Reading the first-passage audit: summaries with known counts, the frame with the first
passages put in, the committed audit file, bad files and arguments."""

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import batchsteps.analysis as ba

AUDIT = Path(__file__).resolve().parents[2] / "data" / "first_passage_audit.json"


def run(b, seed, book, every, target="loss<=0.1", lr=0.1):
    reached = "reached" if every >= 0 else "max_steps"
    return {
        "workload_name": "digits-mlp", "optimizer": "sgd", "batch_size": b, "lr": lr,
        "target": target, "max_steps": 100, "seed": seed, "book": book, "every_step": every,
        "book_reason": "reached" if book >= 0 else "max_steps", "every_step_reason": reached,
    }  # fmt: skip


RUNS = [
    run(4, 0, 10, 10),
    run(4, 1, 20, 10),
    run(4, 2, -1, 30),
    run(4, 3, -1, -1),
    run(8, 0, 5, 5),
    run(8, 0, 60, 20, target="grad_norm_sq<=0.001"),
]


def write(folder, runs, **extra):
    data = {"commit": "abc", "date": "2026-12-07", "script": "x"} | extra
    data["folders"] = [
        {"folder": "d/sweep", "cells": 3, "runs": len(runs), "cpu_book": 1.0, "cpu_every": 3.0,
         "rows": runs},
    ]  # fmt: skip
    path = folder / "audit.json"
    path.write_text(json.dumps(data))
    return path


def sweep_frame(runs):
    """A sweep frame holding the audited runs, counted as the audit's engine counted them."""
    frame = pd.DataFrame(runs)
    frame["steps"] = frame["book"]
    frame["reached"] = frame["book"] >= 0
    frame["reason"] = frame["book_reason"]
    frame["measure"] = frame["target"].str.split("<=").str[0]
    return frame.drop(columns=["book", "every_step", "book_reason", "every_step_reason"])


def test_late_counts_with_known_values(tmp_path):
    audit = ba.read_first_passage_audit(write(tmp_path, RUNS))
    assert audit.commit == "abc" and audit.folders.loc["d/sweep", "cpu_every_step"] == 3.0
    frame = audit.first_passage(sweep_frame(RUNS), "d/sweep")
    assert frame["as_audited"].all()
    table = ba.late_counts(frame).set_index(["measure", "batch_size"])
    four = table.loc[("loss", 4)]
    assert (four["runs"], four["late"], four["unreached"]) == (4, 2, 1)
    assert four["late_share"] == 0.5
    assert four["median_ratio"] == four["max_ratio"] == 2.0
    eight = table.loc[("loss", 8)]
    assert eight["late"] == 0 and math.isnan(eight["median_ratio"])
    assert table.loc[("grad_norm_sq", 8), "max_ratio"] == 3.0
    by_target = ba.late_counts(frame, by=("target",)).set_index("target")
    assert by_target.loc["loss<=0.1", "runs"] == 5
    # runs the audit does not hold are not counted
    extra = pd.concat([frame, frame.iloc[[0]].assign(audited=False, steps=3)], ignore_index=True)
    pd.testing.assert_frame_equal(ba.late_counts(extra), ba.late_counts(frame))


def test_first_passage_replaces_the_audited_runs_only(tmp_path):
    audit = ba.read_first_passage_audit(write(tmp_path, RUNS))
    frame = pd.DataFrame(
        {
            "optimizer": "sgd",
            "batch_size": [4, 4, 4, 16],
            "lr": 0.1,
            "target": "loss<=0.1",
            "seed": [1, 2, 0, 0],
            "steps": [20, -1, 11, 7],
            "reached": [True, False, True, True],
            "reason": ["reached", "max_steps", "reached", "reached"],
        }
    )
    out = audit.first_passage(frame, "d/sweep")
    np.testing.assert_array_equal(out["steps"], [10, 30, 10, 7])
    np.testing.assert_array_equal(out["reached"], [True, True, True, True])
    assert list(out["reason"]) == ["reached", "reached", "reached", "reached"]
    np.testing.assert_array_equal(out["counted_steps"], frame["steps"])
    np.testing.assert_array_equal(out["audited"], [True, True, True, False])
    # seed 0 at b = 4 was counted 11 here, 10 in the audit: not the run the audit saw
    np.testing.assert_array_equal(out["as_audited"], [True, True, False, False])
    assert frame["steps"].tolist() == [20, -1, 11, 7]  # the input is left alone


def test_the_committed_audit_is_consistent():
    audit = ba.read_first_passage_audit(AUDIT)
    assert "digits/sweep" in audit.folders.index
    counts = audit.frame.groupby("folder").size()
    assert (counts == audit.folders["runs"].reindex(counts.index)).all()
    late = audit.frame["book"] != audit.frame["every_step"]
    assert late.any() and not late.all()
    assert set(audit.frame["measure"]) <= {"loss", "grad_norm_sq", "accuracy"}


def test_bad_files_and_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a file"):
        ba.read_first_passage_audit(tmp_path / "missing.json")
    with pytest.raises(TypeError, match="path"):
        ba.read_first_passage_audit(3)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"commit": "x"}))
    with pytest.raises(ValueError, match="lacks date, folders"):
        ba.read_first_passage_audit(other)
    with pytest.raises(ValueError, match="below its first passage"):
        ba.read_first_passage_audit(write(tmp_path, [run(4, 0, 10, 12)]))
    with pytest.raises(ValueError, match="below its first passage"):
        ba.read_first_passage_audit(write(tmp_path, [run(4, 0, 10, -1)]))
    lacking = [{k: v for k, v in run(4, 0, 1, 1).items() if k != "seed"}]
    with pytest.raises(ValueError, match="lacks a field"):
        ba.read_first_passage_audit(write(tmp_path, lacking))
    audit = ba.read_first_passage_audit(write(tmp_path, RUNS))
    with pytest.raises(ValueError, match="folder"):
        audit.runs("nowhere")
    with pytest.raises(ValueError, match="by"):
        ba.late_counts(audit.first_passage(sweep_frame(RUNS), "d/sweep"), by=("colour",))
    with pytest.raises(TypeError, match="frame"):
        ba.late_counts({"steps": [1]})
    with pytest.raises(ValueError, match="counted_steps"):
        ba.late_counts(sweep_frame(RUNS))
    with pytest.raises(TypeError, match="frame"):
        audit.first_passage([1, 2], "d/sweep")
    with pytest.raises(ValueError, match="seed"):
        audit.first_passage(pd.DataFrame({"steps": [1]}), "d/sweep")


def test_tuned_sweep_chooses_the_best_rate_again_from_the_first_passages(tmp_path):
    # at b = 4 the rate 0.2 was counted 40 but first met the target at 10: it becomes the best
    runs = [run(4, s, c, e, lr=lr) for s in (0, 1) for lr, c, e in ((0.1, 20, 20), (0.2, 40, 10))]
    runs += [run(8, s, 15, 15, lr=lr) for s in (0, 1) for lr in (0.1, 0.2)]
    audit = ba.read_first_passage_audit(write(tmp_path, runs))
    frame = sweep_frame(runs)
    counted = ba.TunedSweep(frame, ba.best_rate(frame), {4: (0.1, 0.2), 8: (0.1, 0.2)}, 1.0, 4)
    exact = audit.tuned_sweep(counted, "d/sweep")
    assert counted.tuned.groupby("batch_size")["lr"].first().to_dict() == {4: 0.1, 8: 0.1}
    assert exact.tuned.groupby("batch_size")["lr"].first().to_dict() == {4: 0.2, 8: 0.1}
    assert exact.tuned.loc[exact.tuned["batch_size"] == 4, "steps"].tolist() == [10, 10]
    fits = {"constant_lr": SimpleNamespace(aic=10.0), "tuned_lr": SimpleNamespace(aic=4.0)}
    same = ba.tuned_audit_text(counted, exact, fits, fits)
    assert same.startswith("2 of 8 runs were counted late, 0 of the 4 at the rates kept")
    assert "changes at 1 of 2 batch sizes" in same and "(as with the counts)" in same
    other = {"constant_lr": SimpleNamespace(aic=4.0), "tuned_lr": SimpleNamespace(aic=10.0)}
    assert "with the counts: tuned_lr (by 6)" in ba.tuned_audit_text(counted, exact, fits, other)
    with pytest.raises(TypeError, match="sweep"):
        audit.tuned_sweep(frame, "d/sweep")
    with pytest.raises(TypeError, match="counted"):
        ba.tuned_audit_text(frame, exact, fits, fits)
    with pytest.raises(ValueError, match="counted_steps"):
        ba.tuned_audit_text(counted, counted, fits, fits)
