"""Noisy quadratic model: the exact second-moment recursion against sampling and closed forms."""

import numpy as np
import pytest

from batchsteps.theory.nqm import (
    NoisyQuadratic,
    expected_loss,
    expected_steps_to_target,
    loss_terms,
    noisy_quadratic,
    stationary_loss,
    steps_with_tuned_lr,
)

PROBLEM = NoisyQuadratic(curvature=[1.0, 0.5, 0.25, 0.1], noise=[1.0, 0.5, 0.25, 0.1], theta0=1.0)

METHODS = {
    "sgd": dict(lr=0.5),
    "momentum": dict(lr=0.2, beta=0.8),
    "preconditioned": dict(lr=0.3, power=0.5),
}


def _simulate(problem, batch, steps, replicas, rng, lr, beta=0.0, power=0.0, noise="gauss"):
    """Run the optimizer itself on sampled gradients; the loss of every replica at every step."""
    h, c = problem.curvature, problem.noise
    rate = lr * h**-power
    theta = np.tile(problem.theta0, (replicas, 1))
    m = np.zeros_like(theta)
    losses = np.empty((steps + 1, replicas))
    for k in range(steps + 1):
        losses[k] = 0.5 * (theta**2) @ h
        if noise == "gauss":
            xi = rng.standard_normal(theta.shape)
        else:  # Rademacher: same variance, far from Gaussian
            xi = rng.choice([-1.0, 1.0], size=theta.shape)
        g = h * theta + np.sqrt(c / batch) * xi
        m = beta * m + g
        theta = theta - rate * m
    return losses


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("noise", ["gauss", "rademacher"])
def test_exact_loss_is_the_mean_of_sampled_runs(method, noise):
    rng = np.random.default_rng(2024)
    batch, steps, replicas = 2.0, 60, 4000
    sampled = _simulate(PROBLEM, batch, steps, replicas, rng, noise=noise, **METHODS[method])
    exact = expected_loss(PROBLEM, [batch], steps=steps, **METHODS[method])[:, 0]
    mean = sampled.mean(axis=1)
    half_width = 4.0 * sampled.std(axis=1, ddof=1) / np.sqrt(replicas)
    assert np.all(np.abs(mean - exact) <= half_width + 1e-12)
    # the check has power: the noise-free curve lies outside the interval once noise matters
    noiseless = NoisyQuadratic(PROBLEM.curvature, 0.0, PROBLEM.theta0)
    free = expected_loss(noiseless, [batch], steps=steps, **METHODS[method])[:, 0]
    assert np.any(np.abs(mean - free) > half_width)


@pytest.mark.parametrize("method", METHODS)
def test_loss_is_the_noise_free_run_plus_the_noise_of_one_sample_over_b(method):
    terms = loss_terms(PROBLEM, steps=300, **METHODS[method])
    quiet = NoisyQuadratic(PROBLEM.curvature, 0.0, PROBLEM.theta0)
    from_zero = NoisyQuadratic(PROBLEM.curvature, PROBLEM.noise, 0.0)
    np.testing.assert_allclose(
        terms.deterministic, expected_loss(quiet, 7.0, steps=300, **METHODS[method])[:, 0]
    )
    np.testing.assert_allclose(
        terms.noise, expected_loss(from_zero, 1.0, steps=300, **METHODS[method])[:, 0]
    )
    assert np.all(np.diff(terms.noise) >= -1e-15) and terms.noise[0] == 0
    batches = np.array([1.0, 3.0, 50.0])
    np.testing.assert_allclose(
        terms.at(batches), expected_loss(PROBLEM, batches, steps=300, **METHODS[method])
    )


def test_sgd_matches_the_scalar_closed_form():
    h, c, lr, b, steps = PROBLEM.curvature, PROBLEM.noise, 0.7, 8.0, 40
    r = (1 - lr * h) ** 2
    k = np.arange(steps + 1)[:, None]
    second = r**k * PROBLEM.theta0**2 + lr**2 * c / b * (1 - r**k) / (1 - r)
    closed = 0.5 * second @ h
    np.testing.assert_allclose(expected_loss(PROBLEM, b, lr=lr, steps=steps)[:, 0], closed)


