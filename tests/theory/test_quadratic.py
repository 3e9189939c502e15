"""The 1-D quadratic: the bound's B/b is the exact stationary E f'^2, and the engine measures it."""

import numpy as np
import pytest
import sympy as sp

import batchsteps as bs
from batchsteps.theory import quadratic as quad

S = bs.theory.symbols
SGD = bs.theory.bound("sgd")


def test_fixed_point_of_the_second_moment_recursion():
    fixed = quad.stationary_second_moment()
    assert sp.simplify(quad.second_moment_step(fixed) - fixed) == 0
    assert sp.simplify(fixed - S.alpha * S.sigma**2 / (S.L * (2 - S.L * S.alpha) * S.b)) == 0


def test_stationary_gradient_is_the_bounds_b_over_b_and_the_pole_is_b0():
    assert sp.simplify(quad.stationary_gradient_sq() - SGD.B / S.b) == 0
    (pole,) = sp.solve(sp.Eq(quad.stationary_gradient_sq(), S.epsilon**2), S.b)
    assert sp.simplify(pole - SGD.min_batch) == 0


def test_exact_average_is_the_bound_with_a_slightly_smaller_a_and_the_same_b():
    A = SGD.A.subs(S.Delta, S.L * quad.s0 / 2)
    smaller_A = A - S.L * quad.stationary_second_moment() / (S.alpha * (2 - S.L * S.alpha))
    r = quad.contraction()
    exact = SGD.B / S.b + smaller_A * (1 - r**S.K) / S.K
    assert sp.simplify(quad.averaged_gradient_sq() - exact) == 0


@pytest.mark.slow
def test_exact_average_is_below_the_bound_at_random_points():
    rng = np.random.default_rng(2)
    bound = SGD.A.subs(S.Delta, S.L * quad.s0 / 2) / S.K + SGD.B / S.b
    for _ in range(50):
        L = rng.uniform(0.1, 10)
        values = {S.L: L, S.alpha: rng.uniform(0.01, 1.99) / L, S.sigma: rng.uniform(0.1, 10)}
        values |= {S.b: rng.integers(1, 1000), S.K: rng.integers(1, 10_000)}
        values[quad.s0] = rng.uniform(0.01, 100)
        assert float(quad.averaged_gradient_sq().subs(values)) <= float(bound.subs(values))


def test_averages_of_the_last_iterate_values_give_the_averaged_formula():
    k = sp.Symbol("k", integer=True, nonnegative=True)
    values = {S.L: 2, S.alpha: sp.Rational(1, 3), S.sigma: 3, S.b: 5, quad.s0: 7, S.K: 6}
    terms = [quad.last_gradient_sq().subs(S.K, k).subs(values).subs(k, j) for j in range(6)]
    assert sp.simplify(sum(terms) / 6 - quad.averaged_gradient_sq().subs(values)) == 0


@pytest.mark.parametrize(
    ("lr", "b", "noise", "first_seed"),
    [(0.5, 1, 1.0, 0), (0.5, 8, 1.0, 10_000), (1.5, 4, 2.0, 20_000)],
)
def test_engine_measures_the_stationary_gradient_on_the_1d_nqm(lr, b, noise, first_seed):
    torch = pytest.importorskip("torch")
    from batchsteps.train import sampled_loss

    torch.set_num_threads(1)
    wl = bs.train.workload("nqm", dim=1, decay=0.0, theta0=0.0, noise_factor=noise)
    seeds = list(range(first_seed, first_seed + 4000))
    loss = sampled_loss(wl, "sgd", b, lr=lr, seeds=seeds, steps=200)
    per_seed = 2 * loss[:, 50:].mean(1)  # f'^2 = 2 f where the curvature is 1
    exact = float(
        quad.stationary_gradient_sq().subs({S.L: 1, S.alpha: lr, S.sigma: noise**0.5, S.b: b})
    )
    z = (per_seed.mean() - exact) / (per_seed.std(ddof=1) / np.sqrt(per_seed.size))
    assert abs(z) < 4


@pytest.mark.slow
def test_expected_steps_at_a_constant_rate_match_the_closed_form_and_fail_below_b0():
    L, lr, sigma, theta0, target = 1.5, 0.4, 2.0, 1.0, 0.05
    sizes = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256])
    steps = quad.expected_steps(sizes, L=L, lr=lr, sigma=sigma, theta0=theta0, target=target)
    r = (1 - L * lr) ** 2
    b0 = float(SGD.min_batch.subs({S.L: L, S.alpha: lr, S.sigma: sigma, S.epsilon: target**0.5}))
    for b, k in zip(sizes, steps, strict=True):
        fixed = lr * sigma**2 / (L * (2 - L * lr) * b)
        if b <= b0:
            assert k == -1
        else:
            ratio = (target / L**2 - fixed) / (theta0**2 - fixed)
            assert k == int(np.ceil(np.log(ratio) / np.log(r) - 1e-9))


@pytest.mark.slow
def test_a_decaying_rate_reaches_the_target_at_every_batch_size_with_fewer_steps_as_b_grows():
    sizes = 2.0 ** np.arange(0, 11)
    kwargs = dict(L=1.0, lr=0.5, sigma=1.0, theta0=1.0, target=0.01)
    constant = quad.expected_steps(sizes, **kwargs)
    decaying = quad.expected_steps(sizes, **kwargs, decay=10.0)
    assert (constant[sizes < 32] == -1).all() and (decaying > 0).all()
    assert (np.diff(decaying) <= 0).all()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        (dict(lr=2.0), ValueError),
        (dict(target=0.0), ValueError),
        (dict(decay=-1.0), ValueError),
        (dict(sigma="1"), TypeError),
        (dict(max_steps=0), ValueError),
    ],
)
def test_expected_steps_rejects_bad_values(kwargs, error):
    base = dict(L=1.0, lr=0.5, sigma=1.0, theta0=1.0, target=0.01) | kwargs
    with pytest.raises(error, match=next(iter(kwargs))):
        quad.expected_steps([1, 2], **base)
