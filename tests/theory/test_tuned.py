"""Tuned learning rate: the constant-rate bound minimised over alpha, for SGD and momentum."""

import numpy as np
import pytest
import sympy as sp

import batchsteps as bs
from batchsteps.theory import bound, tuned_bound
from batchsteps.theory.tuned import TUNABLE, tune

S = bs.theory.symbols
L, s, D, e, b, be = S.L, S.sigma, S.Delta, S.epsilon, S.b, S.beta


def _same(x, y):
    return sp.simplify(x - y) == 0


def test_sgd_tuned_steps_are_mccandlish_law():
    tb = tuned_bound("sgd")
    assert _same(tb.steps, (2 * D * L / e**2) * (1 + s**2 / (e**2 * b)))
    assert _same(tb.lr, e**2 * b / (L * (e**2 * b + s**2)))
    assert _same(tb.min_steps, 2 * D * L / e**2)
    assert _same(tb.noise_batch, s**2 / e**2)
    assert _same(tb.steps, tb.min_steps * (1 + tb.noise_batch / b))


def test_sgd_tuned_rate_is_linear_scaling_that_saturates_at_one_over_l():
    tb = tuned_bound("sgd")
    assert _same(tb.max_lr, 1 / L)
    assert _same(tb.lr, tb.max_lr / (1 + tb.noise_batch / b))
    assert _same(sp.limit(tb.lr / b, b, 0), e**2 / (L * s**2))


@pytest.mark.slow
def test_momentum_tuned_closed_form():
    tb = tuned_bound("momentum")
    s_min = 2 * D * L * (1 + be) / ((1 - be) * e**2)
    b_noise = s**2 / ((1 + be) * e**2)
    assert _same(tb.steps, s_min * (1 + b_noise / b))
    assert _same(tb.lr, e**2 * b * (1 - be) ** 2 / (L * ((1 + be) * e**2 * b + s**2)))
    assert _same(tb.min_steps, s_min)
    assert _same(tb.noise_batch, b_noise)


@pytest.mark.slow
def test_momentum_tuned_at_beta_zero_is_sgd_tuned():
    mom, sgd = tuned_bound("momentum"), tuned_bound("sgd")
    for field in ("steps", "lr", "min_steps", "noise_batch", "critical_batch", "max_lr"):
        assert _same(getattr(mom, field).subs(be, 0), getattr(sgd, field)), field


@pytest.mark.parametrize("name", TUNABLE)
def test_critical_batch_is_noise_batch_where_steps_double(name):
    tb = tuned_bound(name)
    assert _same(tb.critical_batch, tb.noise_batch)
    assert _same(tb.steps.subs(b, tb.critical_batch), 2 * tb.min_steps)
    assert _same(tb.sfo, b * tb.steps)
    # B_crit = E_min / S_min: the samples-steps trade-off point of McCandlish et al.
    assert _same(tb.min_sfo / tb.min_steps, tb.critical_batch)


def _random_values(rng, name):
    values = dict(
        L=rng.uniform(0.1, 10),
        sigma=rng.uniform(0.1, 10),
        Delta=rng.uniform(0.1, 100),
        epsilon=rng.uniform(0.01, 1),
    )
    if name == "momentum":
        values["beta"] = rng.uniform(0, 0.95)
    return values


@pytest.mark.slow
@pytest.mark.parametrize("name", TUNABLE)
def test_tuned_steps_are_the_minimum_of_the_constant_rate_bound(name):
    rng = np.random.default_rng(11)
    tb, constant = tuned_bound(name), bound(name)
    for _ in range(5):
        values = _random_values(rng, name)
        tuned = tb.subs(**values)
        for batch in rng.uniform(1, 1e4, size=3):
            best_lr = tuned.lr(batch)
            at_best = constant.subs(**values, alpha=best_lr).steps(batch)
            assert tuned.steps(batch) == pytest.approx(at_best, rel=1e-9)
            for factor in (0.5, 0.9, 0.99, 1.01, 1.1):
                try:
                    other = constant.subs(**values, alpha=factor * best_lr)
                except ValueError:  # outside the analysis' step-size range
                    continue
                assert other.steps(batch) > tuned.steps(batch)


def test_momentum_tuned_rate_is_inside_the_analysis_range():
    rng = np.random.default_rng(3)
    tb = tuned_bound("momentum")
    for _ in range(20):
        v = _random_values(rng, "momentum")
        limit = 2 * (1 - v["beta"]) ** 2 / (v["L"] * (1 + v["beta"]))
        rates = tb.subs(**v).lr(np.geomspace(1, 1e6, 7))
        assert np.all(rates > 0) and np.all(rates < limit)
        assert np.all(np.diff(rates) > 0)


def test_numeric_tuned_bound_known_values():
    num = tuned_bound("sgd").subs(L=2.0, sigma=3.0, Delta=0.5, epsilon=0.1)
    assert num.min_steps == pytest.approx(2 * 0.5 * 2.0 / 0.01)
    assert num.noise_batch == pytest.approx(900.0)
    assert num.critical_batch == pytest.approx(900.0)
    assert num.max_lr == pytest.approx(0.5)
    assert num.steps(900.0) == pytest.approx(2 * num.min_steps)
    assert num.lr(900.0) == pytest.approx(0.25)
    assert num.sfo(10.0) == pytest.approx(10.0 * num.steps(10.0))
    assert isinstance(num.steps(4.0), float)


