"""The recipe for one's own model, on measured numbers: batch sizes and rate grids, the best
rate per batch size, both laws side by side, choosing a batch size, published data."""

import itertools
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from batchsteps.analysis import (
    LAWS,
    BatchChoice,
    TunedSweep,
    batch_sizes_around,
    best_rate,
    choose_batch_size,
    describe_rates,
    fit_laws,
    fit_steps,
    format_law_table,
    law_preference,
    law_table,
    law_verdict,
    rate_grid,
    read_published,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "critical_batch_2024.csv"


def test_rate_grid_scales_linearly_then_saturates():
    grid = rate_grid([2, 4, 8, 16], base_lr=0.1, base_batch=2, width=3, max_lr=0.8)
    assert grid == {
        2: (0.05, 0.1, 0.2),
        4: (0.1, 0.2, 0.4),
        8: (0.2, 0.4, 0.8),
        16: (0.2, 0.4, 0.8),
    }


def test_rate_grid_even_width_has_one_more_rate_below_the_guess():
    assert rate_grid([4], base_lr=1.0, base_batch=4, width=4, ratio=2) == {4: (0.25, 0.5, 1.0, 2.0)}


@pytest.mark.parametrize("width", [1, 2, 3, 4, 5, 6])
def test_rate_grid_exponents_are_the_documented_ones(width):
    # the docstring: j = -floor(w/2), ..., ceil(w/2) - 1 around the linear-scaling centre
    (rates,) = rate_grid([8], base_lr=1.0, base_batch=8, width=width, ratio=2).values()
    exponents = [round(math.log2(r)) for r in rates]
    assert exponents == list(range(-(width // 2), math.ceil(width / 2)))


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_rate_grid_never_tries_a_rate_above_max_lr_and_keeps_its_width(width):
    grid = rate_grid([4, 8, 16, 64], base_lr=0.2, base_batch=4, width=width, max_lr=0.8)
    for b, rates in grid.items():
        assert len(rates) == width, b
        assert max(rates) <= 0.8, (b, rates)
    assert max(grid[64]) == 0.8  # saturated: the largest rate tried is the cap itself


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"base_lr": 0.0}, ValueError, "base_lr must be .*, got 0.0"),
        ({"base_lr": "a"}, TypeError, "base_lr must be .*, got 'a'"),
        ({"ratio": 1.0}, ValueError, "ratio must be .*, got 1.0"),
        ({"ratio": 1 + 1e-7}, ValueError, r"ratio must be .*>= 1\.0001 .*, got 1\.0000001"),
        ({"width": 0}, ValueError, "width must be .*, got 0"),
        ({"base_batch": 2.5}, TypeError, "base_batch must be .*, got 2.5"),
        ({"batch_sizes": [4, 4]}, ValueError, "distinct"),
        ({"batch_sizes": [0]}, ValueError, "batch_sizes"),
        ({"batch_sizes": "4"}, TypeError, "batch_sizes"),
        ({"width": 10**9}, ValueError, r"ratio must be .*ratio\*\*\(width - 1\) a finite float"),
        ({"ratio": 1e300, "width": 4}, ValueError, r"ratio must be .*, got 1e\+300"),
        ({"base_lr": 1e308, "batch_sizes": [400]}, ValueError, "rates that are finite floats"),
        ({"batch_sizes": [10**400]}, ValueError, "batch_sizes, base_lr, .* finite floats > 0"),
        ({"batch_sizes": [10**400], "max_lr": 1.0}, ValueError, "linear scaling 1e398"),
        ({"base_lr": 1e-323, "width": 3}, ValueError, "rates that are finite floats > 0"),
    ],
)
def test_rate_grid_rejects_bad_inputs(change, error, match):
    args = {"batch_sizes": [4, 8], "base_lr": 0.1, "base_batch": 4} | change
    with pytest.raises(error, match=match):
        rate_grid(args.pop("batch_sizes"), **args)


@pytest.mark.parametrize("ratio", [1 + 1e-7, 1 + 1e-5, 1.00009])
def test_rate_grid_refuses_a_ratio_so_close_to_1_that_rounded_rates_could_repeat(ratio):
    with pytest.raises(ValueError, match=r"^ratio must be a finite real number >= 1\.0001 \("):
        rate_grid([4], base_lr=0.1, base_batch=4, ratio=ratio)


