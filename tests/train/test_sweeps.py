"""Sweeps: one row per seed and setting, defaults recorded, a store that survives SIGKILL."""

import json
import math
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

import batchsteps.train as bt

SMALL = dict(seeds=[0, 1], target="loss<=0.6", max_steps=300, progress=False)


@pytest.mark.slow
def test_one_row_per_cell_and_seed_with_defaults_recorded():
    df = bt.sweep(
        "digits-mlp",
        ["sgd", "momentum", "adam"],
        [16, 64],
        lr={"sgd": 0.1, "momentum": [0.01, 0.02], "adam": 0.003},
        **SMALL,
    )
    assert len(df) == (1 + 2 + 1) * 2 * 2
    assert set(df.columns) >= {
        "optimizer",
        "batch_size",
        "lr",
        "beta",
        "beta1",
        "beta2",
        "eps",
        "seed",
        "steps",
        "reached",
        "reason",
        "wall_time",
    }
    momentum = df[df.optimizer == "momentum"]
    assert (momentum.beta == 0.9).all() and momentum.beta1.isna().all()
    adam = df[df.optimizer == "adam"]
    assert (adam.beta1 == 0.9).all() and (adam.beta2 == 0.999).all() and (adam.eps == 1e-8).all()
    assert sorted(momentum.lr.unique()) == [0.01, 0.02]
    assert (df.reached == (df.steps >= 0)).all()
    one = df[(df.optimizer == "sgd") & (df.batch_size == 16)]
    direct = bt.steps_to_target(
        "digits-mlp", "sgd", 16, lr=0.1, seeds=[0, 1], target="loss<=0.6", max_steps=300
    )
    assert one.steps.tolist() == direct.tolist()


@pytest.mark.slow
def test_hyperparameter_grids_apply_to_the_optimizers_that_take_them():
    df = bt.sweep("digits-mlp", ["sgd", "momentum"], 32, lr=0.02, beta=[0.5, 0.8], **SMALL)
    assert sorted(df[df.optimizer == "momentum"].beta.unique()) == [0.5, 0.8]
    assert df[df.optimizer == "sgd"].beta.isna().all() and len(df) == 2 * 3


@pytest.mark.slow
def test_rerun_reads_finished_cells_from_the_store(tmp_path):
    first = bt.sweep("digits-mlp", "sgd", [16, 32], lr=0.1, store=tmp_path, **SMALL)
    files = sorted(tmp_path.glob("cell-*.json"))
    assert len(files) == 2 and not first.cached.any()
    stamps = [f.stat().st_mtime_ns for f in files]
    again = bt.sweep("digits-mlp", "sgd", [16, 32], lr=0.1, store=tmp_path, **SMALL)
    assert again.cached.all()
    assert [f.stat().st_mtime_ns for f in files] == stamps
    pd.testing.assert_frame_equal(first.drop(columns="cached"), again.drop(columns="cached"))
    record = json.loads(files[0].read_text())
    assert record["key"]["optimizer"] == "sgd" and len(record["steps"]) == 2


SCRIPT = textwrap.dedent(
    """
    import sys, torch
    torch.set_num_threads(1)
    import batchsteps.train as bt
    bt.sweep("digits-mlp", "sgd", [8, 16, 24, 32, 40, 48], lr=0.05, seeds=[0, 1],
             target="loss<=0.4", max_steps=600, store=sys.argv[1], progress=False)
    """
)


@pytest.mark.slow  # a fresh interpreter and nine digits cells: 15-40 s on two busy cores
def test_a_sweep_killed_with_sigkill_resumes_losing_only_the_cell_in_flight(tmp_path):
    store, fresh = tmp_path / "store", tmp_path / "fresh"
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(store)])
    try:
        deadline = time.monotonic() + 300
        while len(list(store.glob("cell-*.json"))) < 2:
            assert proc.poll() is None, "the sweep ended before it could be interrupted"
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finished = {
        f: (f.read_bytes(), f.stat().st_mtime_ns, f.stat().st_ino)
        for f in store.glob("cell-*.json")
    }
    assert 2 <= len(finished) < 6
    for content, _, _ in finished.values():
        json.loads(content)  # every finished file is whole
    found = bt.check_store(store)  # as a sweep reads them; a kill may leave one temporary file
    assert found.cells == len(finished) and found.damaged == {} and len(found.temporary) <= 1
    args = dict(lr=0.05, seeds=[0, 1], target="loss<=0.4", max_steps=600, progress=False)
    sizes = [8, 16, 24, 32, 40, 48]
    resumed = bt.sweep("digits-mlp", "sgd", sizes, store=store, **args)
    for f, (content, mtime, inode) in finished.items():
        assert (f.read_bytes(), f.stat().st_mtime_ns, f.stat().st_ino) == (content, mtime, inode)
    assert resumed.cached.sum() == 2 * len(finished)
    assert len(list(store.glob("cell-*.json"))) == 6
    straight = bt.sweep("digits-mlp", "sgd", sizes, store=fresh, **args)
    columns = ["optimizer", "batch_size", "lr", "seed", "steps", "reached", "reason"]
    pd.testing.assert_frame_equal(resumed[columns], straight[columns])


