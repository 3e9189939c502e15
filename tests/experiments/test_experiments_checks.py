"""The engine's sampled noisy quadratic against the exact expectations of the theory."""

import numpy as np
import pytest

import batchsteps.experiments as ex
from batchsteps.theory import nqm

# 300 seeds, 80 steps, two batch sizes: a few seconds on one core.
SMALL = dict(steps=80, seeds=300, dim=50)


@pytest.mark.parametrize("beta, lr", [(0.0, 0.5), (0.6, 0.3)], ids=["sgd", "momentum"])
def test_sampled_mean_lies_within_its_interval_of_the_exact_curve(beta, lr):
    check = ex.check_engine_nqm([1, 16], lr=lr, beta=beta, **SMALL)
    assert check.optimizer == ("momentum" if beta else "sgd")
    assert check.exact.shape == check.mean.shape == (81, 2)
    # 160 correlated z-scores of a skewed mean: about 95% within 2, none beyond 4.5
    assert check.fraction_within(2.0) >= 0.85
    assert check.max_abs_z < 4.5
    np.testing.assert_allclose(check.mean[0], nqm.noisy_quadratic(50).initial_loss, rtol=1e-6)


def test_the_check_can_fail_a_wrong_rate():
    # the engine runs at lr = 0.5; compare with the exact curve of lr = 0.45
    check = ex.check_engine_nqm([16], lr=0.5, **SMALL)
    wrong = nqm.expected_loss(nqm.noisy_quadratic(50), [16.0], lr=0.45, steps=80)
    z = (check.mean[1:] - wrong[1:]) / check.stderr[1:]
    assert np.max(np.abs(z)) > 10


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="seeds must be .*, got 1"):
        ex.check_engine_nqm([4], lr=0.5, steps=5, seeds=1)
    with pytest.raises(ValueError, match="batch_sizes"):
        ex.check_engine_nqm([0], lr=0.5, steps=5, seeds=4)
    with pytest.raises(ValueError, match="target_fraction must be .*, got 1.5"):
        ex.pole_check([2, 4, 8], lr=0.5, target_fraction=1.5, seeds=2, max_steps=10)
    with pytest.raises(
        ValueError, match=r"batch_sizes must be at least 3 distinct integers, got \[2, 4\]"
    ):
        ex.pole_check([2, 4], lr=0.5, target_fraction=0.1, seeds=2, max_steps=10)


@pytest.mark.slow
def test_the_sampled_first_passage_has_its_pole_below_the_noise_floor():
    sizes = [2**k for k in range(2, 13)]
    check = ex.pole_check(sizes, lr=0.5, target_fraction=0.01, seeds=5, max_steps=3000, n_boot=0)
    assert check.floor_pole == pytest.approx(27.44, rel=1e-3)
    # b = 16 < floor pole: the expected loss never reaches the target, single runs do
    at16 = check.runs[check.runs["batch_size"] == 16]
    assert check.expected_steps[sizes.index(16)] == -1 and at16["reached"].all()
    expected_b0 = check.expected_fits["constant_lr"].params["min_batch"]
    sampled_b0 = check.sampled_fits["constant_lr"].params["min_batch"]
    assert sampled_b0 < expected_b0 < check.floor_pole
    table = check.table()
    assert table.loc[16, "expected loss crosses at"] == "never"
    assert table.loc[16, "seeds reached"] == "5 of 5"