@pytest.mark.parametrize("base_lr", [0.1, 0.0999999, 0.123456789, 9.99999e-4, 3e-7])
@pytest.mark.parametrize("max_lr", [math.inf, 0.05, 0.0999999])
def test_rate_grid_rates_are_distinct_down_to_the_smallest_ratio_allowed(base_lr, max_lr):
    grid = rate_grid(
        [2, 4, 1024], base_lr=base_lr, base_batch=4, width=8, ratio=1.0001, max_lr=max_lr
    )
    for b, rates in grid.items():
        assert all(low < high for low, high in itertools.pairwise(rates)), (b, rates)


def _frame(rows):
    return pd.DataFrame(rows, columns=["optimizer", "batch_size", "lr", "seed", "steps"]).assign(
        reached=lambda f: f["steps"] >= 0
    )


def test_best_rate_takes_the_fewest_median_steps_counting_misses_as_infinite():
    rows = []
    for seed, (a, b, c) in enumerate([(100, 50, -1), (110, 60, -1), (90, 500, 40)]):
        rows += [("sgd", 8, 0.1, seed, a), ("sgd", 8, 0.2, seed, b), ("sgd", 8, 0.4, seed, c)]
    rows += [("sgd", 16, lr, s, 30) for lr in (0.2, 0.4) for s in range(3)]  # a tie
    best = best_rate(_frame(rows))
    chosen = best.groupby("batch_size")["lr"].unique()
    assert chosen[8].tolist() == [0.2]  # median 60; 0.4 has two misses: median inf
    assert chosen[16].tolist() == [0.2]  # ties go to the smaller rate
    assert best.set_index("batch_size")["lr_at_edge"].groupby(level=0).first().to_dict() == {
        8: False,
        16: True,
    }
    assert len(best) == 6 and set(best["n_rates"]) == {3, 2}


def test_best_rate_rejects_what_is_not_a_sweep():
    with pytest.raises(
        TypeError, match=r"frame must be a pandas DataFrame .*, got \[1, 2\] \(list\)"
    ):
        best_rate([1, 2])
    with pytest.raises(ValueError, match="frame must have the column.*, lacks 'lr', 'steps'"):
        best_rate(pd.DataFrame({"optimizer": ["sgd"], "batch_size": [4]}))
    with pytest.raises(ValueError, match="frame must be a non-empty sweep"):
        best_rate(_frame([]))


@pytest.mark.parametrize(
    ("change", "by", "error", "match"),
    [
        ({}, 5, TypeError, "by must be a non-empty str, got 5 \\(int\\)"),
        ({}, None, TypeError, "by must be a non-empty str, got None"),
        ({}, "model", ValueError, "frame must have the column.*, lacks 'model'"),
        (
            {"reached": [1, 0]},
            "optimizer",
            TypeError,
            r"frame\['reached'\] must be a 1-d array of booleans",
        ),
    ],
)
def test_best_rate_checks_by_and_the_reached_column(change, by, error, match):
    frame = _frame([("sgd", 1, 0.1, 0, 3), ("sgd", 1, 0.2, 0, 4)]).assign(**change)
    with pytest.raises(error, match=match):
        best_rate(frame, by=by)


def _tuned_law(b, min_steps=100.0, noise=32.0):
    return min_steps * (1 + noise / np.asarray(b, dtype=float))


def test_law_table_prefers_the_law_the_data_follow_and_reads_its_critical_batch():
    b = np.array([4, 8, 16, 32, 64, 128, 256, 512] * 3, dtype=float)
    noise = np.exp(np.random.default_rng(0).normal(0, 0.03, b.size))
    fits = fit_laws(b, _tuned_law(b) * noise, n_boot=200)
    table = law_table({"synthetic": fits})
    assert table.index.tolist() == [("synthetic", "constant_lr"), ("synthetic", "tuned_lr")]
    tuned = table.loc[("synthetic", "tuned_lr")]
    assert tuned["delta_aic"] == 0.0
    assert table.loc[("synthetic", "constant_lr"), "delta_aic"] > 10
    assert tuned["critical_batch"] == pytest.approx(32, rel=0.1)
    assert tuned["critical_low"] <= 32 <= tuned["critical_high"]
    assert math.isnan(tuned["min_batch"]) and tuned["n_points"] == b.size and tuned["in_range"]


