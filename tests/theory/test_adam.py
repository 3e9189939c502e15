"""The Adam-type family: the derivation's steps, the constants per name, numbers and bad inputs."""

import math

import numpy as np
import pytest
import sympy as sp

import batchsteps as bs
from batchsteps.theory import adam, bound, names
from batchsteps.theory.notation import BY_NAME

S = bs.theory.symbols
FAMILY = ("adam", "amsgrad", "rmsprop", "adabelief")
WITH_MOMENTUM = ("adam", "amsgrad", "adabelief")

A_KNOWN = S.d * S.D * S.h_max / (2 * S.alpha * (1 - S.beta1))
B_KNOWN = S.alpha * S.sigma**2 / ((1 + S.beta1) * S.h_min)
C_KNOWN = S.beta1 * sp.sqrt(S.d * S.D) * S.G / (1 - S.beta1) + S.alpha * S.G**2 / (
    (1 - S.beta1) * S.h_min
)

GOOD = dict(alpha=1e-3, beta1=0.9, sigma=1.0, G=1.0, D=1e-4, d=100.0, h_min=0.01, h_max=1.0)


def _zero(expr: sp.Expr) -> bool:
    return sp.simplify(expr) == 0


def test_every_family_name_is_registered():
    assert set(FAMILY) <= set(names())


@pytest.mark.parametrize("name", WITH_MOMENTUM)
def test_constants_are_the_known_closed_forms(name):
    bnd = bound(name)
    assert _zero(bnd.A - A_KNOWN)
    assert _zero(bnd.B - B_KNOWN)
    assert _zero(bnd.C - C_KNOWN)
    assert bnd.measure == "variational"
    assert bnd.target == S.epsilon


def test_rmsprop_is_the_family_at_beta1_zero():
    rms, fam = bound("rmsprop"), bound("adam")
    for field in ("A", "B", "C", "steps", "sfo", "min_batch", "critical_batch", "min_steps"):
        assert _zero(getattr(rms, field) - getattr(fam, field).subs(S.beta1, 0)), field
    assert _zero(rms.C - S.alpha * S.G**2 / S.h_min)
    assert S.beta1 not in rms.assumptions


@pytest.mark.parametrize("name", FAMILY)
def test_template_quantities_follow_from_the_constants(name):
    bnd = bound(name)
    gap = S.epsilon - bnd.C
    assert _zero(bnd.steps - bnd.A * S.b / (gap * S.b - bnd.B))
    assert _zero(bnd.critical_batch - 2 * bnd.min_batch)
    assert _zero(bnd.min_steps - bnd.A / gap)
    assert _zero(bnd.steps.subs(S.b, bnd.critical_batch) - 2 * bnd.min_steps)
    assert _zero(bnd.sfo - S.b * bnd.steps)


@pytest.mark.parametrize("name", FAMILY)
def test_parameters_are_exactly_the_free_symbols_and_beta2_is_not_among_them(name):
    bnd = bound(name)
    free = set().union(*(e.free_symbols for e in (bnd.A, bnd.B, bnd.C))) | {S.epsilon}
    assert free == set(bnd.assumptions)
    assert S.beta2 not in free
    for spec in bnd.assumptions.values():
        assert spec.meaning and spec.allows(spec.default)


def test_one_step_identity_holds_for_every_value():
    lhs, rhs = adam.one_step_identity()
    assert _zero(lhs - rhs)


@pytest.mark.parametrize("steps", [1, 2, 5])
def test_telescoping_regroups_exactly_and_is_bounded_for_monotone_h(steps):
    total, regrouped, upper = adam.telescoped_distances(steps)
    assert sp.expand(total - regrouped) == 0
    # h_k = h_0 + u_1 + ... + u_k with u >= 0 (monotone), x_k^2 = D - s_k with s_k >= 0 (k < K).
    hs = sorted((s for s in total.free_symbols if s.name.startswith("h_")), key=str)
    xs = sorted((s for s in total.free_symbols if s.name.startswith("x_")), key=str)
    u = sp.symbols(f"u_1:{steps}", nonnegative=True)
    s = sp.symbols(f"s_0:{steps}", nonnegative=True)
    grow = {hs[n]: hs[0] + sum(u[:n]) for n in range(1, steps)}
    inside = {xs[n] ** 2: S.D - s[n] for n in range(steps)}
    slack = sp.expand((upper - regrouped).subs(grow).subs(inside))
    assert slack.is_nonnegative


