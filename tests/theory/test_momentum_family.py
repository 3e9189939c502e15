"""Momentum's family of bounds over Young's constant rho = t sqrt(q), and step 3's Jensen bound."""

import numpy as np
import pytest
import sympy as sp

import batchsteps as bs
from batchsteps.theory import bound
from batchsteps.theory import momentum as mom

S = bs.theory.symbols
FAMILY = mom.momentum_bound(S.t)


@pytest.mark.slow
def test_t_equal_one_is_the_headline_bound():
    headline = bound("momentum")
    at_one = mom.momentum_bound(1)
    for field in ("A", "B", "C", "critical_batch", "min_steps"):
        assert sp.simplify(getattr(at_one, field) - getattr(headline, field)) == 0
        assert sp.simplify(getattr(FAMILY, field).subs(S.t, 1) - getattr(headline, field)) == 0


def test_family_has_t_as_a_parameter_and_the_headline_has_not():
    assert "t" in FAMILY.parameters and "t" not in bound("momentum").parameters
    assert FAMILY.subs(L=1, sigma=1, Delta=1, alpha=1e-3, epsilon=0.1, beta=0.9, t=2).A > 0


@pytest.mark.slow
def test_small_rate_ratios_are_the_issue_formulas():
    kmin, bstar = mom.small_rate_ratios(S.t)
    be, t = S.beta, S.t
    assert sp.simplify(kmin - (1 - be)) == 0
    assert sp.simplify(bstar - (1 / (1 - be) + be / (t * (1 - be) ** 2))) == 0
    assert sp.simplify(mom.small_rate_ratios(1)[1] - 1 / (1 - be) ** 2) == 0
    assert sp.simplify(sp.limit(bstar, t, sp.oo) - 1 / (1 - be)) == 0


def test_rate_limit_is_where_c_vanishes():
    t = S.t
    upper = mom.rate_limit(t)
    c = mom.descent_coefficient(t * mom.best_rho())
    assert sp.simplify(c.subs(S.alpha, upper)) == 0
    expected = 2 * (1 - S.beta) ** 2 / (S.L * ((1 - S.beta) + (t + 1 / t) * S.beta))
    assert sp.simplify(upper - expected) == 0


@pytest.mark.parametrize(
    ("t", "b_ratio", "a_excess"), [(1, 110, 0.0), (2, 62, 0.026), (4, 40, 0.126)]
)
def test_issue_numbers_at_beta_0_9_and_l_alpha_1e_3(t, b_ratio, a_excess):
    values = dict(L=1.0, sigma=1.0, Delta=1.0, alpha=1e-3, epsilon=0.1, beta=0.9)
    sgd = bound("sgd").subs(**{k: v for k, v in values.items() if k != "beta"})
    member, best = FAMILY.subs(**values, t=float(t)), FAMILY.subs(**values, t=1.0)
    assert round(member.B / sgd.B) == b_ratio
    assert member.A / best.A - 1 == pytest.approx(a_excess, abs=0.001)


@pytest.mark.slow
def test_t_equal_one_minimises_a_at_random_points():
    rng = np.random.default_rng(0)
    for _ in range(20):
        beta, la = rng.uniform(0, 0.95), rng.uniform(1e-4, 1e-2)
        alpha = la * min(1.0, float(mom.rate_limit(1).subs({S.L: 1, S.beta: beta})))
        values = dict(L=1.0, sigma=1.0, Delta=1.0, alpha=alpha, epsilon=0.1, beta=beta)
        best = FAMILY.subs(**values, t=1.0).A
        for t in rng.uniform(0.2, 5, size=5):
            try:
                assert FAMILY.subs(**values, t=float(t)).A >= best * (1 - 1e-12)
            except ValueError:  # alpha beyond this member's step-size limit
                pass


@pytest.mark.parametrize(
    ("t", "error"), [(0, ValueError), (-1, ValueError), ("1", TypeError), ([1], TypeError)]
)
def test_momentum_bound_rejects_bad_t(t, error):
    with pytest.raises(
        error, match=r"t must be a finite real number > 0 \(or the symbol symbols.t\), got "
    ):
        mom.momentum_bound(t)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_jensen_step_is_lagrange_identity(k):
    assert sp.expand(mom.jensen_gap(k)) == 0


def test_jensen_identity_holds_pair_by_pair_for_any_k():
    wi, wj = sp.symbols("w_i w_j", nonnegative=True)
    xi, xj = sp.symbols("x_i x_j", real=True)
    symmetrised = wi * wj * (xi**2 - xi * xj) + wj * wi * (xj**2 - xj * xi)
    assert sp.expand(symmetrised - wi * wj * (xi - xj) ** 2) == 0


