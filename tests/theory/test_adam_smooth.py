"""RMSProp under smoothness: each step of the derivation, the constants, reductions, bad inputs."""

import math

import numpy as np
import pytest
import sympy as sp

import batchsteps as bs
from batchsteps.theory import adam_smooth as rs
from batchsteps.theory import bound, names
from batchsteps.theory.notation import BY_NAME

S = bs.theory.symbols
ROOT = sp.sqrt(1 - S.beta2)
C_KNOWN = 1 / S.h_max - (ROOT * S.G + S.L * S.alpha / 2) / S.h_min**2
E_KNOWN = (ROOT * S.G + S.L * S.alpha / 2) / S.h_min**2
GOOD = dict(L=1.0, sigma=1.0, Delta=1.0, alpha=0.01, beta2=0.999, G=1.0, h_min=0.5, h_max=1.0)


def _zero(expr: sp.Expr) -> bool:
    return sp.simplify(expr) == 0


@pytest.mark.slow
def test_the_bound_is_registered_and_measures_the_gradient():
    bnd = bound("rmsprop-smooth")
    assert "rmsprop-smooth" in names()
    assert bnd.measure == "grad_norm_sq" and bnd.target == S.epsilon**2
    assert bnd.C == 0


def test_decoupling_identity_holds_for_every_value():
    lhs, rhs = rs.decoupling_identity()
    assert _zero(lhs - rhs)


def test_proxy_gap_is_at_most_the_root_of_the_new_term():
    gap, upper, square_slack = rs.proxy_gap()
    full, proxy = rs.preconditioners()
    assert _zero(gap - (full - proxy))
    assert sp.expand((sp.sqrt(rs.old) + upper) ** 2 - (rs.old + rs.new) - square_slack) == 0
    assert square_slack.is_nonnegative
    # numerically too, at random points
    rng = np.random.default_rng(1)
    for p, q in rng.uniform(0, 10, size=(50, 2)):
        assert float(gap.subs({rs.old: p, rs.new: q})) <= math.sqrt(q) + 1e-12


def test_coupling_slack_is_a_ratio_of_non_negative_sums():
    numerator, denominator = sp.fraction(rs.coupling_slack())
    assert numerator.is_nonnegative and denominator.is_positive
    assert all(term.is_nonnegative for term in sp.Add.make_args(numerator))


def test_second_moment_is_mean_square_plus_variance():
    assert _zero(rs.second_moment() - (rs.df**2 + rs.variance))


def test_per_step_constants_are_the_closed_forms():
    c, e = rs.decrease_and_noise()
    assert _zero(c - C_KNOWN) and _zero(e - E_KNOWN)
    per_step = rs.expected_step()
    rebuilt = -S.alpha * c * rs.grad_sq + S.alpha * e * S.sigma**2 / S.b
    assert _zero(per_step - rebuilt)


def test_telescoping_holds_for_symbolic_K_by_induction():
    assert rs.telescoping_induction() == (0, 0)


def test_constants_follow_from_the_averaged_bound():
    bnd = bound("rmsprop-smooth")
    assert _zero(bnd.A - S.Delta / (S.alpha * C_KNOWN))
    assert _zero(bnd.B - E_KNOWN * S.sigma**2 / C_KNOWN)
    assert _zero(bnd.critical_batch - 2 * bnd.B / S.epsilon**2)
    assert _zero(bnd.min_steps - bnd.A / S.epsilon**2)
    assert _zero(bnd.steps - bnd.A * S.b / (S.epsilon**2 * S.b - bnd.B))


def test_largest_rate_is_where_the_decrease_vanishes():
    top = rs.largest_rate()
    assert _zero(C_KNOWN.subs(S.alpha, top))
    assert _zero(top - 2 * (S.h_min**2 - ROOT * S.G * S.h_max) / (S.L * S.h_max))


def test_equal_bounds_and_beta2_one_give_sgd_at_rate_alpha_over_h():
    h = sp.Symbol("h", positive=True)
    mine = bound("rmsprop-smooth")
    sgd = bound("sgd")
    at = {S.beta2: 1, S.h_min: h, S.h_max: h}
    for field in ("A", "B", "C", "critical_batch", "min_steps"):
        ours = getattr(mine, field).subs(at)
        theirs = getattr(sgd, field).subs(S.alpha, S.alpha / h)
        assert _zero(ours - theirs), field


def test_the_coupling_term_keeps_the_pole_as_the_rate_vanishes():
    B = bound("rmsprop-smooth").B
    limit = sp.limit(B, S.alpha, 0)
    assert _zero(limit - ROOT * S.G * S.sigma**2 * S.h_max / (S.h_min**2 - ROOT * S.G * S.h_max))
    assert sp.limit(B.subs(S.beta2, 1), S.alpha, 0) == 0


