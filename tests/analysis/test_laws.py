"""Laws as objects: each book law's prediction, inverse, critical batch and linearisation, and a
third law that is one class in this file, fitted by the same fitter."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

from batchsteps.analysis import (
    ConstantRateLaw,
    Law,
    TunedRateLaw,
    fit_steps,
    linearise,
    resolve_law,
)
from batchsteps.analysis import fit as fit_module

CONSTANT = {"min_steps": 1000.0, "min_batch": 8.0}
TUNED = {"min_steps": 500.0, "noise_scale": 64.0}


class QuadraticNoiseLaw(Law):
    r"""A toy third law, :math:`K(b) = K_{\min}(1 + (B/b)^2)`: linear as :math:`K` against
    :math:`1/b^2`, critical batch :math:`B`. Only what a law must say; everything else is
    inherited (gradient, inverse and starting values)."""

    name = "quadratic"
    parameters = ("min_steps", "scale")
    symbols = {"min_steps": "K_min", "scale": "B"}

    def log_steps(self, b, theta):
        return theta[0] + np.log1p((np.exp(theta[1]) / b) ** 2)

    def linear_coordinates(self, b, k):
        return 1.0 / b**2, k

    def from_line(self, intercept, slope):
        return {"min_steps": intercept, "scale": math.sqrt(slope / intercept) if slope > 0 else 0}

    def log_bounds(self, b):
        return np.array([-np.inf, math.log(b.min() / 1e3)]), np.array(
            [np.inf, math.log(b.max() * 1e3)]
        )

    def critical_batch(self, params):
        return float(np.exp(self.theta_of(params)[1]))


def quadratic(b, min_steps=300.0, scale=40.0):
    return min_steps * (1.0 + (scale / np.asarray(b, dtype=float)) ** 2)


@pytest.mark.parametrize(
    ("law", "params", "critical"),
    [(ConstantRateLaw(), CONSTANT, 16.0), (TunedRateLaw(), TUNED, 64.0)],
)
def test_steps_at_the_critical_batch_are_twice_the_minimum(law, params, critical):
    assert law.critical_batch(params) == pytest.approx(critical)
    assert law.predict(critical, params) == pytest.approx(2 * params["min_steps"])


@pytest.mark.parametrize(
    ("law", "params"),
    [(ConstantRateLaw(), CONSTANT), (TunedRateLaw(), TUNED), (QuadraticNoiseLaw(), TUNED)],
)
def test_inverse_undoes_predict(law, params):
    params = dict(zip(law.parameters, params.values(), strict=True))
    b = np.geomspace(law.pole(params) * 1.01 + 1.0, 1e5, 30)
    np.testing.assert_allclose(law.inverse(law.predict(b, params), params), b, rtol=1e-8)
    assert law.inverse(params["min_steps"], params) == math.inf


def test_the_pole_is_b0_for_the_constant_law_and_zero_for_the_tuned_law():
    assert ConstantRateLaw().pole(CONSTANT) == 8.0
    assert TunedRateLaw().pole(TUNED) == 0.0
    assert ConstantRateLaw().predict(8.0, CONSTANT) == math.inf
    assert ConstantRateLaw().predict(np.array([4.0, 16.0]), CONSTANT).tolist() == [math.inf, 2000]


def test_book_symbols_name_each_parameter():
    assert dict(ConstantRateLaw.symbols) == {"min_steps": "K_min", "min_batch": "b0"}
    assert dict(TunedRateLaw.symbols) == {"min_steps": "S_min", "noise_scale": "B_noise"}


def test_analytic_gradient_matches_central_differences():
    b = np.geomspace(10.0, 1000.0, 7)
    theta = np.log([1000.0, 8.0])
    for law in (ConstantRateLaw(), TunedRateLaw()):
        np.testing.assert_allclose(
            law.gradient(b, theta), Law.gradient(law, b, theta), rtol=1e-6, atol=1e-9
        )


@pytest.mark.parametrize("law", [ConstantRateLaw(), TunedRateLaw()])
def test_a_law_object_and_its_name_give_the_same_fit(law):
    b = np.repeat(2.0 ** np.arange(4, 11), 3)
    steps = law.predict(b, dict(zip(law.parameters, [1000.0, 8.0], strict=True)))
    steps = steps * np.exp(0.05 * np.random.default_rng(0).standard_normal(b.size))
    by_object = fit_steps(b, steps, law, n_boot=0)
    by_name = fit_steps(b, steps, law.name, n_boot=0)
    assert by_object.params == by_name.params and by_object.law == law.name
    assert by_object.model == law


def test_a_third_law_is_one_class_and_fits_like_the_others():
    law = QuadraticNoiseLaw()
    b = 2.0 ** np.arange(1, 11)
    exact = fit_steps(b, quadratic(b), law, n_boot=0)
    assert exact.params == pytest.approx({"min_steps": 300.0, "scale": 40.0}, rel=1e-6)
    assert exact.critical_batch == pytest.approx(40.0, rel=1e-6)
    assert exact.batch_size_for(600.0) == pytest.approx(40.0, rel=1e-6)
    runs = np.repeat(b, 5)
    rng = np.random.default_rng(4)
    noisy = quadratic(runs) * np.exp(0.05 * rng.standard_normal(runs.size))
    fit = fit_steps(runs, noisy, law, n_boot=0)
    low, high = fit.ci["scale"]
    assert low < 40.0 < high and fit.params["scale"] == pytest.approx(40.0, rel=0.05)
    assert linearise(b, quadratic(b), law).params == pytest.approx(
        {"min_steps": 300.0, "scale": 40.0}
    )


def test_the_fitter_never_branches_on_a_law_name():
    source = inspect.getsource(fit_module)
    for name in ("constant_lr", "tuned_lr"):
        assert f'== "{name}"' not in source and f"== '{name}'" not in source
    assert "law ==" not in source and "law !=" not in source


def test_resolve_law_accepts_objects_and_names_only():
    assert resolve_law("tuned_lr") == TunedRateLaw()
    law = ConstantRateLaw()
    assert resolve_law(law) is law
    with pytest.raises(TypeError, match="is a class"):
        resolve_law(ConstantRateLaw)
    with pytest.raises(
        ValueError, match="law must be one of 'constant_lr', 'tuned_lr', got 'linear'"
    ):
        resolve_law("linear")


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"min_steps": 1.0}, r"params must be a mapping with .*'min_batch'\], got \{'min_steps'"),
        ([1.0, 2.0, 3.0], r"params must be one value per parameter .*, got \[1.0, 2.0, 3.0\]"),
        ({"min_steps": 1.0, "min_batch": -1.0}, r"params must be .* > 0, got \[1.0, -1.0\]"),
    ],
)
def test_parameters_are_checked(params, match):
    with pytest.raises(ValueError, match=match):
        ConstantRateLaw().predict(16.0, params)


@pytest.mark.parametrize(
    ("law", "params", "fewest"),
    [
        (ConstantRateLaw(), CONSTANT, 4 * 1000.0 * 8.0),  # at b* = 16: 16 x 2000
        (TunedRateLaw(), TUNED, 500.0 * 64.0),  # as b -> 0
        (QuadraticNoiseLaw(), {"min_steps": 300.0, "scale": 40.0}, 2 * 300.0 * 40.0),  # at b = B
    ],
)
def test_fewest_samples_exact_and_by_the_default_search(law, params, fewest):
    assert law.min_samples(params) == pytest.approx(fewest, rel=1e-6)
    assert Law.min_samples(law, params) == pytest.approx(fewest, rel=1e-4)


def test_labels_and_critical_symbols_for_figures():
    assert (ConstantRateLaw.label, ConstantRateLaw.critical_symbol) == ("constant-rate law", "b*")
    assert (TunedRateLaw.label, TunedRateLaw.critical_symbol) == ("tuned-rate law", "B_noise")
    assert (QuadraticNoiseLaw.label, QuadraticNoiseLaw.critical_symbol) == ("law", "b_crit")
