"""Measurements that train with the engine and estimate with the analysis: the noise scale of
a model and along a run, the constants of the Adam-type bound along AMSGrad runs."""

import math

import numpy as np
import pytest
import torch
from torch import nn

import batchsteps.experiments as ex
import batchsteps.train as bt
from batchsteps.analysis import AdaptiveRun, bound_at
from batchsteps.theory import bound
from least_squares import regression

torch.set_num_threads(1)

# ---------------------------------------------------------------------------- the noise scale


def test_the_interval_contains_the_exact_values():
    model, X, y = regression()
    exact = bt.exact_noise_scale(model, "mse", (X, y))
    est = ex.noise_scale(model, "mse", (X, y), 4, 64, 400, confidence=0.99, seed=3)
    for name in ("grad_norm_sq", "trace_sigma", "b_simple"):
        low, high = getattr(est, f"{name}_ci")
        assert low <= getattr(exact, name) <= high, name
        assert low <= getattr(est, name) <= high, name
    assert est.b_simple == pytest.approx(est.trace_sigma / est.grad_norm_sq)
    assert (est.small, est.large, est.draws, est.confidence) == (4, 64, 400, 0.99)
    assert est.small_norm_sq.shape == est.large_norm_sq.shape == (400,)
    assert est.loss == pytest.approx(exact.loss, rel=0.1)


@pytest.mark.slow
def test_intervals_cover_the_truth_at_about_their_confidence():
    model, X, y = regression(n=256)
    exact = bt.exact_noise_scale(model, "mse", (X, y))
    runs = [
        ex.noise_scale(model, "mse", (X, y), 2, 32, 40, confidence=0.9, seed=s) for s in range(40)
    ]
    for name in ("grad_norm_sq", "trace_sigma", "b_simple"):
        covered = sum(
            getattr(r, f"{name}_ci")[0] <= getattr(exact, name) <= getattr(r, f"{name}_ci")[1]
            for r in runs
        )
        assert 30 <= covered <= 40, (name, covered)  # 36 expected; binomial sd about 1.9
    # and the per-draw estimates are unbiased: their grand mean is close to the truth
    traces = np.concatenate([r.trace_sigma_draws for r in runs])
    sem = traces.std(ddof=1) / math.sqrt(traces.size)
    assert abs(traces.mean() - exact.trace_sigma) < 4 * sem


def test_more_draws_narrow_the_interval_and_bad_confidence_is_named():
    model, X, y = regression()
    few = ex.noise_scale(model, "mse", (X, y), 4, 64, 20, seed=0)
    many = ex.noise_scale(model, "mse", (X, y), 4, 64, 500, seed=0)
    width = lambda r: r.trace_sigma_ci[1] - r.trace_sigma_ci[0]  # noqa: E731
    assert width(many) < 0.5 * width(few)
    with pytest.raises(ValueError, match=r"confidence must be a real number in \(0, 1\), got 1.0"):
        ex.noise_scale(model, "mse", (X, y), 4, 64, 5, confidence=1.0)


def test_noise_scale_during_follows_one_replica_of_the_engine():
    trace = ex.noise_scale_during(
        "digits-mlp", "sgd", 32, lr=0.5, steps=40, every=20, small=4, large=256, draws=10,
        seed=2,
    )  # fmt: skip
    assert trace.steps.tolist() == [0, 20, 40]
    assert trace.loss[-1] < trace.loss[0]
    assert np.all(trace.trace_sigma > 0) and trace.to_frame().shape[0] == 3
    # at step 0 it is the seed's model, measured with the generator of (seed, 0)
    wl = bt.workload("digits-mlp")
    torch.manual_seed(2)
    start = wl.model()
    state = int(np.random.SeedSequence([2, 0]).generate_state(1)[0])
    first = ex.noise_scale(start, "cross_entropy", (wl.X, wl.y), 4, 256, 10, seed=state)
    assert trace.b_simple[0] == pytest.approx(first.b_simple, rel=1e-4)
    with pytest.raises(ValueError, match="workload='nqm' must be a data Workload"):
        ex.noise_scale_during("nqm", "sgd", 4, lr=0.1, steps=2, every=1, small=2, large=4, draws=2)