def test_telescoping_can_fail_without_monotone_h():
    total, _, upper = adam.telescoped_distances(2)
    h0, h1 = sorted((s for s in total.free_symbols if s.name.startswith("h_")), key=str)
    x0, x1, x2 = sorted((s for s in total.free_symbols if s.name.startswith("x_")), key=str)
    # h drops from 10 to 1: the regrouped coefficient h_1 - h_0 is negative, the bound D h_1 fails
    at = {h0: 10, h1: 1, x0: 1, x1: 0, x2: 0, S.D: 1}
    assert total.subs(at) > upper.subs(at)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_telescoped_distances_rejects_bad_steps(bad):
    with pytest.raises((ValueError, TypeError), match=r"steps must be an integer >= 1, got "):
        adam.telescoped_distances(bad)


@pytest.mark.slow
def test_momentum_is_a_sub_average_and_the_noise_weight_has_its_limit():
    assert _zero(adam.momentum_weights() - (1 - S.beta1 ** (adam.k + 1)))
    assert _zero(adam.noise_weight_sum(sp.oo) - (1 - S.beta1) / (1 + S.beta1))
    # every finite sum is below the series, at several beta1 and k
    for beta1 in (0.0, 0.5, 0.9, 0.99):
        for last in (0, 3, 50):
            finite = float(adam.noise_weight_sum().subs({S.beta1: beta1, adam.k: last}))
            assert finite <= (1 - beta1) / (1 + beta1) + 1e-15


def test_second_moment_bound_matches_a_monte_carlo_momentum():
    # m_k from g_j = mean + noise, ||mean|| = G, noise variance sigma^2/b: E||m||^2 below the bound
    rng = np.random.default_rng(0)
    beta1, G, sigma, b, dim, steps = 0.9, 1.0, 3.0, 4, 5, 200
    mean = np.full(dim, G / math.sqrt(dim))
    m = np.zeros((4000, dim))
    for _ in range(steps):
        noise = rng.normal(scale=sigma / math.sqrt(b * dim), size=m.shape)
        m = beta1 * m + (1 - beta1) * (mean + noise)
    measured = np.mean(np.sum(m**2, axis=1))
    exact = G**2 + (1 - beta1) / (1 + beta1) * sigma**2 / b
    at = {S.G: G, S.sigma: sigma, S.b: b, S.beta1: beta1}
    assert measured == pytest.approx(exact, rel=0.05)
    assert measured <= float(adam.second_moment_bound().subs(at))


def test_the_bound_grows_without_limit_as_beta1_tends_to_one():
    values = {BY_NAME[k]: v for k, v in GOOD.items() if k != "beta1"}
    C = bound("adam").C.subs(values)
    grid = [float(C.subs(S.beta1, b1)) for b1 in (0.0, 0.5, 0.9, 0.99, 0.999)]
    assert np.all(np.diff(grid) > 0)
    assert sp.limit(C, S.beta1, 1, "-") == sp.oo


@pytest.mark.parametrize("name", FAMILY)
def test_numeric_bound_agrees_with_sympy(name):
    bnd = bound(name)
    values = {k: v for k, v in GOOD.items() if BY_NAME[k] in bnd.assumptions}
    at = {BY_NAME[k]: v for k, v in values.items()}
    need = float(bnd.C.subs(at))
    values["epsilon"] = 3 * need
    at[S.epsilon] = values["epsilon"]
    num = bnd.subs(**values)
    assert num.C == pytest.approx(need)
    assert num.target == values["epsilon"]
    for field in ("min_batch", "critical_batch", "min_steps"):
        assert getattr(num, field) == pytest.approx(float(getattr(bnd, field).subs(at)), rel=1e-9)
    batches = num.min_batch * np.array([1.01, 2.0, 100.0])
    exact = [float(bnd.steps.subs(at).subs(S.b, x)) for x in batches]
    np.testing.assert_allclose(num.steps(batches), exact, rtol=1e-9)
    assert num.steps(num.critical_batch) == pytest.approx(2 * num.min_steps)


