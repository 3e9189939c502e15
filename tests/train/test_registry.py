"""The registry of optimizers: one declaration makes an optimizer trainable, sweepable and
drawable, and leaves no trace once unregistered."""

import contextlib

import numpy as np
import pytest
import torch

import batchsteps.train as bt
from batchsteps.analysis import fit_steps
from batchsteps.theory import names as bound_names
from batchsteps.viz import OPTIMIZER_STYLES, plot_fits, style_of


def _signum_step(params, grads, state, k, lr, hyper):
    r"""Signum (Bernstein et al., 2018): :math:`m \leftarrow \beta m + (1-\beta) g`,
    :math:`\theta \leftarrow \theta - \alpha\,\mathrm{sign}(m)`; sign-SGD at :math:`\beta = 0`."""
    (m,) = state
    torch._foreach_mul_(m, hyper["beta"])
    torch._foreach_add_(m, grads, alpha=1 - hyper["beta"])
    torch._foreach_add_(params, torch._foreach_sign(m), alpha=-lr)


# The toy optimizer, declared in this one place.
SIGNUM = bt.OptimizerSpec(
    name="signum",
    label="Signum",
    step=_signum_step,
    state=("momentum",),
    hyper={"beta": bt.HyperParameter(0.0)},
    rates=bt.RateGrid(0.005, count=2),
    style=bt.PlotStyle("#882255", "*", "-"),
)

TARGET = "loss<=0.6"


@contextlib.contextmanager
def registered(declaration):
    bt.register(declaration)
    try:
        yield declaration
    finally:
        bt.unregister(declaration.name)


@pytest.fixture
def signum():
    with registered(SIGNUM) as declaration:
        yield declaration


def test_the_declaration_is_what_the_engine_steps(signum):
    opt = bt.optimizer("signum", 0.1, beta=0.5)
    assert opt.hyper == {"beta": 0.5} and opt.spec is signum
    params = [torch.zeros(2, 3)]
    state = opt.init_state(params)
    grads = [torch.tensor([[1.0, -2.0, 0.0], [3.0, -0.5, 4.0]])]
    opt.step(params, grads, state, 1)
    torch.testing.assert_close(state[0][0], 0.5 * grads[0])
    torch.testing.assert_close(params[0], -0.1 * torch.sign(grads[0]))
    assert bt.DEFAULTS["signum"] == {"beta": 0.0}
    assert "signum" in bt.OPTIMIZERS and bt.spec("signum") is signum


@pytest.mark.slow
def test_a_registered_optimizer_is_swept_on_its_own_rate_grid_and_drawn(signum):
    sizes = [4, 16, 64]
    frame = bt.sweep(
        "teacher-student", "signum", sizes, seeds=[0, 1], target=TARGET, max_steps=300,
        progress=False,
    )  # fmt: skip
    assert sorted(frame["lr"].unique()) == list(signum.rates.values)
    assert len(frame) == len(sizes) * signum.rates.count * 2
    assert (frame["beta"] == 0.0).all() and frame["reached"].all()
    assert list(frame.columns[4:8]) == list(bt.hyper_names()) == ["beta", "beta1", "beta2", "eps"]
    best = frame[frame["lr"] == signum.rates.values[-1]]
    fit = fit_steps(best, law="constant_lr")["signum"]
    assert np.isfinite(fit.min_steps)

    fig = plot_fits({"signum": fit})
    (ax,) = fig.axes
    colours = {line.get_color() for line in ax.get_lines()}
    assert signum.style.color in colours
    assert any("Signum" in text.get_text() for text in ax.get_legend().get_texts())
    assert style_of("signum").marker == "*"


def test_registered_hyperparameters_become_sweep_keywords_and_columns():
    scaled = bt.OptimizerSpec(
        name="scaled-sgd", label="scaled SGD",
        step=lambda params, grads, state, k, lr, h: torch._foreach_add_(
            params, grads, alpha=-lr * h["scale"]
        ),
        hyper={"scale": bt.HyperParameter(1.0, low=0.0, high=None, low_open=True)},
        rates=bt.RateGrid(0.05, 1), style=bt.PlotStyle("#332288", "h"),
    )  # fmt: skip
    with registered(scaled):
        assert bt.hyper_names()[-1] == "scale"
        frame = bt.sweep(
            "nqm", ["sgd", "scaled-sgd"], 8, lr=0.05, seeds=[0], target=None, max_steps=3,
            scale=[0.5, 2.0], progress=False,
        )  # fmt: skip
        assert frame[frame.optimizer == "scaled-sgd"]["scale"].tolist() == [0.5, 2.0]
        assert frame[frame.optimizer == "sgd"]["scale"].isna().all()
        with pytest.raises(ValueError, match=r"scale must be a finite real number > 0, got 0"):
            bt.optimizer("scaled-sgd", 0.1, scale=0)
    assert "scale" not in bt.hyper_names()


