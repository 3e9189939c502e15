"""The noisy quadratic's poles and the engine's agreement criterion (analysis.nqm_check)."""

import numpy as np
import pytest

from batchsteps.analysis.nqm_check import (
    AGREE_LARGEST,
    AGREE_LEAST,
    EngineCheck,
    noise_floor_pole,
    pole_check,
)
from batchsteps.theory import nqm


def test_noise_floor_pole_is_where_the_stationary_loss_meets_the_target():
    problem = nqm.noisy_quadratic(20)
    target = 0.05 * problem.initial_loss
    pole = noise_floor_pole(problem, lr=0.5, target=target)
    floor = nqm.stationary_loss(problem, [pole], lr=0.5)[0]
    assert floor == pytest.approx(target)
    # below the pole the exact expected loss never reaches the target, above it does
    below, above = nqm.steps_to_target(
        problem, [0.9 * pole, 1.5 * pole], lr=0.5, target=target, max_steps=100_000
    )
    assert below == -1 and above > 0
    with pytest.raises(ValueError, match="target=0"):
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


def test_the_sampled_first_passage_has_its_pole_below_the_noise_floor():
    sizes = [2**k for k in range(2, 13)]
    check = pole_check(sizes, lr=0.5, target_fraction=0.01, seeds=5, max_steps=3000, n_boot=0)
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