def test_sgd_stationary_loss_closed_form():
    h, c, lr = PROBLEM.curvature, PROBLEM.noise, 0.7
    batches = np.array([1.0, 4.0, 64.0])
    closed = 0.5 * (lr * c / (2 - lr * h)).sum() / batches
    np.testing.assert_allclose(stationary_loss(PROBLEM, batches, lr=lr), closed)


@pytest.mark.parametrize("method", METHODS)
def test_expected_loss_converges_to_the_stationary_loss(method):
    batches = [1.0, 16.0]
    curve = expected_loss(PROBLEM, batches, steps=3000, **METHODS[method])
    np.testing.assert_allclose(curve[-1], stationary_loss(PROBLEM, batches, **METHODS[method]))


def test_stationary_loss_is_inf_where_the_rate_is_unstable():
    assert np.isinf(stationary_loss(PROBLEM, [1.0], lr=2.5)).all()
    assert np.isinf(stationary_loss(PROBLEM, [1.0], lr=4.0, beta=0.9)).all()


def test_momentum_at_beta_zero_and_preconditioning_at_unit_curvature_are_sgd():
    sgd = expected_loss(PROBLEM, [1.0, 8.0], lr=0.5, steps=50)
    np.testing.assert_allclose(expected_loss(PROBLEM, [1.0, 8.0], lr=0.5, steps=50, beta=0.0), sgd)
    flat = NoisyQuadratic(curvature=[1.0, 1.0], noise=0.3, theta0=[1.0, 2.0])
    np.testing.assert_allclose(
        expected_loss(flat, [2.0], lr=0.4, steps=30, power=0.5),
        expected_loss(flat, [2.0], lr=0.4, steps=30),
    )


def _first_below(curve, target):
    below = curve <= target
    return np.where(below.any(axis=0), below.argmax(axis=0), -1)


@pytest.mark.parametrize(
    "method", [*METHODS.values(), dict(lr=1.5, beta=0.95), dict(lr=0.9, beta=0.6, power=0.5)]
)
def test_steps_to_target_is_the_first_step_of_the_exact_curve_below_target(method):
    batches = np.array([1.0, 2.0, 8.0, 64.0, 1024.0])
    curve = expected_loss(PROBLEM, batches, steps=2000, **method)
    target = 0.05 * PROBLEM.initial_loss
    exact = expected_steps_to_target(PROBLEM, batches, target=target, max_steps=2000, **method)
    np.testing.assert_array_equal(exact, _first_below(curve, target))


def test_underdamped_momentum_is_not_monotone_and_still_exact():
    # a single coordinate: heavy ball with beta = 0.95 oscillates, so the loss dips and rises
    one = NoisyQuadratic(curvature=1.0, noise=1.0, theta0=1.0)
    curve = expected_loss(one, [1e4], lr=1.5, beta=0.95, steps=400)[:, 0]
    assert np.any(np.diff(curve) > 0)
    for target in (0.3, 0.05, 0.01, 1e-3):
        exact = expected_steps_to_target(
            one, [1e4], lr=1.5, beta=0.95, target=target, max_steps=400
        )
        assert exact[0] == _first_below(curve[:, None], target)[0]


def test_sgd_steps_do_not_increase_with_the_batch_size():
    p = noisy_quadratic(50)
    batches = 2.0 ** np.arange(0, 13)
    steps = expected_steps_to_target(
        p, batches, lr=0.5, target=0.02 * p.initial_loss, max_steps=50_000
    )
    reached = steps[steps >= 0]
    assert reached.size >= 6 and np.all(np.diff(reached) <= 0)
    assert np.all(steps[: steps.size - reached.size] == -1)  # small batches never get there


