"""Median of runs per batch size with an order-statistic interval: exact coverage, known values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from batchsteps.analysis import median_interval, per_batch


def test_interval_uses_the_widest_symmetric_ranks_reaching_the_level():
    values = np.arange(1.0, 21.0)  # n = 20: ranks 6 and 15 cover the median with 95.86%
    m = median_interval(values, level=0.95)
    assert (m.low, m.high) == (6.0, 15.0)
    assert m.coverage == pytest.approx(1 - 2 * stats.binom.cdf(5, 20, 0.5))
    assert m.coverage >= 0.95
    assert 1 - 2 * stats.binom.cdf(6, 20, 0.5) < 0.95  # one rank further in is too narrow
    assert m.median == 10.5 and m.n == 20


def test_too_few_runs_give_the_full_range_and_say_what_it_covers():
    m = median_interval([5.0, 1.0, 3.0], level=0.95)
    assert (m.low, m.median, m.high) == (1.0, 3.0, 5.0)
    assert m.coverage == pytest.approx(0.75)  # 1 - 2 / 2^3
    single = median_interval([7.0])
    assert (single.low, single.high, single.coverage) == (7.0, 7.0, 0.0)


@pytest.mark.slow
def test_coverage_of_the_true_median_over_many_samples():
    # Exponential runs (skewed, like step counts): true median ln 2; n = 9 gives 96.1%.
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(2000):
        m = median_interval(rng.exponential(size=9))
        hits += m.low <= np.log(2) <= m.high
    assert m.coverage == pytest.approx(1 - 2 * stats.binom.cdf(1, 9, 0.5))
    assert abs(hits / 2000 - m.coverage) < 0.02


def test_per_batch_has_one_sorted_row_per_batch_size():
    table = per_batch([8, 2, 2, 2, 8, 4], [10, 40, 30, 50, 12, 20])
    assert list(table.columns) == [
        "batch_size", "n", "median", "low", "high", "coverage", "censored",
    ]  # fmt: skip
    assert table["batch_size"].tolist() == [2.0, 4.0, 8.0]
    assert table["n"].tolist() == [3, 1, 2]
    assert table["median"].tolist() == [40.0, 20.0, 11.0]
    assert table.loc[0, ["low", "high"]].tolist() == [30.0, 50.0]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: median_interval([]), ValueError, r"values must .* at least 1 entry, got \[\]"),
        (lambda: median_interval([1.0, np.nan]), ValueError, "finite"),
        (lambda: median_interval(["a"]), TypeError, r"values must .*, got \['a'\]"),
        (lambda: median_interval([1.0], level=1.2), ValueError, "level must be .*, got 1.2"),
        (lambda: median_interval([1.0], level=True), TypeError, "level must be .*, got True"),
        (
            lambda: per_batch([1, 2], [3.0]),
            ValueError,
            r"steps must be one entry per batch size \(2\), got \[3.0\]",
        ),
        (lambda: per_batch([1, np.inf], [3.0, 4.0]), ValueError, r"batch_sizes .*, got \[1, inf\]"),
        (lambda: per_batch([[1, 2]], [3.0, 4.0]), ValueError, r"batch_sizes .*, got \[\[1, 2\]\]"),
        (
            lambda: per_batch([-2, -2, 4], [10, 12, 7]),
            ValueError,
            r"batch_sizes must be .* > 0, got \[-2, -2, 4\]",
        ),
        (lambda: per_batch([0, 0, 4], [10, 12, 7]), ValueError, r"batch_sizes .* > 0, got \[0, 0"),
        (
            lambda: per_batch([2, 2, 4], [10, -1, 7]),
            ValueError,
            r"steps must be .* >= 0 \(censored runs excepted\), got \[10, -1, 7\]",
        ),
    ],
)
def test_bad_input_is_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_runs_over_budget_count_as_slower_than_every_run_that_reached():
    b = np.array([4.0] * 5 + [8.0] * 3)
    k = np.array([10.0, -1.0, 30.0, -1.0, 20.0, 5.0, 6.0, 7.0])
    over = k < 0
    table = per_batch(b, k, censored=over).set_index("batch_size")
    assert table.loc[4.0, "censored"] == 2 and table.loc[8.0, "censored"] == 0
    assert table.loc[4.0, "median"] == 30.0  # 10, 20, 30, >budget, >budget
    assert table.loc[4.0, "high"] == np.inf
    survivors = per_batch(b[~over], k[~over]).set_index("batch_size")
    assert survivors.loc[4.0, "median"] == 20.0  # dropping them would say 20
    most = per_batch([2.0] * 3, [5.0, -1.0, -1.0], censored=np.array([False, True, True]))
    assert most["median"].iloc[0] == np.inf
    with pytest.raises(TypeError, match=r"censored must be .* booleans .*, got array\(\[0, 1"):
        per_batch(b, k, censored=over.astype(int))
    with pytest.raises(ValueError, match=r"steps must be .*, got array\(\[10\., nan"):
        per_batch(b, np.where(over, np.nan, k))