def test_law_table_rejects_bad_mappings():
    with pytest.raises(ValueError, match=r"fits must be a mapping .*, got \{\}"):
        law_table({})
    with pytest.raises(TypeError, match=r"fits\['x'\]\['tuned_lr'\] must be a Fit, got 3"):
        law_table({"x": {"tuned_lr": 3}})


@pytest.mark.parametrize("keys", [("foo",), (5,), ("constant_lr",), ("tuned_lr", "constant_lr")])
def test_law_table_rejects_a_fit_filed_under_another_law(keys):
    b = np.array([4, 8, 16, 32, 64, 128], dtype=float)
    fits = fit_laws(b, 5000 * (1 + 16 / b), n_boot=0)
    wrong = {key: fits["tuned_lr"] if key != "tuned_lr" else fits["constant_lr"] for key in keys}
    with pytest.raises(ValueError, match=r"fits\['d'\] must map each law's name to its own Fit"):
        law_table({"d": wrong})


def test_fit_laws_reads_a_sweep_frame_as_fit_steps_does_one_pair_per_optimizer():
    rng = np.random.default_rng(5)
    rows = []
    for optimizer, noise in (("sgd", 32.0), ("momentum", 64.0)):
        for b in (4, 8, 16, 32, 64, 128, 256):
            for seed in range(3):
                k = _tuned_law([b], noise=noise)[0] * math.exp(rng.normal(0, 0.05))
                out = b == 4 and seed == 0  # one run out of the 5000-step budget
                rows.append(dict(optimizer=optimizer, batch_size=b, seed=seed, max_steps=5000,
                                 steps=-1 if out else int(k), reached=not out,
                                 reason="max_steps" if out else "reached"))  # fmt: skip
    frame = pd.DataFrame(rows)
    fits = fit_laws(frame, n_boot=0)
    assert set(fits) == {"sgd", "momentum"} and all(set(f) == set(LAWS) for f in fits.values())
    for optimizer, pair in fits.items():
        for law, fit in pair.items():
            alone = fit_steps(frame[frame.optimizer == optimizer], law=law, n_boot=0)[optimizer]
            assert fit.params == alone.params and fit.n_censored == 1
    assert fits["momentum"]["tuned_lr"].critical_batch > fits["sgd"]["tuned_lr"].critical_batch
    with pytest.raises(ValueError, match="steps, reached, status and max_steps must be None"):
        fit_laws(frame, frame["steps"])


def test_choose_batch_size_at_the_critical_batch_spends_twice_the_fewest_steps_and_samples():
    b = [4, 8, 16, 32, 64, 128, 256]
    fit = fit_steps(b, _tuned_law(b), "tuned_lr", n_boot=0)
    choice = choose_batch_size(fit)
    assert isinstance(choice, BatchChoice)
    assert choice.batch_size == 32
    assert choice.steps == pytest.approx(200)
    assert choice.steps_over_min == pytest.approx(2)
    assert choice.samples_over_min == pytest.approx(2)  # S_min (b + B) / (S_min B)


def test_choose_batch_size_under_a_step_budget_takes_the_smallest_batch_that_meets_it():
    b = [4, 8, 16, 32, 64, 128, 256]
    fit = fit_steps(b, _tuned_law(b), "tuned_lr", n_boot=0)
    choice = choose_batch_size(fit, max_steps=150)  # needs b >= 100 * 32 / 50 = 64
    assert choice.batch_size == 64 and choice.steps <= 150
    assert choice.samples_over_min == pytest.approx((64 + 32) / 32)


def test_choose_batch_size_for_the_constant_rate_law_uses_its_sample_minimum():
    b = [16, 32, 64, 128, 256, 512]
    fit = fit_steps(b, [1000 * x / (x - 8) for x in b], n_boot=0)  # b* = 16
    choice = choose_batch_size(fit)
    assert choice.batch_size == 16
    assert choice.samples_over_min == pytest.approx(1.0)
    assert choice.steps_over_min == pytest.approx(2.0)


def test_choose_batch_size_rejects_an_unreachable_budget_and_non_fits():
    b = [4, 8, 16, 32, 64]
    fit = fit_steps(b, _tuned_law(b), "tuned_lr", n_boot=0)
    with pytest.raises(ValueError, match="max_steps must be .*, got 50"):
        choose_batch_size(fit, max_steps=50)
    with pytest.raises(TypeError, match="fit must be a Fit, got {'critical_batch': 3}"):
        choose_batch_size({"critical_batch": 3})


