"""The seed paper's variational framework specialised to SGD, beside the book's SGD bound."""

import numpy as np
import pytest
import sympy as sp

import batchsteps as bs
from batchsteps.theory import variational as var

S = bs.theory.symbols
BOUND = var.variational_sgd_bound()


def test_inner_product_step_is_the_distance_expansion():
    assert sp.expand(var.inner_product_step() - var.x * var.g) == 0


def test_constants_are_dd_over_two_alpha_and_halves():
    assert sp.simplify(BOUND.A - S.d * S.D / (2 * S.alpha)) == 0
    assert sp.simplify(BOUND.B - S.alpha * S.sigma**2 / 2) == 0
    assert sp.simplify(BOUND.C - S.alpha * S.G**2 / 2) == 0
    assert BOUND.measure == "variational"


def test_critical_batch_and_floor_follow_the_template():
    e, a, s, G = S.epsilon, S.alpha, S.sigma, S.G
    assert sp.simplify(BOUND.critical_batch - 2 * (a * s**2 / 2) / (e - a * G**2 / 2)) == 0
    assert sp.simplify(BOUND.min_steps - S.d * S.D / (2 * a) / (e - a * G**2 / 2)) == 0


def test_epsilon_must_exceed_alpha_g_squared_over_two():
    values = dict(d=10.0, D=1.0, G=2.0, sigma=1.0, alpha=0.5)
    with pytest.raises(ValueError, match="epsilon"):
        BOUND.subs(**values, epsilon=1.0)  # C = 1
    assert np.isfinite(BOUND.subs(**values, epsilon=1.5).critical_batch)


def test_book_sgd_has_no_c_and_squares_the_target():
    sgd = bs.theory.bound("sgd")
    assert sgd.C == 0 and sgd.target == S.epsilon**2 and BOUND.target == S.epsilon
