"""The batched optimizers: torch.optim step for step, AdaBelief from its paper's equations."""

import math

import pytest
import torch

from batchsteps.train import DEFAULTS, OPTIMIZERS, BatchedOptimizer, optimizer
from batchsteps.train.reference import torch_optimizer

SHAPES = [(4, 3), (1, 3), (5,)]
REPLICAS = 3


def _gradient_sequence(steps, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [
        [torch.randn((REPLICAS, *s), generator=gen, dtype=torch.float64) for s in SHAPES]
        for _ in range(steps)
    ]


@pytest.mark.parametrize("name", [n for n, s in OPTIMIZERS.items() if s.torch_factory is not None])
@pytest.mark.parametrize("hyper", [{}, "custom"])
def test_batched_update_equals_torch_optim_step_for_step(name, hyper):
    if hyper == "custom":
        hyper = {
            k: {"beta": 0.7, "beta1": 0.8, "beta2": 0.95, "eps": 1e-3}[k] for k in DEFAULTS[name]
        }
    lr = 0.03
    gen = torch.Generator().manual_seed(1)
    start = [torch.randn((REPLICAS, *s), generator=gen, dtype=torch.float64) for s in SHAPES]
    ours = optimizer(name, lr, **hyper)
    params = [p.clone() for p in start]
    state = ours.init_state(params)
    # one torch.optim optimizer per replica, on plain tensors of that replica
    replicas = [[p[r].clone().requires_grad_(True) for p in start] for r in range(REPLICAS)]
    theirs = [torch_optimizer(name, ps, lr, **hyper) for ps in replicas]
    for k, grads in enumerate(_gradient_sequence(100), start=1):
        ours.step(params, grads, state, k)
        for r in range(REPLICAS):
            for p, g in zip(replicas[r], grads, strict=True):
                p.grad = g[r].clone()
            theirs[r].step()
            for p_ours, p_theirs in zip(params, replicas[r], strict=True):
                torch.testing.assert_close(p_ours[r], p_theirs.detach(), atol=1e-6, rtol=1e-6)


def _adabelief_reference(theta, grads, lr, beta1, beta2, eps):
    """Zhuang et al. (2020), Algorithm 2, one scalar at a time."""
    m = s = 0.0
    out = []
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        s = beta2 * s + (1 - beta2) * (g - m) ** 2 + eps
        m_hat = m / (1 - beta1**t)
        s_hat = s / (1 - beta2**t)
        theta = theta - lr * m_hat / (math.sqrt(s_hat) + eps)
        out.append(theta)
    return out


def test_adabelief_follows_the_paper_algorithm_scalar_by_scalar():
    grads = _gradient_sequence(20, seed=3)
    ours = optimizer("adabelief", 0.01, eps=1e-6)
    params = [torch.zeros((REPLICAS, *s), dtype=torch.float64) for s in SHAPES]
    state = ours.init_state(params)
    history = []
    for k, g in enumerate(grads, start=1):
        ours.step(params, g, state, k)
        history.append(params[0][1, 2, 0].item())
    expected = _adabelief_reference(
        0.0, [g[0][1, 2, 0].item() for g in grads], 0.01, 0.9, 0.999, 1e-6
    )
    assert history == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_adabelief_first_step_is_lr_over_beta1_in_sign_direction_for_large_gradients():
    # m1 = (1 - b1) g, s1 = (1 - b2) (b1 g)^2 + eps: the corrected step is lr * g / sqrt(b1^2 g^2)
    ours = optimizer("adabelief", 0.1, eps=1e-12)
    params = [torch.zeros(2, 3, dtype=torch.float64)]
    grad = [torch.tensor([[5.0, -3.0, 100.0], [-0.5, 2.0, 7.0]], dtype=torch.float64)]
    ours.step(params, grad, ours.init_state(params), 1)
    torch.testing.assert_close(params[0], -0.1 / 0.9 * torch.sign(grad[0]))


def test_adabelief_steps_grow_when_gradients_agree_with_their_mean():
    # a constant gradient: the belief (g - m)^2 shrinks, so steps exceed Adam's
    g = [torch.full((1, 1), 0.3, dtype=torch.float64)]
    moves = {}
    for name in ("adam", "adabelief"):
        opt = optimizer(name, 0.01)
        p = [torch.zeros(1, 1, dtype=torch.float64)]
        st = opt.init_state(p)
        for k in range(1, 51):
            opt.step(p, g, st, k)
        moves[name] = -p[0].item()
    assert moves["adabelief"] > 2 * moves["adam"]


def test_defaults_are_the_documented_ones():
    assert DEFAULTS["momentum"] == {"beta": 0.9}
    assert DEFAULTS["adam"] == {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    assert optimizer("rmsprop", 0.1).hyper == {"beta2": 0.999, "eps": 1e-8}
    assert tuple(OPTIMIZERS) == (
        "sgd",
        "momentum",
        "nesterov",
        "adam",
        "amsgrad",
        "rmsprop",
        "adabelief",
    )


@pytest.mark.parametrize(
    ("call", "error", "names"),
    [
        (lambda: optimizer("adamw", 0.1), ValueError, "adamw"),
        (lambda: optimizer("adam", 0.1, beta=0.9), TypeError, "beta"),
        (lambda: optimizer("sgd", 0.1, momentum=0.9), TypeError, "momentum"),
        (lambda: optimizer("momentum", 0.1, beta=1.0), ValueError, "beta"),
        (lambda: optimizer("adam", 0.1, eps=0.0), ValueError, "eps"),
        (lambda: optimizer("adam", -0.1), ValueError, "lr"),
        (lambda: optimizer("adam", float("nan")), ValueError, "lr"),
        (lambda: optimizer(3, 0.1), TypeError, "name must be one of .*got 3"),
        (lambda: torch_optimizer("adabelief", [], 0.1), ValueError, "torch.optim"),
    ],
)
def test_bad_optimizer_arguments_name_the_culprit(call, error, names):
    with pytest.raises(error, match=names):
        call()


@pytest.mark.parametrize(
    ("args", "error", "pattern"),
    [
        (("sgd", -1.0), ValueError, r"lr must be a finite real number > 0, got -1\.0"),
        (("sgd", float("nan")), ValueError, "lr must be .*got nan"),
        (("sgd", "0.1"), TypeError, "lr must be .*got '0.1'"),
        (("sgd", True), TypeError, "lr must be"),
        (("lion", 0.1), ValueError, r"name must be one of .*got 'lion'"),
        ((None, 0.1), TypeError, "name must be one of .*got None"),
        (("momentum", 0.1, {"beta": 2.0}), ValueError, r"beta must be .*\[0, 1\), got 2\.0"),
        (("sgd", 0.1, {"beta": 0.5}), TypeError, "unexpected keyword 'beta'"),
        (("sgd", 0.1, [("beta", 0.5)]), TypeError, "hyper must be a mapping"),
    ],
)
def test_a_batched_optimizer_made_directly_is_checked_as_optimizer_checks(args, error, pattern):
    with pytest.raises(error, match=pattern):
        BatchedOptimizer(*args)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: BatchedOptimizer(None, 0.1), TypeError),
        (lambda: BatchedOptimizer(name="lion", lr=0.1), ValueError),
        (lambda: optimizer(None, 0.1), TypeError),
        (lambda: optimizer(name="lion", lr=0.1), ValueError),
        (lambda: torch_optimizer("lion", [], 0.1), ValueError),
        (lambda: torch_optimizer("adabelief", [], 0.1), ValueError),
    ],
)
def test_a_bad_optimizer_name_is_reported_under_the_parameter_s_own_name(call, error):
    # each of these takes the optimizer as its parameter `name`; the message starts with it
    with pytest.raises(error, match=r"^name must "):
        call()


def test_a_batched_optimizer_made_directly_is_the_one_optimizer_makes():
    assert BatchedOptimizer("adam", 0.003) == optimizer("adam", 0.003)
    assert BatchedOptimizer("adam", 0.003).hyper == dict(DEFAULTS["adam"])
    made = BatchedOptimizer("momentum", 1, {"beta": 0.5})
    assert made == optimizer("momentum", 1, beta=0.5) and isinstance(made.lr, float)
