"""Gradients of any nn.Module: two-batch squared norms and the exact per-example noise."""

import numpy as np
import pytest
import torch
from torch import nn

from batchsteps.train import exact_noise_scale, two_batch_norms
from least_squares import regression


def test_exact_noise_scale_matches_the_least_squares_formula():
    model, X, y = regression()
    # for the mean squared error, g_i = 2 (x_i.w - y_i) x_i: |G|^2 and tr Sigma exactly
    per_example = 2 * (X @ model.weight.detach().T - y) * X
    G = per_example.mean(dim=0)
    trace = float(((per_example - G) ** 2).sum(dim=1).mean())
    exact = exact_noise_scale(model, "mse", (X, y), chunk=100)
    assert exact.grad_norm_sq == pytest.approx(float(G @ G), rel=1e-10)
    assert exact.trace_sigma == pytest.approx(trace, rel=1e-10)
    assert exact.b_simple == pytest.approx(trace / float(G @ G), rel=1e-10)
    assert exact.n == 512
    assert exact.loss == pytest.approx(float(((X @ model.weight.detach().T - y) ** 2).mean()))


def test_at_the_teacher_the_noise_is_the_known_label_noise():
    # at w = w_true, g_i = -2 eps_i x_i: tr Sigma -> 4 sigma^2 E|x|^2 = 4 sigma^2 dim
    sigma, dim = 0.5, 6
    model, X, y = regression(n=20_000, dim=dim, label_noise=sigma, offset=0.0)
    exact = exact_noise_scale(model, "mse", (X, y), chunk=5000)
    assert exact.trace_sigma == pytest.approx(4 * sigma**2 * dim, rel=0.05)
    assert exact.grad_norm_sq < 1e-2 * exact.trace_sigma


class _TwoInputs(nn.Module):
    """A non-sequential module of two inputs: any nn.Module is allowed."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(5, 8), nn.Linear(3, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, u, v):
        return self.head(torch.tanh(self.a(u) + self.b(v)))


def test_exact_noise_scale_of_a_network_matches_a_loop_over_examples():
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    u, v = torch.randn(96, 5, generator=gen), torch.randn(96, 3, generator=gen)
    labels = torch.randint(3, (96,), generator=gen)
    model = _TwoInputs()
    grads = []
    for i in range(labels.shape[0]):
        model.zero_grad()
        nn.functional.cross_entropy(model(u[i : i + 1], v[i : i + 1]), labels[i : i + 1]).backward()
        grads.append(torch.cat([p.grad.flatten().double() for p in model.parameters()]))
    model.zero_grad(set_to_none=True)
    per_example = torch.stack(grads)
    G = per_example.mean(dim=0)
    trace = float(((per_example - G) ** 2).sum(dim=1).mean())
    exact = exact_noise_scale(model, "cross_entropy", (u, v, labels), chunk=25)
    assert exact.grad_norm_sq == pytest.approx(float(G @ G), rel=1e-4)
    assert exact.trace_sigma == pytest.approx(trace, rel=1e-4)


@pytest.mark.slow
def test_two_batch_norms_average_to_the_exact_expectation():
    # E|g_b|^2 = |G|^2 + tr Sigma / b for batches drawn with replacement
    model, X, y = regression(n=256)
    exact = exact_noise_scale(model, "mse", (X, y))
    norms = two_batch_norms(model, "mse", (X, y), 2, 32, 4000, seed=3)
    assert (norms.small, norms.large, norms.draws) == (2, 32, 4000)
    for values, b in ((norms.small_norm_sq, 2), (norms.large_norm_sq, 32)):
        expected = exact.grad_norm_sq + exact.trace_sigma / b
        sem = values.std(ddof=1) / np.sqrt(values.size)
        assert abs(values.mean() - expected) < 4 * sem
    assert norms.loss == pytest.approx(exact.loss, rel=0.1)


def test_two_batch_norms_leave_the_model_untouched():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    X, y = torch.randn(64, 4), torch.randint(2, (64,))
    before = {k: t.clone() for k, t in model.state_dict().items()}
    two_batch_norms(model, "cross_entropy", (X, y), 2, 16, 5, device="cpu")
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in model.parameters())


def test_same_seed_same_norms_and_dataset_form_does_not_matter():
    model, X, y = regression(n=128)
    first = two_batch_norms(model, "mse", (X, y), 2, 16, 10, seed=7)
    again = two_batch_norms(model, "mse", torch.utils.data.TensorDataset(X, y), 2, 16, 10, seed=7)
    other = two_batch_norms(model, "mse", (X, y), 2, 16, 10, seed=8)
    np.testing.assert_array_equal(first.small_norm_sq, again.small_norm_sq)
    assert not np.array_equal(first.small_norm_sq, other.small_norm_sq)


def _bad(**change):
    model, X, y = regression(n=32)
    return dict(model=model, loss_fn="mse", data=(X, y), small=2, large=8, draws=3) | change


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (dict(small=8), ValueError, r"small must be an integer < large \(8\), got 8"),
        (dict(small=9), ValueError, r"small must be an integer < large \(8\), got 9"),
        (dict(small=0), ValueError, "small must be an integer >= 1, got 0"),
        (dict(draws=1), ValueError, "draws must be an integer >= 2, got 1"),
        (dict(draws=2.5), TypeError, "draws must be an integer >= 2, got 2.5"),
        (dict(large=True), TypeError, "large must be an integer >= 1, got True"),
        (dict(model="net"), TypeError, "model must be a torch.nn.Module"),
        (dict(loss_fn="hinge"), ValueError, "loss_fn must be a loss name: one of"),
        (dict(loss_fn=3), TypeError, "loss_fn must be a callable"),
        (dict(data=torch.zeros(4, 2)), TypeError, "data must be a TensorDataset"),
        (dict(data=(torch.zeros(4, 6), torch.zeros(5, 1))), ValueError, "share one non-zero"),
        (dict(data=(torch.zeros(0, 6), torch.zeros(0, 1))), ValueError, "share one non-zero"),
        (dict(data=(torch.zeros(4, 6), [1, 2, 3, 4])), TypeError, r"data\[1\] must be a tensor"),
        (dict(loss_fn=lambda out, t: (out - t) ** 2), ValueError, "must return the scalar mean"),
        (dict(device="warp-drive"), ValueError, "device must be a torch device"),
        (dict(device=3.0), TypeError, "device must be None"),
        (dict(seed=-1), ValueError, "seed must be an integer >= 0, got -1"),
    ],
)
def test_two_batch_norms_reject_bad_inputs(change, error, match):
    with pytest.raises(error, match=match):
        two_batch_norms(**_bad(**change))


def test_a_model_without_trainable_parameters_has_no_gradient_to_measure():
    args = _bad()
    args["model"].requires_grad_(False)
    with pytest.raises(ValueError, match="no parameter with requires_grad=True"):
        two_batch_norms(**args)
    with pytest.raises(ValueError, match="chunk must be an integer >= 1, got 0"):
        exact_noise_scale(_bad()["model"], "mse", _bad()["data"], chunk=0)