# ---------------------------------------------------------------------------- Adam's constants

DIGITS = bt.workload("digits-mlp", hidden=8)


def _run(**kwargs) -> AdaptiveRun:
    options = dict(batch_size=16, steps=25, lr=1e-2, seed=0, variance_every=5)
    return ex.measure_adaptive_run(DIGITS, **{**options, **kwargs})


RUN = _run()
REFERENCE = ex.full_batch_reference(DIGITS, seed=0, steps=30, lr=1e-2)


def test_the_summed_one_step_identity_holds_on_the_run():
    # exact algebra of the update: it holds only if h, m and the iterates are read correctly
    measured = sum(value for value, _ in RUN.terms().values())
    assert measured == pytest.approx(RUN.stochastic_variational, rel=1e-4, abs=1e-7)


@pytest.mark.parametrize("reference", ["final", "initial", "given"])
def test_every_term_is_below_its_bound_and_so_is_the_measure(reference):
    run = _run(reference=REFERENCE if reference == "given" else reference)
    assert run.reference == reference
    for name, (value, upper) in run.terms().items():
        assert value <= upper, name
    total = bound_at(bound("amsgrad"), run.values(), run.steps, run.batch_size)
    assert total == pytest.approx(sum(upper for _, upper in run.terms().values()))
    assert run.variational <= total


def test_constants_are_consistent():
    assert 0 < RUN.h_min <= RUN.h_max
    assert RUN.D > 0 and RUN.G > 0 and RUN.sigma > 0
    assert RUN.d_total == 64 * 8 + 8 + 8 * 10 + 10
    # digits has pixels blank in every image: their first-layer weights never move
    assert RUN.d < RUN.d_total
    assert RUN.loss_final < RUN.loss_initial
    assert set(RUN.values()) == set(bound("amsgrad").parameters) - {"epsilon"}