def test_equal_preconditioner_bounds_are_allowed():
    values = {**GOOD, "h_min": 0.5, "h_max": 0.5}
    need = float(bound("adam").C.subs({BY_NAME[k]: v for k, v in values.items()}))
    assert bound("adam").subs(**values, epsilon=2 * need).A > 0


ADAM = bound("adam")


@pytest.mark.parametrize(
    ("values", "error", "pattern"),
    [
        (
            {**GOOD, "beta1": 1.0},
            ValueError,
            r"beta1 must be a real number in \[0, 1\) .*, got 1\.0",
        ),
        ({**GOOD, "beta1": -0.1}, ValueError, r"beta1 must be .*, got -0\.1"),
        (
            {**GOOD, "h_min": 2.0},
            ValueError,
            r"h_min must be a real number in \(0, 1\] \(.*h_min <= h_max\), got 2\.0",
        ),
        ({**GOOD, "h_min": 0.0}, ValueError, r"h_min must be .*, got 0\.0"),
        ({**GOOD, "d": "100"}, TypeError, r"d must be a real number .*, got '100' \(str\)"),
        (
            {**GOOD, "beta2": 0.999},
            ValueError,
            r"parameters of the adam bound must be among .*, got beta2=0\.999",
        ),
        (
            {**GOOD, "epsilon": 1e-3},
            ValueError,
            r"epsilon must be > 1\.9 for adam \(.*C=1\.9 does not vanish\), got 0\.001",
        ),
    ],
)
def test_subs_rejects_bad_values_naming_them(values, error, pattern):
    values = {"epsilon": 10.0, **values}
    with pytest.raises(error, match=pattern):
        ADAM.subs(**values)


def test_target_exactly_at_C_is_rejected():
    need = float(ADAM.C.subs({BY_NAME[k]: v for k, v in GOOD.items()}))
    with pytest.raises(ValueError, match="C=.* does not vanish"):
        ADAM.subs(**GOOD, epsilon=need)


def test_rmsprop_rejects_beta1():
    with pytest.raises(
        ValueError, match=r"parameters of the rmsprop bound must be among .*, got beta1=0\.9"
    ):
        bound("rmsprop").subs(**GOOD, epsilon=10.0)


def test_family_table_covers_every_name_and_says_which_is_monotone():
    by_name = {inst.name: inst for inst in adam.FAMILY}
    assert set(by_name) == set(FAMILY)
    assert by_name["amsgrad"].monotone and not by_name["adam"].monotone
    assert all(inst.m and inst.v and inst.h and inst.torch for inst in adam.FAMILY)


@pytest.mark.parametrize("name", FAMILY)
def test_default_parameters_give_a_bound_a_panel_can_draw(name):
    bnd = bound(name)
    specs = zip(bnd.parameters, bnd.assumptions.values(), strict=True)
    defaults = {n: spec.default for n, spec in specs}
    num = bnd.subs(**defaults)
    assert 0 < num.C < num.target and num.critical_batch > 0


def test_largest_beta1_is_where_the_target_meets_C():
    bnd = bound("adam")
    at = {BY_NAME[k]: v for k, v in GOOD.items() if k != "beta1"}
    at[S.epsilon] = 10.0
    top = float(adam.largest_beta1(bnd).subs(at))
    assert 0 < top < 1
    assert float(bnd.C.subs(at).subs(S.beta1, top)) == pytest.approx(10.0)
    with pytest.raises(TypeError, match="bnd must be a Bound with the parameter beta1, got"):
        adam.largest_beta1(bound("rmsprop"))


def test_parameter_sweep_matches_subs_and_marks_excluded_points():
    bnd = bound("adam")
    values = {k: v for k, v in GOOD.items() if k != "beta1"} | {"epsilon": 10.0}
    grid = [0.0, 0.5, 0.9, 0.99]
    sweep = adam.parameter_sweep(bnd, values, "beta1", grid)
    for x, crit, c in zip(grid[:3], sweep.critical_batch, sweep.C, strict=False):
        num = bnd.subs(**values, beta1=x)
        assert crit == pytest.approx(num.critical_batch) and c == pytest.approx(num.C)
    assert math.isnan(sweep.critical_batch[-1]) and sweep.C[-1] > 10.0
    assert "does not vanish" in sweep.reason