def test_target_below_the_noise_floor_is_never_reached_and_settled_early():
    floor = stationary_loss(PROBLEM, [1.0], lr=0.5)[0]
    out = expected_steps_to_target(PROBLEM, [1.0], lr=0.5, target=0.9 * floor, max_steps=10**12)
    assert out.tolist() == [-1]


def test_edge_targets():
    start = PROBLEM.initial_loss
    assert expected_steps_to_target(
        PROBLEM, [1.0, 4.0], lr=0.5, target=start, max_steps=10
    ).tolist() == [
        0,
        0,
    ]
    assert expected_steps_to_target(PROBLEM, [4.0], lr=0.5, target=0.01, max_steps=3).tolist() == [
        -1
    ]
    # a rate past 2/h_max diverges: never reached, no exception
    assert expected_steps_to_target(
        PROBLEM, [4.0], lr=2.5, target=0.01, max_steps=5000
    ).tolist() == [-1]


def test_without_noise_the_batch_size_does_not_matter():
    quiet = NoisyQuadratic(curvature=PROBLEM.curvature, noise=0.0, theta0=1.0)
    steps = expected_steps_to_target(
        quiet, [1.0, 10.0, 1000.0], lr=0.5, target=1e-3, max_steps=10_000
    )
    assert len(set(steps.tolist())) == 1 and steps[0] > 0


def test_noisy_quadratic_is_zhangs_spectrum():
    p = noisy_quadratic(4, decay=1.0, theta0=2.0, noise_factor=3.0)
    np.testing.assert_allclose(p.curvature, [1, 1 / 2, 1 / 3, 1 / 4])
    np.testing.assert_allclose(p.noise, 3 * p.curvature)
    assert p.dim == 4 and p.initial_loss == pytest.approx(2.0 * sum(p.curvature))


def test_expected_loss_shape_and_block_boundaries():
    p = noisy_quadratic(3)
    long = expected_loss(p, [1.0, 2.0, 3.0], lr=0.3, steps=700)
    assert long.shape == (701, 3)
    np.testing.assert_allclose(expected_loss(p, [2.0], lr=0.3, steps=257)[:, 0], long[:258, 1])
    assert expected_loss(p, 2.0, lr=0.3, steps=0).tolist() == [[p.initial_loss]]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(lr=0.0), ValueError, "lr must be a finite real number > 0, got 0.0"),
        (dict(lr=float("inf")), ValueError, "lr must .*, got inf"),
        (dict(lr="0.1"), TypeError, r"lr must be a finite real number > 0, got '0.1' \(str\)"),
        (dict(lr=0.1, beta=1.0), ValueError, r"beta must be a real number in \[0, 1\), got 1.0"),
        (dict(lr=0.1, power=1.5), ValueError, r"power must be a real number in \[0, 1\], got 1.5"),
        (
            dict(lr=0.1, batch_sizes=[0.0, 1.0]),
            ValueError,
            r"batch_sizes must be .* > 0, got \[0.0, 1.0\]",
        ),
        (
            dict(lr=0.1, batch_sizes=[]),
            ValueError,
            r"batch_sizes must .* at least 1 entry, got \[\]",
        ),
        (dict(lr=0.1, batch_sizes=["a"]), TypeError, r"batch_sizes must .*, got \['a'\]"),
        (
            dict(lr=0.1, target=-1.0),
            ValueError,
            "target must be a finite real number > 0, got -1.0",
        ),
        (dict(lr=0.1, max_steps=-1), ValueError, "max_steps must be an integer >= 0, got -1"),
        (dict(lr=0.1, max_steps=2.5), TypeError, "max_steps must be an integer >= 0, got 2.5"),
        (dict(lr=0.1, problem="nqm"), TypeError, "problem must be a NoisyQuadratic, got 'nqm'"),
    ],
)
def test_steps_to_target_rejects_bad_inputs(kwargs, error, match):
    args = dict(problem=PROBLEM, batch_sizes=[1.0], target=0.1, max_steps=10) | kwargs
    problem, batches = args.pop("problem"), args.pop("batch_sizes")
    with pytest.raises(error, match=match):
        expected_steps_to_target(problem, batches, **args)


