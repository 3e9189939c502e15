"""Gradient noise scale: the two-batch estimator against exact per-example computations."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from batchsteps.analysis.noise import (
    NoiseScaleRecorder,
    exact_noise_scale,
    noise_scale,
    noise_scale_along,
    noise_scale_from_norms,
)


def _regression(n=512, dim=6, label_noise=0.7, offset=0.3, seed=0):
    """Linear least squares y = x.w + noise, a model placed at w + offset * z."""
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, dim, generator=gen, dtype=torch.float64)
    w = torch.randn(dim, 1, generator=gen, dtype=torch.float64)
    y = X @ w + label_noise * torch.randn(n, 1, generator=gen, dtype=torch.float64)
    model = nn.Linear(dim, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_((w + offset * torch.randn(dim, 1, generator=gen, dtype=X.dtype)).T)
    return model, X, y


def _truth_by_hand(model, X, y):
    """For the mean squared error, g_i = 2 (x_i.w - y_i) x_i: |G|^2 and tr Sigma exactly."""
    per_example = 2 * (X @ model.weight.detach().T - y) * X
    G = per_example.mean(dim=0)
    trace = ((per_example - G) ** 2).sum(dim=1).mean()
    return float(G @ G), float(trace)


def test_exact_noise_scale_matches_the_least_squares_formula():
    model, X, y = _regression()
    grad_sq, trace = _truth_by_hand(model, X, y)
    exact = exact_noise_scale(model, "mse", (X, y), chunk=100)
    assert exact.grad_norm_sq == pytest.approx(grad_sq, rel=1e-10)
    assert exact.trace_sigma == pytest.approx(trace, rel=1e-10)
    assert exact.b_simple == pytest.approx(trace / grad_sq, rel=1e-10)
    assert exact.n == 512
    assert exact.loss == pytest.approx(float(((X @ model.weight.detach().T - y) ** 2).mean()))


def test_at_the_teacher_the_noise_is_the_known_label_noise():
    # at w = w_true, g_i = -2 eps_i x_i: tr Sigma -> 4 sigma^2 E|x|^2 = 4 sigma^2 dim
    sigma, dim = 0.5, 6
    model, X, y = _regression(n=20_000, dim=dim, label_noise=sigma, offset=0.0)
    exact = exact_noise_scale(model, "mse", (X, y), chunk=5000)
    assert exact.trace_sigma == pytest.approx(4 * sigma**2 * dim, rel=0.05)
    assert exact.grad_norm_sq < 1e-2 * exact.trace_sigma
    est = noise_scale(model, "mse", (X, y), 8, 256, 300, seed=1)
    low, high = est.trace_sigma_ci
    assert low <= exact.trace_sigma <= high


def test_interval_contains_the_exact_values():
    model, X, y = _regression()
    exact = exact_noise_scale(model, "mse", (X, y))
    est = noise_scale(model, "mse", (X, y), 4, 64, 400, confidence=0.99, seed=3)
    for name in ("grad_norm_sq", "trace_sigma", "b_simple"):
        low, high = getattr(est, f"{name}_ci")
        assert low <= getattr(exact, name) <= high, name
        assert low <= getattr(est, name) <= high, name
    assert est.b_simple == pytest.approx(est.trace_sigma / est.grad_norm_sq)
    assert (est.small, est.large, est.draws, est.confidence) == (4, 64, 400, 0.99)
    assert est.small_norm_sq.shape == est.large_norm_sq.shape == (400,)
    assert est.loss == pytest.approx(exact.loss, rel=0.1)


def test_intervals_cover_the_truth_at_about_their_confidence():
    model, X, y = _regression(n=256)
    exact = exact_noise_scale(model, "mse", (X, y))
    runs = [noise_scale(model, "mse", (X, y), 2, 32, 40, confidence=0.9, seed=s) for s in range(40)]
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


def test_more_draws_narrow_the_interval():
    model, X, y = _regression()
    few = noise_scale(model, "mse", (X, y), 4, 64, 20, seed=0)
    many = noise_scale(model, "mse", (X, y), 4, 64, 500, seed=0)
    width = lambda r: r.trace_sigma_ci[1] - r.trace_sigma_ci[0]  # noqa: E731
    assert width(many) < 0.5 * width(few)


class _TwoInputs(nn.Module):
    """A non-sequential module of two inputs: any nn.Module is allowed."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(5, 8), nn.Linear(3, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, u, v):
        return self.head(torch.tanh(self.a(u) + self.b(v)))


def _classification(n=96, seed=0):
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    u, v = torch.randn(n, 5, generator=gen), torch.randn(n, 3, generator=gen)
    labels = torch.randint(3, (n,), generator=gen)
    return _TwoInputs(), (u, v, labels)