def test_parameter_sweep_rejects_unknown_names():
    values = {k: v for k, v in GOOD.items() if k != "beta1"} | {"epsilon": 10.0}
    with pytest.raises(ValueError, match="parameter must be one of .*, got 'beta'"):
        adam.parameter_sweep(bound("adam"), values, "beta", [0.1])
    with pytest.raises(ValueError, match="values .* must be among .*, got beta1="):
        adam.parameter_sweep(bound("adam"), {**values, "beta1": 0.5}, "beta1", [0.1])
    with pytest.raises(ValueError, match=r"grid must be a 1-d array .*, got \[\]"):
        adam.parameter_sweep(bound("adam"), values, "beta1", [])


def test_telescoping_identities_hold_for_symbolic_K_by_induction():
    checks = adam.telescoping_induction()
    assert checks == {"regrouping": (0, 0), "slack": (0, 0)}
    # the symbolic sums agree with the explicit K = 4 expansion
    total, regrouped, slack = adam.telescoped_sums(4)
    assert sp.expand((total - regrouped).doit()) == 0
    assert sp.expand((S.D * adam.h_seq[3] - regrouped - slack).doit()) == 0


def test_momentum_weights_add_up_to_at_most_one_and_the_radius_is_sqrt_dD():
    slack = adam.momentum_weight_slack()
    assert _zero(slack - S.beta1 ** (adam.k + 1)) and slack.is_nonnegative
    assert _zero(adam.radius() - sp.sqrt(S.d * S.D))
    assert _zero(adam.cross_term_bound() - 2 * S.alpha * S.beta1 * sp.sqrt(S.d * S.D) * S.G)


def test_split_inequality_is_a_square():
    lhs, rhs = adam.split_inequality()
    assert sp.expand(lhs - rhs) == 0


def test_the_b_free_bound_is_below_the_split_bound_for_every_b():
    excess = adam.split_excess()
    stated = (
        S.alpha
        * (S.G**2 * (1 + S.beta1) * S.b + 2 * (1 - S.beta1) * S.sigma**2)
        / (2 * S.b * S.h_min * (1 - S.beta1) * (1 + S.beta1))
    )
    assert _zero(excess - stated)
    first, second = adam.split_excess_terms()
    assert _zero(excess - first - second)
    u = sp.Symbol("u", positive=True)  # u = 1 - beta1 > 0
    assert first.subs(S.beta1, 1 - u).is_positive and second.is_positive
    # numerically, at random points
    rng = np.random.default_rng(2)
    for _ in range(20):
        at = {s: float(rng.uniform(0.1, 3)) for s in (S.alpha, S.G, S.sigma, S.h_min, S.b)}
        at[S.beta1] = float(rng.uniform(0, 0.999))
        assert float(excess.subs(at)) > 0


def test_b_free_bound_has_no_noise_term_and_a_constant_K():
    free, split = adam.b_free_bound(), bound("adam")
    assert free.B == 0 and _zero(free.A - split.A)
    assert _zero(free.C - (split.C - S.alpha * S.G**2 / (2 * (1 - S.beta1) * S.h_min)))
    assert _zero(free.steps - free.A / (S.epsilon - free.C))
    assert free.critical_batch == 0
    assert S.sigma not in free.assumptions
    values = {k: v for k, v in GOOD.items() if k != "sigma"}
    need = float(free.C.subs({BY_NAME[k]: v for k, v in values.items()}))
    num = free.subs(**values, epsilon=3 * need)
    steps = num.steps(np.array([1.0, 16.0, 4096.0]))
    np.testing.assert_allclose(steps, steps[0])
    # below the split bound's steps at every b where the latter is finite
    at_split = split.subs(**GOOD, epsilon=3 * need)
    batches = np.array([2.0, 64.0, 1e6]) * max(at_split.min_batch, 1.0)
    assert np.all(steps[0] < at_split.steps(batches))
