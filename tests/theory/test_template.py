"""The template A/K + B/b + C: what it derives, checked symbolically for generic constants."""

import sympy as sp

from batchsteps.theory import template
from batchsteps.theory.notation import symbols

b = symbols.b
r = template.derive()
A, B, C, eps_t = template.A, template.B, template.C, template.eps_t


def _positive_gap(expr: sp.Expr) -> sp.Expr:
    """Rewrite with eps_t = C + g, g > 0, so sympy can decide signs."""
    g = sp.Symbol("g", positive=True)
    return sp.simplify(expr.subs(eps_t, C + g)), g


def test_steps_solve_the_bound_with_equality():
    assert sp.simplify(r.bound.subs(symbols.K, r.steps) - eps_t) == 0


def test_steps_is_the_rational_function_of_the_book():
    assert sp.simplify(r.steps - A * b / ((eps_t - C) * b - B)) == 0


def test_min_batch_is_the_pole_of_steps():
    assert sp.simplify(r.min_batch - B / (eps_t - C)) == 0
    _, denominator = sp.fraction(sp.together(r.steps))
    assert sp.simplify(denominator.subs(b, r.min_batch)) == 0


def test_critical_batch_doubles_min_batch():
    assert sp.simplify(r.critical_batch - 2 * r.min_batch) == 0


def test_min_steps_is_the_limit_and_steps_at_critical_batch_double_it():
    assert sp.simplify(r.min_steps - A / (eps_t - C)) == 0
    assert sp.simplify(r.steps.subs(b, r.critical_batch) - 2 * r.min_steps) == 0


def test_sfo_at_critical_batch():
    assert sp.simplify(r.sfo.subs(b, r.critical_batch) - 4 * A * B / (eps_t - C) ** 2) == 0


def test_steps_decrease_and_are_convex_beyond_the_pole():
    x = sp.Symbol("x", positive=True)  # b = b0 + x, any point past the pole
    first, g = _positive_gap(sp.diff(r.steps, b).subs(b, r.min_batch + x))
    second, _ = _positive_gap(sp.diff(r.steps, b, 2).subs(b, r.min_batch + x))
    assert first.is_negative
    assert second.is_positive


def test_sfo_is_convex_beyond_the_pole_with_zero_slope_at_critical_batch():
    x = sp.Symbol("x", positive=True)
    second, _ = _positive_gap(sp.diff(r.sfo, b, 2).subs(b, r.min_batch + x))
    assert second.is_positive
    assert sp.simplify(sp.diff(r.sfo, b).subs(b, r.critical_batch)) == 0