def test_exact_noise_scale_of_a_network_matches_a_loop_over_examples():
    model, data = _classification()
    u, v, labels = data
    grads = []
    for i in range(labels.shape[0]):
        model.zero_grad()
        nn.functional.cross_entropy(model(u[i : i + 1], v[i : i + 1]), labels[i : i + 1]).backward()
        grads.append(torch.cat([p.grad.flatten().double() for p in model.parameters()]))
    model.zero_grad(set_to_none=True)
    per_example = torch.stack(grads)
    G = per_example.mean(dim=0)
    trace = float(((per_example - G) ** 2).sum(dim=1).mean())
    exact = exact_noise_scale(model, "cross_entropy", data, chunk=25)
    assert exact.grad_norm_sq == pytest.approx(float(G @ G), rel=1e-4)
    assert exact.trace_sigma == pytest.approx(trace, rel=1e-4)


def test_noise_scale_of_a_network_covers_its_exact_value():
    model, data = _classification()
    exact = exact_noise_scale(model, nn.functional.cross_entropy, data)
    est = noise_scale(model, nn.functional.cross_entropy, data, 4, 48, 300, seed=5)
    for name in ("grad_norm_sq", "trace_sigma", "b_simple"):
        low, high = getattr(est, f"{name}_ci")
        assert low <= getattr(exact, name) <= high, name


def test_noise_scale_leaves_the_model_untouched():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    X, y = torch.randn(64, 4), torch.randint(2, (64,))
    before = {k: t.clone() for k, t in model.state_dict().items()}
    noise_scale(model, "cross_entropy", (X, y), 2, 16, 5, device="cpu")
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in model.parameters())


def test_same_seed_same_estimate_and_dataset_form_does_not_matter():
    model, X, y = _regression(n=128)
    first = noise_scale(model, "mse", (X, y), 2, 16, 10, seed=7)
    again = noise_scale(model, "mse", torch.utils.data.TensorDataset(X, y), 2, 16, 10, seed=7)
    other = noise_scale(model, "mse", (X, y), 2, 16, 10, seed=8)
    np.testing.assert_array_equal(first.small_norm_sq, again.small_norm_sq)
    assert first.b_simple == again.b_simple != other.b_simple


def test_from_norms_known_values_and_degenerate_gradient():
    r = noise_scale_from_norms([3.0, 3.2], [1.2, 1.2], 1, 10)
    # per draw: |G|^2 = (10*1.2 - 3.0)/9 = 1 and (12 - 3.2)/9; tr Sigma = (3.0 - 1.2)/0.9 = 2 ...
    assert r.grad_norm_sq_draws == pytest.approx([1.0, 8.8 / 9])
    assert r.trace_sigma_draws == pytest.approx([2.0, 2.0 / 0.9])
    assert r.grad_norm_sq == pytest.approx((1.0 + 8.8 / 9) / 2)
    # equal norms at both sizes: no noise at all, and B_simple = 0 exactly
    quiet = noise_scale_from_norms([2.0, 2.0, 2.0], [2.0, 2.0, 2.0], 1, 4)
    assert quiet.trace_sigma == 0 and quiet.b_simple == 0 and quiet.b_simple_ci == (0.0, 0.0)
    # a gradient not resolved from zero: B_simple unbounded above
    lost = noise_scale_from_norms([5.0, 4.0, 6.0], [0.5, 0.3, 0.6], 1, 10)
    assert lost.grad_norm_sq_ci[0] < 0 and lost.b_simple_ci == (0.0, math.inf)


def test_noise_scale_along_records_every_n_steps_while_training():
    model, X, y = _regression(n=256)
    loss_at_start = exact_noise_scale(model, "mse", (X, y)).loss
    opt = torch.optim.SGD(model.parameters(), lr=0.02)
    trace = noise_scale_along(
        model, "mse", (X, y), optimizer=opt, batch_size=16, steps=100, every=25,
        small=2, large=32, draws=30,
    )  # fmt: skip
    assert trace.steps.tolist() == [0, 25, 50, 75, 100]
    assert len(trace.estimates) == 5 and trace.b_simple.shape == (5,)
    exact = exact_noise_scale(model, "mse", (X, y))
    assert exact.loss < 0.8 * loss_at_start  # the model was trained in place
    assert trace.grad_norm_sq[-1] < trace.grad_norm_sq[0]  # towards a minimum, |G|^2 falls
    frame = trace.to_frame()
    assert list(frame["step"]) == [0, 25, 50, 75, 100]
    assert {"b_simple_low", "b_simple_high", "trace_sigma", "loss"} <= set(frame.columns)


def test_recorder_in_a_custom_loop_is_deterministic():
    model, X, y = _regression(n=128)
    traces = []
    for _ in range(2):
        record = NoiseScaleRecorder("mse", (X, y), 2, 16, 8, every=3, seed=1)
        results = [record(k, model) for k in range(7)]
        assert [r is None for r in results] == [False, True, True, False, True, True, False]
        traces.append(record.trace)
    assert traces[0].steps.tolist() == [0, 3, 6]
    np.testing.assert_array_equal(traces[0].b_simple, traces[1].b_simple)


