r"""Per-batch summaries of measured step counts: the median and a distribution-free interval.

For n independent runs with sorted step counts :math:`x_{(1)} \le \dots \le x_{(n)}`, the
interval :math:`[x_{(j)}, x_{(n+1-j)}]` covers the true median with probability

.. math:: 1 - 2\,P\bigl(\mathrm{Bin}(n, \tfrac12) \le j - 1\bigr),

whatever the distribution of the runs (continuous case). The widest ``j`` whose coverage
reaches the asked level is used; with too few runs for that level the full range is returned
together with the coverage it actually has, so a figure never claims more than the data give.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .. import validation


@dataclass(frozen=True)
class MedianInterval:
    """The median of ``n`` runs and an order-statistic interval with its exact ``coverage``."""

    median: float
    low: float
    high: float
    coverage: float
    n: int


def _order_interval(sorted_values: np.ndarray, level: float) -> MedianInterval:
    n = sorted_values.size
    ranks = np.arange(1, n // 2 + 1)  # candidate j, from the widest interval inwards
    coverage = 1.0 - 2.0 * stats.binom.cdf(ranks - 1, n, 0.5)
    good = ranks[coverage >= level]
    j = int(good.max()) if good.size else 1
    achieved = float(1.0 - 2.0 * stats.binom.cdf(j - 1, n, 0.5)) if n > 1 else 0.0
    return MedianInterval(
        median=float(np.median(sorted_values)),
        low=float(sorted_values[j - 1]),
        high=float(sorted_values[n - j]),
        coverage=max(achieved, 0.0),
        n=int(n),
    )


def median_interval(values: np.ndarray, level: float = 0.95) -> MedianInterval:
    r"""Median of ``values`` with the order-statistic interval of coverage at least ``level``.

    ``values``: a non-empty 1-D array of finite numbers; ``level`` in (0, 1). When
    :math:`1 - 2^{1-n} <` ``level`` (too few values) the interval is the full range and
    ``coverage`` says what it really covers (0 for a single value).

    >>> m = median_interval([3.0, 1.0, 2.0, 5.0, 4.0, 6.0, 7.0], level=0.95)
    >>> (m.median, m.low, m.high, round(m.coverage, 4))
    (4.0, 1.0, 7.0, 0.9844)
    """
    level = validation.probability("level", level, low_open=True, high_open=True)
    array = validation.real_array("values", values)
    return _order_interval(np.sort(array), level)


def per_batch(
    batch_sizes: np.ndarray,
    steps: np.ndarray,
    level: float = 0.95,
    *,
    censored: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per distinct batch size: ``batch_size, n, median, low, high, coverage,
    censored``: the median steps to the target over seeds and its interval.

    The interval is :func:`median_interval` of the runs at that batch size. Both arrays are
    1-D of equal length, batch sizes > 0 and steps finite and >= 0 (but for censored runs);
    rows are sorted by batch size. ``censored`` (booleans, optional)
    marks runs that ran out of their step budget: they count as slower than every run that
    reached (``steps`` of them is ignored), so the median and the ends of the interval are
    ``inf`` where they fall on such a run ("above the budget"), never the survivors' median.

    >>> per_batch([2, 2, 4], [10, 12, 7])[["batch_size", "n", "median"]].to_numpy().tolist()
    [[2.0, 2.0, 11.0], [4.0, 1.0, 7.0]]
    >>> per_batch([2, 2, 2], [10, -1, 12], censored=[False, True, False])["median"].tolist()
    [12.0]
    """
    level = validation.probability("level", level, low_open=True, high_open=True)
    b = validation.real_array("batch_sizes", batch_sizes, low=0, low_open=True)
    k = validation.real_array("steps", steps, finite=False)
    if b.shape != k.shape:
        raise validation.value_error("steps", steps, f"one entry per batch size ({b.size})")
    if censored is None:
        over = np.zeros(b.shape, dtype=bool)
    else:
        over = validation.bool_array("censored", censored, size=b.size)
    reached = k[~over]
    if not (np.all(np.isfinite(reached)) and np.all(reached >= 0)):
        raise validation.value_error(
            "steps", steps, "finite real numbers >= 0 (censored runs excepted)"
        )
    values = np.where(over, np.inf, k)
    rows = []
    for value in np.unique(b):
        m = _order_interval(np.sort(values[b == value]), level)
        n_over = int(over[b == value].sum())
        rows.append((float(value), m.n, m.median, m.low, m.high, m.coverage, n_over))
    return pd.DataFrame(
        rows, columns=["batch_size", "n", "median", "low", "high", "coverage", "censored"]
    )