def test_expected_loss_rejects_bad_steps():
    with pytest.raises(ValueError, match="steps must be an integer >= 0, got -2"):
        expected_loss(PROBLEM, [1.0], lr=0.1, steps=-2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(curvature=[1.0, -1.0]), r"curvature must be .* > 0, got \[1.0, -1.0\]"),
        (dict(noise=[-0.1]), r"noise must be .* >= 0, got \[-0.1\]"),
        (
            dict(noise=[1.0, 2.0, 3.0]),
            r"noise must be a number or an array of 1 or dim=2 entries, got \[1.0, 2.0, 3.0\]",
        ),
        (dict(theta0=[float("nan")]), r"theta0 must be .* finite real numbers, got \[nan\]"),
        (dict(curvature=[[1.0]]), r"curvature must be a 1-d array .*\(shape \(1, 1\)"),
    ],
)
def test_noisy_quadratic_rejects_bad_fields(kwargs, match):
    fields = dict(curvature=[1.0, 0.5], noise=1.0, theta0=1.0) | kwargs
    with pytest.raises(ValueError, match=match):
        NoisyQuadratic(**fields)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(dim=0), "dim must be an integer >= 1, got 0"),
        (dict(dim=3, decay=-1.0), "decay must be a finite real number >= 0, got -1.0"),
        (dict(dim=3, noise_factor=float("nan")), "noise_factor must .*, got nan"),
    ],
)
def test_noisy_quadratic_constructor_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        noisy_quadratic(**kwargs)


def test_tuned_lr_takes_the_fewest_steps_over_the_grid():
    p = noisy_quadratic(20)
    batches = np.array([1.0, 4.0, 64.0, 1024.0])
    rates = [1.0, 0.05, 0.2, 0.5, 1.9]  # unsorted on purpose
    target = 0.05 * p.initial_loss
    tuned = steps_with_tuned_lr(p, batches, lrs=rates, target=target, max_steps=5000, beta=0.5)
    one_by_one = np.array(
        [
            expected_steps_to_target(p, batches, lr=r, target=target, max_steps=5000, beta=0.5)
            for r in rates
        ]
    )
    for j in range(batches.size):
        column = one_by_one[:, j]
        ok = column[column >= 0]
        assert tuned.steps[j] == (ok.min() if ok.size else -1)
        if ok.size:
            best = expected_steps_to_target(
                p, batches[j], lr=tuned.lr[j], target=target, max_steps=5000, beta=0.5
            )
            assert best[0] == tuned.steps[j]
    assert tuned.lrs.tolist() == sorted(rates)
    assert tuned.grid.shape == (5, 4)


def test_tuned_lr_flags_a_minimum_at_the_edge_of_the_grid_and_missing_targets():
    p = noisy_quadratic(20)
    tuned = steps_with_tuned_lr(p, [1e6], lrs=[0.01, 0.02], target=0.05, max_steps=100_000)
    assert tuned.at_edge.tolist() == [True] and tuned.lr.tolist() == [0.02]
    never = steps_with_tuned_lr(p, [1.0], lrs=[0.5, 1.0], target=1e-6, max_steps=100)
    assert never.steps.tolist() == [-1] and np.isnan(never.lr[0]) and not never.at_edge[0]
    with pytest.raises(ValueError, match=r"lrs must .* at least 1 entry, got \[\]"):
        steps_with_tuned_lr(p, [1.0], lrs=[], target=0.1, max_steps=10)
    with pytest.raises(ValueError, match="lr must be a finite real number > 0, got -0.5"):
        steps_with_tuned_lr(p, [1.0], lrs=[-0.5], target=0.1, max_steps=10)
