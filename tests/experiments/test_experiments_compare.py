"""Fits per optimizer, the theory's ratios, the comparison table, verdicts computed from the
intervals, and the step budget's own pole."""

import dataclasses
import math

import pytest

import batchsteps.experiments as ex
from batchsteps.analysis import fit_steps


def test_theory_ratios_are_the_small_rate_limits_of_the_bounds():
    crit, steps = ex.theory_ratios("momentum", 0.05, 0.4, beta=0.5)
    assert crit == pytest.approx(0.05 / (0.25 * 0.4))
    assert steps == pytest.approx(0.5 * 0.4 / 0.05)
    assert ex.theory_ratios("sgd", 0.3, 0.3) == (1.0, 1.0)
    assert all(math.isnan(v) for v in ex.theory_ratios("adam", 0.01, 0.3))
    with pytest.raises(ValueError, match="lr must be .*, got 0"):
        ex.theory_ratios("momentum", 0, 0.3)
    with pytest.raises(ValueError, match=r"beta must be a real number in \[0, 1\), got 1.0"):
        ex.theory_ratios("momentum", 0.1, 0.3, beta=1.0)


def test_theory_band_spans_the_proofs_members_and_is_one_value_without_a_free_constant():
    low, high = ex.theory_band("momentum", 0.05, 0.4, beta=0.5)
    assert high == pytest.approx(ex.theory_ratios("momentum", 0.05, 0.4, beta=0.5)[0])
    assert low == pytest.approx(0.05 / (0.5 * 0.4))
    assert ex.theory_band("momentum", 0.05, 0.4, beta=0.0) == pytest.approx((0.125, 0.125))
    assert ex.theory_band("sgd", 0.3, 0.3) == (1.0, 1.0)
    assert all(math.isnan(v) for v in ex.theory_band("adam", 0.01, 0.3))
    assert all(math.isnan(v) for v in ex.theory_band("nesterov", 0.01, 0.3))
    with pytest.raises(ValueError, match="sgd_lr must be .*, got -1"):
        ex.theory_band("momentum", 0.1, -1)
    with pytest.raises(TypeError, match="unexpected keyword .beta1."):
        ex.theory_band("momentum", 0.1, 0.3, beta1=0.5)


def test_verdicts_follow_the_intervals(synthetic):
    measured = synthetic({"sgd": (1000.0, 3.0), "momentum": (300.0, 12.0), "adam": (2000.0, 1.0)})
    fits = ex.fit_optimizers(measured, "loss")
    verdict = ex.verdicts(measured, fits).set_index(["claim", "optimizer"])["verdict"]
    assert verdict["1: a critical batch exists", "sgd"] == "holds"
    assert verdict["1: a critical batch exists", "momentum"] == "holds"
    assert verdict["1: a critical batch exists", "adam"] == "undecided"  # b* = 2 = the smallest b
    assert verdict["2a: larger critical batch than SGD", "momentum"] == "holds"
    assert verdict["2b: fewer steps than SGD", "momentum"] == "holds"
    assert verdict["2a: larger critical batch than SGD", "adam"] == "fails"
    assert verdict["2b: fewer steps than SGD", "adam"] == "fails"


def test_a_pole_far_below_the_smallest_batch_supports_no_claim(synthetic):
    measured = synthetic({"sgd": (1000.0, 0.3)})  # b0 = 0.3 while b >= 2: no pole to see
    fits = ex.fit_optimizers(measured, "loss")
    assert ex.law_preference(fits["sgd"]).law != "constant_lr"
    assert ex.verdicts(measured, fits).iloc[0]["verdict"] == ex.NOT_SUPPORTED


def test_claims_on_the_pole_are_not_supported_where_the_tuned_law_fits_better(synthetic):
    measured = synthetic(
        {"sgd": (1000.0, 3.0), "momentum": (300.0, 40.0), "adam": (200.0, 30.0)},
        tuned=("momentum", "adam"),
    )
    fits = ex.fit_optimizers(measured, "loss")
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


