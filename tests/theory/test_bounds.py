"""SGD and momentum bounds: known closed forms, the beta = 0 reduction, numeric evaluation."""

import math
import pickle

import numpy as np
import pytest
import sympy as sp

import batchsteps as bs
from batchsteps.theory import Bound, bound, momentum_bound, names
from batchsteps.theory.notation import BY_NAME, NAME_OF

S = bs.theory.symbols
SGD = bound("sgd")
MOMENTUM = bound("momentum")


def test_symbols_have_the_contract_names_and_signs():
    expected = "b K epsilon L sigma Delta alpha beta beta1 beta2 G D d h_min h_max".split()
    assert set(expected) <= set(BY_NAME)
    assert all(getattr(S, n).is_positive for n in ("b", "K", "epsilon", "L", "sigma", "alpha"))
    assert all(getattr(S, n).is_nonnegative for n in ("beta", "beta1", "beta2"))


def test_sgd_constants_are_the_descent_lemma_ones():
    L, a, s, D = S.L, S.alpha, S.sigma, S.Delta
    assert sp.simplify(SGD.A - 2 * D / (a * (2 - L * a))) == 0
    assert sp.simplify(SGD.B - L * a * s**2 / (2 - L * a)) == 0
    assert SGD.C == 0
    assert SGD.measure == "grad_norm_sq"


def test_sgd_critical_batch_closed_form():
    L, a, s, e = S.L, S.alpha, S.sigma, S.epsilon
    assert sp.simplify(SGD.critical_batch - 2 * L * a * s**2 / ((2 - L * a) * e**2)) == 0
    assert sp.simplify(SGD.min_steps - 2 * S.Delta / (a * (2 - L * a) * e**2)) == 0


def test_momentum_constants_match_the_auxiliary_sequence_result():
    L, a, s, D, be = S.L, S.alpha, S.sigma, S.Delta, S.beta
    c = 2 - L * a * (1 + be) / (1 - be) ** 2
    assert sp.simplify(MOMENTUM.A - 2 * D * (1 - be) / (a * c)) == 0
    assert sp.simplify(MOMENTUM.B - L * a * s**2 / ((1 - be) ** 2 * c)) == 0
    assert MOMENTUM.C == 0


def test_momentum_at_beta_zero_is_sgd():
    for field in ("A", "B", "C", "steps", "sfo", "critical_batch", "min_steps"):
        difference = getattr(MOMENTUM, field).subs(S.beta, 0) - getattr(SGD, field)
        assert sp.simplify(difference) == 0, field


def test_momentum_has_larger_critical_batch_and_fewer_min_steps_at_equal_small_alpha():
    # "small" relative to momentum's step-size limit 2(1 - beta)^2 / (L (1 + beta)) = 0.0105
    values = dict(L=1.0, sigma=1.0, Delta=1.0, alpha=0.001, epsilon=0.1)
    sgd = SGD.subs(**values)
    mom = MOMENTUM.subs(**values, beta=0.9)
    assert mom.critical_batch > sgd.critical_batch
    assert mom.min_steps < sgd.min_steps


def _random_point(rng, name):
    L = rng.uniform(0.1, 10)
    beta = rng.uniform(0, 0.95) if name == "momentum" else None
    limit = 2 / L if beta is None else 2 * (1 - beta) ** 2 / (L * (1 + beta))
    values = dict(
        L=L,
        sigma=rng.uniform(0.1, 10),
        Delta=rng.uniform(0.1, 100),
        alpha=rng.uniform(0.01, 0.99) * limit,
        epsilon=rng.uniform(0.01, 1),
    )
    if beta is not None:
        values["beta"] = beta
    return values


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sgd", "momentum"])
def test_numeric_bound_agrees_with_sympy_at_random_points(name):
    rng = np.random.default_rng(7)
    bnd = bound(name)
    for _ in range(50):
        values = _random_point(rng, name)
        num = bnd.subs(**values)
        at = {BY_NAME[k]: v for k, v in values.items()}
        for field in ("min_batch", "critical_batch", "min_steps"):
            exact = float(getattr(bnd, field).subs(at))
            assert math.isclose(getattr(num, field), exact, rel_tol=1e-9), field
        batches = num.min_batch * np.array([1.01, 1.5, 2.0, 10.0, 1e4])
        exact_steps = [float(bnd.steps.subs(at).subs(S.b, x)) for x in batches]
        np.testing.assert_allclose(num.steps(batches), exact_steps, rtol=1e-9)
        np.testing.assert_allclose(num.sfo(batches), batches * num.steps(batches), rtol=1e-12)


