"""Recorders the engine calls: the loss of every replica, two-batch gradient norms of one,
and the Adam-type state along a run."""

import numpy as np
import pytest
import torch
from torch import nn

import batchsteps.train as bt
from batchsteps.train import (
    AdaptiveRecorder,
    NoiseRecorder,
    Workload,
    exact_noise_scale,
    measure_steps,
    replica_module,
    sampled_loss,
    two_batch_norms,
)

torch.set_num_threads(1)


def _tanh_net():
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


def _relu_net():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def _custom(factory) -> Workload:
    gen = torch.Generator().manual_seed(0)
    X, y = torch.randn(64, 4, generator=gen), torch.randint(3, (64,), generator=gen)
    return Workload("custom", X, y, factory, "cross_entropy")


@pytest.mark.parametrize("factory", [_relu_net, _tanh_net], ids=["stacked-mlp", "torch-func"])
def test_replica_module_is_the_model_the_seed_builds(factory):
    wl = _custom(factory)
    params = wl.problem(torch.device("cpu")).init([4, 1])
    torch.manual_seed(1)
    expected = factory()
    module = replica_module(wl, params, 1)
    for a, b in zip(module.parameters(), expected.parameters(), strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("factory", [_relu_net, _tanh_net], ids=["stacked-mlp", "torch-func"])
def test_noise_recorder_measures_the_replica_it_follows(factory):
    wl = _custom(factory)
    rec = NoiseRecorder(wl, 2, 16, 6, every=5, replica_seed=1)
    measure_steps(
        wl, "sgd", 8, lr=0.1, seeds=[0, 1], target=None, max_steps=20, record=rec,
        record_every=rec.every,
    )  # fmt: skip
    assert rec.steps == [0, 5, 10, 15, 20]
    # at step 0 the replica is the workload's model built after torch.manual_seed(1), and its
    # draws come from the generator of (seed, step)
    torch.manual_seed(1)
    start = factory()
    state = int(np.random.SeedSequence([0, 0]).generate_state(1)[0])
    alone = two_batch_norms(start, "cross_entropy", (wl.X, wl.y), 2, 16, 6, seed=state)
    np.testing.assert_allclose(rec.norms[0].small_norm_sq, alone.small_norm_sq, rtol=1e-5)
    np.testing.assert_allclose(rec.norms[0].large_norm_sq, alone.large_norm_sq, rtol=1e-5)
    assert rec.norms[-1].loss != pytest.approx(rec.norms[0].loss)  # the replica moved


def test_noise_recorder_needs_a_data_workload_and_valid_sizes():
    with pytest.raises(ValueError, match="workload='nqm' must be a data Workload"):
        NoiseRecorder(bt.workload("nqm"), 2, 16, 6, every=5)
    with pytest.raises(ValueError, match=r"small must be an integer < large \(2\), got 16"):
        NoiseRecorder(bt.workload("digits-mlp"), 16, 2, 6, every=5)
    with pytest.raises(ValueError, match="every must be an integer >= 1, got 0"):
        NoiseRecorder(bt.workload("digits-mlp"), 2, 16, 6, every=0)


def test_sampled_loss_records_every_step_of_every_seed():
    losses = sampled_loss("nqm", "sgd", 4, lr=0.5, seeds=[0, 1, 2], steps=7)
    assert losses.shape == (3, 8)
    start = bt.workload("nqm")
    expected = 0.5 * float((start.curvature * start.theta0**2).sum())
    np.testing.assert_allclose(losses[:, 0], expected, rtol=1e-6)  # one starting point
    digits = sampled_loss(bt.workload("digits-mlp", hidden=8), "sgd", 32, lr=0.5, seeds=2, steps=3)
    assert digits.shape == (2, 4) and np.all(digits[:, -1] < digits[:, 0])  # full-data loss


@pytest.mark.parametrize(("steps", "error"), [(0, ValueError), (2.5, TypeError), ("3", TypeError)])
def test_sampled_loss_names_steps(steps, error):
    with pytest.raises(error, match=f"steps must be .*, got {steps!r}"):
        sampled_loss("nqm", "sgd", 4, lr=0.5, seeds=[0], steps=steps)


def test_sampled_loss_refuses_a_mean_over_diverged_replicas():
    with pytest.raises(ValueError, match="diverged"):
        sampled_loss("nqm", "sgd", 1, lr=50.0, seeds=2, steps=200)


@pytest.fixture(scope="module")
def adaptive():
    wl = bt.workload("digits-mlp", hidden=8)
    rec = AdaptiveRecorder(wl, variance_every=4)
    measure_steps(
        wl, "amsgrad", 16, lr=1e-2, seeds=[0, 1], target=None, max_steps=6, record=rec,
        beta2=0.99,
    )  # fmt: skip
    return wl, rec


def test_adaptive_record_has_one_row_per_step_and_per_update(adaptive):
    wl, rec = adaptive
    run = rec.arrays(1)
    d = sum(p.numel() for p in wl.model().parameters())
    assert run["theta"].shape == run["full_grad"].shape == (7, d) and run["loss"].shape == (7,)
    assert run["grad"].shape == run["momentum"].shape == run["precond"].shape == (6, d)
    assert run["variance_steps"].tolist() == [0, 4]
    assert rec.seeds == [0, 1]


def test_the_book_form_of_the_update_holds_with_the_recorded_preconditioner(adaptive):
    # theta_{k+1} = theta_k - alpha m_k / h_k: h is read from the right slot with the right
    # bias corrections
    _, rec = adaptive
    run = rec.arrays(0)
    step = run["theta"][:-1] - 1e-2 * run["momentum"] / run["precond"]
    np.testing.assert_allclose(run["theta"][1:], step, rtol=1e-5, atol=1e-6)
    assert np.all(np.diff(run["precond"], axis=0)[:, run["grad"].any(axis=0)] > -1)


def test_full_gradient_and_variance_at_the_start_are_the_plain_models(adaptive):
    wl, rec = adaptive
    run = rec.arrays(0)
    torch.manual_seed(0)
    model = wl.model()
    loss = nn.functional.cross_entropy(model(wl.X), wl.y)
    full = torch.cat([g.flatten() for g in torch.autograd.grad(loss, list(model.parameters()))])
    # the engine stores a widening layer's weight transposed: same values, another order
    np.testing.assert_allclose(
        np.sort(run["full_grad"][0]), np.sort(full.double().numpy()), rtol=1e-4, atol=1e-7
    )
    assert run["loss"][0] == pytest.approx(float(loss.detach()), rel=1e-6)
    exact = exact_noise_scale(model, "cross_entropy", (wl.X, wl.y))
    assert run["variance"][0] == pytest.approx(exact.trace_sigma, rel=1e-5)


def test_adaptive_recorder_reads_only_adam_state():
    wl = bt.workload("digits-mlp", hidden=8)
    rec = AdaptiveRecorder(wl)
    with pytest.raises(ValueError, match="optimizer='sgd'"):
        measure_steps(wl, "sgd", 4, lr=0.1, seeds=1, target=None, max_steps=1, record=rec)
    with pytest.raises(ValueError, match="seed=7 was not recorded"):
        AdaptiveRecorder(wl).arrays(7)
    with pytest.raises(ValueError, match="variance_every must be an integer >= 1"):
        AdaptiveRecorder(wl, variance_every=0)


@pytest.mark.parametrize(
    ("params", "error", "pattern"),
    [
        ([], ValueError, "params must be a sequence of at least 1 entry"),
        (None, TypeError, "params must be a sequence"),
        ([1, 2], TypeError, r"params\[0\] must be a torch.Tensor"),
        (torch.zeros(3), TypeError, "params must be a non-empty sequence of tensors"),
        ([torch.zeros(2, 3), torch.zeros(3, 3)], ValueError, r"same number of replicas.*\(3, 3\)"),
        ([torch.zeros(2, 3), torch.tensor(1.0)], ValueError, "same number of replicas"),
    ],
)
def test_flat_params_refuses_what_is_not_stacked_parameters(params, error, pattern):
    with pytest.raises(error, match=pattern):
        bt.flat_params(params)


def test_flat_params_gives_one_row_per_replica():
    flat = bt.flat_params([torch.ones(2, 3), torch.zeros(2, 4, 1)])
    assert flat.shape == (2, 7) and flat.sum() == 6


@pytest.mark.parametrize(
    ("change", "error", "pattern"),
    [
        (dict(position=2), ValueError, r"position must be an integer in \[0, 1\], got 2"),
        (dict(position=-1), ValueError, r"position must be an integer in \[0, 1\], got -1"),
        (dict(position="0"), TypeError, "position must be an integer"),
        (dict(position=True), TypeError, "position must be an integer"),
        (dict(params=[]), ValueError, "params must be"),
        (dict(workload="custom"), TypeError, "workload must be a data Workload .*'custom'"),
        (dict(workload=bt.workload("nqm", dim=4)), ValueError, "workload='nqm' must be a data"),
    ],
)
def test_replica_module_names_a_bad_argument(change, error, pattern):
    wl = _custom(_relu_net)
    args = dict(workload=wl, params=wl.problem(torch.device("cpu")).init([4, 1]), position=0)
    with pytest.raises(error, match=pattern):
        replica_module(**(args | change))


@pytest.mark.parametrize("recorder", [NoiseRecorder, AdaptiveRecorder])
def test_recorders_take_a_workload_not_its_name(recorder):
    args = (2, 16, 6, 5) if recorder is NoiseRecorder else ()
    with pytest.raises(
        TypeError, match="workload must be a data Workload .*'digits-mlp' \\(str\\)"
    ):
        recorder("digits-mlp", *args)
