"""Coverage and bias of fit_steps on simulated sweeps with known truth.

The slow tests are the Monte-Carlo check of issue 15: 95% intervals at 3, 5 and 8 seeds and
0%, 20%, 40% censoring at the smallest batch size, both laws, 400 replications per setting,
and the bias of b0 and B_noise at 30% censoring. With 400 replications a coverage carries a
Monte-Carlo standard error of 0.011, so a perfectly calibrated interval lands outside
[0.93, 0.97] in about 7% of settings by chance alone: each setting is held to that band
widened by two standard errors, the pooled coverage of each parameter over its nine
settings (3600 replications, standard error 0.004) to [0.94, 0.96], and at most 5 of the 36
settings may leave the band itself. Measured on seed 2026: pooled coverage 0.959 (b0), 0.950
(K_min), 0.951 (S_min), 0.942 (B_noise); settings from 0.928 to 0.975, 3 of 36 outside
[0.93, 0.97]; bias at most 1.2%; about 2 minutes of one core for the 7200 fits.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from batchsteps.analysis import coverage_table, simulate_runs
from batchsteps.analysis.coverage import BATCH_SIZES, TRUTH

SECOND = {"constant_lr": "min_batch", "tuned_lr": "noise_scale"}


def test_simulated_budget_stops_the_asked_share_of_the_smallest_batch_size():
    frame = simulate_runs("constant_lr", TRUTH["constant_lr"], seeds=4000, censoring=0.3, seed=1)
    share = (~frame.reached).groupby(frame.batch_size).mean()
    assert share.loc[8.0] == pytest.approx(0.3, abs=0.03)
    assert share.loc[16.0] < 0.05 and share.loc[1024.0] == 0.0
    assert set(frame.loc[~frame.reached, "reason"]) == {"max_steps"}
    assert (frame.loc[~frame.reached, "steps"] == -1).all()
    assert share.index.tolist() == list(BATCH_SIZES)
    # whole steps and a whole budget, as a sweep has them: reached exactly when within it
    budget, steps = frame["max_steps"].iloc[0], frame.loc[frame.reached, "steps"]
    assert budget == int(budget) and (steps == steps.round()).all() and steps.max() <= budget


def test_simulated_scatter_grows_towards_small_batch_sizes():
    frame = simulate_runs("tuned_lr", TRUTH["tuned_lr"], seeds=4000, seed=2,
                          sigma_small=0.4, sigma_large=0.02)  # fmt: skip
    spread = np.log(frame.steps).groupby(frame.batch_size).std()
    assert spread.loc[8.0] == pytest.approx(0.4, rel=0.05)
    assert spread.loc[1024.0] == pytest.approx(0.02, rel=0.05)
    median = np.exp(np.log(frame.steps).groupby(frame.batch_size).median())
    assert median.loc[64.0] == pytest.approx(1000.0, rel=0.02)  # S_min (1 + 64/64)


@pytest.mark.slow
def test_coverage_table_has_a_row_per_setting_and_parameter():
    table = coverage_table(seeds=[3], censoring=[0.0, 0.4], replications=20, seed=3)
    assert len(table) == 2 * 2 * 3
    assert set(table.columns) >= {"law", "seeds", "censoring", "parameter", "coverage",
                                  "no_interval", "mean_error", "median_error"}  # fmt: skip
    assert table.coverage.between(0.0, 1.0).all() and (table.replications == 20).all()
    # 20 replications: crude, but an interval that covered nothing would show here
    assert table.coverage.mean() > 0.8


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(censoring=1.0), ValueError, "censoring must be .*, got 1.0"),
        (dict(seeds=0), ValueError, "seeds must be .*, got 0"),
        (dict(seeds=2.5), TypeError, "seeds must be .*, got 2.5"),
        (dict(sigma_small=-1.0), ValueError, "sigma_small must be .*, got -1.0"),
        (dict(batch_sizes=[8.0, 16.0]), ValueError, "batch_sizes"),
        (dict(seed=-1), ValueError, "seed must be .*, got -1"),
        (dict(batch_sizes=[8.0, 8.0, 16.0]), ValueError, r"batch_sizes must be .*distinct.*8\.0"),
        (dict(batch_sizes=[0.0, 8.0, 16.0]), ValueError, r"batch_sizes\[0\] must be .*, got 0"),
        (dict(batch_sizes=[True, 8, 16]), TypeError, r"batch_sizes\[0\] must be .*, got True"),
        (dict(batch_sizes=5), TypeError, "batch_sizes must be a sequence"),
    ],
)
def test_simulate_runs_checks_its_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        simulate_runs("tuned_lr", TRUTH["tuned_lr"], **kwargs)


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({}, ValueError, "params must include every one of min_steps, noise_scale"),
        ({"min_steps": 500.0}, ValueError, "params must include .*, lacks noise_scale"),
        ({**TRUTH["tuned_lr"], "foo": 1.0}, ValueError, "params must be among .*, got foo=1.0"),
        (None, TypeError, "params must be a sequence .*, got None"),
        (5, TypeError, "params must be a sequence .*, got 5"),
        ({"min_steps": -500.0, "noise_scale": 64.0}, ValueError, r"params\['min_steps'\] .* -500"),
        ({"min_steps": math.nan, "noise_scale": 64.0}, ValueError, r"params\['min_steps'\]"),
        ({"min_steps": True, "noise_scale": 64.0}, TypeError, r"params\['min_steps'\] .* True"),
        ({"min_steps": 500.0, "noise_scale": "a"}, TypeError, r"params\['noise_scale'\]"),
        ([500.0, -64.0], ValueError, r"params\[1\] must be .*, got -64.0"),
    ],
)
def test_simulate_runs_checks_the_law_parameters(params, error, match):
    with pytest.raises(error, match=match):
        simulate_runs("tuned_lr", params)


def test_simulate_runs_takes_the_parameters_as_a_sequence_too():
    by_name = simulate_runs("tuned_lr", TRUTH["tuned_lr"], seeds=2)
    in_order = simulate_runs("tuned_lr", [500.0, 64.0], seeds=2)
    assert by_name.equals(in_order)


def test_coverage_table_checks_its_arguments():
    with pytest.raises(ValueError, match="replications must be .*, got 0"):
        coverage_table(replications=0)
    with pytest.raises(
        ValueError, match="truth must be a mapping law -> parameters, with 'constant_lr', got"
    ):
        coverage_table(truth={"tuned_lr": TRUTH["tuned_lr"]}, replications=1)
    with pytest.raises(ValueError, match=r"censoring\[0\] must be .*, got -0.1"):
        coverage_table(censoring=[-0.1], replications=1)


@pytest.mark.parametrize(
    ("laws", "error", "match"),
    [
        ([], ValueError, r"laws must be a sequence of at least 1 entry, got \[\]"),
        ("constant_lr", TypeError, r"laws must be a sequence .*, got 'constant_lr' \(str\)"),
        (["x"], ValueError, r"laws\[0\]: law must be one of .*, got 'x'"),
        (["tuned_lr", 3], TypeError, r"laws\[1\]: law must be .*, got 3"),
    ],
)
def test_coverage_table_checks_its_laws(laws, error, match):
    with pytest.raises(error, match=match):
        coverage_table(laws, seeds=[3], censoring=[0.0], replications=1)


@pytest.mark.slow
def test_intervals_cover_95_percent_at_every_number_of_seeds_and_censoring():
    table = coverage_table(replications=400, seed=2026)
    table = table[table.parameter != "critical_batch"]  # the second parameter's interval, scaled
    assert len(table) == 36
    error = math.sqrt(0.95 * 0.05 / 400)
    assert table.coverage.between(0.93 - 2 * error, 0.97 + 2 * error).all(), table
    assert (~table.coverage.between(0.93, 0.97)).sum() <= 5, table
    pooled = table.groupby(["law", "parameter"]).coverage.mean()
    assert pooled.between(0.94, 0.96).all(), pooled
    assert (table.no_interval <= 0.01).all(), table


@pytest.mark.slow
def test_b0_and_the_noise_scale_are_unbiased_at_30_percent_censoring():
    table = coverage_table(seeds=[5], censoring=[0.3], replications=400, seed=30)
    for law, name in SECOND.items():
        row = table[(table.law == law) & (table.parameter == name)].iloc[0]
        assert abs(row.mean_error) < 0.02, row