def test_choose_batch_size_caps_at_the_largest_and_marks_an_extrapolation():
    b = [4, 8, 16, 32, 64, 128, 256]
    fit = fit_steps(b, _tuned_law(b), "tuned_lr", n_boot=0)  # B_noise = 32
    assert choose_batch_size(fit).measured and "extrapolation" not in choose_batch_size(fit).rule
    capped = choose_batch_size(fit, largest=20)
    assert capped.batch_size == 16 and capped.rule.endswith("capped at largest=20")
    far = choose_batch_size(fit, max_steps=101)  # needs b >= 100 * 32 / 1 = 3200
    assert far.batch_size == 4096 and not far.measured
    assert far.rule.endswith("(outside the batch sizes that reached, 4 to 256: an extrapolation)")
    with pytest.raises(ValueError, match=r"max_steps must be a budget a batch size up to "
                       r"largest=1000 meets \(it needs 3200\), got 101"):  # fmt: skip
        choose_batch_size(fit, max_steps=101, largest=1000)
    with pytest.raises(ValueError, match="largest must be .*, got 0"):
        choose_batch_size(fit, largest=0)
    with pytest.raises(TypeError, match="largest must be .*, got '8'"):
        choose_batch_size(fit, largest="8")


def test_fit_laws_passes_the_interval_level_and_choose_says_when_the_law_misses():
    b = np.array([16, 32, 64, 128, 256, 512, 1024] * 4, dtype=float)
    scatter = np.exp(np.random.default_rng(1).normal(0, 0.05, b.size))
    wide, narrow = (fit_laws(b, _tuned_law(b) * scatter, level=lv, n_boot=0) for lv in (0.99, 0.5))
    low99, high99 = wide["tuned_lr"].ci["critical_batch"]
    low50, high50 = narrow["tuned_lr"].ci["critical_batch"]
    assert low99 < low50 < high50 < high99 and wide["tuned_lr"].level == 0.99
    perfect = fit_laws(b, 1e6 / b * scatter, n_boot=0)["constant_lr"]  # K ~ 1/b: no such law
    assert perfect.lack_of_fit.p_value < 0.05
    assert "(the law misses the medians: lack-of-fit p = " in choose_batch_size(perfect).rule
    assert "lack-of-fit" not in choose_batch_size(narrow["tuned_lr"]).rule


def test_choose_batch_size_refuses_a_fit_whose_parameter_sits_on_its_search_bound():
    b = np.array([8, 16, 32, 64, 128] * 3, dtype=float)  # B_noise = 5000, far above the data
    scatter = np.exp(np.random.default_rng(0).normal(0, 0.05, b.size))
    fit = fit_steps(b, 100 * (1 + 5000 / b) * scatter, "tuned_lr", n_boot=0)
    assert fit.at_bound == ("noise_scale",)
    with pytest.raises(ValueError, match=r"fit must be a fit that determines its parameters "
                       r"\(noise_scale sits on its search bound"):  # fmt: skip
        choose_batch_size(fit)


def test_published_measurements_keep_their_source():
    published = read_published(DATA)
    assert published.models == ("85M", "302M", "1.2B")
    assert len(published.frame) == 27 and published.frame["reached"].all()
    assert any("ICLR 2025" in line for line in published.source)
    assert any("MIT License" in line for line in published.source)