def test_claim_two_a_needs_sgd_to_show_its_pole_too(synthetic):
    measured = synthetic({"sgd": (1000.0, 8.0), "momentum": (300.0, 12.0)}, tuned=("sgd",))
    fits = ex.fit_optimizers(measured, "loss")
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
    with pytest.raises(ValueError, match="by_law must include every one of .*, lacks tuned_lr"):
        ex.law_preference({"constant_lr": F(aic=1.0)})
    with pytest.raises(ValueError, match="margin must be .*, got -1"):
        ex.law_preference({"constant_lr": F(aic=1.0), "tuned_lr": F(aic=1.0)}, margin=-1)


def test_an_indistinguishable_pair_of_laws_supports_no_claim_on_the_pole(synthetic):
    measured = synthetic({"sgd": (1000.0, 3.0)})
    fits = ex.fit_optimizers(measured, "loss")
    fake = {"sgd": dict(fits["sgd"])}
    fake["sgd"]["tuned_lr"] = dataclasses.replace(
        fits["sgd"]["tuned_lr"], aic=fits["sgd"]["constant_lr"].aic - 1.0
    )
    row = ex.verdicts(measured, fake).iloc[0]
    assert row["verdict"] == ex.NOT_SUPPORTED and "|ΔAIC| = 1 < 2" in row["evidence"]
    shown = ex.present(ex.comparison(measured, fake))
    assert shown.loc["sgd", "AIC prefers"].startswith("indistinguishable")


def test_claim_one_fails_when_the_pole_is_at_the_top_of_the_range(synthetic):
    measured = synthetic({"sgd": (100.0, 60.0)}, sizes=(64, 96, 128, 192, 256))
    fits = ex.fit_optimizers(measured, "loss")
    row = ex.verdicts(measured, fits).iloc[0]
    assert row["verdict"] == "fails" and "no saturation" in row["evidence"]


def test_comparison_reports_fits_ratios_and_the_preferred_law(synthetic):
    measured = synthetic({"sgd": (1000.0, 3.0), "momentum": (300.0, 12.0)})
    fits = ex.fit_optimizers(measured, "loss")
    table = ex.comparison(measured, fits)
    assert table.loc["sgd", "critical_ratio"] == 1.0
    assert table.loc["momentum", "critical_batch"] == pytest.approx(24.0, rel=0.1)
    assert table.loc["momentum", "steps_ratio"] == pytest.approx(0.3, rel=0.1)
    assert (table["preferred_law"] == "constant_lr").all()
    assert table.loc["momentum", "theory_critical_ratio"] == pytest.approx(100.0)  # same rates
    assert table.loc["momentum", "theory_critical_low"] == pytest.approx(10.0)  # its band's bottom
    assert table.loc["sgd", "theory_critical_low"] == table.loc["sgd", "theory_critical_ratio"]
    for o in ("sgd", "momentum"):
        low, high = table.loc[o, ["critical_low", "critical_high"]]
        assert low <= table.loc[o, "critical_batch"] <= high
    direct = fit_steps(measured.runs("sgd", "loss"), law="constant_lr", n_boot=0)["sgd"]
    assert table.loc["sgd", "min_steps"] == pytest.approx(direct.min_steps)


