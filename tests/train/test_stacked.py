"""Stacked runs (several optimizers in one engine run) and the sweeps that stack their cells:
the same steps as alone, bit for bit."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

import batchsteps.train as bt
import batchsteps.train.sweeps as sweeps


def assert_stacked_equals_alone(workload, batch_size, settings, targets, **common):
    opts = [bt.optimizer(name, lr, **hyper) for name, lr, hyper in settings]
    stacked = bt.measure_stacked(workload, opts, batch_size, targets=targets, **common)
    assert len(stacked) == len(settings)
    for (name, lr, hyper), results in zip(settings, stacked, strict=True):
        alone = bt.measure_targets(
            workload, name, batch_size, lr=lr, targets=targets, **common, **hyper
        )
        for mine, own in zip(results, alone, strict=True):
            assert (mine.optimizer, mine.lr, mine.hyper) == (own.optimizer, own.lr, own.hyper)
            assert mine.target == own.target and mine.seeds == own.seeds
            np.testing.assert_array_equal(mine.steps, own.steps)
            assert mine.reason == own.reason
            assert mine.replayed_steps == own.replayed_steps
            assert mine.check_every == own.check_every
    return stacked


def test_three_optimizers_in_one_stack_take_the_steps_they_take_alone():
    # loss checked after every step (its bound), grad_norm_sq sparsely with replays
    stacked = assert_stacked_equals_alone(
        "digits-mlp", 8, [("sgd", 0.1, {}), ("momentum", 0.02, {}), ("adam", 0.002, {})],
        ["loss<=0.3", "grad_norm_sq<=0.05"], seeds=[3, 0, 7], max_steps=400,
    )  # fmt: skip
    assert all((r[0].steps > 0).all() for r in stacked)
    assert sum(r[1].replayed_steps for r in stacked) > 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("workload", "batch_size", "settings", "targets", "extra"),
    [
        ("digits-mlp", 64, [("momentum", 0.05, {"beta": 0.5}), ("rmsprop", 0.001, {}),
                            ("nesterov", 0.02, {})], ["accuracy>=0.9", "grad_norm_sq<=0.01"], {}),
        ("digits-mlp", None, [("sgd", 0.1, {}), ("amsgrad", 0.002, {})], ["loss<=0.5"], {}),
        ("nqm", 8, [("sgd", 0.5, {}), ("adabelief", 0.01, {})], ["loss<=1.0"], {}),
        ("digits-mlp", 16, [("sgd", 0.4, {}), ("adam", 0.004, {}), ("sgd", 0.1, {})],
         ["loss<=0.2"], {"schedule": bt.inverse_time(50.0)}),
    ],
)  # fmt: skip
def test_stacks_of_every_kind_take_the_steps_their_optimizers_take_alone(
    workload, batch_size, settings, targets, extra
):
    common = dict(seeds=[3, 0, 7, 2], max_steps=600, **extra)
    assert_stacked_equals_alone(workload, batch_size, settings, targets, **common)


def test_a_diverging_optimizer_stops_alone_and_leaves_the_stack_running(wild):
    settings = [("sgd", 0.2, {}), ("sgd", 0.05, {})]
    common = dict(seeds=list(range(8)), max_steps=300)
    stacked = assert_stacked_equals_alone(
        wild, 32, settings, ["loss<=0.5", "grad_norm_sq<=0.01"], **common
    )
    assert "diverged" in stacked[0][0].reason
    assert "reached" in stacked[1][0].reason


def test_the_same_optimizer_twice_gives_the_same_results_twice():
    opt = bt.optimizer("momentum", 0.02)
    first, second = bt.measure_stacked(
        "digits-mlp", [opt, opt], 16, seeds=[1, 2], targets=["loss<=0.5"], max_steps=300
    )
    np.testing.assert_array_equal(first[0].steps, second[0].steps)
    assert (first[0].steps > 0).all()


def test_a_stack_without_target_trains_max_steps():
    opts = [bt.optimizer("sgd", 0.1), bt.optimizer("adam", 0.001)]
    results = bt.measure_stacked("nqm", opts, 4, seeds=2, targets=[None], max_steps=7)
    for (result,) in results:
        assert result.reason == ("no target", "no target") and result.target is None


@pytest.mark.parametrize(
    ("change", "error", "name"),
    [
        ({"optimizers": "sgd"}, TypeError, "optimizers"),
        ({"optimizers": bt.optimizer("sgd", 0.1)}, TypeError, "optimizers"),
        ({"optimizers": []}, ValueError, "optimizers"),
        ({"optimizers": [bt.optimizer("sgd", 0.1), "adam"]}, TypeError, r"optimizers\[1\]"),
        ({"targets": None}, TypeError, "target"),
        ({"targets": "loss<=0.5"}, TypeError, "target"),
        ({"targets": []}, ValueError, "target"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"seeds": [1, 1]}, ValueError, "seeds"),
    ],
)
def test_bad_stacks_are_refused_naming_the_argument(change, error, name):
    args = dict(
        workload="digits-mlp", optimizers=[bt.optimizer("sgd", 0.1)], batch_size=8,
        seeds=[0], targets=["loss<=0.5"], max_steps=5,
    )  # fmt: skip
    with pytest.raises(error, match=name):
        bt.measure_stacked(**(args | change))


def test_a_sweep_stacks_the_settings_of_a_batch_size_within_stack_rows(monkeypatch):
    calls = []
    real = sweeps.measure_stacked

    def counted(workload, optimizers, batch_size, **kwargs):
        calls.append((batch_size, len(optimizers)))
        return real(workload, optimizers, batch_size, **kwargs)

    monkeypatch.setattr(sweeps, "measure_stacked", counted)
    args = dict(
        lr={"sgd": [0.05, 0.1], "momentum": 0.02}, seeds=[0, 1], target=["loss<=0.6"],
        max_steps=200, progress=False,
    )  # fmt: skip
    stacked = bt.sweep("digits-mlp", ["sgd", "momentum"], [4, 16], **args)
    assert sorted(calls) == [(4, 3), (16, 3)]
    calls.clear()
    monkeypatch.setattr(sweeps, "STACK_ROWS", 2 * 16)  # 2 seeds x 16 rows: one setting a stack
    narrow = bt.sweep("digits-mlp", ["sgd", "momentum"], [4, 16], **args)
    assert sorted(calls) == [(4, 3), (16, 1), (16, 1), (16, 1)]
    columns = ["optimizer", "batch_size", "lr", "seed", "steps", "reason", "check_every"]
    pd.testing.assert_frame_equal(stacked[columns], narrow[columns])
    assert (stacked.steps > 0).any()


@pytest.mark.slow
def test_a_generic_module_stacks_through_torch_func_with_the_same_steps():
    digits = bt.workload("digits-mlp")
    tanh_net = bt.Workload(
        "digits-tanh", digits.X, digits.y,
        lambda: torch.nn.Sequential(
            torch.nn.Linear(64, 32), torch.nn.Tanh(), torch.nn.Linear(32, 10)
        ),
    )  # fmt: skip
    settings = [("momentum", 0.05, {}), ("adam", 0.01, {})]
    stacked = assert_stacked_equals_alone(
        tanh_net, 16, settings, ["loss<=0.8", "accuracy>=0.8"], seeds=[0, 1], max_steps=200
    )
    assert all((r[0].steps > 0).all() for r in stacked)


def test_a_setting_computes_only_the_targets_the_store_lacks(tmp_path, monkeypatch):
    args = dict(seeds=[0, 1], max_steps=200, progress=False)
    targets = ["loss<=0.6", "grad_norm_sq<=0.05"]
    bt.sweep("digits-mlp", "sgd", [16], lr=0.1, target=targets[0], store=tmp_path, **args)
    calls = []
    real = sweeps.measure_stacked

    def counted(workload, optimizers, batch_size, **kwargs):
        calls.append(([(o.name, o.lr) for o in optimizers], kwargs["targets"]))
        return real(workload, optimizers, batch_size, **kwargs)

    monkeypatch.setattr(sweeps, "measure_stacked", counted)
    lr = {"sgd": 0.1, "momentum": 0.02}
    stored = bt.sweep(
        "digits-mlp", ["sgd", "momentum"], [16], lr=lr, target=targets, store=tmp_path, **args
    )
    gnorm, loss = bt.parse_target(targets[1]).text, bt.parse_target(targets[0]).text
    assert sorted(calls) == [
        ([("momentum", 0.02)], sorted([gnorm, loss])),
        ([("sgd", 0.1)], [gnorm]),
    ]
    fresh = bt.sweep("digits-mlp", ["sgd", "momentum"], [16], lr=lr, target=targets, **args)
    columns = ["optimizer", "batch_size", "lr", "target", "seed", "steps", "reason"]
    pd.testing.assert_frame_equal(stored[columns], fresh[columns])
    assert stored.cached.sum() == 2  # the stored cell's two seeds


def test_an_optimizer_made_directly_is_checked_and_completed_like_optimizer():
    with pytest.raises(ValueError, match="lr"):
        bt.BatchedOptimizer("sgd", -0.5)  # checked when made
    # one made while its name was registered, then unregistered: measure_stacked names it
    bt.register(dataclasses.replace(bt.spec("sgd"), name="sgd-for-a-while"))
    try:
        gone = bt.BatchedOptimizer("sgd-for-a-while", 0.1)
    finally:
        bt.unregister("sgd-for-a-while")
    args = dict(seeds=[0, 1], targets=["loss<=0.5"], max_steps=150)
    with pytest.raises(ValueError, match=r"optimizers\[1\]: optimizer must be .*'sgd-for-a-while'"):
        bt.measure_stacked("digits-mlp", [bt.optimizer("sgd", 0.1), gone], 16, **args)
    bare = bt.BatchedOptimizer("adam", 0.003)  # no hyperparameters: the defaults, as optimizer()
    (direct,), (made,) = bt.measure_stacked(
        "digits-mlp", [bare, bt.optimizer("adam", 0.003)], 16, **args
    )
    np.testing.assert_array_equal(direct.steps, made.steps)
    assert direct.hyper == made.hyper == dict(bt.DEFAULTS["adam"])


@pytest.mark.slow
def test_two_threads_give_the_steps_of_the_runs_alone():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert_stacked_equals_alone(
            "digits-mlp", 64, [("sgd", 0.1, {}), ("adam", 0.002, {}), ("adam", 0.004, {})],
            ["loss<=0.3", "grad_norm_sq<=0.05"], seeds=[0, 5], max_steps=300,
        )  # fmt: skip
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (dict(batch_sizes=[16, 16]), r"batch_sizes must be .*16 is given twice"),
        (dict(lr=[0.1, 0.1]), r"lr must be .*0\.1 is given twice"),
        (dict(lr={"sgd": [0.1, 0.1]}), r"lr\['sgd'\] must be .*0\.1 is given twice"),
        (dict(optimizers=["sgd", "sgd"]), "optimizers must be .*'sgd' is given twice"),
        (dict(optimizers="momentum", beta=[0.5, 0.5]), r"beta must be .*0\.5 is given twice"),
    ],
)
def test_a_setting_given_twice_to_a_sweep_is_refused(change, pattern):
    args = dict(
        optimizers="sgd", batch_sizes=[16], lr=0.1, seeds=[0, 1], target="loss<=0.6",
        max_steps=200, progress=False,
    )  # fmt: skip
    args |= change
    with pytest.raises(ValueError, match=pattern):
        bt.sweep("digits-mlp", args.pop("optimizers"), args.pop("batch_sizes"), **args)


@pytest.mark.parametrize("store", [False, True])
def test_a_cell_given_twice_to_a_task_is_computed_once(tmp_path, store):
    wl = bt.workload("digits-mlp")
    cell = dict(
        version=sweeps.RESULT_VERSION, workload=wl.key, workload_name=wl.name,
        optimizer="sgd", batch_size=16, lr=0.1, hyper={}, seeds=[0, 1],
        target=bt.parse_target("loss<=0.6").text, max_steps=200, check_every=None, near=None,
    )  # fmt: skip
    folder = str(tmp_path) if store else None
    (first, _), (second, _) = sweeps.cells_task(wl, [cell, dict(cell)], "cpu", None, folder)
    assert first == second
    once = bt.sweep("digits-mlp", "sgd", [16], lr=0.1, seeds=[0, 1], target="loss<=0.6",
                    max_steps=200, progress=False)  # fmt: skip
    assert first["steps"] == once.steps.tolist()
    if store:
        assert len(list(tmp_path.glob("cell-*.json"))) == 1


def test_cells_of_different_stacks_are_refused():
    cell = dict(
        version=sweeps.RESULT_VERSION, workload="k", workload_name="digits-mlp",
        optimizer="sgd", batch_size=8, lr=0.1, hyper={}, seeds=[0], target="loss<=0.5",
        max_steps=5, check_every=None, near=None,
    )  # fmt: skip
    with pytest.raises(ValueError, match="batch_size"):
        sweeps.cells_task("digits-mlp", [cell, {**cell, "batch_size": 16}], "cpu", None, None)
