"""The logistic problem's constants are valid, and the batched runs are real SGD / heavy ball."""

import math

import numpy as np
import pytest
import torch

from batchsteps.theory import bound
from batchsteps.train.convex import (
    BoundCheck,
    GradientTrace,
    check_bound,
    digits_logistic,
    logistic_problem,
    run_sgd,
)

RNG = np.random.default_rng(0)
SMALL_X = np.hstack([RNG.normal(size=(40, 3)), np.ones((40, 1))])
SMALL_Y = (SMALL_X[:, 0] + 0.5 * RNG.normal(size=40) > 0).astype(float)
SMALL = logistic_problem(SMALL_X, SMALL_Y, reg=0.05)


@pytest.fixture(scope="module")
def digits():
    return digits_logistic()


def test_gradient_matches_autograd():
    theta = torch.tensor(RNG.normal(size=(3, 4)), requires_grad=True)
    SMALL.loss(theta).sum().backward()
    torch.testing.assert_close(SMALL.gradient(theta.detach()), theta.grad)
    per_sample = SMALL.per_sample_gradients(theta.detach()[0])
    torch.testing.assert_close(per_sample.mean(dim=0), SMALL.gradient(theta.detach()[0]))


def test_minimizer_is_stationary_and_below_random_points():
    assert float(SMALL.gradient(SMALL.theta_star).norm()) < 1e-10
    others = torch.tensor(RNG.normal(size=(200, 4)))
    assert float(SMALL.loss(others).min()) >= SMALL.f_star
    assert SMALL.Delta == pytest.approx(math.log(2) - SMALL.f_star)  # theta0 = 0


def test_smoothness_constant_bounds_every_curvature():
    # L >= largest Hessian eigenvalue at many points (the Hessian is X^T D X / n + reg I)
    for theta in torch.tensor(RNG.normal(scale=3.0, size=(50, 4))):
        s = torch.sigmoid(SMALL.features @ theta)
        hessian = (SMALL.features.T * (s * (1 - s))) @ SMALL.features / SMALL.n
        top = float(torch.linalg.eigvalsh(hessian + SMALL.reg * torch.eye(4))[-1])
        assert top <= SMALL.L + 1e-12
    # and it is attained in the limit s = 1/2 everywhere (theta = 0): not a loose constant
    s_half = torch.linalg.eigvalsh(SMALL.features.T @ SMALL.features / SMALL.n)[-1] / 4
    assert SMALL.L == pytest.approx(float(s_half) + SMALL.reg)


def test_sigma_sq_bounds_the_gradient_variance_everywhere():
    points = torch.tensor(RNG.normal(scale=5.0, size=(100, 4)))
    assert all(SMALL.gradient_variance(t) <= SMALL.sigma_sq for t in points)
    assert SMALL.gradient_variance(SMALL.theta0) > 0.1 * SMALL.sigma_sq


def test_digits_problem_has_the_documented_shape_and_constants(digits):
    assert (digits.n, digits.d) == (1797, 65)
    assert 0.45 < float(digits.labels.mean()) < 0.55  # odd vs even is balanced
    assert digits.L > digits.reg and digits.Delta > 0 and digits.f_star > 0
    assert digits.constants() == {
        "L": digits.L,
        "sigma": math.sqrt(digits.sigma_sq),
        "Delta": digits.Delta,
    }


def _plain_loop(problem, lr, batch_size, steps, momentum, seed):
    """One run with torch.optim.SGD drawing the same indices as replica 0 of run_sgd."""
    generator = torch.Generator().manual_seed(seed)
    theta = torch.nn.Parameter(problem.theta0.clone())
    opt = torch.optim.SGD([theta], lr=lr, momentum=momentum, dampening=0)
    norms = []
    for _ in range(steps):
        norms.append(float((problem.gradient(theta.detach()) ** 2).sum()))
        index = torch.randint(problem.n, (1, batch_size), generator=generator)[0]
        z = problem.features[index] @ theta
        y = problem.labels[index]
        loss = (torch.nn.functional.softplus(z) - y * z).mean() + 0.5 * problem.reg * theta @ theta
        opt.zero_grad()
        loss.backward()
        opt.step()
    return np.array(norms)


@pytest.mark.parametrize("momentum", [0.0, 0.7])
def test_one_replica_is_torch_sgd_with_the_same_batches(momentum):
    trace = run_sgd(SMALL, lr=0.3, batch_size=4, steps=30, seeds=1, momentum=momentum, seed=5)
    expected = _plain_loop(SMALL, 0.3, 4, 30, momentum, seed=5)
    np.testing.assert_allclose(trace.grad_norm_sq[0], expected, rtol=1e-9)