def test_fit_optimizers_censors_runs_out_of_budget_instead_of_dropping_them(synthetic):
    # b0 = 6: at b = 8 the median needs 4 K_min = 4000 steps; a budget of 4000 stops about
    # half of those runs. Dropping them would keep the fast half and pull b0 down.
    measured = synthetic({"sgd": (1000.0, 6.0)}, sizes=(8, 16, 32, 64, 128, 256), max_steps=4000,
                          scatter=0.2)  # fmt: skip
    runs = measured.runs("sgd", "loss")
    assert 0 < (~runs["reached"] & (runs["batch_size"] == 8)).sum() < 6
    fit = ex.fit_optimizers(measured, "loss")["sgd"]["constant_lr"]
    assert fit.n_censored == int((~runs["reached"]).sum())
    assert fit.counts.loc[8, "budget"] == fit.n_censored and fit.counts.loc[8, "reached"] > 0
    assert fit.params["min_batch"] == pytest.approx(6.0, rel=0.1)
    survivors = fit_steps(runs[runs["reached"]], law="constant_lr", n_boot=0)["sgd"]
    assert survivors.params["min_batch"] < fit.params["min_batch"]  # the bias censoring removes


def test_fit_optimizers_rejects_an_unmeasured_target(synthetic):
    measured = synthetic({"sgd": (1000.0, 3.0)})
    with pytest.raises(ValueError, match="measure must be .*, got 'accuracy'"):
        ex.fit_optimizers(measured, "accuracy")
    with pytest.raises(TypeError, match="measured must be .*, got 1"):
        ex.fit_optimizers(1, "loss")


def test_an_optimizer_without_three_reached_batches_is_undecided_not_an_error(synthetic):
    measured = synthetic({"sgd": (1000.0, 3.0), "momentum": (300.0, 70.0)})
    fits = ex.fit_optimizers(measured, "loss")
    assert set(fits) == {"sgd"}  # momentum reaches only at 128 and 256
    verdict = ex.verdicts(measured, fits)
    rows = verdict[verdict["optimizer"] == "momentum"]
    assert len(rows) == 3 and (rows["verdict"] == "undecided").all()
    assert ex.fit_optimizers(measured, "loss", optimizers=("sgd",)).keys() == {"sgd"}
    with pytest.raises(
        ValueError, match=r"optimizers\[0\] must be an optimizer that was measured: .*, got 'adam'"
    ):
        ex.fit_optimizers(measured, "loss", optimizers=("adam",))


def test_largest_smoothness_inverts_each_step_size_condition():
    assert ex.largest_smoothness("sgd", 0.5) == pytest.approx(4.0)
    beta, lr = 0.9, 0.32
    expected = 2 * (1 - beta) ** 2 / (lr * (1 + beta))
    assert ex.largest_smoothness("momentum", lr, beta=beta) == pytest.approx(expected)
    assert math.isnan(ex.largest_smoothness("adam", 0.01))
    with pytest.raises(ValueError, match="lr must be .*, got -1"):
        ex.largest_smoothness("sgd", -1)


HYPER_ERRORS = [
    ("momentum", {"beta": 1.5}, ValueError, r"beta must be a real number in \[0, 1\), got 1.5"),
    ("momentum", {"beta": -0.5}, ValueError, r"beta must be .*, got -0.5"),
    ("momentum", {"beta": "x"}, TypeError, r"beta must be .*, got 'x' \(str\)"),
    ("sgd", {"beta": 0.5}, TypeError, "optimizer 'sgd' got unexpected keyword 'beta'"),
    ("sgd", {"foo": 1.0}, TypeError, "optimizer 'sgd' got unexpected keyword 'foo'"),
    ("adam", {"foo": 1.0}, TypeError, "optimizer 'adam' got unexpected keyword 'foo'"),
    ("adam", {"beta1": 1.5}, ValueError, "beta1 must be .*, got 1.5"),
]


@pytest.mark.parametrize(("optimizer", "hyper", "error", "match"), HYPER_ERRORS)
def test_largest_smoothness_checks_the_hyperparameters(optimizer, hyper, error, match):
    with pytest.raises(error, match=match):
        ex.largest_smoothness(optimizer, 0.1, **hyper)


@pytest.mark.parametrize(("optimizer", "hyper", "error", "match"), HYPER_ERRORS)
def test_theory_ratios_check_the_hyperparameters_even_where_the_bound_needs_none(
    optimizer, hyper, error, match
):
    with pytest.raises(error, match=match):
        ex.theory_ratios(optimizer, 0.1, 0.1, **hyper)