def test_every_built_in_declaration_is_complete():
    assert tuple(bt.OPTIMIZERS)[:7] == (
        "sgd", "momentum", "nesterov", "adam", "amsgrad", "rmsprop", "adabelief",
    )  # fmt: skip
    looks = set()
    for name, declared in bt.OPTIMIZERS.items():
        assert declared.name == name and declared.label
        assert declared.bound is None or declared.bound in bound_names()
        assert all(lr > 0 for lr in declared.rates.values)
        looks.add((declared.style.color, declared.style.marker))
        assert style_of(name).label == declared.label
    assert len(looks) == len(bt.OPTIMIZERS)
    assert bt.spec("nesterov").bound is None and bt.spec("adabelief").torch_factory is None


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (lambda: bt.spec("adamw"), ValueError, r"optimizer must be one of 'sgd', .*got 'adamw'"),
        (lambda: bt.spec(3), TypeError, r"optimizer must be one of .*got 3 \(int\)"),
        (lambda: bt.unregister("adamw"), ValueError, r"^name must be one of .*got 'adamw'"),
        (lambda: bt.register("sgd"), TypeError, r"optimizer must be an? OptimizerSpec"),
        (lambda: bt.register(bt.spec("sgd")), ValueError, "not yet registered.*'sgd'"),
        (lambda: bt.HyperParameter(1.0), ValueError, r"default must be .*\[0, 1\), got 1\.0"),
        (
            lambda: bt.HyperParameter(0.5, low=1.0, high=0.0),
            ValueError,
            r"low and high must bound a non-empty range .*got low=1\.0, high=0\.0",
        ),
        (
            lambda: bt.HyperParameter(0.5, low=0.5, high=0.5),
            ValueError,
            r"low and high must .*got low=0\.5, high=0\.5 \(in \[0\.5, 0\.5\)\)",
        ),
        (
            lambda: bt.HyperParameter(0.5, low_open="yes"),
            TypeError,
            r"low_open must be True or False, got 'yes' \(str\)",
        ),
        (
            lambda: bt.HyperParameter(0.5, high_open=1),
            TypeError,
            r"high_open must be True or False, got 1 \(int\)",
        ),
        (lambda: bt.RateGrid(0.0), ValueError, "start"),
        (lambda: bt.RateGrid(0.1, count=0), ValueError, "count"),
        (lambda: bt.PlotStyle(3, "o"), TypeError, "color"),
        (lambda: _declare(name=""), ValueError, "name"),
        (lambda: _declare(step=None), TypeError, "step must be a callable .params.*got None"),
        (lambda: _declare(hyper={"lr": bt.HyperParameter(0.5)}), ValueError, "'lr'"),
        (lambda: _declare(hyper={"beta": 0.9}), TypeError, r"hyper\['beta'\]"),
        (lambda: _declare(rates=(0.1, 0.2)), TypeError, r"rates must be an? RateGrid"),
        (lambda: _declare(torch_factory="SGD"), TypeError, "torch_factory"),
        (lambda: _declare(bound=1), TypeError, "bound"),
    ],
)
def test_bad_declarations_and_names_are_named(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def _declare(**changes):
    fields = dict(
        name="toy", label="Toy", step=_signum_step, rates=bt.RateGrid(0.1),
        style=bt.PlotStyle("#000000", "o"),
    )  # fmt: skip
    return bt.OptimizerSpec(**{**fields, **changes})


def test_nothing_registered_here_leaks():
    # after the tests above: the registry, its views and the house styles are as built
    for name in ("signum", "scaled-sgd"):
        assert name not in bt.OPTIMIZERS and name not in bt.DEFAULTS
        assert name not in OPTIMIZER_STYLES
        with pytest.raises(ValueError, match=name):
            bt.optimizer(name, 0.1)
    assert bt.hyper_names() == ("beta", "beta1", "beta2", "eps")
    with registered(SIGNUM):
        assert "signum" in OPTIMIZER_STYLES
    assert "signum" not in OPTIMIZER_STYLES and len(bt.OPTIMIZERS) == 7


def test_a_rate_grid_keeps_ten_significant_digits_at_any_scale():
    assert bt.RateGrid(1e-12, 3).values == (1e-12, 2e-12, 4e-12)  # not rounded away to 0
    assert bt.RateGrid(0.1, 3, 3.0).values == (0.1, 0.3, 0.9)  # 0.30000000000000004 rounded
