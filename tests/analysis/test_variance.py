"""The mini-batch variance law: sigma^2/b with replacement, times (n-b)/(n-1) without."""

import numpy as np
import pytest
import torch

from batchsteps.analysis.variance import VarianceCurve, minibatch_variance, predicted_variance

# Five gradients in the plane: sigma^2 is computed by hand below.
GRADS = np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, 1.0], [3.0, -1.0], [2.0, 3.0]])
SIGMA_SQ = float(((GRADS - GRADS.mean(axis=0)) ** 2).sum(axis=1).mean())


def test_sigma_sq_is_the_exact_one_sample_variance():
    curve = minibatch_variance(GRADS, [1], draws=10)
    assert curve.sigma_sq == pytest.approx(SIGMA_SQ, rel=1e-12)
    assert curve.sigma_sq == pytest.approx(4.0, rel=1e-12)  # by hand: mean (1, 1), spreads 20/5


def test_with_replacement_matches_sigma_sq_over_b():
    curve = minibatch_variance(GRADS, [1, 2, 3, 5, 8], draws=40_000, replacement=True, seed=1)
    np.testing.assert_allclose(curve.predicted, SIGMA_SQ / np.array([1, 2, 3, 5, 8]))
    assert np.all(np.abs(curve.z_scores) < 4.5)
    np.testing.assert_allclose(curve.variance, curve.predicted, rtol=0.03)


def test_without_replacement_carries_the_finite_population_factor():
    sizes = np.array([1, 2, 3, 4])
    curve = minibatch_variance(GRADS, sizes, draws=40_000, replacement=False, seed=2)
    np.testing.assert_allclose(curve.predicted, SIGMA_SQ / sizes * (5 - sizes) / 4)
    assert np.all(np.abs(curve.z_scores) < 4.5)
    # and it is clearly below the with-replacement law for b > 1
    assert np.all(curve.variance[1:] < 0.8 * SIGMA_SQ / sizes[1:])


def test_the_whole_population_without_replacement_has_no_variance():
    curve = minibatch_variance(GRADS, [5], draws=50, replacement=False)
    assert curve.variance[0] == pytest.approx(0.0, abs=1e-24)


def test_accepts_a_torch_tensor_and_is_reproducible_by_seed():
    a = minibatch_variance(torch.tensor(GRADS), [2, 4], draws=100, seed=7)
    b = minibatch_variance(GRADS, [2, 4], draws=100, seed=7)
    c = minibatch_variance(GRADS, [2, 4], draws=100, seed=8)
    np.testing.assert_array_equal(a.variance, b.variance)
    assert not np.array_equal(a.variance, c.variance)
    assert isinstance(a, VarianceCurve) and a.draws == 100 and a.n == 5


def test_predicted_variance_is_sigma_sq_over_b_and_zero_at_n():
    np.testing.assert_allclose(predicted_variance(6.0, [1, 2, 3]), [6.0, 3.0, 2.0])
    np.testing.assert_allclose(predicted_variance(6.0, [1, 3], n=3), [6.0, 0.0])


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        (dict(per_sample_grads=np.ones(4), batch_sizes=[1]), ValueError, "per_sample_grads"),
        (dict(per_sample_grads=[[np.nan]] * 3, batch_sizes=[1]), ValueError, "finite"),
        (dict(per_sample_grads=GRADS, batch_sizes=[0]), ValueError, "batch_sizes"),
        (dict(per_sample_grads=GRADS, batch_sizes=[2.5]), TypeError, "batch_sizes"),
        (dict(per_sample_grads=GRADS, batch_sizes=[]), ValueError, "batch_sizes"),
        (
            dict(per_sample_grads=GRADS, batch_sizes=[6], replacement=False),
            ValueError,
            r"batch_sizes\[0\] must be an integer in \[1, 5\], got 6",
        ),
        (
            dict(per_sample_grads=GRADS, batch_sizes=[1], draws=1),
            ValueError,
            "draws must be .*, got 1",
        ),
        (dict(per_sample_grads=GRADS, batch_sizes=[1], draws=2.0), TypeError, "draws"),
        (dict(per_sample_grads=GRADS, batch_sizes=[1], replacement="no"), TypeError, "replacement"),
        (dict(per_sample_grads=GRADS, batch_sizes=[1], seed="a"), TypeError, "seed must be .*'a'"),
        (dict(per_sample_grads=GRADS, batch_sizes=[1], seed=-1), ValueError, "seed .*, got -1"),
        (dict(per_sample_grads=GRADS, batch_sizes=[1], seed=None), TypeError, "seed must .* None"),
        (dict(per_sample_grads=GRADS, batch_sizes=[1], seed=1.7), TypeError, "seed must .* 1.7"),
    ],
)
def test_bad_inputs_are_named(kwargs, error, words):
    with pytest.raises(error, match=words):
        minibatch_variance(**kwargs)


def test_batches_larger_than_n_are_allowed_with_replacement():
    curve = minibatch_variance(GRADS, [16], draws=20_000, replacement=True, seed=3)
    assert abs(curve.z_scores[0]) < 4.5


def test_a_generator_may_stand_for_the_seed():
    a = minibatch_variance(GRADS, [2, 4], draws=100, seed=np.random.default_rng(7))
    b = minibatch_variance(GRADS, [2, 4], draws=100, seed=7)
    np.testing.assert_array_equal(a.variance, b.variance)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (("a", [1, 2]), {}, TypeError, r"sigma_sq must be .*, got 'a' \(str\)"),
        ((-1.0, [1, 2]), {}, ValueError, "sigma_sq must be a finite real number >= 0, got -1.0"),
        ((np.nan, [1]), {}, ValueError, "sigma_sq must be .*, got nan"),
        ((1.0, [0, -2]), {}, ValueError, r"batch_sizes must be .* >= 1 .*, got \[0, -2\]"),
        ((1.0, []), {}, ValueError, r"batch_sizes must be .* at least 1 entry, got \[\]"),
        ((1.0, ["a"]), {}, TypeError, r"batch_sizes must be .*, got \['a'\]"),
        ((1.0, [1, 2]), {"n": 1}, ValueError, "n must be an integer >= 2, got 1"),
        ((1.0, [1, 2]), {"n": "3"}, TypeError, "n must be an integer >= 2, got '3'"),
        ((1.0, [1, 5]), {"n": 3}, ValueError, r"batch_sizes must be at most n=3 .*, got \[1, 5\]"),
    ],
)
def test_predicted_variance_rejects_bad_inputs(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        predicted_variance(*args, **kwargs)


def test_predicted_variance_keeps_the_shape_of_its_batch_sizes():
    assert predicted_variance(6.0, 3) == 2.0 and np.ndim(predicted_variance(6.0, 3)) == 0
    assert predicted_variance(6.0, [[1.0, 2.0]]).shape == (1, 2)