def test_comparison_without_theory_leaves_the_theory_columns_empty(synthetic):
    measured = synthetic({"sgd": (1000.0, 3.0), "momentum": (300.0, 12.0)})
    table = ex.comparison(measured, ex.fit_optimizers(measured, "loss"), theory=False)
    theory = ["theory_critical_low", "theory_critical_ratio", "theory_steps_ratio"]
    assert table[theory].isna().all().all()
    assert table.loc["momentum", "critical_ratio"] > 1  # the measured ratios stay


def test_a_step_budget_alone_makes_a_pole_free_curve_look_like_it_has_one():
    # S_min (1 + B/b) has no pole; cut at 2000 steps it cannot finish below b = 500 * 64 / 1500
    art = ex.budget_artefact(500.0, 64.0, batch_sizes=tuple(2**k for k in range(1, 11)),
                             seeds=5, max_steps=2000, scatter=0.1, n_boot=0)  # fmt: skip
    assert art.budget_pole == pytest.approx(500 * 64 / 1500)
    assert set(art.frame.loc[~art.frame["reached"], "batch_size"]) <= {2, 4, 8, 16, 32}
    constant = art.fits["constant_lr"]
    assert constant.params["min_batch"] > 1.0  # a pole the curve does not have
    with pytest.raises(ValueError, match="max_steps must be .*, got 100"):
        ex.budget_artefact(500.0, 64.0, batch_sizes=(2, 4, 8), seeds=2, max_steps=100, scatter=0)
    with pytest.raises(ValueError, match="scatter must be .*, got -1"):
        ex.budget_artefact(500.0, 64.0, batch_sizes=(2, 4, 8), seeds=2, max_steps=900, scatter=-1)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"batch_sizes": ()}, ValueError, r"batch_sizes must be .* at least 3 entries, got \(\)"),
        ({"batch_sizes": (2, 4)}, ValueError, r"batch_sizes must be .* at least 3 entries"),
        ({"batch_sizes": (0, -2, 4)}, ValueError, r"batch_sizes\[0\] must be an integer >= 1"),
        ({"batch_sizes": (2, 4, math.nan, 8)}, TypeError, r"batch_sizes\[2\] must be .*, got nan"),
        ({"batch_sizes": ("a",)}, TypeError, r"batch_sizes\[0\] must be .*, got 'a'"),
        ({"batch_sizes": None}, TypeError, "batch_sizes must be a sequence .*, got None"),
        ({"batch_sizes": (2, 4, 4)}, ValueError, "batch_sizes must be a sequence of distinct"),
        ({"seed": -1}, ValueError, "seed must be an integer >= 0 .*, got -1"),
        ({"seed": "a"}, TypeError, "seed must be an integer >= 0 .*, got 'a'"),
    ],
)
def test_budget_artefact_checks_its_batch_sizes_and_seed(change, error, match):
    args = dict(batch_sizes=(2, 4, 8, 16), seeds=2, max_steps=500, scatter=0.0, n_boot=0)
    with pytest.raises(error, match=match):
        ex.budget_artefact(100.0, 16.0, **(args | change))


def test_budget_table_sets_each_measured_pole_beside_the_budgets_own(synthetic):
    measured = synthetic({"sgd": (1000.0, 6.0)}, max_steps=3000, scatter=0.1)
    fits = ex.fit_optimizers(measured, "loss")
    table = ex.budget_table(measured, fits)
    row = table.loc["sgd"]
    assert row["measured_b0_low"] <= row["measured_b0"] <= row["measured_b0_high"]
    tuned = fits["sgd"]["tuned_lr"]
    expected = tuned.min_steps * tuned.params["noise_scale"] / (3000 - tuned.min_steps)
    assert row["budget_pole"] == pytest.approx(expected)
    assert row["measured_prefers"] == "constant_lr"