def test_geometric_weights_sum_below_one_over_one_minus_beta():
    j, M = (
        sp.Symbol("j", integer=True, nonnegative=True),
        sp.Symbol("M", integer=True, positive=True),
    )
    finite = sp.summation(S.beta**j, (j, 0, M))  # a Piecewise: beta = 1, and beta != 1
    (general,) = [expr for expr, condition in finite.args if condition == sp.true]
    gap = sp.simplify(1 / (1 - S.beta) - general - S.beta ** (M + 1) / (1 - S.beta))
    assert gap == 0


@pytest.mark.slow
def test_critical_ratio_at_unequal_rates_scales_the_equal_rate_limit():
    t = S.t
    for lr, sgd_lr, beta in [(0.1, 0.5, 0.9), (0.01, 0.02, 0.5), (0.3, 0.1, 0.0)]:
        expected = sp.nsimplify(lr / sgd_lr) * mom.small_rate_ratios(t)[1].subs(
            S.beta, sp.nsimplify(beta)
        )
        assert sp.simplify(mom.critical_ratio(lr, sgd_lr, beta) - expected) == 0


@pytest.mark.parametrize(
    "kwargs", [dict(lr=0.0, sgd_lr=0.1, beta=0.9), dict(lr=0.1, sgd_lr=0.1, beta=1.0)]
)
@pytest.mark.parametrize("function", [mom.critical_ratio, mom.critical_band])
def test_critical_ratio_and_band_reject_bad_values(function, kwargs):
    with pytest.raises(ValueError, match="(lr|beta) must be .*, got (0.0|1.0)"):
        function(**kwargs)


@pytest.mark.parametrize(
    ("lr", "sgd_lr", "beta"), [(0.1, 0.5, 0.9), (0.3, 0.1, 0.5), (0.2, 0.2, 0.0)]
)
def test_the_band_runs_from_the_large_t_limit_to_the_headline_member(lr, sgd_lr, beta):
    low, high = mom.critical_band(lr, sgd_lr, beta)
    assert low == pytest.approx(lr / sgd_lr / (1 - beta))
    assert high == pytest.approx(lr / sgd_lr / (1 - beta) ** 2)
    # every member t >= 1 lies inside it, and t = 1 is its top
    for t in (1, 1.5, 4, 100):
        assert low <= float(mom.critical_ratio(lr, sgd_lr, beta, t)) <= high * (1 + 1e-12)
    assert float(mom.critical_ratio(lr, sgd_lr, beta, 1)) == pytest.approx(high)


def test_a_member_below_one_is_beaten_by_its_mirror_image():
    # c(t sqrt q) = c(sqrt q / t): the member t < 1 has the A of the member 1/t and a larger B
    values = dict(L=1.0, sigma=1.0, Delta=1.0, alpha=0.01, beta=0.5, epsilon=0.1)
    for t in (0.25, 0.5, 0.9):
        small, mirror = (
            mom.momentum_bound(t).subs(**values),
            mom.momentum_bound(1 / t).subs(**values),
        )
        assert small.A == pytest.approx(mirror.A)
        assert small.B > mirror.B


@pytest.mark.slow
def test_smallest_critical_ratio_over_t_falls_towards_one_over_one_minus_beta_as_alpha_shrinks():
    sgd_bound = bound("sgd")
    lowest = []
    for alpha in (1e-3, 1e-5, 1e-7):
        values = dict(L=1.0, sigma=1.0, Delta=1.0, alpha=alpha, epsilon=0.1)
        sgd_b = sgd_bound.subs(**values).critical_batch
        ratios = []
        for t in np.geomspace(0.25, 1e5, 300):
            try:
                member = FAMILY.subs(**values, beta=0.9, t=float(t))
            except ValueError:  # c <= 0: this member certifies nothing at this rate
                continue
            ratios.append(member.critical_batch / sgd_b)
        lowest.append(min(ratios))
    assert lowest[0] > lowest[1] > lowest[2] > 10.0
    assert lowest[2] < 10.5


def test_at_t_one_a_is_stationary_and_b_falls_with_slope_minus_sigma_sq_sqrt_q_over_c():
    t = S.t
    assert sp.simplify(sp.diff(FAMILY.A, t).subs(t, 1)) == 0
    slope = -(S.sigma**2) * sp.sqrt(mom.coupling()) / mom.descent_coefficient(mom.best_rho())
    assert sp.simplify(sp.diff(FAMILY.B, t).subs(t, 1) - slope) == 0
    assert sp.solve(sp.diff(mom.descent_coefficient(t * mom.best_rho()), t), t) == [1]