def test_numeric_tuned_bound_on_arrays():
    num = tuned_bound("sgd").subs(L=1.0, sigma=1.0, Delta=1.0, epsilon=0.5)
    batches = np.array([1.0, 4.0, 16.0])
    steps = num.steps(batches)
    assert steps.shape == (3,) and np.all(np.isfinite(steps)) and np.all(np.diff(steps) < 0)
    assert num.lr(batches).shape == (3,) and num.sfo([[1.0, 4.0]]).shape == (1, 2)


@pytest.mark.parametrize("method", ["steps", "sfo", "lr"])
@pytest.mark.parametrize(
    ("b", "error", "match"),
    [
        (
            "x",
            TypeError,
            r"b must be a finite real number > 0 or an array of them, got 'x' \(str\)",
        ),
        (None, TypeError, r"b must be .*, got None \(NoneType\)"),
        (True, TypeError, r"b must be .*, got True \(bool\)"),
        (float("nan"), ValueError, r"b must be a finite real number > 0 .*, got nan"),
        (np.array([1.0, np.nan]), ValueError, r"b must be .*> 0.*, got array"),
        (0.0, ValueError, r"b must be a finite real number > 0 .*, got 0.0"),
        (np.array([-1.0, 4.0]), ValueError, r"b must be .*> 0.*, got array"),
    ],
)
def test_numeric_tuned_bound_rejects_a_bad_batch_size(method, b, error, match):
    num = tuned_bound("sgd").subs(L=1.0, sigma=1.0, Delta=1.0, epsilon=0.5)
    with pytest.raises(error, match=match):
        getattr(num, method)(b)


def test_tuned_bound_parameters_drop_alpha():
    assert tuned_bound("sgd").parameters == ("L", "sigma", "Delta", "epsilon")
    assert "beta" in tuned_bound("momentum").parameters
    assert tuned_bound("sgd").measure == "grad_norm_sq"


def test_tune_of_a_bound_matches_tuned_bound():
    assert _same(tune(bound("sgd")).steps, tuned_bound("sgd").steps)


@pytest.mark.parametrize(
    ("name", "error", "match"),
    [
        ("adam", ValueError, "name must be one of 'sgd', 'momentum', got 'adam'"),
        (3, TypeError, "name must be one of .*, got 3 \\(int\\)"),
    ],
)
def test_tuned_bound_rejects_unknown_names(name, error, match):
    with pytest.raises(error, match=match):
        tuned_bound(name)


def test_tune_rejects_non_bounds():
    with pytest.raises(TypeError, match="bound must be a Bound, got 'sgd'"):
        tune("sgd")


@pytest.mark.parametrize(
    ("values", "error", "match"),
    [
        (
            dict(L=1, sigma=1, Delta=1, epsilon=0.1, alpha=0.1),
            ValueError,
            "must be among .* \\(the tuned bound chooses it\\), got alpha=0.1",
        ),
        (dict(L=1, sigma=1, Delta=1), ValueError, "must include every one of .*, lacks epsilon"),
        (
            dict(L=-1, sigma=1, Delta=1, epsilon=0.1),
            ValueError,
            r"L must be a real number in \(0, inf\) .*, got -1",
        ),
        (
            dict(L=1, sigma=float("nan"), Delta=1, epsilon=0.1),
            ValueError,
            "sigma must be .*, got nan",
        ),
        (
            dict(L=1, sigma=1, Delta=True, epsilon=0.1),
            TypeError,
            "Delta must be a real .*, got True",
        ),
        (dict(L=1, sigma="1", Delta=1, epsilon=0.1), TypeError, "sigma must be a real .*, got '1'"),
    ],
)
def test_subs_rejects_bad_values(values, error, match):
    with pytest.raises(error, match=match):
        tuned_bound("sgd").subs(**values)


def test_momentum_subs_rejects_beta_of_one():
    with pytest.raises(ValueError, match=r"beta must be a real number in \[0, 1\) .*, got 1"):
        tuned_bound("momentum").subs(L=1, sigma=1, Delta=1, epsilon=0.1, beta=1)


@pytest.mark.parametrize("name", TUNABLE)
def test_tuned_law_has_its_pole_at_zero_where_the_constant_rate_law_has_b0(name):
    tb = tuned_bound(name)
    assert tb.min_batch == 0
    values = dict(L=1.0, sigma=2.0, Delta=1.0, epsilon=0.1)
    if name == "momentum":
        values["beta"] = 0.5
    assert tb.subs(**values).min_batch == 0.0
    assert tb.subs(**values).steps(1e-9) > 1e9 * tb.subs(**values).min_steps
    assert bound(name).subs(**values, alpha=0.01).min_batch > 0


def test_sgd_speed_is_concave_in_the_rate_everywhere():
    from batchsteps.theory.tuned import concavity

    S = bs.theory.symbols
    expected = -S.L * (S.epsilon**2 * S.b + S.sigma**2) / (S.Delta * S.b)
    assert sp.simplify(concavity(bound("sgd")) - expected) == 0


@pytest.mark.parametrize("name", TUNABLE)
def test_concavity_is_negative_over_the_whole_range_and_free_of_alpha(name):
    from batchsteps.theory.tuned import concavity, positive_form

    bnd = bound(name)
    second = concavity(bnd)
    assert bs.theory.symbols.alpha not in second.free_symbols
    assert positive_form(-second, bnd.assumptions).is_positive


@pytest.mark.parametrize("name", TUNABLE)
def test_derivative_numerator_is_linear_in_alpha(name):
    speed = sp.cancel(1 / bound(name).steps)
    numerator, _ = sp.fraction(sp.together(sp.diff(speed, bs.theory.symbols.alpha)))
    assert sp.degree(numerator, bs.theory.symbols.alpha) == 1
