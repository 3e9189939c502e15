"""The two-batch noise-scale estimator on measured squared norms, and traces of it."""

import math

import numpy as np
import pytest

from batchsteps.analysis import NoiseScaleTrace, noise_scale_from_norms


def test_from_norms_known_values_and_degenerate_gradient():
    r = noise_scale_from_norms([3.0, 3.2], [1.2, 1.2], 1, 10)
    # per draw: |G|^2 = (10*1.2 - 3.0)/9 = 1 and (12 - 3.2)/9; tr Sigma = (3.0 - 1.2)/0.9 = 2 ...
    assert r.grad_norm_sq_draws == pytest.approx([1.0, 8.8 / 9])
    assert r.trace_sigma_draws == pytest.approx([2.0, 2.0 / 0.9])
    assert r.grad_norm_sq == pytest.approx((1.0 + 8.8 / 9) / 2)
    # equal norms at both sizes: no noise at all, and B_simple = 0 exactly
    quiet = noise_scale_from_norms([2.0, 2.0, 2.0], [2.0, 2.0, 2.0], 1, 4)
    assert quiet.trace_sigma == 0 and quiet.b_simple == 0 and quiet.b_simple_ci == (0.0, 0.0)
    # a gradient not resolved from zero: B_simple unbounded above
    lost = noise_scale_from_norms([5.0, 4.0, 6.0], [0.5, 0.3, 0.6], 1, 10)
    assert lost.grad_norm_sq_ci[0] < 0 and lost.b_simple_ci == (0.0, math.inf)


def test_intervals_cover_the_truth_of_simulated_norms_at_about_their_confidence():
    # |g_b|^2 with E = |G|^2 + tr/b: simulated with independent noise around the exact means
    grad_sq, trace, small, large = 2.0, 40.0, 4, 64
    rng = np.random.default_rng(0)
    covered = {"grad_norm_sq": 0, "trace_sigma": 0, "b_simple": 0}
    for _ in range(200):
        x = (grad_sq + trace / small) * rng.gamma(20.0, 1 / 20.0, 50)
        y = (grad_sq + trace / large) * rng.gamma(20.0, 1 / 20.0, 50)
        est = noise_scale_from_norms(x, y, small, large, confidence=0.9)
        for name, truth in (("grad_norm_sq", grad_sq), ("trace_sigma", trace),
                            ("b_simple", trace / grad_sq)):  # fmt: skip
            low, high = getattr(est, f"{name}_ci")
            covered[name] += low <= truth <= high
    for name, count in covered.items():
        assert 165 <= count <= 195, (name, count)  # 180 expected; binomial sd about 4.2


def test_a_trace_collects_estimates_by_step_and_tabulates_them():
    estimates = tuple(
        noise_scale_from_norms([3.0 + k, 3.5 + k], [1.0, 1.1], 1, 10, loss=1.0 / (k + 1))
        for k in range(3)
    )
    trace = NoiseScaleTrace(np.array([0, 5, 10]), estimates)
    assert trace.b_simple.shape == (3,) and np.all(np.diff(trace.trace_sigma) > 0)
    assert trace.loss.tolist() == [1.0, 0.5, pytest.approx(1 / 3)]
    frame = trace.to_frame()
    assert list(frame["step"]) == [0, 5, 10]
    assert {"b_simple_low", "b_simple_high", "trace_sigma", "loss"} <= set(frame.columns)


def test_from_norms_rejects_bad_arrays_and_arguments():
    with pytest.raises(
        ValueError,
        match=r"large_norm_sq must be one entry per entry of small_norm_sq \(2\), got \[1.0, 1",
    ):
        noise_scale_from_norms([1.0, 2.0], [1.0, 1.0, 1.0], 1, 2)
    with pytest.raises(ValueError, match=r"small_norm_sq must be .* finite .*, got \[1.0, inf\]"):
        noise_scale_from_norms([1.0, float("inf")], [1.0, 1.0], 1, 2)
    with pytest.raises(ValueError, match="large must be an integer >= 5, got 4"):
        noise_scale_from_norms([1.0, 2.0], [1.0, 1.0], 4, 4)
    with pytest.raises(ValueError, match=r"small_norm_sq must .* at least 2 entries, got \[1.0\]"):
        noise_scale_from_norms([1.0], [1.0], 1, 2)
    with pytest.raises(ValueError, match=r"confidence must be a real number in \(0, 1\), got 1.0"):
        noise_scale_from_norms([1.0, 2.0], [1.0, 1.0], 1, 2, confidence=1.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(loss="abc"), TypeError, r"loss must be a real number .*, got 'abc' \(str\)"),
        (dict(loss="1.5"), TypeError, r"loss must be a real number .*, got '1.5' \(str\)"),
        (dict(loss=None), TypeError, r"loss must be a real number .*, got None"),
        (dict(loss=[1.0]), TypeError, r"loss must be a real number .*, got \[1.0\]"),
        (
            dict(small_norm_sq=[-3.0, -3.2]),
            ValueError,
            r"small_norm_sq must be .* >= 0, got \[-3.0, -3.2\]",
        ),
        (dict(large_norm_sq=[1.2, -1.0]), ValueError, r"large_norm_sq must be .* >= 0, got"),
    ],
)
def test_from_norms_rejects_a_bad_loss_and_negative_squared_norms(kwargs, error, match):
    args = dict(small_norm_sq=[3.0, 3.2], large_norm_sq=[1.2, 1.2], small=1, large=10) | kwargs
    with pytest.raises(error, match=match):
        noise_scale_from_norms(**args)


def test_from_norms_keeps_the_loss_given_and_nan_by_default():
    assert noise_scale_from_norms([3.0, 3.2], [1.2, 1.2], 1, 10, loss=0.25).loss == 0.25
    assert math.isnan(noise_scale_from_norms([3.0, 3.2], [1.2, 1.2], 1, 10).loss)
