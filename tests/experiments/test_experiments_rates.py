"""The curve at other constant rates, and sweeps with the rate tuned per batch size."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import batchsteps.experiments as ex
import batchsteps.train as bt
from batchsteps.analysis import choose_batch_size, fit_laws, rate_grid
from batchsteps.train import Workload


@pytest.mark.slow
def test_rate_sweep_runs_half_and_double_the_rate_and_reuses_the_measured_curve(tiny, tmp_path):
    exp = tiny(optimizers=("sgd",), batch_sizes=(8, 16, 32, 64, 128), max_steps=400)
    measured = ex.measure(exp, store=tmp_path)
    swept = ex.rate_sweep(measured, "sgd", "loss", store=tmp_path)
    lr = measured.tuning.lr["sgd"]
    assert swept.rates == pytest.approx((lr / 2, lr, 2 * lr))
    own = swept.frame[swept.frame["lr"] == lr].reset_index(drop=True)
    pd.testing.assert_series_equal(
        own["steps"], measured.runs("sgd", "loss")["steps"].reset_index(drop=True)
    )
    assert swept.frame.groupby("lr")["batch_size"].nunique().max() == 5
    # the tuned curve takes, per batch size, the runs of the best of the three rates
    assert swept.tuned.groupby("batch_size")["lr"].nunique().eq(1).all()
    table = swept.table()
    assert list(table.index) == [f"{r:g}" for r in swept.rates] + ["tuned per b"]
    assert (table[["reached", "out of budget", "diverged"]].sum(axis=1) > 0).all()
    assert swept.cached == 0 and swept.seconds > 0
    again = ex.rate_sweep(measured, "sgd", "loss", store=tmp_path)
    added = swept.frame[swept.frame["lr"] != lr].drop_duplicates(["batch_size", "lr"])
    assert again.cached == len(added)  # everything read back from the store
    assert again.seconds == pytest.approx(swept.seconds)  # the cost as measured when run
    with pytest.raises(ValueError, match="optimizer must be .*, got 'adam'"):
        ex.rate_sweep(measured, "adam")
    with pytest.raises(
        ValueError, match=r"factors\[1\] must be a finite real number > 0, got -1.0"
    ):
        ex.rate_sweep(measured, factors=(0.5, -1.0))


def _custom_workload():
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(256, 5, generator=gen)
    y = X @ torch.randn(5, 1, generator=gen) + 0.3 * torch.randn(256, 1, generator=gen)
    return Workload("my-regression", X, y, lambda: nn.Linear(5, 1), "mse")


@pytest.mark.slow
def test_the_recipe_runs_on_a_custom_workload():
    wl = _custom_workload()
    trace = ex.noise_scale_during(
        wl, "sgd", 8, lr=0.05, steps=20, every=10, small=2, large=64, draws=8
    )
    assert trace.steps.tolist() == [0, 10, 20]
    assert np.all(trace.trace_sigma > 0)
    grid = rate_grid([2, 4, 8, 16], base_lr=0.02, base_batch=2, width=3, max_lr=0.1)
    result = ex.tuned_sweep(wl, "sgd", grid, seeds=2, target="loss<=0.2", max_steps=400)
    assert result.n_cells == 12 and result.n_runs == 24 and result.wall_time > 0
    per_b = result.tuned.groupby("batch_size")["lr"].nunique()
    assert per_b.tolist() == [1, 1, 1, 1]
    for b, lr in result.tuned.groupby("batch_size")["lr"].first().items():
        assert lr in grid[b]
    fits = fit_laws(
        result.tuned["batch_size"], result.tuned["steps"].clip(lower=1),
        reached=result.tuned["reached"].to_numpy(), n_boot=50,
    )  # fmt: skip
    assert set(fits) == {"constant_lr", "tuned_lr"}
    assert choose_batch_size(fits["tuned_lr"]).batch_size >= 1


@pytest.mark.slow
def test_tuned_sweep_defaults_to_five_seeds_and_shows_one_progress_bar(capsys, monkeypatch):
    monkeypatch.delenv("BATCHSTEPS_BOOK_BUILD", raising=False)
    wl = _custom_workload()
    grid = rate_grid([4, 8], base_lr=0.02, base_batch=2, width=2, max_lr=0.1)
    result = ex.tuned_sweep(wl, "sgd", grid, target="loss<=0.2", max_steps=200)
    assert sorted(result.runs["seed"].unique()) == [0, 1, 2, 3, 4]
    shown = capsys.readouterr().err
    assert "4/4" in shown and "sgd, tuned rate" in shown  # one bar over all cells
    ex.tuned_sweep(wl, "sgd", grid, seeds=2, target="loss<=0.2", max_steps=200, progress=False)
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("BATCHSTEPS_BOOK_BUILD", "1")  # the book's build shows no bar
    ex.tuned_sweep(wl, "sgd", grid, seeds=2, target="loss<=0.2", max_steps=200)
    assert capsys.readouterr().err == ""
    with pytest.raises(TypeError, match="progress must be .*, got 'yes'"):
        ex.tuned_sweep(wl, "sgd", grid, target="loss<=0.2", max_steps=200, progress="yes")


@pytest.mark.parametrize(
    ("optimizer", "lrs", "target", "error", "pattern"),
    [
        ("sgd", {4: [0.1]}, None, TypeError, r"target must be one target, .*, got None"),
        (
            "sgd",
            {4: [0.1]},
            ["loss<=1", "loss<=2"],
            TypeError,
            r"target must be one target, .*, got \['loss<=1', 'loss<=2'\] \(list\)",
        ),
        ("sgd", {4: [0.1]}, "foo<=1", ValueError, r"target must be .*, got 'foo<=1'"),
        (
            ["sgd", "momentum"],
            {4: [0.1]},
            "loss<=1",
            TypeError,
            r"optimizer must be a non-empty str, got \['sgd', 'momentum'\]",
        ),
        ("sgd", {4: 0.1}, "loss<=1", TypeError, r"lrs\[4\] must be a sequence .*, got 0.1"),
        ("sgd", {4: None}, "loss<=1", TypeError, r"lrs\[4\] must be a sequence .*, got None"),
        ("sgd", {4: []}, "loss<=1", ValueError, r"lrs\[4\] must be a sequence of at least 1"),
        ("sgd", {4: [-0.1]}, "loss<=1", ValueError, r"lrs\[4\]\[0\] must be .* > 0, got -0.1"),
        ("sgd", {4: ["a"]}, "loss<=1", TypeError, r"lrs\[4\]\[0\] must be .*, got 'a'"),
    ],
)
def test_tuned_sweep_checks_its_optimizer_rates_and_target_before_training(
    optimizer, lrs, target, error, pattern, monkeypatch
):
    def no_training(*args, **kwargs):
        raise AssertionError("swept before its arguments were checked")

    monkeypatch.setattr(ex.rates, "sweep", no_training)
    with pytest.raises(error, match=pattern):
        ex.tuned_sweep("nqm", optimizer, lrs, target=target, max_steps=5, progress=False)


def test_tuned_sweep_documents_every_target_form_where_users_meet_it():
    from batchsteps.train.targets import TARGET_FORMS

    for form in TARGET_FORMS:
        assert f'"{form}"' in ex.tuned_sweep.__doc__, form


@pytest.mark.slow
def test_tuned_sweep_runs_the_same_cells_on_an_executor():
    from concurrent.futures import ThreadPoolExecutor

    wl = _custom_workload()
    grid = rate_grid([2, 4, 8, 16], base_lr=0.02, base_batch=2, width=2, max_lr=0.05)
    assert grid[8] == grid[16]  # saturated sizes share their rates: one call for both
    serial = ex.tuned_sweep(wl, "sgd", grid, seeds=2, target="loss<=0.2", max_steps=200)
    with ThreadPoolExecutor(2) as pool:
        parallel = ex.tuned_sweep(
            wl, "sgd", grid, seeds=2, target="loss<=0.2", max_steps=200, executor=pool
        )
    key = ["batch_size", "lr", "seed"]
    a = serial.runs.sort_values(key).reset_index(drop=True)
    b = parallel.runs.sort_values(key).reset_index(drop=True)
    pd.testing.assert_series_equal(a["steps"], b["steps"])
    assert parallel.n_cells == serial.n_cells == 8


def test_a_tuned_sweep_read_back_from_its_store_reports_what_computing_it_cost(tmp_path):
    wl = _custom_workload()
    grid = rate_grid([2, 4], base_lr=0.02, base_batch=2, width=2, max_lr=0.05)
    store = ex.store_folder("my-model", tmp_path)
    first = ex.tuned_sweep(wl, "sgd", grid, seeds=2, target="loss<=0.2", max_steps=200,
                           store=store)  # fmt: skip
    again = ex.tuned_sweep(wl, "sgd", grid, seeds=2, target="loss<=0.2", max_steps=200,
                           store=store)  # fmt: skip
    assert (first.n_cached, again.n_cached) == (0, first.n_cells)
    assert again.compute_time == pytest.approx(first.compute_time) and first.compute_time > 0
    pd.testing.assert_frame_equal(first.tuned[["batch_size", "lr", "steps"]],
                                  again.tuned[["batch_size", "lr", "steps"]])  # fmt: skip


def test_tuned_sweep_counts_the_first_passage_with_check_every_one():
    # SGD at large rates on digits: the loss hovers about the target, so the default checks
    # count some runs late; check_every=1 gives each run's first passage
    grid = {16: (0.4, 0.8)}
    common = dict(seeds=3, target="loss<=0.1", max_steps=600, progress=False)
    counted = ex.tuned_sweep("digits-mlp", "sgd", grid, **common)
    exact = ex.tuned_sweep("digits-mlp", "sgd", grid, check_every=1, **common)
    assert (exact.runs["check_every"] == 1).all()
    for lr in grid[16]:
        alone = bt.measure_steps(
            "digits-mlp", "sgd", 16, lr=lr, seeds=3, target="loss<=0.1", max_steps=600,
            check_every=1,
        )  # fmt: skip
        assert exact.runs.loc[exact.runs["lr"] == lr, "steps"].tolist() == alone.steps.tolist()
    assert (counted.runs["steps"].to_numpy() >= exact.runs["steps"].to_numpy()).all()
    with pytest.raises(ValueError, match="check_every"):
        ex.tuned_sweep("digits-mlp", "sgd", grid, check_every=0, **common)