def test_full_batch_reference_is_full_batch_adam_from_the_seeds_start():
    again = ex.full_batch_reference(DIGITS, seed=0, steps=30, lr=1e-2)
    np.testing.assert_array_equal(again, REFERENCE)
    torch.manual_seed(0)
    plain = DIGITS.model()
    opt = torch.optim.Adam(plain.parameters(), lr=1e-2)
    for _ in range(30):
        opt.zero_grad()
        nn.functional.cross_entropy(plain(DIGITS.X), DIGITS.y).backward()
        opt.step()
    theirs = np.sort(torch.cat([p.detach().flatten() for p in plain.parameters()]).numpy())
    np.testing.assert_allclose(np.sort(REFERENCE), theirs, rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        loss = float(nn.functional.cross_entropy(plain(DIGITS.X), DIGITS.y))
    assert loss < RUN.loss_initial


def test_sigma_is_the_one_sample_gradient_spread_at_the_start():
    run = _run(steps=1, variance_every=1)
    torch.manual_seed(0)
    model = DIGITS.model()
    X, Y = DIGITS.X, DIGITS.y
    full = torch.autograd.grad(nn.functional.cross_entropy(model(X), Y), list(model.parameters()))
    full = torch.cat([g.reshape(-1) for g in full])
    total = 0.0
    for i in range(0, X.shape[0], 7):  # every 7th sample: an unbiased subsample of the mean
        loss = nn.functional.cross_entropy(model(X[i : i + 1]), Y[i : i + 1])
        g = torch.cat([t.reshape(-1) for t in torch.autograd.grad(loss, model.parameters())])
        total += float(((g - full) ** 2).sum())
    subsample = total / len(range(0, X.shape[0], 7))
    assert run.sigma**2 == pytest.approx(subsample, rel=0.15)


def test_plain_adam_is_measured_too_and_the_identity_still_holds():
    run = _run(amsgrad=False)
    assert not run.amsgrad and RUN.amsgrad
    measured = sum(value for value, _ in run.terms().values())
    assert measured == pytest.approx(run.stochastic_variational, rel=1e-4, abs=1e-7)
    assert run.variational != RUN.variational


def test_preconditioner_without_moments_is_a_running_max_so_never_shrinks():
    run = _run(betas=(0.0, 0.0))
    assert run.shrink_fraction == 0.0 and run.max_shrink == 0.0


def test_torch_bias_correction_makes_the_preconditioner_shrink():
    # (1 - beta2^t)^(-1/2) falls with t while the max holds v: h drops unless v grows
    assert RUN.shrink_fraction > 0.0
    assert 0.0 < RUN.max_shrink < 1.0


def test_runs_repeat_and_seeds_differ():
    assert _run() == RUN
    assert _run(seed=1).variational != RUN.variational


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"batch_size": 0}, ValueError, r"batch_size must be an integer >= 1, got 0"),
        ({"steps": 2.0}, TypeError, r"^steps must be an integer >= 1, got 2\.0"),
        ({"lr": -1.0}, ValueError, r"lr must be a finite real number > 0, got -1\.0"),
        ({"betas": (1.0, 0.9)}, ValueError, r"beta1 must be a real number in \[0, 1\), got 1\.0"),
        ({"betas": (0.9,)}, TypeError, r"betas must be a pair \(beta1, beta2\), got \(0\.9,\)"),
        (
            {"reference": "middle"},
            ValueError,
            r"reference must be one of 'final', 'initial' or a flat point \(a 1-d array\), "
            r"got 'middle'",
        ),
        ({"reference": np.zeros(3)}, ValueError, r"reference of shape \(3,\) must be a flat"),
        ({"variance_every": 0}, ValueError, r"variance_every must be an integer >= 1"),
        ({"amsgrad": 1}, TypeError, r"amsgrad must be True or False, got 1 \(int\)"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        _run(**kwargs)


def _no_training(*args, **kwargs):
    raise AssertionError("trained before its arguments were checked")


NOISE_DURING = dict(lr=0.1, steps=4, every=2, small=2, large=8, draws=2)


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (lambda: _run(steps=0), ValueError, r"^steps must be an integer >= 1, got 0"),
        (lambda: _run(seed=-1), ValueError, r"^seed must be an integer >= 0, got -1"),
        (lambda: _run(seed="a"), TypeError, r"^seed must be an integer >= 0, got 'a'"),
        (
            lambda: _run(reference=None),
            TypeError,
            r"^reference must be one of 'final', 'initial' or a flat point .*, got None",
        ),
        (lambda: _run(reference=5), ValueError, r"^reference must be a 1-d array .*, got 5"),
        (lambda: _run(reference=[[1.0]]), ValueError, r"^reference must be a 1-d array"),
        (
            lambda: ex.full_batch_reference(DIGITS, steps=0),
            ValueError,
            r"^steps must be an integer >= 1, got 0",
        ),
        (
            lambda: ex.full_batch_reference(DIGITS, steps=None),
            TypeError,
            r"^steps must be an integer >= 1, got None",
        ),
        (
            lambda: ex.full_batch_reference(DIGITS, seed=-1),
            ValueError,
            r"^seed must be an integer >= 0, got -1",
        ),
        (
            lambda: ex.noise_scale_during(DIGITS, "sgd", 8, **{**NOISE_DURING, "steps": 0}),
            ValueError,
            r"^steps must be an integer >= 1, got 0",
        ),
        (
            lambda: ex.noise_scale_during(DIGITS, "sgd", 8, seed=-1, **NOISE_DURING),
            ValueError,
            r"^seed must be an integer >= 0, got -1",
        ),
    ],
)
def test_steps_seed_and_reference_are_named_and_checked_before_training(
    call, error, pattern, monkeypatch
):
    monkeypatch.setattr(ex.measurements, "measure_steps", _no_training)
    with pytest.raises(error, match=pattern):
        call()