def test_read_published_rejects_missing_files_and_columns(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.csv"):
        read_published(tmp_path / "nothing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("# a source\nmodel,steps\nx,3\n")
    with pytest.raises(ValueError, match="bad.csv' must have the column.*, lacks 'batch_size'"):
        read_published(bad)
    bad.write_text("model,batch_size,steps\nx,4,-3\n")
    with pytest.raises(
        ValueError, match=r"column 'steps' of .* must be .* > 0, got array\(\[-3\.\]\)"
    ):
        read_published(bad)
    with pytest.raises(TypeError, match="path must be .*, got 3"):
        read_published(3)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", r"path='.*bad.csv' must be a UTF-8 CSV file .*EmptyDataError"),
        (b"# only a source\n", r"path='.*bad.csv' must be a UTF-8 CSV file .*EmptyDataError"),
        (b"\xff\xfe\x00garbage", r"path='.*bad.csv' must be a UTF-8 CSV file .*UnicodeDecode"),
        (b'model,batch_size,steps\nx,4,3,5\n"open', r"path='.*bad.csv' must be .*ParserError"),
        (b"model,batch_size,steps\nx,True,3\n", r"column 'batch_size' of .* not booleans"),
        (b"model,batch_size,steps\nx,4,False\n", r"column 'steps' of .* not booleans"),
        (b"model,batch_size,steps\nx,4,3\n,8,2\n", r"column 'model' of .*row 1 has none"),
        (
            b"model,batch_size,steps\nA,64,3\nA,64,5\n",
            r"bad.csv' must be one row per \(model, batch size\), not two, got .'A' at batch size",
        ),
    ],
)
def test_read_published_names_the_file_for_what_is_not_a_table(tmp_path, content, match):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        read_published(bad)


def test_format_law_table_prints_whole_in_a_script():
    b = np.array([4, 8, 16, 32, 64, 128], dtype=float)
    text = format_law_table(law_table({"d": fit_laws(b, 5000 * (1 + 16 / b), n_boot=0)}))
    with pd.option_context("display.max_columns", 3, "display.width", 40):
        printed = str(text)
    assert "..." not in printed
    for column in text.columns:
        assert column in printed
    assert "tuned rate" in repr(text.iloc[1:])  # a slice prints whole too


def test_format_law_table_shows_each_law_with_its_own_second_parameter():
    b = np.array([4, 8, 16, 32, 64, 128], dtype=float)
    table = law_table({"d": fit_laws(b, 5000 * (1 + 16 / b), n_boot=20)})
    text = format_law_table(table, digits=3)
    assert text.index.tolist() == [("d", "constant rate"), ("d", "tuned rate")]
    assert text.loc[("d", "tuned rate"), "b0 or B_noise"] == "16"
    assert text.loc[("d", "tuned rate"), "K_min"] == "5,000"  # more digits than asked: in full
    assert text.loc[("d", "tuned rate"), "interval"].startswith("[")
    with pytest.raises(ValueError, match="table must have the column.*critical_batch"):
        format_law_table(pd.DataFrame({"x": [1]}))
    with pytest.raises(TypeError, match="table must be the DataFrame law_table returns, got 3"):
        format_law_table(3)


@pytest.mark.parametrize(
    ("digits", "error"), [(-1, ValueError), (0, ValueError), ("x", TypeError), (2.0, TypeError)]
)
def test_format_law_table_checks_its_digits(digits, error):
    b = np.array([4, 8, 16, 32, 64, 128], dtype=float)
    table = law_table({"d": fit_laws(b, 5000 * (1 + 16 / b), n_boot=0)})
    with pytest.raises(error, match=f"digits must be an integer >= 1, got {digits!r}"):
        format_law_table(table, digits=digits)


def test_batch_sizes_around_span_the_guess_in_powers_of_two():
    assert batch_sizes_around(40.0, factor=4) == [8, 16, 32, 64, 128]
    assert batch_sizes_around(0.3) == [1, 2]  # never below one sample
    assert batch_sizes_around(40.0, n_max=100) == [4, 8, 16, 32, 64]  # never above the data
    # the whole span above the data: the largest power of two it holds, never an empty list
    assert batch_sizes_around(1000.0, n_max=1) == [1]
    assert batch_sizes_around(1000.0, n_max=100) == [64]
    with pytest.raises(ValueError, match="n_max must be an integer >= 1, got 0"):
        batch_sizes_around(40.0, n_max=0)
    with pytest.raises(ValueError, match="factor must be .*, got 0.5"):
        batch_sizes_around(40.0, factor=0.5)
    with pytest.raises(ValueError, match="center must be .*, got -1"):
        batch_sizes_around(-1)


