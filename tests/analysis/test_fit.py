"""Fitting the constant-rate and tuned-rate laws: recovery, model choice, intervals, errors.

Synthetic curves follow the laws exactly, times log-normal seed-to-seed noise, rounded to whole
steps; runs at or below the pole b0 of the constant-rate law never reach the target, as in a
real sweep. Every random draw has a fixed seed, so each statistical statement below is checked
on the same data every time; the thresholds leave a margin under the rates measured on them.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

import batchsteps as bs
from batchsteps.analysis import LAWS, PARAMETERS, Fit, compare_laws, fit_steps, linearise

POWERS = 2.0 ** np.arange(1, 11)  # 2 ... 1024, the book's sweeps


def constant_law(b, min_steps=1000.0, min_batch=8.0):
    b = np.asarray(b, dtype=float)
    with np.errstate(divide="ignore"):
        return np.where(b > min_batch, min_steps * b / (b - min_batch), np.inf)


def tuned_law(b, min_steps=500.0, noise_scale=64.0):
    return min_steps * (1.0 + noise_scale / np.asarray(b, dtype=float))


def sweep(law, rng, seeds=5, sigma=0.1):
    """``(b, steps, reached)`` of a synthetic sweep: -1 steps where the target is not reached."""
    b = np.repeat(POWERS, seeds)
    truth = constant_law(b) if law == "constant_lr" else tuned_law(b)
    noisy = truth * np.exp(sigma * rng.standard_normal(b.size))
    reached = np.isfinite(noisy)
    return b, np.where(reached, np.round(noisy), -1.0), reached


TRUTH = {
    "constant_lr": {"min_steps": 1000.0, "min_batch": 8.0, "critical_batch": 16.0},
    "tuned_lr": {"min_steps": 500.0, "noise_scale": 64.0, "critical_batch": 64.0},
}


# --- known values ------------------------------------------------------------------------------


@pytest.mark.parametrize("law", LAWS)
def test_exact_curve_gives_back_its_parameters(law):
    b = POWERS[POWERS > 8]
    steps = constant_law(b) if law == "constant_lr" else tuned_law(b)
    fit = fit_steps(b, steps, law, n_boot=0)
    for name in PARAMETERS[law]:
        assert fit.params[name] == pytest.approx(TRUTH[law][name], rel=1e-6)
    assert fit.critical_batch == pytest.approx(TRUTH[law]["critical_batch"], rel=1e-6)
    assert fit.rmse_log < 1e-8
    assert fit.n_points == b.size and fit.n_excluded == 0


@pytest.mark.parametrize("law", LAWS)
def test_critical_batch_is_where_the_fitted_steps_double(law):
    b, steps, reached = sweep(law, np.random.default_rng(0))
    fit = fit_steps(b, steps, law, reached=reached, n_boot=0)
    assert fit.predict(fit.critical_batch) == pytest.approx(2 * fit.min_steps, rel=1e-12)


def test_critical_batch_outside_the_measured_sizes_is_flagged_as_extrapolated():
    b = np.array([10.0, 12.0, *POWERS[POWERS > 8]])
    inside = fit_steps(b, constant_law(b), n_boot=0)
    assert inside.critical_batch_in_range  # 16 within 10 ... 1024
    b = POWERS[POWERS >= 64]
    outside = fit_steps(b, constant_law(b), n_boot=0)
    assert outside.critical_batch == pytest.approx(16.0) and not outside.critical_batch_in_range


def test_constant_law_doctest_numbers():
    b = [16, 32, 64, 128, 256, 512]
    fit = fit_steps(b, [1000 * x / (x - 8) for x in b], n_boot=0)
    assert fit.params["min_batch"] == pytest.approx(8.0, rel=1e-9)
    assert fit.critical_batch == pytest.approx(2 * fit.params["min_batch"])


# --- recovery from noisy curves ----------------------------------------------------------------


@pytest.mark.parametrize("law", LAWS)
def test_noisy_sweep_recovers_parameters_within_ten_percent(law):
    b, steps, reached = sweep(law, np.random.default_rng(7))
    fit = fit_steps(b, steps, law, reached=reached, n_boot=300, seed=1)
    for name, value in TRUTH[law].items():
        estimate = fit.critical_batch if name == "critical_batch" else fit.params[name]
        assert estimate == pytest.approx(value, rel=0.10), name
        low, high = fit.ci[name]
        assert low <= value <= high, name


@pytest.mark.parametrize("law", LAWS)
def test_estimates_are_centred_on_the_truth_over_many_sweeps(law):
    # 10% noise, 5 seeds: the median estimate over 30 sweeps sits within 3% of the truth.
    estimates = []
    for r in range(30):
        b, steps, reached = sweep(law, np.random.default_rng(100 + r))
        estimates.append(fit_steps(b, steps, law, reached=reached, n_boot=0).critical_batch)
    assert np.median(estimates) == pytest.approx(TRUTH[law]["critical_batch"], rel=0.03)


def test_runs_that_did_not_reach_are_excluded_and_counted():
    b, steps, reached = sweep("constant_lr", np.random.default_rng(3), seeds=4)
    fit = fit_steps(b, steps, reached=reached, n_boot=0)
    assert fit.n_excluded == 12  # b = 2, 4, 8 lie at or below b0 = 8: 3 sizes x 4 seeds
    assert fit.excluded_batch_sizes == (2.0,) * 4 + (4.0,) * 4 + (8.0,) * 4
    assert fit.n_points == b.size - 12
    same = fit_steps(b[reached], steps[reached], n_boot=0)
    assert same.params == fit.params
    assert fit.partly_reached == ()


def test_batch_sizes_where_only_some_runs_reached_are_reported():
    b = np.array([4.0, 4.0, 4.0, 8.0, 8.0, 16.0, 32.0])
    steps = np.array([900.0, -1.0, 1100.0, 400.0, 420.0, 300.0, 250.0])
    fit = fit_steps(b, steps, reached=steps > 0, n_boot=0)
    assert fit.partly_reached == (4.0,)
    assert fit.n_excluded == 1 and fit.n_points == 6


# --- the law the data follow -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("law", "seeds", "at_least"),
    # measured on these seeds: 45/50 (constant, 5 seeds, 10% noise), 50/50 (tuned, 1 seed)
    [("constant_lr", 5, 40), ("tuned_lr", 1, 47)],
)
def test_aic_prefers_the_law_that_made_the_data(law, seeds, at_least):
    other = LAWS[1 - LAWS.index(law)]
    preferred = 0
    for r in range(50):
        b, steps, reached = sweep(law, np.random.default_rng(1000 + r), seeds=seeds)
        true = fit_steps(b, steps, law, reached=reached, n_boot=0)
        wrong = fit_steps(b, steps, other, reached=reached, n_boot=0)
        preferred += true.aic < wrong.aic
    assert preferred >= at_least


def test_aic_is_the_gaussian_log_residual_formula():
    b, steps, reached = sweep("tuned_lr", np.random.default_rng(5), seeds=2)
    fit = fit_steps(b, steps, "tuned_lr", n_boot=0)
    rss = float(np.sum(fit.residuals**2))
    n = fit.n_points
    assert fit.aic == pytest.approx(n * math.log(rss / n) + 2 * 3)
    assert fit.rmse_log == pytest.approx(math.sqrt(rss / n))
    np.testing.assert_allclose(fit.residuals, np.log(fit.steps) - np.log(fit.predict(b)))


def test_compare_laws_gives_akaike_weights_best_first():
    b, steps, reached = sweep("tuned_lr", np.random.default_rng(5), seeds=1)
    fits = {law: fit_steps(b, steps, law, n_boot=0) for law in LAWS}
    table = compare_laws(fits)
    assert table.index[0] == "tuned_lr"
    assert table["weight"].sum() == pytest.approx(1.0)
    assert table["delta_aic"].iloc[0] == 0.0
    delta = fits["constant_lr"].aic - fits["tuned_lr"].aic
    assert table.loc["constant_lr", "weight"] == pytest.approx(
        math.exp(-delta / 2) / (1 + math.exp(-delta / 2))
    )


def test_compare_laws_refuses_fits_of_different_data():
    b, steps, _ = sweep("tuned_lr", np.random.default_rng(5), seeds=1)
    one = fit_steps(b, steps, "tuned_lr", n_boot=0)
    other = fit_steps(b, steps * 1.1, "constant_lr", n_boot=0)
    with pytest.raises(ValueError, match="same points"):
        compare_laws({"a": one, "b": other})
    with pytest.raises(TypeError, match="fits"):
        compare_laws({})


# --- bootstrap intervals -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("law", "seeds", "method"),
    # measured coverage of the 95% intervals on these seeds: critical batch 45/50 and
    # min steps 45/50 (constant, seeds); 46/50 and 44/50 (tuned, points)
    [("constant_lr", 5, "seeds"), ("tuned_lr", 1, "points")],
)
def test_bootstrap_interval_covers_the_truth_in_most_repetitions(law, seeds, method):
    covered = {"critical_batch": 0, "min_steps": 0}
    for r in range(50):
        b, steps, reached = sweep(law, np.random.default_rng(1000 + r), seeds=seeds)
        fit = fit_steps(b, steps, law, reached=reached, n_boot=200, seed=r)
        assert fit.bootstrap == method
        for name in covered:
            low, high = fit.ci[name]
            covered[name] += low <= TRUTH[law][name] <= high
    assert covered["critical_batch"] >= 40 and covered["min_steps"] >= 40, covered


def test_seed_resampling_keeps_each_batch_sizes_mean_and_unbiased_spread():
    from batchsteps.analysis.fit import _resampled_logs

    b = np.repeat([2.0, 4.0, 8.0], 3)
    y = np.array([1.0, 2.0, 4.0, 0.0, 0.5, 1.0, 3.0, 3.0, 3.0])
    method, samples = _resampled_logs(b, y, y, 40000, np.random.default_rng(0))
    assert method == "seeds" and samples.shape == (40000, 9)
    for block in (slice(0, 3), slice(3, 6), slice(6, 9)):
        drawn = samples[:, block].ravel()
        assert drawn.mean() == pytest.approx(y[block].mean(), abs=0.02)
        assert drawn.var() == pytest.approx(y[block].var(ddof=1), rel=0.02, abs=1e-12)


def test_ci_has_every_parameter_and_the_critical_batch_and_brackets_the_estimate():
    b, steps, reached = sweep("constant_lr", np.random.default_rng(11))
    fit = fit_steps(b, steps, reached=reached, n_boot=200, level=0.9)
    assert set(fit.ci) == {"min_steps", "min_batch", "critical_batch"}
    assert fit.level == 0.9 and fit.n_boot == 200
    for name, (low, high) in fit.ci.items():
        estimate = fit.critical_batch if name == "critical_batch" else fit.params[name]
        assert low < estimate < high, name
    narrow = fit_steps(b, steps, reached=reached, n_boot=200, level=0.5)
    assert np.diff(narrow.ci["critical_batch"]) < np.diff(fit.ci["critical_batch"])


def test_bootstrap_is_reproducible_from_its_seed():
    b, steps, reached = sweep("tuned_lr", np.random.default_rng(2), seeds=3)
    first = fit_steps(b, steps, "tuned_lr", n_boot=100, seed=42)
    again = fit_steps(b, steps, "tuned_lr", n_boot=100, seed=42)
    other = fit_steps(b, steps, "tuned_lr", n_boot=100, seed=43)
    assert first.ci == again.ci
    assert first.ci != other.ci
    generator = fit_steps(b, steps, "tuned_lr", n_boot=100, seed=np.random.default_rng(42))
    assert generator.ci == first.ci


def test_without_bootstrap_the_intervals_are_nan():
    b, steps, _ = sweep("tuned_lr", np.random.default_rng(2), seeds=1)
    fit = fit_steps(b, steps, "tuned_lr", n_boot=0)
    assert fit.bootstrap == "none" and fit.n_boot == 0
    assert all(math.isnan(v) for pair in fit.ci.values() for v in pair)
    low, high = fit.band([4.0, 8.0])
    assert np.isnan(low).all() and np.isnan(high).all()


def test_band_brackets_the_fitted_curve_and_widens_with_level():
    b, steps, reached = sweep("constant_lr", np.random.default_rng(4))
    fit = fit_steps(b, steps, reached=reached, n_boot=300)
    grid = np.geomspace(16, 1024, 20)
    low, high = fit.band(grid)
    assert np.all(low <= fit.predict(grid)) and np.all(fit.predict(grid) <= high)
    low50, high50 = fit.band(grid, level=0.5)
    assert np.all(high50 - low50 <= high - low)


# --- predict and its inverse -------------------------------------------------------------------


@pytest.mark.parametrize("law", LAWS)
def test_predict_inverts_batch_size_for_and_back(law):
    b, steps, reached = sweep(law, np.random.default_rng(9))
    fit = fit_steps(b, steps, law, reached=reached, n_boot=0)
    grid = np.geomspace(fit.critical_batch / 1.5, 4096, 25)
    np.testing.assert_allclose(fit.batch_size_for(fit.predict(grid)), grid, rtol=1e-10)
    targets = fit.min_steps * np.array([1.01, 1.5, 2.0, 10.0])
    np.testing.assert_allclose(fit.predict(fit.batch_size_for(targets)), targets, rtol=1e-10)
    assert fit.batch_size_for(fit.min_steps) == math.inf
    assert fit.batch_size_for(0.5 * fit.min_steps) == math.inf


def test_predict_is_infinite_at_and_below_the_pole_and_scalar_for_scalars():
    b = POWERS[POWERS > 8]
    fit = fit_steps(b, constant_law(b), n_boot=0)
    pole = fit.params["min_batch"]
    assert fit.predict(pole) == math.inf and fit.predict(pole / 2) == math.inf
    assert isinstance(fit.predict(64.0), float)
    assert fit.predict(np.array([64.0, 128.0])).shape == (2,)


def test_predict_reproduces_a_noise_free_sweep():
    b = POWERS
    fit = fit_steps(b, tuned_law(b), "tuned_lr", n_boot=0)
    np.testing.assert_allclose(fit.predict(b), tuned_law(b), rtol=1e-8)


# --- the linearisation -------------------------------------------------------------------------


def test_linearisation_of_the_constant_law_is_a_line_in_inverse_steps():
    b = POWERS[POWERS > 8]
    lin = linearise(b, constant_law(b))
    np.testing.assert_allclose(lin.x, 1 / b)
    np.testing.assert_allclose(lin.y, 1 / constant_law(b))
    assert lin.intercept == pytest.approx(1 / 1000)
    assert lin.slope == pytest.approx(-8 / 1000)
    assert lin.params == pytest.approx({"min_steps": 1000.0, "min_batch": 8.0})


def test_linearisation_of_the_tuned_law_is_a_line_in_steps():
    lin = linearise(POWERS, tuned_law(POWERS), "tuned_lr")
    assert lin.intercept == pytest.approx(500.0)
    assert lin.slope == pytest.approx(500.0 * 64.0)
    assert lin.params == pytest.approx({"min_steps": 500.0, "noise_scale": 64.0})


# --- what a Fit records ------------------------------------------------------------------------


def test_fit_is_frozen_and_its_arrays_read_only():
    fit = fit_steps(POWERS, tuned_law(POWERS), "tuned_lr", n_boot=20)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fit.law = "constant_lr"
    with pytest.raises(TypeError):
        fit.params["min_steps"] = 1.0
    with pytest.raises(ValueError):
        fit.steps[0] = 1.0
    with pytest.raises(ValueError):
        fit.draws["critical_batch"][0] = 1.0


def test_steps_rising_with_batch_size_put_the_pole_on_its_bound_and_say_so():
    steps = 300.0 * (1.0 + 0.01 * np.log2(POWERS))  # no law with a pole fits: b0 goes to 0
    fit = fit_steps(POWERS, steps, n_boot=0)
    assert fit.at_bound == ("min_batch",)
    assert fit.params["min_batch"] == pytest.approx(0.0, abs=1e-6)


def test_table_lists_estimates_with_intervals():
    b, steps, reached = sweep("constant_lr", np.random.default_rng(6))
    fit = fit_steps(b, steps, reached=reached, n_boot=50)
    table = fit.table()
    assert list(table.index) == ["min_steps", "min_batch", "critical_batch"]
    assert table.loc["critical_batch", "estimate"] == fit.critical_batch
    assert tuple(table.loc["min_batch", ["low", "high"]]) == fit.ci["min_batch"]
    assert "critical_batch=" in repr(fit)


def test_fit_is_reachable_from_the_package():
    assert bs.analysis.fit_steps is fit_steps and bs.analysis.Fit is Fit


# --- a sweep DataFrame -------------------------------------------------------------------------


def _frame(seeds=3):
    rows = []
    rng = np.random.default_rng(21)
    for optimizer, scale in (("sgd", 1.0), ("momentum", 0.5)):
        b, steps, reached = sweep("constant_lr", rng, seeds=seeds)
        for i in range(b.size):
            rows.append(
                dict(optimizer=optimizer, batch_size=int(b[i]), lr=0.1, seed=i % seeds,
                     steps=int(steps[i] * scale) if reached[i] else -1, reached=bool(reached[i]),
                     reason="target" if reached[i] else "max_steps", wall_time=0.01)
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_frame_gives_one_fit_per_optimizer_equal_to_the_array_fit():
    frame = _frame()
    fits = fit_steps(frame, law="constant_lr", n_boot=50, seed=3)
    assert set(fits) == {"sgd", "momentum"}
    sgd = frame[frame.optimizer == "sgd"]
    direct = fit_steps(
        sgd.batch_size.to_numpy(), sgd.steps.to_numpy(), reached=sgd.reached.to_numpy(), n_boot=0
    )
    assert fits["sgd"].params == pytest.approx(dict(direct.params))
    assert fits["sgd"].n_excluded == 9 and fits["sgd"].bootstrap == "seeds"
    assert dict(fits["sgd"].excluded_reasons) == {"max_steps": 9}
    assert fits["momentum"].min_steps == pytest.approx(fits["sgd"].min_steps / 2, rel=0.15)


def test_frame_grouped_by_several_columns_has_tuple_keys():
    fits = fit_steps(_frame(), by=["optimizer", "lr"], n_boot=0)
    assert set(fits) == {("sgd", 0.1), ("momentum", 0.1)}


def test_frame_groups_with_missing_values_are_kept():
    frame = _frame().assign(beta=lambda f: np.where(f.optimizer == "momentum", 0.9, np.nan))
    fits = fit_steps(frame, by=["optimizer", "beta"], n_boot=0)
    assert len(fits) == 2 and ("momentum", 0.9) in fits


def test_frame_errors_name_what_is_wrong():
    frame = _frame()
    with pytest.raises(ValueError, match="'reached'"):
        fit_steps(frame.drop(columns="reached"))
    with pytest.raises(ValueError, match="mixes configurations"):
        fit_steps(pd.concat([frame, frame.assign(lr=0.2)]))
    with pytest.raises(TypeError, match="reached"):
        fit_steps(frame.assign(reached=frame.reached.astype(int)))
    with pytest.raises(ValueError, match="steps"):
        fit_steps(frame, frame.steps)
    with pytest.raises(TypeError, match="by="):
        fit_steps(frame, by=3)
    few = frame[(frame.optimizer == "sgd") & (frame.batch_size <= 32)]
    with pytest.raises(ValueError, match="'optimizer': 'sgd'.*distinct"):
        fit_steps(few)


# --- bad inputs --------------------------------------------------------------------------------

GOOD_B = [2.0, 4.0, 8.0, 16.0]
GOOD_K = [300.0, 200.0, 150.0, 125.0]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(batch_sizes=[2, 4, 8], steps=[3, 2]), ValueError, "batch_sizes has 3.*steps has 2"),
        (dict(batch_sizes=[2, 4, 4, 2], steps=[3, 2, 2, 3]), ValueError, "has 2 distinct"),
        (dict(batch_sizes=GOOD_B, steps=[300, 0, 150, 125]), ValueError, r"steps=\[0.0\]"),
        (dict(batch_sizes=GOOD_B, steps=[300, -1, 150, 125]), ValueError, "reached=False"),
        (dict(batch_sizes=GOOD_B, steps=[300, np.nan, 150, 125]), ValueError, "steps="),
        (dict(batch_sizes=GOOD_B, steps=[300, np.inf, 150, 125]), ValueError, "steps="),
        (dict(batch_sizes=[2, 0, 8, 16], steps=GOOD_K), ValueError, "batch_sizes="),
        (dict(batch_sizes=[2, -4, 8, 16], steps=GOOD_K), ValueError, "batch_sizes="),
        (dict(batch_sizes=[2, np.inf, 8, 16], steps=GOOD_K), ValueError, "batch_sizes="),
        (dict(batch_sizes=[[2, 4], [8, 16]], steps=GOOD_K), ValueError, "one-dimensional"),
        (dict(batch_sizes=["2", "4", "8", "16"], steps=GOOD_K), TypeError, "batch_sizes"),
        (dict(batch_sizes=GOOD_B, steps=[True] * 4), TypeError, "steps"),
        (dict(batch_sizes=GOOD_B, steps=GOOD_K, law="linear"), ValueError, "law='linear'"),
        (dict(batch_sizes=GOOD_B, steps=GOOD_K, law=None), ValueError, "law=None"),
        (dict(batch_sizes=GOOD_B, steps=GOOD_K, level=1.0), ValueError, "level=1.0"),
        (dict(batch_sizes=GOOD_B, steps=GOOD_K, level="95%"), TypeError, "level="),
        (dict(batch_sizes=GOOD_B, steps=GOOD_K, n_boot=-1), ValueError, "n_boot=-1"),
        (dict(batch_sizes=GOOD_B, steps=GOOD_K, n_boot=2.5), TypeError, "n_boot=2.5"),
        (dict(batch_sizes=GOOD_B, steps=GOOD_K, seed=-3), TypeError, "seed=-3"),
        (dict(batch_sizes=GOOD_B, steps=GOOD_K, reached=[1, 1, 1, 1]), TypeError, "reached="),
        (dict(batch_sizes=GOOD_B, steps=GOOD_K, reached=[True] * 3), ValueError, "reached has"),
        (dict(batch_sizes=GOOD_B, steps=None), ValueError, "steps=None"),
    ],
)  # fmt: skip
def test_bad_input_is_a_clear_error(kwargs, error, match):
    with pytest.raises(error, match=match):
        fit_steps(**kwargs)


def test_too_few_reached_points_is_an_error_that_counts_the_excluded():
    with pytest.raises(ValueError, match="2 distinct.*2 excluded"):
        fit_steps(GOOD_B, [-1, -1, 150, 125], reached=np.array([False, False, True, True]))


@pytest.mark.parametrize("bad", [0.0, -2.0, np.nan, np.inf])
def test_predict_and_its_inverse_refuse_non_positive_arguments(bad):
    fit = fit_steps(GOOD_B, GOOD_K, "tuned_lr", n_boot=0)
    with pytest.raises(ValueError, match="b="):
        fit.predict(bad)
    with pytest.raises(ValueError, match="steps="):
        fit.batch_size_for(bad)
    with pytest.raises(ValueError, match="level="):
        fit.band(8.0, level=1.5)
