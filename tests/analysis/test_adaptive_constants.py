"""Constants of the Adam-type bound measured along real AMSGrad runs on the digits MLP."""

import copy
import math

import pytest
import torch

from batchsteps.analysis.adaptive_constants import (
    AdaptiveRun,
    bound_at,
    digits_mlp,
    envelope,
    full_batch_reference,
    measure_adaptive_run,
)
from batchsteps.theory import bound

torch.set_num_threads(1)
MODEL, X, Y = digits_mlp(hidden=8, seed=0)


def _run(**kwargs) -> AdaptiveRun:
    options = dict(batch_size=16, steps=25, lr=1e-2, seed=0, variance_every=5)
    return measure_adaptive_run(MODEL, X, Y, **{**options, **kwargs})


RUN = _run()


def test_digits_problem_has_the_known_shape():
    assert X.shape == (1797, 64) and Y.shape == (1797,)
    assert float(X.min()) == 0.0 and float(X.max()) == 1.0
    assert sum(p.numel() for p in MODEL.parameters()) == 64 * 8 + 8 + 8 * 10 + 10


def test_the_summed_one_step_identity_holds_on_the_run():
    # exact algebra of the update: it holds only if h, m and the iterates are read correctly
    measured = sum(value for value, _ in RUN.terms().values())
    assert measured == pytest.approx(RUN.stochastic_variational, rel=1e-4, abs=1e-7)


REFERENCE = full_batch_reference(MODEL, X, Y, steps=30, lr=1e-2)


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
    assert RUN.d_total == sum(p.numel() for p in MODEL.parameters())
    # digits has pixels blank in every image: their first-layer weights never move
    assert RUN.d < RUN.d_total
    assert RUN.loss_final < RUN.loss_initial
    assert set(RUN.values()) == set(bound("amsgrad").parameters) - {"epsilon"}


def test_full_batch_reference_is_deterministic_and_lowers_the_loss():
    again = full_batch_reference(MODEL, X, Y, steps=30, lr=1e-2)
    assert torch.equal(again, REFERENCE)
    assert REFERENCE.shape == (sum(p.numel() for p in MODEL.parameters()),)
    net = copy.deepcopy(MODEL)
    torch.nn.utils.vector_to_parameters(REFERENCE, net.parameters())
    with torch.no_grad():
        loss = float(torch.nn.functional.cross_entropy(net(X), Y))
    assert loss < RUN.loss_initial


def test_the_measure_at_the_initial_point_uses_it_as_reference():
    run = _run(reference="initial", steps=1)
    # one step: V_1(theta_0) = <theta_0 - theta_0, grad f(theta_0)> = 0
    assert run.variational == 0.0


def test_sigma_is_the_one_sample_gradient_spread_at_the_start():
    run = _run(steps=1, variance_every=1)
    model = MODEL
    full = torch.autograd.grad(
        torch.nn.functional.cross_entropy(model(X), Y), list(model.parameters())
    )
    full = torch.cat([g.reshape(-1) for g in full])
    total = 0.0
    for i in range(0, X.shape[0], 7):  # every 7th sample: an unbiased subsample of the mean
        loss = torch.nn.functional.cross_entropy(model(X[i : i + 1]), Y[i : i + 1])
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
    with pytest.raises(TypeError, match="amsgrad=1"):
        _run(amsgrad=1)


def test_preconditioner_without_moments_is_a_running_max_so_never_shrinks():
    run = _run(betas=(0.0, 0.0))
    assert run.shrink_fraction == 0.0 and run.max_shrink == 0.0


def test_torch_bias_correction_makes_the_preconditioner_shrink():
    # (1 - beta2^t)^(-1/2) falls with t while the max holds v: h drops unless v grows
    assert RUN.shrink_fraction > 0.0
    assert 0.0 < RUN.max_shrink < 1.0


def test_the_input_model_is_left_untouched_and_runs_repeat():
    before = [p.detach().clone() for p in MODEL.parameters()]
    again = _run()
    assert all(torch.equal(a, b) for a, b in zip(before, MODEL.parameters(), strict=True))
    assert again == RUN
    assert _run(seed=1).variational != RUN.variational


def test_envelope_takes_the_worst_constants():
    other = _run(batch_size=4, seed=2)
    both = envelope([RUN, other])
    assert both["G"] == max(RUN.G, other.G) and both["D"] == max(RUN.D, other.D)
    assert both["d"] == max(RUN.d, other.d)
    assert both["h_min"] == min(RUN.h_min, other.h_min)
    assert both["h_max"] == max(RUN.h_max, other.h_max)
    assert both["sigma"] == max(RUN.sigma, other.sigma)
    assert bound("amsgrad").subs(**both, epsilon=1e12).min_steps > 0


def test_envelope_rejects_empty_or_mixed_runs():
    with pytest.raises(TypeError, match="runs="):
        envelope([])
    with pytest.raises(ValueError, match="runs disagree on alpha"):
        envelope([RUN, _run(lr=1e-3, steps=2)])


def test_bound_at_is_the_template_value():
    values = RUN.values()
    bnd = bound("amsgrad")
    num = bnd.subs(**values, epsilon=2 * bound_at(bnd, values, 10**15, 1e15))
    assert bound_at(bnd, values, 100, 8) == pytest.approx(num.A / 100 + num.B / 8 + num.C)
    with pytest.raises(ValueError, match="steps=0"):
        bound_at(bnd, values, 0, 8)


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"batch_size": 0}, ValueError, r"batch_size=0 must be an int >= 1"),
        ({"steps": 2.0}, TypeError, r"steps=2\.0 must be an int"),
        ({"lr": -1.0}, ValueError, r"lr=-1\.0 must be a finite number > 0"),
        ({"lr": math.nan}, ValueError, r"lr=nan"),
        ({"betas": (1.0, 0.9)}, ValueError, r"beta1=1\.0 is outside the allowed \[0, 1\)"),
        ({"betas": (0.9,)}, TypeError, r"betas=\(0\.9,\) must be a pair"),
        ({"reference": "middle"}, ValueError, r"reference='middle' is not allowed"),
        ({"reference": torch.zeros(3)}, ValueError, r"reference of shape \(3,\) must be a flat"),
        ({"variance_every": 0}, ValueError, r"variance_every=0"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        _run(**kwargs)


def test_bad_model_and_data_are_named():
    with pytest.raises(TypeError, match="model=str"):
        measure_adaptive_run("mlp", X, Y, batch_size=4, steps=1)
    with pytest.raises(ValueError, match=r"targets of shape \(3,\)"):
        measure_adaptive_run(MODEL, X, Y[:3], batch_size=4, steps=1)
    with pytest.raises(ValueError, match="hidden=0"):
        digits_mlp(hidden=0)