def _bad(**change):
    model, X, y = _regression(n=32)
    args = dict(model=model, loss_fn="mse", data=(X, y), small=2, large=8, draws=3) | change
    return args


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (dict(small=8), ValueError, "small=8 must be smaller than large=8"),
        (dict(small=9), ValueError, "small=9 must be smaller than large=8"),
        (dict(small=0), ValueError, "small=0 must be >= 1"),
        (dict(draws=1), ValueError, "draws=1 must be >= 2"),
        (dict(draws=2.5), TypeError, "draws=2.5 must be an integer"),
        (dict(large=True), TypeError, "large=True must be an integer"),
        (dict(model="net"), TypeError, "model=str must be a torch.nn.Module"),
        (dict(loss_fn="hinge"), ValueError, "loss_fn='hinge' is not a known loss"),
        (dict(loss_fn=3), TypeError, "loss_fn=3 must be callable"),
        (dict(data=torch.zeros(4, 2)), TypeError, "data=Tensor must be a TensorDataset"),
        (dict(data=(torch.zeros(4, 6), torch.zeros(5, 1))), ValueError, "share one non-zero"),
        (dict(data=(torch.zeros(0, 6), torch.zeros(0, 1))), ValueError, "share one non-zero"),
        (dict(data=(torch.zeros(4, 6), [1, 2, 3, 4])), TypeError, r"data\[1\]=list"),
        (dict(loss_fn=lambda out, t: (out - t) ** 2), ValueError, "must return the scalar mean"),
        (dict(device="warp-drive"), ValueError, "device='warp-drive' is not a torch device"),
        (dict(device=3.0), TypeError, "device=3.0 must be None"),
        (dict(confidence=1.0), ValueError, r"confidence=1.0 is outside the allowed range \(0, 1\)"),
        (dict(seed=-1), ValueError, "seed=-1 must be an integer >= 0"),
    ],
)
def test_noise_scale_rejects_bad_inputs(change, error, match):
    args = _bad(**change)
    with pytest.raises(error, match=match):
        noise_scale(**args)


def test_noise_scale_rejects_a_model_without_trainable_parameters():
    args = _bad()
    args["model"].requires_grad_(False)
    with pytest.raises(ValueError, match="no parameter with requires_grad=True"):
        noise_scale(**args)


def test_from_norms_rejects_bad_arrays():
    with pytest.raises(ValueError, match="1-d of one length"):
        noise_scale_from_norms([1.0, 2.0], [1.0], 1, 2)
    with pytest.raises(ValueError, match="must be finite"):
        noise_scale_from_norms([1.0, float("inf")], [1.0, 1.0], 1, 2)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (dict(optimizer="sgd"), TypeError, "optimizer='sgd' must be a torch.optim.Optimizer"),
        (dict(batch_size=0), ValueError, "batch_size=0 must be an integer >= 1"),
        (dict(every=0), ValueError, "every=0 must be an integer >= 1"),
        (dict(steps=-3), ValueError, "steps=-3 must be an integer >= 1"),
    ],
)
def test_noise_scale_along_rejects_bad_inputs(change, error, match):
    model, X, y = _regression(n=32)
    args = dict(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.01), batch_size=4, steps=4, every=2,
        small=2, large=8, draws=3,
    ) | change  # fmt: skip
    with pytest.raises(error, match=match):
        noise_scale_along(model, "mse", (X, y), **args)


def _tanh_net():
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


def _relu_net():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


@pytest.mark.parametrize("factory", [_relu_net, _tanh_net], ids=["stacked-mlp", "torch-func"])
def test_engine_recorder_measures_the_replica_of_a_custom_workload(factory):
    from batchsteps.analysis.noise import EngineNoiseRecorder
    from batchsteps.train import Workload, measure_steps

    gen = torch.Generator().manual_seed(0)
    X, y = torch.randn(64, 4, generator=gen), torch.randint(3, (64,), generator=gen)
    wl = Workload("custom", X, y, factory, "cross_entropy")
    rec = EngineNoiseRecorder(wl, 2, 16, 6, every=5, replica_seed=1)
    measure_steps(
        wl, "sgd", 8, lr=0.1, seeds=[0, 1], target=None, max_steps=20, record=rec,
        record_every=rec.every,
    )  # fmt: skip
    assert rec.trace.steps.tolist() == [0, 5, 10, 15, 20]
    # at step 0 the replica is the workload's model built after torch.manual_seed(1)
    torch.manual_seed(1)
    start = factory()
    alone = NoiseScaleRecorder("cross_entropy", (X, y), 2, 16, 6, every=5)(0, start)
    first = rec.trace.estimates[0]
    np.testing.assert_allclose(first.small_norm_sq, alone.small_norm_sq, rtol=1e-5)
    np.testing.assert_allclose(first.large_norm_sq, alone.large_norm_sq, rtol=1e-5)
    # and the replica moved: later estimates differ from the start
    assert rec.trace.loss[-1] != pytest.approx(rec.trace.loss[0])


def test_engine_recorder_rejects_the_noisy_quadratic():
    from batchsteps.analysis.noise import EngineNoiseRecorder
    from batchsteps.train import workload

    with pytest.raises(ValueError, match="workload='nqm' must be a data workload"):
        EngineNoiseRecorder(workload("nqm"), 2, 16, 6, every=5)