def test_numeric_bound_agrees_with_sympy_at_random_points():
    bnd = bound("rmsprop-smooth")
    rng = np.random.default_rng(0)
    for _ in range(5):
        values = dict(GOOD)
        values.update(
            sigma=float(rng.uniform(0.1, 5)),
            Delta=float(rng.uniform(0.1, 10)),
            beta2=float(rng.uniform(0.99, 1.0)),
            G=float(rng.uniform(0.1, 1.0)),
            epsilon=float(rng.uniform(0.05, 1.0)),
        )
        at = {BY_NAME[k]: v for k, v in values.items()}
        num = bnd.subs(**values)
        for field in ("A", "B", "C"):
            assert getattr(num, field) == pytest.approx(float(getattr(bnd, field).subs(at)))
        for field in ("min_batch", "critical_batch", "min_steps"):
            exact = float(getattr(bnd, field).subs(at))
            assert getattr(num, field) == pytest.approx(exact, rel=1e-9)
        batches = num.min_batch * np.array([1.5, 4.0, 64.0])
        exact = [float(bnd.steps.subs(at).subs(S.b, x)) for x in batches]
        np.testing.assert_allclose(num.steps(batches), exact, rtol=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize(
    "settings",
    [{}, {"batch_size": 1}, {"batch_size": 64, "beta2": 0.99}, {"beta2": 1.0, "sigma": 2.0}],
)
def test_the_bound_holds_for_rmsprop_on_a_noisy_quadratic(settings):
    check = rs.quadratic_check(steps=200, runs=300, **settings)
    assert 0 < check.measured <= check.bound
    assert check.values["h_min"] <= check.values["h_max"]
    assert check.batch_size == settings.get("batch_size", 4)


@pytest.mark.parametrize(
    ("argument", "value", "error", "pattern"),
    [
        ("alpha", 0.0, ValueError, r"alpha must be a finite real number > 0, got 0\.0"),
        ("sigma", "1", TypeError, r"sigma must be a finite real number > 0, got '1' \(str\)"),
        ("beta2", 1.2, ValueError, r"beta2 must be a real number in \[0, 1\], got 1\.2"),
        ("steps", 2.5, TypeError, r"steps must be an integer >= 1, got 2\.5 \(float\)"),
        ("runs", 0, ValueError, r"runs must be an integer >= 1, got 0"),
        (
            "seed",
            True,
            TypeError,
            r"seed must be an integer >= 0 or a numpy Generator, got True \(bool\)",
        ),
        ("delta", 1e-3, ValueError, r"alpha must be .*no alpha qualifies.*, got 0\.01"),
    ],
)
def test_quadratic_check_rejects_bad_arguments_naming_them(argument, value, error, pattern):
    with pytest.raises(error, match=pattern):
        rs.quadratic_check(**{"steps": 5, "runs": 5, argument: value})


@pytest.mark.parametrize(
    ("values", "error", "pattern"),
    [
        (
            {**GOOD, "beta2": 1.5},
            ValueError,
            r"beta2 must be a real number in \[0, 1\] .*, got 1\.5",
        ),
        (
            {**GOOD, "G": "1"},
            TypeError,
            r"G must be a real number in \(0, inf\) .*, got '1' \(str\)",
        ),
        ({**GOOD, "h_min": 2.0}, ValueError, r"h_min must be .*h_min <= h_max.*, got 2\.0"),
        ({**GOOD, "alpha": 1.0}, ValueError, r"alpha must be a real number in \(0, .*, got 1\.0"),
        ({**GOOD, "G": 100.0}, ValueError, r"alpha must be .*no alpha qualifies.*, got 0\.01"),
        ({**GOOD, "beta1": 0.9}, ValueError, r"must be among L, .*, got beta1=0\.9"),
        ({**GOOD, "sigma": math.nan}, ValueError, r"sigma must be .*, got nan"),
    ],
)
def test_subs_rejects_bad_values_naming_them(values, error, pattern):
    with pytest.raises(error, match=pattern):
        bound("rmsprop-smooth").subs(**{"epsilon": 0.1, **values})


def test_default_parameters_give_a_bound_a_panel_can_draw():
    bnd = bound("rmsprop-smooth")
    specs = zip(bnd.parameters, bnd.assumptions.values(), strict=True)
    defaults = {n: spec.default for n, spec in specs}
    num = bnd.subs(**defaults)
    assert num.C == 0 and num.critical_batch > 0 and math.isfinite(num.min_steps)


def test_peel_last_splits_only_sums_ending_at_the_given_limit():
    j = sp.Symbol("j", integer=True)
    t = sp.IndexedBase("t")
    expr = sp.Sum(t[j], (j, 0, S.K)) + sp.Sum(t[j], (j, 0, 3))
    peeled = rs.peel_last(expr, S.K)
    assert sp.expand(peeled - sp.Sum(t[j], (j, 0, S.K - 1)) - t[S.K] - sp.Sum(t[j], (j, 0, 3))) == 0