def _typical_point(rng, bnd):
    """Every parameter drawn from its typical range (log-uniform where the slider is log)."""
    values = {}
    for sym, spec in bnd.assumptions.items():
        lo, hi = np.log(spec.typical) if spec.log_scale else spec.typical
        draw = rng.uniform(lo, hi)
        values[NAME_OF[sym]] = float(np.exp(draw) if spec.log_scale else draw)
    return values


def _exact_constants(bnd, values):
    """A, B, C and the target by exact substitution, or None where the analysis excludes the
    point (a condition on the step size fails, or the target is not above C)."""
    at = {sym: values[NAME_OF[sym]] for sym in bnd.assumptions}
    for condition in bnd.conditions:
        upper, value = float(condition.upper.subs(at)), values[NAME_OF[condition.symbol]]
        if not (value <= upper if condition.inclusive else value < upper):
            return None
    A, B, C, target = (float(e.subs(at)) for e in (bnd.A, bnd.B, bnd.C, bnd.target))
    return (A, B, C, target) if target > C else None


@pytest.mark.parametrize("name", [*names(), "momentum family"])
def test_subs_evaluates_as_the_exact_substitution_does(name):
    # subs evaluates its constants in floating point: it must accept and refuse the same
    # points as the exact substitution, with the same constants up to round-off
    bnd = momentum_bound(S.t) if name == "momentum family" else bound(name)
    rng = np.random.default_rng(11)
    accepted = refused = 0
    for _ in range(80):
        values = _typical_point(rng, bnd)
        exact = _exact_constants(bnd, values)
        if exact is None:
            with pytest.raises(ValueError):
                bnd.subs(**values)
            refused += 1
            continue
        num = bnd.subs(**values)
        np.testing.assert_allclose((num.A, num.B, num.C, num.target), exact, rtol=1e-12)
        accepted += 1
    assert accepted >= 2 and refused >= 2  # both paths taken


def test_subs_falls_back_to_the_exact_substitution_where_floats_overflow():
    assumptions = {s: SGD.assumptions[s] for s in (S.L, S.sigma, S.epsilon)}
    grows = Bound(
        name="grows", A=sp.exp(1000 * S.L), B=S.sigma**2, C=sp.Integer(0),
        measure="grad_norm_sq", assumptions=assumptions,
    )  # fmt: skip
    num = grows.subs(L=1.0, sigma=1.0, epsilon=0.5)
    assert num.A == float(sp.exp(sp.Float(1000.0))) == math.inf
    assert num.B == 1.0


def test_numeric_steps_are_infinite_at_and_below_the_pole_and_scalar_for_scalars():
    num = SGD.subs(L=1, sigma=1, Delta=1, alpha=0.5, epsilon=0.5)
    steps = num.steps(np.array([0.5, num.min_batch, num.min_batch * 1.0001]))
    assert np.isinf(steps[:2]).all() and np.isfinite(steps[2])
    assert isinstance(num.steps(8), float)
    assert num.steps(num.critical_batch) == pytest.approx(2 * num.min_steps)


BAD_BATCHES = [
    ("x", TypeError, r"b must be a finite real number > 0 or an array of them, got 'x' \(str\)"),
    (None, TypeError, r"b must be .*, got None \(NoneType\)"),
    (True, TypeError, r"b must be .*, got True \(bool\)"),
    ([1, "a"], TypeError, r"b must be .*, got \[1, 'a'\]"),
    (math.nan, ValueError, r"b must be a finite real number > 0 or an array of them, got nan"),
    ([4.0, math.nan], ValueError, r"b must be .*, got \[4.0, nan\]"),
    (0, ValueError, r"b must be a finite real number > 0 or an array of them, got 0"),
    (math.inf, ValueError, r"b must be a finite real number > 0 .*, got inf"),
    ([8, -1], ValueError, r"b must be .*> 0.*, got \[8, -1\]"),
]