def test_replicas_are_independent_and_start_at_theta0():
    trace = run_sgd(SMALL, lr=0.5, batch_size=2, steps=20, seeds=8)
    assert trace.grad_norm_sq.shape == (8, 20)
    start = float((SMALL.gradient(SMALL.theta0) ** 2).sum())
    np.testing.assert_allclose(trace.grad_norm_sq[:, 0], start)
    assert len({round(float(v), 12) for v in trace.grad_norm_sq[:, -1]}) == 8


def test_running_average_and_its_standard_error():
    trace = GradientTrace(4, 0.1, 0.0, np.array([[4.0, 2.0, 0.0], [2.0, 2.0, 2.0]]))
    np.testing.assert_allclose(trace.average(), [3.0, 2.5, 2.0])
    np.testing.assert_allclose(trace.average_stderr(), [1.0, 0.5, 0.0])


def test_first_below_counts_steps_of_the_running_average():
    trace = GradientTrace(4, 0.1, 0.0, np.array([[4.0, 2.0, 0.0], [2.0, 2.0, 2.0]]))
    assert trace.first_below(2.5) == 2
    assert trace.first_below(3.0) == 1
    assert trace.first_below(1.0) == -1
    with pytest.raises(ValueError, match="level must be .*got 0"):
        trace.first_below(0)


@pytest.mark.slow
def test_larger_batches_reach_smaller_gradients(digits):
    small = run_sgd(digits, lr=0.3, batch_size=1, steps=300, seeds=16)
    large = run_sgd(digits, lr=0.3, batch_size=64, steps=300, seeds=16)
    assert large.average()[-1] < 0.5 * small.average()[-1]


def test_sgd_bound_holds_on_digits_and_check_reports_it(digits):
    lr = 1 / digits.L
    traces = [run_sgd(digits, lr=lr, batch_size=b, steps=200, seeds=16) for b in (1, 32)]
    numeric = bound("sgd").subs(**digits.constants(), alpha=lr, epsilon=0.1)
    check = check_bound(traces, numeric)
    assert isinstance(check, BoundCheck) and check.holds
    assert check.measured.shape == check.bound.shape == (2, 200)
    assert 0 < check.max_ratio < 1
    np.testing.assert_allclose(check.bound[1, 9], numeric.A / 10 + numeric.B / 32)


def test_check_fails_when_the_bound_is_too_small():
    trace = GradientTrace(2, 0.1, 0.0, np.ones((3, 5)))
    numeric = bound("sgd").subs(L=1.0, sigma=0.01, Delta=0.01, alpha=0.1, epsilon=0.1)
    assert not check_bound([trace], numeric).holds


def test_check_rejects_a_bound_for_another_learning_rate_or_momentum():
    trace = GradientTrace(2, 0.1, 0.5, np.ones((3, 5)))
    sgd = bound("sgd").subs(L=1.0, sigma=1.0, Delta=1.0, alpha=0.1, epsilon=0.1)
    with pytest.raises(ValueError, match="momentum=0.5"):
        check_bound([trace], sgd)
    with pytest.raises(TypeError, match="bound must be"):
        check_bound([trace], object())
    with pytest.raises(ValueError, match="traces must be"):
        check_bound([], sgd)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        (dict(lr=0.0), ValueError, "lr must be .*got 0.0"),
        (dict(lr="fast"), TypeError, "lr must be"),
        (dict(momentum=1.0), ValueError, "momentum must be .*got 1.0"),
        (dict(batch_size=0), ValueError, "batch_size must be .*got 0"),
        (dict(batch_size=2.0), TypeError, "batch_size"),
        (dict(steps=-1), ValueError, "steps must be .*got -1"),
        (dict(seeds=True), TypeError, "seeds"),
    ],
)
def test_run_rejects_bad_arguments(kwargs, error, words):
    arguments = dict(lr=0.1, batch_size=2, steps=3, seeds=2) | kwargs
    with pytest.raises(error, match=words):
        run_sgd(SMALL, **arguments)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "words"),
    [
        ((SMALL_X, SMALL_Y), dict(reg=0.0), ValueError, "reg must be .*got 0.0"),
        ((SMALL_X, SMALL_Y), dict(reg="x"), TypeError, "reg must be"),
        ((SMALL_X[0], SMALL_Y), {}, ValueError, "features"),
        ((SMALL_X, SMALL_Y[:5]), {}, ValueError, "labels"),
        ((SMALL_X, SMALL_Y + 2), {}, ValueError, "0 or 1"),
    ],
)
def test_problem_rejects_bad_data(args, kwargs, error, words):
    with pytest.raises(error, match=words):
        logistic_problem(*args, **kwargs)


def test_digits_rejects_labels_outside_zero_to_nine():
    with pytest.raises(ValueError, match="positive"):
        digits_logistic(positive=(3, 11))
