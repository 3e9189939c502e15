"""The tuned-rate law against the minimax lower bounds; the constant-rate b* has no such tie."""

import numpy as np
import sympy as sp

import batchsteps as bs
from batchsteps.theory import lower_bounds as lb

S = bs.theory.symbols
TUNED = bs.theory.tuned_bound("sgd")
SGD = bs.theory.bound("sgd")


def test_tuned_floor_and_samples_are_twice_the_lower_bounds():
    assert sp.simplify(TUNED.min_steps / lb.steps_lower_bound()) == 2
    assert sp.simplify(TUNED.min_sfo / lb.samples_lower_bound()) == 2


def test_tuned_steps_are_twice_the_minimax_steps_at_every_batch():
    assert sp.simplify(TUNED.steps - 2 * lb.minimax_steps()) == 0


def test_tuned_steps_within_two_and_four_times_the_larger_lower_bound_at_random_points():
    rng = np.random.default_rng(1)
    for _ in range(50):
        values = {s: float(rng.uniform(0.1, 10)) for s in (S.L, S.Delta, S.sigma, S.epsilon)}
        values[S.b] = float(rng.uniform(0.1, 1e4))
        larger = max(
            float(lb.steps_lower_bound().subs(values)),
            float((lb.samples_lower_bound() / S.b).subs(values)),
        )
        ratio = float(TUNED.steps.subs(values)) / larger
        assert 2 <= ratio <= 4 + 1e-12


def test_constant_rate_critical_batch_takes_every_value_as_the_rate_varies():
    bstar = SGD.critical_batch
    assert sp.limit(bstar, S.alpha, 0, "+") == 0
    assert sp.limit(bstar, S.alpha, 2 / S.L, "-") == sp.oo


def test_constant_rate_floor_exceeds_the_tuned_floor_except_at_alpha_one_over_l():
    gap = sp.factor(SGD.min_steps - TUNED.min_steps)
    expected = (
        2 * S.Delta * (S.L * S.alpha - 1) ** 2 / (S.alpha * (2 - S.L * S.alpha) * S.epsilon**2)
    )
    assert sp.simplify(gap - expected) == 0
