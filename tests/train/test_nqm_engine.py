"""The engine's sampled noisy quadratic against the exact expected loss of the theory."""

import numpy as np
import pytest

from batchsteps.analysis.nqm_check import check_engine_nqm, sampled_loss
from batchsteps.theory import nqm

# 300 seeds, 80 steps, two batch sizes: a few seconds on one core.
SMALL = dict(steps=80, seeds=300, dim=50)


@pytest.mark.parametrize("beta, lr", [(0.0, 0.5), (0.6, 0.3)], ids=["sgd", "momentum"])
def test_sampled_mean_lies_within_its_interval_of_the_exact_curve(beta, lr):
    check = check_engine_nqm([1, 16], lr=lr, beta=beta, **SMALL)
    assert check.optimizer == ("momentum" if beta else "sgd")
    assert check.exact.shape == check.mean.shape == (81, 2)
    # 160 correlated z-scores of a skewed mean: about 95% within 2, none beyond 4.5
    assert check.fraction_within(2.0) >= 0.85
    assert check.max_abs_z < 4.5
    np.testing.assert_allclose(check.mean[0], nqm.noisy_quadratic(50).initial_loss, rtol=1e-6)


def test_the_check_can_fail_a_wrong_rate():
    # the engine runs at lr = 0.5; compare with the exact curve of lr = 0.45
    check = check_engine_nqm([16], lr=0.5, **SMALL)
    wrong = nqm.expected_loss(nqm.noisy_quadratic(50), [16.0], lr=0.45, steps=80)
    z = (check.mean[1:] - wrong[1:]) / check.stderr[1:]
    assert np.max(np.abs(z)) > 10


def test_sampled_loss_records_every_step_of_every_seed():
    losses = sampled_loss("nqm", "sgd", 4, lr=0.5, seeds=[0, 1, 2], steps=7)
    assert losses.shape == (3, 8)
    assert np.all(losses[:, 0] == losses[0, 0])  # one starting point


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="seeds=1"):
        check_engine_nqm([4], lr=0.5, steps=5, seeds=1)
    with pytest.raises(ValueError, match="batch_sizes"):
        check_engine_nqm([0], lr=0.5, steps=5, seeds=4)
    with pytest.raises(ValueError, match="must be a noisy quadratic"):
        sampled_loss("digits-mlp", "sgd", 4, lr=0.1, seeds=2, steps=3)
    with pytest.raises(ValueError, match="diverged"):
        sampled_loss("nqm", "sgd", 1, lr=50.0, seeds=2, steps=200)