@pytest.mark.parametrize("method", ["steps", "sfo"])
@pytest.mark.parametrize(("b", "error", "match"), BAD_BATCHES)
def test_numeric_bound_rejects_a_bad_batch_size(method, b, error, match):
    num = SGD.subs(L=1, sigma=1, Delta=1, alpha=0.5, epsilon=0.5)
    with pytest.raises(error, match=match):
        getattr(num, method)(b)


def test_numeric_bound_takes_integers_and_arrays():
    num = SGD.subs(L=1, sigma=1, Delta=1, alpha=0.5, epsilon=0.5)
    assert num.steps(np.int64(8)) == num.steps(8.0)
    assert num.sfo(np.array([[8, 16]])).shape == (1, 2) and num.steps([]).shape == (0,)


def test_numeric_steps_decrease_towards_min_steps():
    num = MOMENTUM.subs(L=2, sigma=3, Delta=5, alpha=0.01, epsilon=0.2, beta=0.5)
    batches = num.min_batch * np.geomspace(1.01, 1e6, 40)
    steps = num.steps(batches)
    assert np.all(np.diff(steps) < 0)
    assert steps[-1] == pytest.approx(num.min_steps, rel=1e-5)


def test_assumptions_describe_every_parameter_with_a_range():
    for name in ("sgd", "momentum"):
        bnd = bound(name)
        free = set().union(*(e.free_symbols for e in (bnd.A, bnd.B, bnd.C))) | {S.epsilon}
        assert free == set(bnd.assumptions)
        for spec in bnd.assumptions.values():
            assert spec.meaning and spec.allows(spec.default)


def test_bound_lists_the_known_names_for_an_unknown_one():
    with pytest.raises(ValueError, match="name must be one of 'sgd', 'momentum', .*, got 'lamb'"):
        bound("lamb")
    with pytest.raises(TypeError, match="name must be one of .*, got 3 \\(int\\)"):
        bound(3)
    assert {"sgd", "momentum"} <= set(names())


GOOD = dict(L=1.0, sigma=1.0, Delta=1.0, alpha=0.1, epsilon=0.1)


@pytest.mark.parametrize(
    ("bnd", "values", "error", "pattern"),
    [
        (SGD, {**GOOD, "gamma": 1.0}, ValueError, r"must be among L, .*, got gamma=1\.0"),
        (
            SGD,
            {k: v for k, v in GOOD.items() if k != "sigma"},
            ValueError,
            "must include every one of .*, lacks sigma",
        ),
        (
            SGD,
            {**GOOD, "L": -1.0},
            ValueError,
            r"L must be a real number in \(0, inf\) .*, got -1\.0",
        ),
        (SGD, {**GOOD, "sigma": 0.0}, ValueError, r"sigma must be .*, got 0\.0"),
        (SGD, {**GOOD, "Delta": math.inf}, ValueError, r"Delta must be .*, got inf"),
        (SGD, {**GOOD, "epsilon": math.nan}, ValueError, r"epsilon must be .*, got nan"),
        (SGD, {**GOOD, "alpha": "0.1"}, TypeError, r"alpha must be a real number .*, got '0\.1'"),
        (
            SGD,
            {**GOOD, "alpha": 2.0},
            ValueError,
            r"alpha must be a real number in \(0, 2\) .*, got 2\.0",
        ),
        (
            MOMENTUM,
            {**GOOD, "beta": 1.0},
            ValueError,
            r"beta must be a real number in \[0, 1\) .*, got 1\.0",
        ),
        (MOMENTUM, {**GOOD, "beta": -0.1}, ValueError, r"beta must be .*, got -0\.1"),
        (
            MOMENTUM,
            {**GOOD, "beta": 0.9},
            ValueError,
            r"alpha must be a real number in \(0, 0\.0105.*, got 0\.1",
        ),
    ],
)
def test_subs_rejects_bad_values_naming_them(bnd, values, error, pattern):
    with pytest.raises(error, match=pattern):
        bnd.subs(**values)


def test_bounds_evaluated_numerically_still_pickle():
    # process pools pickle what they are given; the compiled functions are made again on use
    values = dict(L=1.0, sigma=1.0, Delta=1.0, epsilon=0.5)
    for bnd, at in ((SGD, {**values, "alpha": 0.5}), (bs.theory.tuned_bound("sgd"), values)):
        before = bnd.subs(**at).critical_batch
        again = pickle.loads(pickle.dumps(bnd))
        assert again.subs(**at).critical_batch == before
