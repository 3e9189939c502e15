r"""Measurements that train (or take gradients) with :mod:`batchsteps.train` and estimate with
:mod:`batchsteps.analysis`: the gradient noise scale of a model, now and along an engine run,
and the constants of the Adam-type bound along an AMSGrad run.

Every run here is the engine's (:func:`batchsteps.train.measure_steps`) with a recorder of
:mod:`batchsteps.train.recorders`; the estimates are computed from what it recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import validation
from ..analysis import (
    AdaptiveRun,
    NoiseScale,
    NoiseScaleTrace,
    adaptive_run,
    noise_scale_from_norms,
)
from ..analysis.adaptive_constants import REFERENCES
from ..train import (
    AdaptiveRecorder,
    NoiseRecorder,
    TwoBatchNorms,
    Workload,
    flat_params,
    measure_steps,
    two_batch_norms,
)
from ..train import workload as make_workload

__all__ = ["noise_scale", "noise_scale_during", "full_batch_reference", "measure_adaptive_run"]


def _estimate(norms: TwoBatchNorms, confidence: float = 0.95) -> NoiseScale:
    return noise_scale_from_norms(
        norms.small_norm_sq, norms.large_norm_sq, norms.small, norms.large,
        confidence=confidence, loss=norms.loss,
    )  # fmt: skip


def noise_scale(
    model: nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | str,
    data: Any,
    small: int,
    large: int,
    draws: int,
    device: str | torch.device | None = None,
    *,
    confidence: float = 0.95,
    seed: int = 0,
) -> NoiseScale:
    r"""Estimate :math:`\|G\|^2`, :math:`\operatorname{tr}\Sigma` and
    :math:`B_{\text{simple}} = \operatorname{tr}\Sigma/\|G\|^2` of ``model`` at its current
    parameters from ``draws`` pairs of batches of sizes ``small`` < ``large``.

    The squared norms are :func:`batchsteps.train.two_batch_norms` (see it for ``loss_fn``,
    ``data``, ``device`` and ``seed``; the model is left untouched), the estimates and their
    ``confidence`` intervals :func:`batchsteps.analysis.noise_scale_from_norms`. Returns a
    :class:`~batchsteps.analysis.NoiseScale`.
    """
    norms = two_batch_norms(model, loss_fn, data, small, large, draws, device, seed=seed)
    return _estimate(norms, confidence)


def noise_scale_during(
    workload: str | Workload,
    optimizer: str,
    batch_size: int,
    *,
    lr: float,
    steps: int,
    every: int,
    small: int,
    large: int,
    draws: int,
    seed: int = 0,
    device: str | None = None,
    **hyper: float,
) -> NoiseScaleTrace:
    r"""Train one replica of ``workload`` with the engine for ``steps`` steps and estimate
    :math:`B_{\text{simple}} = \operatorname{tr}\Sigma/\|G\|^2` every ``every`` steps
    (``small`` < ``large`` batch sizes, ``draws`` >= 2 pairs each time), by a
    :class:`~batchsteps.train.NoiseRecorder`.

    The replica is the one the engine trains with seed ``seed``, so the trace belongs to a run
    of the sweep that follows. ``device`` and ``hyper`` (the optimizer's hyperparameters) go to
    :func:`~batchsteps.train.measure_steps`. Returns a
    :class:`~batchsteps.analysis.NoiseScaleTrace`. ``steps`` >= 1 and ``seed`` >= 0 are
    integers.
    """
    steps = validation.integer("steps", steps, low=1)
    seed = validation.integer("seed", seed, low=0)
    wl = make_workload(workload)
    recorder = NoiseRecorder(wl, small, large, draws, every, replica_seed=seed, seed=seed)
    measure_steps(
        wl, optimizer, batch_size, lr=lr, seeds=[seed], target=None, max_steps=steps,
        device=device, record=recorder, record_every=recorder.every, **hyper,
    )  # fmt: skip
    estimates = tuple(_estimate(norms) for norms in recorder.norms)
    return NoiseScaleTrace(np.array(recorder.steps, dtype=int), estimates)


def full_batch_reference(
    workload: str | Workload,
    *,
    seed: int = 0,
    steps: int = 500,
    lr: float = 1e-2,
    device: str | None = None,
) -> np.ndarray:
    r"""A comparison point fixed before any stochastic run: the flat parameters after ``steps``
    steps of full-batch Adam (the engine with ``batch_size=None``) from the initialisation of
    seed ``seed``.

    Deterministic (no sampling), so it is independent of the batches of the runs it is used
    for, as the theorem requires of :math:`\theta`. The order of the parameters is
    :func:`batchsteps.train.flat_params`'s, as :func:`measure_adaptive_run` records them.
    ``steps`` >= 1 and ``seed`` >= 0 are integers.
    """
    steps = validation.integer("steps", steps, low=1)
    seed = validation.integer("seed", seed, low=0)
    final: list[np.ndarray] = []

    def keep(snapshot: Any) -> None:
        if snapshot.step == steps:
            final.append(flat_params(snapshot.params)[0].double().cpu().numpy())

    measure_steps(
        make_workload(workload), "adam", None, lr=lr, seeds=[seed], target=None, max_steps=steps,
        device=device, record=keep, record_every=steps,
    )  # fmt: skip
    return final[0]


def measure_adaptive_run(
    workload: str | Workload,
    *,
    batch_size: int,
    steps: int,
    lr: float = 1e-3,
    betas: Sequence[float] = (0.9, 0.999),
    eps: float = 1e-8,
    seed: int = 0,
    reference: str | np.ndarray = "final",
    variance_every: int = 10,
    amsgrad: bool = True,
    device: str | None = None,
) -> AdaptiveRun:
    r"""Train one replica of ``workload`` (seed ``seed``) with AMSGrad for ``steps`` steps on
    the engine and measure the constants of (A2)-(A3) and :math:`V_K(\theta)`.

    Mini-batches of ``batch_size`` are drawn uniformly with replacement (as (A2) assumes); an
    :class:`~batchsteps.train.AdaptiveRecorder` reads :math:`m_k` and :math:`\hat v_k` after
    every step, the full-batch gradient :math:`\nabla f(\theta_k)` at every iterate and the
    one-sample gradient variance every ``variance_every`` steps;
    :func:`batchsteps.analysis.adaptive_run` computes the constants. ``reference``:
    ``"final"``, ``"initial"`` or a flat point, a 1-d array of finite real numbers
    (:func:`full_batch_reference`). ``steps`` >= 1 and ``seed`` >= 0 are integers.
    ``amsgrad=False`` runs plain Adam instead (:math:`\hat v_k` replaced by :math:`v_k` in
    :math:`h_k`), for which the bound's monotone assumption is only an assumption.
    """
    steps = validation.integer("steps", steps, low=1)
    seed = validation.integer("seed", seed, low=0)
    if not isinstance(betas, Sequence) or isinstance(betas, str) or len(betas) != 2:
        raise validation.type_error("betas", betas, "a pair (beta1, beta2)")
    amsgrad = validation.boolean("amsgrad", amsgrad)
    allowed = f"one of {', '.join(map(repr, REFERENCES))} or a flat point (a 1-d array)"
    if isinstance(reference, str):
        if reference not in REFERENCES:
            raise validation.value_error("reference", reference, allowed)
    elif reference is None:
        raise validation.type_error("reference", reference, allowed)
    else:
        validation.real_array("reference", reference, ndim=1)
    wl = make_workload(workload)
    recorder = AdaptiveRecorder(wl, variance_every=variance_every)
    result = measure_steps(
        wl, "amsgrad" if amsgrad else "adam", batch_size, lr=lr, seeds=[seed], target=None,
        max_steps=steps, device=device, record=recorder, beta1=betas[0], beta2=betas[1],
        eps=eps,
    )  # fmt: skip
    run = recorder.arrays(seed)
    before_last = run["variance_steps"] < steps
    return adaptive_run(
        theta=run["theta"],
        full_grad=run["full_grad"][:-1],
        grad=run["grad"],
        momentum=run["momentum"],
        precond=run["precond"],
        sigma_sq=float(run["variance"][before_last].max()),
        loss_initial=float(run["loss"][0]),
        loss_final=float(run["loss"][-1]),
        reference=reference,
        batch_size=batch_size,
        alpha=result.lr,
        beta1=result.hyper["beta1"],
        beta2=result.hyper["beta2"],
        delta=result.hyper["eps"],
        seed=seed,
        amsgrad=amsgrad,
    )