@pytest.mark.parametrize(
    ("change", "error", "name"),
    [
        ({"lr": {"sgd": 0.1}}, ValueError, "momentum"),
        ({"lr": [0.1, -1.0]}, ValueError, "lr"),
        ({"lr": []}, ValueError, "lr"),
        ({"batch_sizes": [16, 0]}, ValueError, "batch_sizes"),
        ({"optimizers": ["sgd", "lamb"]}, ValueError, "lamb"),
        ({"beta1": 0.9}, TypeError, "beta1"),
        ({"seeds": []}, ValueError, "seeds"),
        ({"max_steps": 0}, ValueError, "max_steps"),
        ({"target": "loss=0.1"}, ValueError, "accepted forms"),
        (
            {"lr": {"sgd": 0.1, "momentum": 0.02, "adam": 0.01}},
            ValueError,
            r"lr must be among sgd, momentum \(the optimizers swept\), got adam=0\.01",
        ),
        ({"store": 5}, TypeError, r"store must be a path \(str or os.PathLike\), got 5 \(int\)"),
        ({"store": __file__}, ValueError, r"store must be a folder, or a path where one can be"),
        ({"beta": [0.5, 1.5]}, ValueError, r"beta\[1\] must be .*got 1\.5"),
        ({"target": ["loss<=0.6", "loss<=-1"]}, ValueError, r"target\[1\] must be"),
    ],
)
def test_bad_sweep_arguments_name_the_culprit(change, error, name):
    args = {"optimizers": ["sgd", "momentum"], "batch_sizes": [16], "lr": 0.1, **SMALL, **change}
    with pytest.raises(error, match=name):
        bt.sweep("digits-mlp", args.pop("optimizers"), args.pop("batch_sizes"), **args)


def test_nan_hyperparameter_columns_only_where_the_optimizer_lacks_them():
    df = bt.sweep(
        "nqm", ["rmsprop"], [4], lr=0.01, seeds=[0], target=None, max_steps=3, progress=False
    )
    assert math.isnan(df.beta[0]) and math.isnan(df.beta1[0]) and df.beta2[0] == 0.999
    assert df.reason.tolist() == ["no target"]


@pytest.mark.slow
def test_an_executor_runs_cells_concurrently_with_the_same_results(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    args = dict(lr=[0.05, 0.1], **SMALL)
    serial = bt.sweep("digits-mlp", "sgd", [16, 32], **args)
    with ThreadPoolExecutor(2) as pool:
        parallel = bt.sweep("digits-mlp", "sgd", [16, 32], store=tmp_path, executor=pool, **args)
    columns = ["optimizer", "batch_size", "lr", "seed", "steps", "reason"]
    pd.testing.assert_frame_equal(serial[columns], parallel[columns])
    assert len(list(tmp_path.glob("cell-*.json"))) == 4


@pytest.mark.slow
def test_several_targets_share_their_runs_and_store_the_cells_one_target_reads(tmp_path):
    targets = ["loss<=0.6", "grad_norm_sq<=0.05"]
    args = dict(lr=[0.05, 0.1], seeds=[0, 1], max_steps=300, progress=False)
    joint = bt.sweep("digits-mlp", "sgd", [16, 64], target=targets, store=tmp_path, **args)
    assert len(joint) == 2 * 2 * 2 * len(targets)
    assert len(list(tmp_path.glob("cell-*.json"))) == 2 * 2 * len(targets)
    columns = ["optimizer", "batch_size", "lr", "seed", "steps", "reason", "check_every"]
    for target in targets:
        alone = bt.sweep("digits-mlp", "sgd", [16, 64], target=target, **args)
        mine = joint[joint.target == target].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine[columns], alone[columns])
        again = bt.sweep("digits-mlp", "sgd", [16, 64], target=target, store=tmp_path, **args)
        assert again.cached.all()
        pd.testing.assert_frame_equal(again[columns], alone[columns])
    # one run per (batch size, rate), its seconds split evenly between its two cells
    shares = joint.groupby(["batch_size", "lr"])["wall_time"].nunique()
    assert (shares == 1).all()


@pytest.mark.parametrize(
    ("target", "error"),
    [([], ValueError), (["loss<=0.6", "loss<=0.6"], ValueError), ({"loss": 0.6}, TypeError)],
)
def test_bad_target_lists_name_the_target(target, error):
    with pytest.raises(error, match="target"):
        bt.sweep("digits-mlp", "sgd", [16], lr=0.1, seeds=[0], target=target, max_steps=5)


@pytest.mark.slow
def test_progress_bar_counts_cells_and_shows_the_current_step(capsys):
    bt.sweep("digits-mlp", "sgd", [16, 32], lr=0.1, seeds=[0], target="loss<=0.6", max_steps=300)
    err = capsys.readouterr().err
    assert "cells" in err and "2/2" in err and "step" in err