def test_law_verdict_names_the_law_each_data_set_prefers_and_the_ties():
    b = np.array([4, 8, 16, 32, 64, 128, 256] * 3, dtype=float)
    noise = np.exp(np.random.default_rng(0).normal(0, 0.03, b.size))
    tuned = fit_laws(b, _tuned_law(b) * noise, n_boot=0)
    constant = fit_laws(b, 100 * b / (b - 3.0) * noise, n_boot=0)
    text = law_verdict({"t": tuned, "c": constant})
    assert text.startswith("the AIC prefers the constant-rate law for c (by ")
    assert "; the AIC prefers the tuned-rate law for t (by " in text
    assert law_verdict({"t": tuned, "u": tuned}).startswith(
        "the AIC prefers the tuned-rate law for all of them"
    )
    from types import SimpleNamespace as F

    tie = {"x": {"constant_lr": F(aic=3.0), "tuned_lr": F(aic=2.0)}}
    assert law_verdict(tie) == "the AIC cannot tell the two laws apart for x (|ΔAIC| 1)"
    with pytest.raises(ValueError, match=r"fits must be a mapping .*, got \{\}"):
        law_verdict({})


@pytest.mark.parametrize(
    ("fits", "error", "match"),
    [
        ({"a": 1}, TypeError, r"fits\['a'\] must be a mapping law -> Fit .*, got 1 \(int\)"),
        ({"a": {}}, ValueError, r"fits\['a'\] must be a mapping law -> Fit .*, got \{\}"),
        ({"a": {"constant_lr": 1}}, ValueError, r"fits\['a'\] must include every one of"),
        (
            {"a": {"constant_lr": 1, "tuned_lr": 2}},
            TypeError,
            r"fits\['a'\]\['constant_lr'\] must be a Fit, got 1 \(int\)",
        ),
    ],
)
def test_law_verdict_names_the_bad_entry(fits, error, match):
    with pytest.raises(error, match=match):
        law_verdict(fits)


def test_law_tables_count_how_the_runs_ended():
    b = np.repeat(np.array([4, 8, 16, 32, 64, 128], dtype=float), 4)
    k = _tuned_law(b, noise=64.0) * np.exp(0.1 * np.random.default_rng(2).standard_normal(b.size))
    status = np.where(k <= 1200, "reached", "budget").astype(object)
    status[-1] = "diverged"
    fits = fit_laws(b, np.where(status == "reached", k, -1), status=status, max_steps=1200,
                    n_boot=0)  # fmt: skip
    table = law_table({"d": fits})
    row = table.loc[("d", "tuned_lr")]
    assert row["n_budget"] == int((status == "budget").sum()) > 0
    assert row["n_diverged"] == 1 and row["n_points"] == int((status == "reached").sum())
    shown = format_law_table(table).loc[
        ("d", "tuned rate"), "runs reached / out of budget / diverged"
    ]
    assert shown == f"{row['n_points']} / {row['n_budget']} / 1"


def test_describe_rates_reads_every_rate_of_one_batch_size():
    rows = [("sgd", 8, lr, s, k) for lr, ks in ((0.1, (90, 110, 100)), (0.2, (60, -1, -1)))
            for s, k in enumerate(ks)]  # fmt: skip
    runs = _frame(rows)
    sweep = TunedSweep(runs, best_rate(runs), {8: (0.1, 0.2)}, 0.0, 2)
    text = describe_rates(sweep, 8)
    assert text == (
        "at b = 8, median steps 100 / never at rates 0.1 / 0.2 (runs that did not reach: "
        "0 / 2 of 3); rate kept 0.1"
    )
    with pytest.raises(ValueError, match="batch_size must be .*, got 16"):
        describe_rates(sweep, 16)
    with pytest.raises(TypeError, match=r"sweep must be a TunedSweep .*\(DataFrame\)"):
        describe_rates(runs, 8)


@pytest.mark.parametrize(
    ("by_law", "error", "match"),
    [
        (
            {"constant_lr": 1, "tuned_lr": 2},
            TypeError,
            r"by_law\['constant_lr'\] must be a Fit, got 1 \(int\)",
        ),
        (
            {"constant_lr": SimpleNamespace(aic=1.0), "tuned_lr": None},
            TypeError,
            r"by_law\['tuned_lr'\] must be a Fit, got None",
        ),
        (
            {"constant_lr": SimpleNamespace(aic="x"), "tuned_lr": SimpleNamespace(aic=1.0)},
            TypeError,
            r"by_law\['constant_lr'\].aic must be a real number, got 'x'",
        ),
    ],
)
def test_law_preference_names_the_bad_entry(by_law, error, match):
    with pytest.raises(error, match=match):
        law_preference(by_law)
