"""Learning-rate schedules: their values, the engine under a schedule against torch.optim with
LambdaLR step for step, the constant schedule bit for bit, the exact quadratic's convention."""

import dataclasses

import numpy as np
import pytest
import torch

import batchsteps.train as bt
from batchsteps.theory import quadratic
from batchsteps.train.reference import torch_optimizer


def test_schedules_have_their_values():
    assert [bt.constant()(k) for k in (0, 1, 1000)] == [1.0, 1.0, 1.0]
    assert [bt.inverse_time(10)(k) for k in (0, 10, 30)] == [1.0, 0.5, 0.25]
    ramp = bt.warmup_then_decay(4, 2.0)
    assert [ramp(k) for k in range(7)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1 / 1.5, 0.5]


def test_inverse_time_is_the_rate_of_the_exact_quadratic_recursion():
    # noise-free SGD on f = theta^2/2 follows the recursion of expected_steps exactly, so the
    # engine's first steps under inverse_time are the recursion's (same k for the same rate)
    kw = dict(L=1.0, lr=0.3, theta0=1.0)
    wl = bt.workload("nqm", dim=1, decay=0.0, theta0=1.0, noise_factor=0.0)
    for decay in (2.0, 5.0, 40.0):
        for target in (0.1, 0.01, 0.001):
            (engine,) = bt.steps_to_target(
                wl, "sgd", 1, lr=kw["lr"], seeds=[0], target=f"grad_norm_sq<={target}",
                max_steps=5000, schedule=bt.inverse_time(decay),
            )  # fmt: skip
            (exact,) = quadratic.expected_steps([1], **kw, sigma=1e-9, target=target, decay=decay)
            assert engine == exact > 0, (decay, target)


def _float64_quadratic():
    curvature = torch.tensor([1.0, 0.3, 2.0, 0.05], dtype=torch.float64)
    return bt.Workload(
        "quadratic-float64", loss="quadratic", curvature=curvature, noise=curvature,
        theta0=torch.ones(4, dtype=torch.float64),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "lr", "hyper"),
    [("sgd", 0.5, {}), ("momentum", 0.1, {"beta": 0.8}), ("adam", 0.05, {}),
     ("rmsprop", 0.01, {"beta2": 0.9})],
)  # fmt: skip
@pytest.mark.parametrize(
    "schedule", [bt.inverse_time(7.0), bt.warmup_then_decay(5, 3.0)], ids=["decay", "warmup"]
)
def test_the_engine_under_a_schedule_equals_torch_optim_with_lambda_lr(name, lr, hyper, schedule):
    seeds, steps = [0, 1, 2], 60
    trace = []  # (params, gradients of the update that led to them) after every update
    bt.measure_steps(
        _float64_quadratic(), name, 4, lr=lr, seeds=seeds, target=None, max_steps=steps,
        schedule=schedule,
        record=lambda s: trace.append((s.params[0].clone(), s.grads and s.grads[0].clone())),
        **hyper,
    )  # fmt: skip
    assert len(trace) == steps + 1 and trace[0][0].dtype == torch.float64
    for r in range(len(seeds)):
        theta = trace[0][0][r].clone().requires_grad_(True)
        opt = torch_optimizer(name, [theta], lr, **hyper)
        rates = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
        for params, grads in trace[1:]:
            theta.grad = grads[r].clone()
            opt.step()
            rates.step()
            torch.testing.assert_close(theta.detach(), params[r], rtol=1e-13, atol=1e-15)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "lr"), [("sgd", 0.1), ("momentum", 0.02), ("adam", 0.003)])
def test_the_constant_schedule_leaves_every_step_bit_identical(name, lr):
    runs = []
    for schedule in (None, bt.constant()):
        ends = []
        result = bt.measure_steps(
            "digits-mlp", name, 16, lr=lr, seeds=[0, 1, 2], target="loss<=0.6", max_steps=300,
            check_every=7, schedule=schedule, record_every=50,
            record=lambda s, ends=ends: ends.append([p.clone() for p in s.params]),
        )  # fmt: skip
        runs.append((result, ends))
    (plain, plain_ends), (constant, constant_ends) = runs
    assert (plain.steps > 0).all()
    np.testing.assert_array_equal(plain.steps, constant.steps)
    assert plain.replayed_steps == constant.replayed_steps
    for before, after in zip(plain_ends, constant_ends, strict=True):
        for p, q in zip(before, after, strict=True):
            assert torch.equal(p, q)
    assert plain.schedule is None and constant.schedule == bt.constant()


@pytest.mark.slow
def test_sparse_checks_with_replay_find_the_first_step_under_a_schedule():
    # a replay restarts mid-run: the schedule must be read at the absolute update count
    common = dict(lr=0.3, seeds=list(range(6)), target="loss<=0.4", max_steps=600)
    decay = bt.inverse_time(50.0)
    sparse = bt.measure_steps("digits-mlp", "sgd", 32, check_every=40, schedule=decay, **common)
    dense = bt.measure_steps("digits-mlp", "sgd", 32, check_every=1, schedule=decay, **common)
    constant = bt.measure_steps("digits-mlp", "sgd", 32, check_every=1, **common)
    assert (dense.steps > 0).all() and sparse.replayed_steps > 0
    np.testing.assert_array_equal(sparse.steps, dense.steps)
    assert (dense.steps > constant.steps).all()  # a smaller rate takes longer here


def test_a_schedule_is_a_frozen_value():
    assert bt.inverse_time(3) == bt.inverse_time(3.0) != bt.inverse_time(4.0)
    assert isinstance(bt.inverse_time(3).decay, float)
    with pytest.raises(dataclasses.FrozenInstanceError):
        bt.inverse_time(3).decay = 4.0
    assert isinstance(bt.warmup_then_decay(2, 1.0), bt.Schedule)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: bt.inverse_time(0), ValueError, "decay must be .* > 0, got 0"),
        (lambda: bt.inverse_time(float("inf")), ValueError, "decay must be a finite"),
        (lambda: bt.inverse_time("10"), TypeError, "decay must be .*got '10' \\(str\\)"),
        (lambda: bt.warmup_then_decay(0, 1.0), ValueError, "warmup must be an integer >= 1"),
        (lambda: bt.warmup_then_decay(2.5, 1.0), TypeError, "warmup must be an integer"),
        (lambda: bt.warmup_then_decay(3, -1.0), ValueError, "decay must be"),
        (lambda: bt.inverse_time(5.0)(-1), ValueError, "k must be an integer >= 0 .*got -1"),
        (lambda: bt.constant()(1.5), TypeError, "k must be an integer >= 0 .*got 1.5"),
        (lambda: bt.warmup_then_decay(3, 1.0)(True), TypeError, "k must be an integer"),
    ],
)
def test_bad_schedules_raise_errors_naming_the_argument(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("schedule", [lambda k: 1.0, 0.5, "inverse_time"])
def test_the_engine_takes_only_a_schedule(schedule):
    with pytest.raises(TypeError, match="schedule must be a Schedule .*or None, got"):
        bt.steps_to_target(
            "nqm", "sgd", 8, lr=0.1, seeds=2, target=None, max_steps=5, schedule=schedule
        )
