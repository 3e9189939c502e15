"""Figures of the Adam-type chapter: they render, with labelled axes, from real inputs."""

import io

import numpy as np
import pytest
import torch

from batchsteps.analysis.adaptive_constants import digits_mlp, envelope, measure_adaptive_run
from batchsteps.theory import adam, bound
from batchsteps.viz import adaptive as figures

torch.set_num_threads(1)
VALUES = dict(alpha=1e-3, sigma=1.0, G=1.0, D=1e-4, d=100.0, h_min=0.01, h_max=1.0, epsilon=5.0)


def _renders(fig) -> None:
    fig.savefig(io.BytesIO(), format="png")  # mathtext errors surface only when drawn
    for ax in fig.axes:
        assert ax.get_xlabel() and ax.get_ylabel()


def test_beta1_cost_figure_renders_and_rejects_other_sweeps():
    bnd = bound("adam")
    sweep = adam.parameter_sweep(bnd, VALUES, "beta1", np.linspace(0, 0.99, 30))
    _renders(figures.beta1_cost_figure(sweep, epsilon=5.0, largest=0.5))
    without_alpha = {k: v for k, v in VALUES.items() if k != "alpha"}
    other = adam.parameter_sweep(bnd, {**without_alpha, "beta1": 0.9}, "alpha", [1e-4, 1e-3])
    with pytest.raises(ValueError, match="beta1"):
        figures.beta1_cost_figure(other, epsilon=5.0, largest=0.5)
    with pytest.raises(TypeError, match="sweep="):
        figures.beta1_cost_figure(object(), epsilon=5.0, largest=0.5)


def test_bound_vs_measured_figure_renders_from_real_runs():
    model, X, y = digits_mlp(hidden=4)
    runs = [measure_adaptive_run(model, X, y, batch_size=b, steps=5, lr=1e-2) for b in (4, 16)]
    _renders(figures.bound_vs_measured_figure(runs, bound("amsgrad"), envelope(runs)))
    with pytest.raises(TypeError, match="runs"):
        figures.bound_vs_measured_figure([], bound("amsgrad"), {})


def test_momentum_shapes_figure_renders():
    sgd_values = dict(L=1.0, sigma=1.0, Delta=1.0, alpha=0.01, epsilon=0.1)
    sgd, mom = bound("sgd").subs(**sgd_values), bound("momentum").subs(**sgd_values, beta=0.5)
    rms = bound("rmsprop").subs(**VALUES)
    ams = bound("amsgrad").subs(**VALUES, beta1=0.5)
    curves = {
        "sgd": (sgd, sgd.critical_batch),
        "momentum": (mom, sgd.critical_batch),
        "rmsprop": (rms, rms.critical_batch),
        "amsgrad": (ams, rms.critical_batch),
    }
    grid = np.linspace(0, 0.9, 20)
    sweeps = {
        "momentum": adam.parameter_sweep(bound("momentum"), sgd_values, "beta", grid),
        "amsgrad": adam.parameter_sweep(bound("amsgrad"), VALUES, "beta1", grid),
    }
    _renders(figures.momentum_shapes_figure(curves, sweeps))
