"""The book's experiments: configurations per scale, the learning-rate rule, the shared sweep
with its store and skip rule, the theory's ratios, and verdicts computed from intervals."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import batchsteps.experiments as ex
from batchsteps.analysis import fit_steps

torch.set_num_threads(1)


# ---------------------------------------------------------------------------- configuration


def test_scale_defaults_to_book_and_reads_the_environment(monkeypatch):
    monkeypatch.delenv(ex.SCALE_ENV, raising=False)
    assert ex.current_scale() == "book"
    monkeypatch.setenv(ex.SCALE_ENV, " Full ")
    assert ex.current_scale() == "full"
    assert ex.experiment("digits").scale == "full"
    assert ex.current_scale("book") == "book"  # an explicit value wins over the environment


def test_unknown_scale_names_where_it_came_from(monkeypatch):
    monkeypatch.setenv(ex.SCALE_ENV, "huge")
    with pytest.raises(ValueError, match=r"\$BATCHSTEPS_SCALE='huge'.*book, full"):
        ex.current_scale()
    with pytest.raises(ValueError, match=r"scale='tiny'"):
        ex.current_scale("tiny")
    with pytest.raises(TypeError, match="scale=3"):
        ex.current_scale(3)


def test_book_scale_sweeps_two_to_1024_to_both_targets():
    exp = ex.experiment("digits", "book")
    assert exp.batch_sizes == tuple(2**k for k in range(1, 11))
    assert set(exp.targets) == {"grad_norm_sq", "loss"}
    assert {"sgd", "momentum", "adam"} <= set(exp.optimizers)
    assert len(exp.seeds) >= 5 and exp.workers >= 1


def test_full_scale_is_larger_in_every_direction():
    book, full = ex.experiment("digits", "book"), ex.experiment("digits", "full")
    assert len(full.seeds) > len(book.seeds)
    assert min(full.batch_sizes) <= min(book.batch_sizes)
    assert max(full.batch_sizes) > max(book.batch_sizes)
    assert set(full.optimizers) > set(book.optimizers)
    assert full.skip_after is None and full.max_steps > book.max_steps
    fashion = ex.experiment("fashion", "full")
    assert fashion.workload_options == {}  # the whole training set
    assert ex.experiment("cifar", "full").workload == "cifar10-resnet20"


def test_every_grid_is_a_factor_two_ladder():
    for name in ex.EXPERIMENTS[:2]:
        exp = ex.experiment(name, "book")
        for o in exp.optimizers:
            grid = np.array(exp.lr_grid[o])
            np.testing.assert_allclose(grid[1:] / grid[:-1], 2.0)


def test_bad_experiment_names_and_cifar_at_book_scale():
    with pytest.raises(ValueError, match="name='mnist'"):
        ex.experiment("mnist", "book")
    with pytest.raises(ValueError, match="name='cifar' runs only at scale 'full'"):
        ex.experiment("cifar", "book")


def test_configuration_table_has_one_column_per_scale():
    table = ex.experiment("digits", "book").table()
    assert list(table.columns) == ["book"]
    assert table.loc["seeds per cell", "book"] == 5


def test_store_folder_from_argument_environment_and_default(tmp_path, monkeypatch):
    exp = ex.experiment("digits", "book")
    assert ex.store_folder(exp, tmp_path) == tmp_path / "book" / "digits"
    monkeypatch.setenv(ex.STORE_ENV, str(tmp_path / "env"))
    assert ex.store_folder(exp) == tmp_path / "env" / "book" / "digits"
    monkeypatch.delenv(ex.STORE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # platformdirs on Linux
    assert ex.store_folder(exp) == tmp_path / "cache" / "batchsteps" / "stores" / "book" / "digits"
    with pytest.raises(TypeError, match="store=3"):
        ex.store_folder(exp, 3)


def test_the_default_store_is_the_users_cache_never_the_package_and_is_announced_once(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.delenv(ex.STORE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    exp = ex.experiment("digits", "book")
    first, second = ex.store_folder(exp), ex.store_folder(exp)
    assert first == second and not first.is_relative_to(Path(ex.__file__).parents[2])
    said = capsys.readouterr().out
    assert said.count("sweep results are kept in") == 1 and str(tmp_path / "cache") in said


# ---------------------------------------------------------------------------- the rule


def _tiny(**changes) -> ex.Experiment:
    base = dataclasses.replace(
        ex.experiment("digits", "book"),
        optimizers=("sgd", "momentum"),
        batch_sizes=(8, 32, 128),
        seeds=(0, 1, 2),
        targets={"loss": "loss<=1.0"},
        max_steps=300,
        lr_grid={"sgd": (0.1, 0.2, 0.4), "momentum": (0.01, 0.02, 0.04)},
        tune_batch=64,
        tune_seeds=(0,),
        tune_target="loss<=1.0",
        tune_max_steps=300,
        workers=1,
        n_boot=50,
    )
    return dataclasses.replace(base, **changes)


def test_rule_takes_the_smallest_rate_within_tolerance_of_the_fewest_and_halves_it():
    table = pd.DataFrame({"lr": [0.1, 0.2, 0.4, 0.8], "median_steps": [400, 205, 200, math.inf]})
    assert ex._rule(table, 0.1) == (0.2, 0.1)
    assert ex._rule(table, 0.0) == (0.4, 0.2)
    with pytest.raises(RuntimeError, match="widen it"):
        ex._rule(table.assign(median_steps=math.inf), 0.1)


def test_tune_measures_every_grid_rate_and_applies_the_rule(tmp_path):
    tuning = ex.tune(_tiny(), tmp_path)
    assert len(tuning.table) == 6
    for o in ("sgd", "momentum"):
        rows = tuning.table[tuning.table["optimizer"] == o]
        fastest, chosen = ex._rule(rows, 0.1)
        assert tuning.fastest[o] == fastest and tuning.lr[o] == chosen
    # larger rates reach a loss target sooner at a moderate batch (far from instability)
    sgd = tuning.table[tuning.table["optimizer"] == "sgd"]["median_steps"].to_numpy()
    assert np.all(np.diff(sgd) < 0)
    with pytest.raises(TypeError, match="exp='digits'"):
        ex.tune("digits", tmp_path)


# ---------------------------------------------------------------------------- the sweep


def test_measure_runs_every_cell_then_reads_them_back(tmp_path):
    exp = _tiny()
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
    with pytest.raises(ValueError, match="optimizer='adam'"):
        first.runs("adam", "loss")


def test_skip_rule_stops_after_consecutive_batch_sizes_without_a_run_reaching(tmp_path):
    exp = _tiny(
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


# ---------------------------------------------------------------------------- theory, verdicts


def test_theory_ratios_are_the_small_rate_limits_of_the_bounds():
    crit, steps = ex.theory_ratios("momentum", 0.05, 0.4, beta=0.5)
    assert crit == pytest.approx(0.05 / (0.25 * 0.4))
    assert steps == pytest.approx(0.5 * 0.4 / 0.05)
    assert ex.theory_ratios("sgd", 0.3, 0.3) == (1.0, 1.0)
    assert all(math.isnan(v) for v in ex.theory_ratios("adam", 0.01, 0.3))
    with pytest.raises(ValueError, match="lr=0"):
        ex.theory_ratios("momentum", 0, 0.3)
    with pytest.raises(ValueError, match="beta=1.0"):
        ex.theory_ratios("momentum", 0.1, 0.3, beta=1.0)


def _synthetic(
    curves: dict[str, tuple[float, float]],
    sizes=(2, 4, 8, 16, 32, 64, 128, 256),
    tuned: tuple[str, ...] = (),
    max_steps: int = 10**9,
    scatter: float = 0.03,
):
    """A Measured whose runs follow K = K_min b/(b - b0) times log-normal noise, or, for the
    optimizers in ``tuned``, the pole-free K = K_min (1 + B/b) with (K_min, B) given; runs
    needing more than ``max_steps`` are stopped there (reason ``"max_steps"``)."""
    rng = np.random.default_rng(1)
    rows = []
    for o, (k_min, b0) in curves.items():
        for b in sizes:
            for seed in range(6):
                if o in tuned:
                    k = k_min * (1 + b0 / b)
                else:
                    k = k_min * b / (b - b0) if b > b0 else math.inf
                k = k * math.exp(scatter * rng.standard_normal())
                reached = k <= max_steps
                steps = int(round(k)) if reached else -1
                reason = "reached" if reached else "max_steps"
                rows.append((o, b, seed, steps, reached, reason, max_steps))
    frame = pd.DataFrame(
        rows,
        columns=["optimizer", "batch_size", "seed", "steps", "reached", "reason", "max_steps"],
    )
    frame.insert(0, "measure", "loss")
    exp = dataclasses.replace(
        ex.experiment("digits", "book"),
        optimizers=tuple(curves),
        batch_sizes=tuple(sizes),
        targets={"loss": "loss<=1"},
        n_boot=100,
    )
    lr = {o: 0.1 for o in curves}
    tuning = ex.Tuning(pd.DataFrame(), lr, lr, 64, "loss<=1")
    cost = ex.Cost(0, 0, 0, 0, 0.0, 0.0)
    return ex.Measured(exp, tuning, frame, pd.DataFrame(), cost)


def test_verdicts_follow_the_intervals():
    measured = _synthetic({"sgd": (1000.0, 3.0), "momentum": (300.0, 12.0), "adam": (2000.0, 1.0)})
    fits = ex.fit_laws(measured, "loss")
    verdict = ex.verdicts(measured, fits).set_index(["claim", "optimizer"])["verdict"]
    assert verdict["1: a critical batch exists", "sgd"] == "holds"
    assert verdict["1: a critical batch exists", "momentum"] == "holds"
    assert verdict["1: a critical batch exists", "adam"] == "undecided"  # b* = 2 = the smallest b
    assert verdict["2a: larger critical batch than SGD", "momentum"] == "holds"
    assert verdict["2b: fewer steps than SGD", "momentum"] == "holds"
    assert verdict["2a: larger critical batch than SGD", "adam"] == "fails"
    assert verdict["2b: fewer steps than SGD", "adam"] == "fails"


def test_a_pole_far_below_the_smallest_batch_supports_no_claim():
    measured = _synthetic({"sgd": (1000.0, 0.3)})  # b0 = 0.3 while b >= 2: no pole to see
    fits = ex.fit_laws(measured, "loss")
    assert ex.law_preference(fits["sgd"]).law != "constant_lr"
    assert ex.verdicts(measured, fits).iloc[0]["verdict"] == ex.NOT_SUPPORTED


def test_claims_on_the_pole_are_not_supported_where_the_tuned_law_fits_better():
    measured = _synthetic(
        {"sgd": (1000.0, 3.0), "momentum": (300.0, 40.0), "adam": (200.0, 30.0)},
        tuned=("momentum", "adam"),
    )
    fits = ex.fit_laws(measured, "loss")
    table = ex.verdicts(measured, fits).set_index(["claim", "optimizer"])
    for o in ("momentum", "adam"):
        assert ex.law_preference(fits[o]).law == "tuned_lr"
        for claim in ("1: a critical batch exists", "2a: larger critical batch than SGD"):
            row = table.loc[(claim, o)]
            assert row["verdict"] == ex.NOT_SUPPORTED
            assert "tuned-rate law" in row["evidence"] and "ΔAIC" in row["evidence"]
    assert table.loc[("1: a critical batch exists", "sgd"), "verdict"] == "holds"
    # the floors are compared with the law that fits: the tuned one's S_min for momentum
    row = table.loc[("2b: fewer steps than SGD", "momentum")]
    assert row["verdict"] == "holds" and "(tuned_lr) vs SGD" in row["evidence"]
    sentences = ex.summary(ex.verdicts(measured, fits))
    assert sentences["1: a critical batch exists"] == (
        f"holds for sgd; {ex.NOT_SUPPORTED} for momentum, adam"
    )


def test_claim_two_a_needs_sgd_to_show_its_pole_too():
    measured = _synthetic({"sgd": (1000.0, 8.0), "momentum": (300.0, 12.0)}, tuned=("sgd",))
    fits = ex.fit_laws(measured, "loss")
    table = ex.verdicts(measured, fits).set_index(["claim", "optimizer"])
    row = table.loc[("2a: larger critical batch than SGD", "momentum")]
    assert row["verdict"] == ex.NOT_SUPPORTED and row["evidence"].startswith("for SGD:")


def test_law_preference_needs_a_margin_of_two():
    from types import SimpleNamespace as F

    def pref(constant, tuned):
        return ex.law_preference({"constant_lr": F(aic=constant), "tuned_lr": F(aic=tuned)})

    assert pref(10.0, 8.0).law == "tuned_lr"
    assert pref(10.0, 8.1).law == "indistinguishable"
    assert pref(8.1, 10.0).law == "indistinguishable"
    assert pref(8.0, 10.0).law == "constant_lr"
    assert pref(10.0, 8.1).delta_aic == pytest.approx(1.9)
    assert "indistinguishable" in pref(10.0, 9.0).text
    with pytest.raises(TypeError, match="by_law="):
        ex.law_preference({"constant_lr": F(aic=1.0)})
    with pytest.raises(ValueError, match="margin=-1"):
        ex.law_preference({"constant_lr": F(aic=1.0), "tuned_lr": F(aic=1.0)}, margin=-1)


def test_an_indistinguishable_pair_of_laws_supports_no_claim_on_the_pole():
    measured = _synthetic({"sgd": (1000.0, 3.0)})
    fits = ex.fit_laws(measured, "loss")
    fake = {"sgd": dict(fits["sgd"])}
    fake["sgd"]["tuned_lr"] = dataclasses.replace(
        fits["sgd"]["tuned_lr"], aic=fits["sgd"]["constant_lr"].aic - 1.0
    )
    row = ex.verdicts(measured, fake).iloc[0]
    assert row["verdict"] == ex.NOT_SUPPORTED and "|ΔAIC| = 1 < 2" in row["evidence"]
    shown = ex.present(ex.comparison(measured, fake))
    assert shown.loc["sgd", "AIC prefers"].startswith("indistinguishable")


def test_claim_one_fails_when_the_pole_is_at_the_top_of_the_range():
    measured = _synthetic({"sgd": (100.0, 60.0)}, sizes=(64, 96, 128, 192, 256))
    fits = ex.fit_laws(measured, "loss")
    row = ex.verdicts(measured, fits).iloc[0]
    assert row["verdict"] == "fails" and "no saturation" in row["evidence"]


def test_comparison_reports_fits_ratios_and_the_preferred_law():
    measured = _synthetic({"sgd": (1000.0, 3.0), "momentum": (300.0, 12.0)})
    fits = ex.fit_laws(measured, "loss")
    table = ex.comparison(measured, fits)
    assert table.loc["sgd", "critical_ratio"] == 1.0
    assert table.loc["momentum", "critical_batch"] == pytest.approx(24.0, rel=0.1)
    assert table.loc["momentum", "steps_ratio"] == pytest.approx(0.3, rel=0.1)
    assert (table["preferred_law"] == "constant_lr").all()
    assert table.loc["momentum", "theory_critical_ratio"] == pytest.approx(100.0)  # same rates
    for o in ("sgd", "momentum"):
        low, high = table.loc[o, ["critical_low", "critical_high"]]
        assert low <= table.loc[o, "critical_batch"] <= high
    direct = fit_steps(measured.runs("sgd", "loss"), law="constant_lr", n_boot=0)["sgd"]
    assert table.loc["sgd", "min_steps"] == pytest.approx(direct.min_steps)


def test_fit_laws_censors_runs_out_of_budget_instead_of_dropping_them():
    # b0 = 6: at b = 8 the median needs 4 K_min = 4000 steps; a budget of 4000 stops about
    # half of those runs. Dropping them would keep the fast half and pull b0 down.
    measured = _synthetic({"sgd": (1000.0, 6.0)}, sizes=(8, 16, 32, 64, 128, 256), max_steps=4000,
                          scatter=0.2)  # fmt: skip
    runs = measured.runs("sgd", "loss")
    assert 0 < (~runs["reached"] & (runs["batch_size"] == 8)).sum() < 6
    fit = ex.fit_laws(measured, "loss")["sgd"]["constant_lr"]
    assert fit.n_censored == int((~runs["reached"]).sum())
    assert fit.counts.loc[8, "budget"] == fit.n_censored and fit.counts.loc[8, "reached"] > 0
    assert fit.params["min_batch"] == pytest.approx(6.0, rel=0.1)
    survivors = fit_steps(runs[runs["reached"]], law="constant_lr", n_boot=0)["sgd"]
    assert survivors.params["min_batch"] < fit.params["min_batch"]  # the bias censoring removes


def test_fit_laws_rejects_an_unmeasured_target():
    measured = _synthetic({"sgd": (1000.0, 3.0)})
    with pytest.raises(ValueError, match="measure='accuracy'"):
        ex.fit_laws(measured, "accuracy")
    with pytest.raises(TypeError, match="measured=1"):
        ex.fit_laws(1, "loss")


def test_an_optimizer_without_three_reached_batches_is_undecided_not_an_error():
    measured = _synthetic({"sgd": (1000.0, 3.0), "momentum": (300.0, 70.0)})
    fits = ex.fit_laws(measured, "loss")
    assert set(fits) == {"sgd"}  # momentum reaches only at 128 and 256
    verdict = ex.verdicts(measured, fits)
    rows = verdict[verdict["optimizer"] == "momentum"]
    assert len(rows) == 3 and (rows["verdict"] == "undecided").all()
    assert ex.fit_laws(measured, "loss", optimizers=("sgd",)).keys() == {"sgd"}
    with pytest.raises(ValueError, match="'adam' was not measured"):
        ex.fit_laws(measured, "loss", optimizers=("adam",))


def test_present_and_summary_put_the_numbers_into_words():
    measured = _synthetic({"sgd": (1000.0, 3.0), "momentum": (300.0, 12.0)})
    fits = ex.fit_laws(measured, "loss")
    shown = ex.present(ex.comparison(measured, fits))
    assert shown.loc["momentum", "b* / SGD's: theory"] == "100"
    assert shown.loc["sgd", "b* [95% interval]"].count("[") == 1
    verdict = ex.verdicts(measured, fits).assign(target="loss")
    sentences = ex.summary(verdict)
    assert sentences["2b: fewer steps than SGD"] == "holds for momentum (loss)"
    with pytest.raises(TypeError, match="verdicts_table"):
        ex.summary(pd.DataFrame({"claim": []}))
    with pytest.raises(TypeError, match="table="):
        ex.present(pd.DataFrame())


def test_largest_smoothness_inverts_each_step_size_condition():
    assert ex.largest_smoothness("sgd", 0.5) == pytest.approx(4.0)
    beta, lr = 0.9, 0.32
    expected = 2 * (1 - beta) ** 2 / (lr * (1 + beta))
    assert ex.largest_smoothness("momentum", lr, beta=beta) == pytest.approx(expected)
    assert math.isnan(ex.largest_smoothness("adam", 0.01))
    with pytest.raises(ValueError, match="lr=-1"):
        ex.largest_smoothness("sgd", -1)


def test_initial_loss_of_a_ten_class_network_is_about_log_ten():
    values = ex.initial_values(ex.experiment("digits", "book"), seeds=3)
    assert set(values) == {"grad_norm_sq", "loss"}
    assert values["loss"] == pytest.approx(math.log(10), rel=0.05)
    assert values["grad_norm_sq"] > 0
    with pytest.raises(ValueError, match="seeds=0"):
        ex.initial_values(ex.experiment("digits", "book"), seeds=0)


def test_comparison_without_theory_leaves_the_theory_columns_empty():
    measured = _synthetic({"sgd": (1000.0, 3.0), "momentum": (300.0, 12.0)})
    table = ex.comparison(measured, ex.fit_laws(measured, "loss"), theory=False)
    assert table[["theory_critical_ratio", "theory_steps_ratio"]].isna().all().all()
    assert table.loc["momentum", "critical_ratio"] > 1  # the measured ratios stay


# ---------------------------------------------------------------------------- rate and budget


def test_rate_sweep_runs_half_and_double_the_rate_and_reuses_the_measured_curve(tmp_path):
    exp = _tiny(optimizers=("sgd",), batch_sizes=(8, 16, 32, 64, 128), max_steps=400)
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
    with pytest.raises(ValueError, match="optimizer='adam'"):
        ex.rate_sweep(measured, "adam")
    with pytest.raises(ValueError, match="factors="):
        ex.rate_sweep(measured, factors=(0.5, -1.0))


def test_a_step_budget_alone_makes_a_pole_free_curve_look_like_it_has_one():
    # S_min (1 + B/b) has no pole; cut at 2000 steps it cannot finish below b = 500 * 64 / 1500
    art = ex.budget_artefact(500.0, 64.0, batch_sizes=tuple(2**k for k in range(1, 11)),
                             seeds=5, max_steps=2000, scatter=0.1, n_boot=0)  # fmt: skip
    assert art.budget_pole == pytest.approx(500 * 64 / 1500)
    assert set(art.frame.loc[~art.frame["reached"], "batch_size"]) <= {2, 4, 8, 16, 32}
    constant = art.fits["constant_lr"]
    assert constant.params["min_batch"] > 1.0  # a pole the curve does not have
    with pytest.raises(ValueError, match="max_steps=100"):
        ex.budget_artefact(500.0, 64.0, batch_sizes=(2, 4, 8), seeds=2, max_steps=100, scatter=0)
    with pytest.raises(ValueError, match="scatter=-1"):
        ex.budget_artefact(500.0, 64.0, batch_sizes=(2, 4, 8), seeds=2, max_steps=900, scatter=-1)


def test_budget_table_sets_each_measured_pole_beside_the_budgets_own():
    measured = _synthetic({"sgd": (1000.0, 6.0)}, max_steps=3000, scatter=0.1)
    fits = ex.fit_laws(measured, "loss")
    table = ex.budget_table(measured, fits)
    row = table.loc["sgd"]
    assert row["measured_b0_low"] <= row["measured_b0"] <= row["measured_b0_high"]
    tuned = fits["sgd"]["tuned_lr"]
    expected = tuned.min_steps * tuned.params["noise_scale"] / (3000 - tuned.min_steps)
    assert row["budget_pole"] == pytest.approx(expected)
    assert row["measured_prefers"] == "constant_lr"


def test_theory_check_words_the_comparison_from_the_verdicts_and_the_ratios():
    measured = _synthetic({"sgd": (1000.0, 3.0), "momentum": (300.0, 12.0)})
    fits = ex.fit_laws(measured, "loss")
    table = ex.comparison(measured, fits)
    text = ex.theory_check(table, ex.verdicts(measured, fits))
    crit = table.loc["momentum", "critical_ratio"]
    factor = table.loc["momentum", "theory_critical_ratio"] / crit
    assert text.startswith(f"the measured ratio of b*, {crit:.3g}, is in the predicted direction")
    assert f"{factor:.2g} times smaller than predicted" in text
    assert "the measured ratio of K_min" in text
    # where SGD shows no pole, the b* comparison is not made
    tuned = _synthetic({"sgd": (1000.0, 8.0), "momentum": (300.0, 12.0)}, tuned=("sgd",))
    tuned_fits = ex.fit_laws(tuned, "loss")
    text = ex.theory_check(ex.comparison(tuned, tuned_fits), ex.verdicts(tuned, tuned_fits))
    assert text.startswith(f"for b* the comparison is {ex.NOT_SUPPORTED} (for SGD:")
    with pytest.raises(ValueError, match="optimizer='adam'"):
        ex.theory_check(table, ex.verdicts(measured, fits), "adam")


def test_left_end_counts_how_the_runs_at_the_smallest_batch_ended():
    measured = _synthetic({"sgd": (1000.0, 3.0), "momentum": (300.0, 2.5)}, max_steps=5000)
    table = ex.left_end(measured).set_index("optimizer")
    # sgd: b = 2 is below its pole, every run needs more than the budget; momentum's K(2) is
    # infinite too (b0 = 2.5); both miss at b = 2
    assert table.loc["sgd", "reached"] == 0 and table.loc["sgd", "out of budget"] == 6
    text = ex.left_end_summary(measured)
    assert text.startswith("at b = 2, 2 of the 2 measured curves have no run reaching the target")
    assert "2 because every run there ran out of the step budget" in text
