"""The noisy quadratic's noise-floor pole and the engine's agreement criterion."""

import numpy as np
import pytest

from batchsteps.analysis.nqm_check import (
    AGREE_LARGEST,
    AGREE_LEAST,
    EngineCheck,
    noise_floor_pole,
)
from batchsteps.theory import nqm


def test_noise_floor_pole_is_where_the_stationary_loss_meets_the_target():
    problem = nqm.noisy_quadratic(20)
    target = 0.05 * problem.initial_loss
    pole = noise_floor_pole(problem, lr=0.5, target=target)
    floor = nqm.stationary_loss(problem, [pole], lr=0.5)[0]
    assert floor == pytest.approx(target)
    # below the pole the exact expected loss never reaches the target, above it does
    below, above = nqm.expected_steps_to_target(
        problem, [0.9 * pole, 1.5 * pole], lr=0.5, target=target, max_steps=100_000
    )
    assert below == -1 and above > 0
    with pytest.raises(ValueError, match="target must be .*, got 0"):
        noise_floor_pole(problem, lr=0.5, target=0.0)


def _check(z: np.ndarray) -> EngineCheck:
    z = np.vstack([np.zeros((1, z.shape[1])), z])
    zeros = np.zeros_like(z)
    return EngineCheck("sgd", np.array([1, 16]), 0.5, 0.0, zeros, zeros, zeros + 1, z, 400, 0.0)


def test_agreement_needs_most_z_within_two_and_none_far_out():
    rng = np.random.default_rng(0)
    assert _check(rng.standard_normal((200, 2))).agrees()
    drift = rng.standard_normal((200, 2)) + np.linspace(0, 12, 200)[:, None]  # a wrong update
    assert not _check(drift).agrees()
    one_far = rng.standard_normal((200, 2)).clip(-2, 2)
    one_far[50, 0] = AGREE_LARGEST + 0.5
    assert not _check(one_far).agrees()
    wide = rng.standard_normal((200, 2)) * 2.0  # a standard error off by a factor 2
    assert np.mean(np.abs(wide) <= 2) < AGREE_LEAST and not _check(wide).agrees()
    assert _check(rng.standard_normal((200, 2))).verdict().startswith("agrees (")
    assert _check(drift).verdict().startswith("does not agree (")


def test_from_runs_standardises_the_mean_over_seeds():
    exact = np.array([[1.0, 1.0], [0.5, 0.8], [0.2, 0.6]])
    small = np.array([[1.0, 0.6, 0.3], [1.0, 0.4, 0.1], [1.0, 0.5, 0.2]])  # mean = exact
    large = np.array([[1.0, 0.9, 0.7], [1.0, 0.9, 0.7]])  # mean 0.9, 0.7: off by 0.1
    with pytest.raises(ValueError, match="one number >= 2 of seeds"):
        EngineCheck.from_runs("sgd", [1, 16], lr=0.5, beta=0.0, exact=exact, runs=[small, large],
                              wall_time=0.0)  # fmt: skip
    check = EngineCheck.from_runs(
        "sgd", [1, 16], lr=0.5, beta=0.0, exact=exact, runs=[small, large[[0, 1, 1]]],
        wall_time=1.5,
    )  # fmt: skip
    np.testing.assert_allclose(check.mean[:, 0], exact[:, 0])
    np.testing.assert_allclose(check.z[:, 0], 0.0, atol=1e-12)
    assert check.z[0, 1] == 0.0  # every seed starts at the same point: no standard error
    assert check.n_seeds == 3 and check.wall_time == 1.5 and check.batch_sizes.tolist() == [1, 16]
    with pytest.raises(ValueError, match="exact of shape"):
        EngineCheck.from_runs("sgd", [1], lr=0.5, beta=0.0, exact=exact, runs=[small],
                              wall_time=0.0)  # fmt: skip
