"""Running the experiments: the store's folder, the learning-rate rule, the shared sweep with
its store and skip rule, the starting values."""

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import batchsteps.experiments as ex
from batchsteps import environment
from batchsteps.experiments import running


def test_store_folder_from_argument_environment_and_default(tmp_path, monkeypatch):
    exp = ex.experiment("digits", "book")
    assert ex.store_folder(exp, tmp_path) == tmp_path / "book" / "digits"
    monkeypatch.setenv(ex.STORE_ENV, str(tmp_path / "env"))
    assert ex.store_folder(exp) == tmp_path / "env" / "book" / "digits"
    monkeypatch.delenv(ex.STORE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # platformdirs on Linux
    assert ex.store_folder(exp) == tmp_path / "cache" / "batchsteps" / "stores" / "book" / "digits"
    with pytest.raises(TypeError, match="store must be .*, got 3"):
        ex.store_folder(exp, 3)


def test_a_sweep_of_your_own_gets_a_folder_by_name_at_the_current_scale(tmp_path, monkeypatch):
    monkeypatch.setenv(ex.SCALE_ENV, "full")
    assert ex.store_folder("my-model_v1.2", tmp_path) == tmp_path / "full" / "my-model_v1.2"
    monkeypatch.delenv(ex.SCALE_ENV)
    assert ex.store_folder("mine", tmp_path) == tmp_path / "book" / "mine"


@pytest.mark.parametrize(
    ("name", "error", "match"),
    [
        ("", ValueError, "exp must be a non-empty str, got ''"),
        ("../up", ValueError, "exp must be an Experiment or a folder name .*got '../up'"),
        ("a/b", ValueError, "folder name"),
        (".hidden", ValueError, "folder name"),
        (3, TypeError, "exp must be a non-empty str, got 3"),
    ],
)
def test_a_bad_store_name_names_the_culprit(tmp_path, name, error, match):
    with pytest.raises(error, match=match):
        ex.store_folder(name, tmp_path)


def test_the_default_store_is_the_users_cache_never_the_package_and_is_announced_once(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.delenv(ex.STORE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    exp = ex.experiment("digits", "book")
    first, second = ex.store_folder(exp), ex.store_folder(exp)
    assert first == second and not first.is_relative_to(Path(ex.__file__).parents[3])
    said = capsys.readouterr().out
    assert said.count("sweep results are kept in") == 1 and str(tmp_path / "cache") in said


def test_rule_takes_the_smallest_rate_within_tolerance_of_the_fewest_and_halves_it():
    table = pd.DataFrame({"lr": [0.1, 0.2, 0.4, 0.8], "median_steps": [400, 205, 200, math.inf]})
    assert ex.rate_rule(table, 0.1) == (0.2, 0.1)
    assert ex.rate_rule(table, 0.0) == (0.4, 0.2)
    with pytest.raises(ValueError, match=r"table must be a table where some rate reached .*widen"):
        ex.rate_rule(table.assign(median_steps=math.inf), 0.1)
    with pytest.raises(TypeError, match=r"table must be a pandas DataFrame .*, got \[\]"):
        ex.rate_rule([], 0.1)


@pytest.mark.parametrize(
    ("table", "tolerance", "error", "match"),
    [
        ({"lr": [0.1, 0.2]}, 0.1, ValueError, "table must have the column.*lacks 'median_steps'"),
        ({"lr": [], "median_steps": []}, 0.1, ValueError, r"table\['lr'\] must be .* 1 entry"),
        ({"lr": [0.1], "median_steps": [-5.0]}, 0.1, ValueError, r"table\['median_steps'\]"),
        ({"lr": [0.1], "median_steps": [math.nan]}, 0.1, ValueError, r"table\['median_steps'\]"),
        ({"lr": [-0.1], "median_steps": [5.0]}, 0.1, ValueError, r"table\['lr'\] must be .* > 0"),
        (None, -0.5, ValueError, "tolerance must be a finite real number >= 0, got -0.5"),
        (None, math.nan, ValueError, "tolerance must be .*, got nan"),
        (None, "x", TypeError, r"tolerance must be .*, got 'x' \(str\)"),
        (None, None, TypeError, "tolerance must be .*, got None"),
    ],
)
def test_rule_rejects_bad_tables_and_tolerances(table, tolerance, error, match):
    frame = pd.DataFrame(table or {"lr": [0.1, 0.2], "median_steps": [400.0, 205.0]})
    with pytest.raises(error, match=match):
        ex.rate_rule(frame, tolerance)


@pytest.mark.slow
def test_tune_rates_measures_every_grid_rate_and_applies_the_rule(tiny, tmp_path):
    tuning = ex.tune_rates(tiny(), tmp_path)
    assert len(tuning.table) == 6
    for o in ("sgd", "momentum"):
        rows = tuning.table[tuning.table["optimizer"] == o]
        fastest, chosen = ex.rate_rule(rows, 0.1)
        assert tuning.fastest[o] == fastest and tuning.lr[o] == chosen
    # larger rates reach a loss target sooner at a moderate batch (far from instability)
    sgd = tuning.table[tuning.table["optimizer"] == "sgd"]["median_steps"].to_numpy()
    assert np.all(np.diff(sgd) < 0)
    with pytest.raises(TypeError, match="exp must be .*, got 'digits'"):
        ex.tune_rates("digits", tmp_path)


# ---------------------------------------------------------------------------- the sweep


@pytest.mark.slow
def test_measure_runs_every_cell_then_reads_them_back(tiny, tmp_path):
    exp = tiny()
    first = ex.measure(exp, store=tmp_path)
    assert set(first.frame["batch_size"]) == set(exp.batch_sizes)
    assert len(first.frame) == 2 * len(exp.batch_sizes) * len(exp.seeds)
    assert first.cost.cells == 6 and first.cost.cached == 0
    reached = first.frame["reached"]
    expected = np.where(reached, first.frame["steps"], first.frame["max_steps"]).sum()
    assert first.cost.replica_steps == expected
    assert first.cost.sample_gradients >= first.cost.replica_steps * min(exp.batch_sizes)
    again = ex.measure(exp, store=tmp_path)
    assert again.cost.cached == again.cost.cells == 6
    pd.testing.assert_series_equal(first.frame["steps"], again.frame["steps"])
    assert again.cost.seconds == pytest.approx(first.cost.seconds)  # as measured when run
    assert len(first.runs("sgd", "loss")) == 9
    with pytest.raises(ValueError, match="optimizer must be .*, got 'adam'"):
        first.runs("adam", "loss")


def test_skip_rule_stops_after_consecutive_batch_sizes_without_a_run_reaching(tiny, tmp_path):
    exp = tiny(
        optimizers=("sgd",),
        batch_sizes=(4, 8, 16, 32),
        targets={"loss": "loss<=1e-9"},  # unreachable in 60 steps
        max_steps=60,
        skip_after=2,
    )
    measured = ex.measure(exp, store=tmp_path)
    assert sorted(set(measured.frame["batch_size"])) == [16, 32]  # the largest two, run
    assert measured.skipped["batch_size"].tolist() == [4, 8]
    assert not measured.frame["reached"].any()


def test_initial_loss_of_a_ten_class_network_is_about_log_ten():
    values = ex.initial_values(ex.experiment("digits", "book"), seeds=3)
    assert set(values) == {"grad_norm_sq", "loss"}
    assert values["loss"] == pytest.approx(math.log(10), rel=0.05)
    assert values["grad_norm_sq"] > 0
    with pytest.raises(ValueError, match="seeds must be .*, got 0"):
        ex.initial_values(ex.experiment("digits", "book"), seeds=0)


@pytest.mark.parametrize(("given", "wanted", "allowed"), [("", 4, 4), ("1", 4, 1), (" 3 ", 2, 2)])
def test_batchsteps_workers_caps_the_processes_a_sweep_starts(monkeypatch, given, wanted, allowed):
    monkeypatch.setenv(environment.WORKERS_ENV, given)
    assert environment.worker_limit(wanted) == allowed
    exp = dataclasses.replace(ex.experiment("digits"), workers=wanted)
    pool = running.worker_pool(exp)
    try:
        assert (pool._max_workers if pool is not None else 1) == allowed
    finally:
        if pool is not None:
            pool.shutdown()


@pytest.mark.parametrize("given", ["0", "two", "-1", "1.5"])
def test_a_bad_batchsteps_workers_names_the_variable_and_the_value(monkeypatch, given):
    monkeypatch.setenv(environment.WORKERS_ENV, given)
    with pytest.raises(
        ValueError, match=rf"\$BATCHSTEPS_WORKERS must be a whole number >= 1, got '{given}'"
    ):
        environment.worker_limit(2)


@pytest.mark.slow
def test_curves_whose_skip_rules_part_run_as_one_sweep_per_target_set(tiny, tmp_path, monkeypatch):
    exp = tiny(targets={"loose": "loss<=1.0", "tight": "loss<=0.3"}, max_steps=120, skip_after=1)
    curves = [("sgd", 0.4), ("sgd", 0.05), ("momentum", 0.02)]
    calls = []
    real = running.sweep

    def counted(workload, optimizers, sizes, **kwargs):
        calls.append((sizes[0], tuple(optimizers), len(kwargs["target"])))
        return real(workload, optimizers, sizes, **kwargs)

    monkeypatch.setattr(running, "sweep", counted)
    together = running.run_curves(exp, curves, list(exp.targets), str(tmp_path / "together"))
    assert [c for c in calls if c[0] == 32] == [(32, ("sgd",), 2), (32, ("momentum",), 1)]
    for curve, joint in zip(curves, together, strict=True):
        (alone,) = running.run_curves(exp, [curve], list(exp.targets), str(tmp_path / "alone"))
        for measure in exp.targets:
            columns = ["measure", "optimizer", "batch_size", "lr", "seed", "steps", "reason"]
            pd.testing.assert_frame_equal(joint[measure][0][columns], alone[measure][0][columns])
            assert joint[measure][1] == alone[measure][1]
    assert together[1]["loose"][1] == [8, 32]  # the slow rate missed at 128: skipped after
