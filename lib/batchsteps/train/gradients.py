r"""Gradients of any ``nn.Module`` at its current parameters, behind the noise scale.

With :math:`G = \nabla f(\theta)` the full-data gradient and :math:`\Sigma` the covariance of a
one-sample gradient, a batch of b samples drawn uniformly with replacement has
:math:`\mathbb E\|g_b\|^2 = \|G\|^2 + \operatorname{tr}\Sigma / b`.
:func:`two_batch_norms` measures :math:`\|g_s\|^2` and :math:`\|g_l\|^2` for independent pairs
of batches of sizes :math:`b_s < b_l` (what
:func:`batchsteps.analysis.noise_scale_from_norms` turns into estimates);
:func:`exact_noise_scale` computes :math:`\|G\|^2` and :math:`\operatorname{tr}\Sigma` exactly
from every per-example gradient. The model is never modified.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad_and_value, vmap

from .. import validation

__all__ = [
    "LOSSES",
    "TwoBatchNorms",
    "two_batch_norms",
    "ExactNoiseScale",
    "exact_noise_scale",
    "check_pair",
]

LOSSES = ("cross_entropy", "mse")
"""Loss names accepted for ``loss_fn`` (the engine's: mean cross-entropy, mean squared error)."""


def _loss_function(loss_fn: object) -> Callable[..., torch.Tensor]:
    """``loss_fn`` as a callable ``(output, target) -> mean loss``: a name of :data:`LOSSES`
    or a callable, passed through."""
    if isinstance(loss_fn, str):
        name = validation.one_of("loss_fn", loss_fn, LOSSES, "a loss name")
        return F.cross_entropy if name == "cross_entropy" else F.mse_loss
    if not callable(loss_fn):
        raise validation.type_error(
            "loss_fn", loss_fn, f"a callable(output, target) or one of {', '.join(LOSSES)}"
        )
    return loss_fn


def check_pair(small: object, large: object, draws: object) -> tuple[int, int, int]:
    """Validate two batch sizes ``1 <= small < large`` and ``draws >= 2`` pairs of batches."""
    small = validation.integer("small", small, low=1)
    large = validation.integer("large", large, low=1)
    if large <= small:
        raise validation.value_error("small", small, f"an integer < large ({large})")
    return small, large, validation.integer("draws", draws, low=2)


def _tensors(data: object) -> tuple[torch.Tensor, ...]:
    tensors = getattr(data, "tensors", data)  # a TensorDataset holds its tensors there
    if not isinstance(tensors, list | tuple) or len(tensors) < 2:
        raise validation.type_error(
            "data", data, "a TensorDataset or a tuple (inputs..., targets) of at least two tensors"
        )
    for i, t in enumerate(tensors):
        if not isinstance(t, torch.Tensor) or t.dim() == 0:
            raise validation.type_error(f"data[{i}]", t, "a tensor with a first dimension")
    lengths = {int(t.shape[0]) for t in tensors}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"data tensors must share one non-zero first dimension, got {lengths}")
    return tuple(tensors)


def _module(model: object) -> nn.Module:
    validation.instance("model", model, nn.Module, "a torch.nn.Module")
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("model has no parameter with requires_grad=True: no gradient to measure")
    return model


def _device(device: object, model: nn.Module) -> torch.device:
    if device is None:
        return next(p for p in model.parameters() if p.requires_grad).device
    if not isinstance(device, str | torch.device):
        raise validation.type_error("device", device, "None, a str or a torch.device")
    try:
        return torch.device(device)
    except RuntimeError as error:
        raise validation.value_error("device", device, f"a torch device ({error})") from None


class _Gradients:
    """Gradients of the mean loss over rows of the data, without side effects.

    The model runs through ``torch.func.functional_call`` on detached copies of its parameters
    and buffers on ``device``: its own tensors, ``.grad`` fields and running statistics are
    never touched.
    """

    def __init__(self, model: object, loss_fn: object, data: object, device: object) -> None:
        self.model = _module(model)
        self.loss_fn = _loss_function(loss_fn)
        self.device = _device(device, self.model)
        self.tensors = tuple(t.to(self.device) for t in _tensors(data))
        self.n = int(self.tensors[0].shape[0])
        named = dict(self.model.named_parameters())
        self.params = {
            k: p.detach().to(self.device).requires_grad_()
            for k, p in named.items()
            if p.requires_grad
        }
        self.fixed = {
            k: p.detach().to(self.device) for k, p in named.items() if not p.requires_grad
        }
        self.fixed |= {k: b.detach().to(self.device).clone() for k, b in self.model.named_buffers()}

    def loss(self, params: dict[str, torch.Tensor], rows: Sequence[torch.Tensor]) -> torch.Tensor:
        out = functional_call(self.model, {**params, **self.fixed}, tuple(rows[:-1]))
        value = self.loss_fn(out, rows[-1])
        if value.dim() != 0:
            raise ValueError(
                f"loss_fn returned shape {tuple(value.shape)}; it must return the scalar mean loss"
            )
        return value

    def norm_sq(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(|g|^2, loss)`` for the mean loss over rows ``index``, as float64 0-d tensors."""
        value = self.loss(self.params, [t[index] for t in self.tensors])
        grads = torch.autograd.grad(value, list(self.params.values()), allow_unused=True)
        total = sum(g.double().square().sum() for g in grads if g is not None)
        return torch.as_tensor(total, dtype=torch.float64), value.detach().double()


@dataclass(frozen=True)
class TwoBatchNorms:
    r"""Squared gradient norms of ``draws`` independent pairs of batches at one point.

    ``small_norm_sq[d]`` is :math:`\|g_s\|^2` of a batch of ``small`` rows and
    ``large_norm_sq[d]`` :math:`\|g_l\|^2` of a batch of ``large`` rows, both drawn uniformly
    with replacement; ``loss`` is the mean loss of the large batches (an unbiased estimate of
    the training loss).
    """

    small: int
    large: int
    loss: float
    small_norm_sq: np.ndarray = field(repr=False)
    large_norm_sq: np.ndarray = field(repr=False)

    @property
    def draws(self) -> int:
        """The number of pairs."""
        return int(self.small_norm_sq.size)


def two_batch_norms(
    model: nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | str,
    data: Any,
    small: int,
    large: int,
    draws: int,
    device: str | torch.device | None = None,
    *,
    seed: int = 0,
) -> TwoBatchNorms:
    r""":math:`\|g_s\|^2` and :math:`\|g_l\|^2` of ``model`` at its current parameters for
    ``draws`` pairs of batches of sizes ``small`` < ``large``.

    ``loss_fn(model(*inputs), targets)`` must return the mean loss of a batch (or be
    ``"cross_entropy"`` or ``"mse"``, the engine's losses); ``data`` is a tuple
    ``(inputs..., targets)`` of tensors sharing their first dimension, or a ``TensorDataset``.
    Batches are drawn uniformly with replacement (so :math:`\mathbb E\|g_b\|^2 = \|G\|^2 +
    \operatorname{tr}\Sigma/b` holds exactly), each draw independently, from a generator
    seeded with ``seed``. ``device``: where to compute (default: the model's). The model runs
    in the mode it is in (``train()`` or ``eval()``) and is left untouched.
    """
    small, large, draws = check_pair(small, large, draws)
    seed = validation.integer("seed", seed, low=0)
    grads = _Gradients(model, loss_fn, data, device)
    gen = torch.Generator().manual_seed(seed)
    norms, losses = [], []
    with torch.enable_grad():  # also when called from inside a no_grad training loop
        for _ in range(draws):
            for size in (small, large):
                index = torch.randint(grads.n, (size,), generator=gen).to(grads.device)
                norm, value = grads.norm_sq(index)
                norms.append(norm)
                losses.append(value)
    measured = torch.stack(norms).cpu().numpy().reshape(draws, 2)
    loss = float(torch.stack(losses).cpu().numpy().reshape(draws, 2)[:, 1].mean())
    return TwoBatchNorms(small, large, loss, measured[:, 0].copy(), measured[:, 1].copy())


@dataclass(frozen=True)
class ExactNoiseScale:
    r"""The exact :math:`\|G\|^2`, :math:`\operatorname{tr}\Sigma = \frac1n\sum_i\|g_i - G\|^2`
    and their ratio over a finite training set of ``n`` rows, from per-example gradients."""

    grad_norm_sq: float
    trace_sigma: float
    b_simple: float
    loss: float
    n: int


def exact_noise_scale(
    model: nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | str,
    data: Any,
    device: str | torch.device | None = None,
    *,
    chunk: int = 256,
) -> ExactNoiseScale:
    r"""The truth the two-batch estimator aims at, from every per-example gradient :math:`g_i`.

    :math:`G = \frac1n\sum_i g_i` and :math:`\operatorname{tr}\Sigma = \frac1n\sum_i\|g_i\|^2 -
    \|G\|^2` (the one-sample covariance of sampling with replacement), computed with
    ``torch.func.vmap`` over ``chunk`` rows at a time, accumulated in float64. Needs a model
    that ``vmap`` supports (no batch norm in training mode, no dropout).
    """
    chunk = validation.integer("chunk", chunk, low=1)
    grads = _Gradients(model, loss_fn, data, device)
    params = {k: p.detach() for k, p in grads.params.items()}

    def one(p, rows):
        return grads.loss(p, [r.unsqueeze(0) for r in rows])

    per_example = vmap(grad_and_value(one), in_dims=(None, 0))
    total = {k: torch.zeros_like(p, dtype=torch.float64) for k, p in params.items()}
    square = torch.zeros((), dtype=torch.float64, device=grads.device)
    loss_sum = torch.zeros((), dtype=torch.float64, device=grads.device)
    for start in range(0, grads.n, int(chunk)):
        rows = tuple(t[start : start + int(chunk)] for t in grads.tensors)
        g, values = per_example(params, rows)
        for k, gk in g.items():
            gk = gk.double()
            total[k] += gk.sum(dim=0)
            square += gk.square().sum()
        loss_sum += values.double().sum()
    mean_sq = sum(float((t / grads.n).square().sum()) for t in total.values())
    trace = float(square) / grads.n - mean_sq
    ratio = trace / mean_sq if mean_sq > 0 else math.inf
    return ExactNoiseScale(mean_sq, trace, ratio, float(loss_sum) / grads.n, grads.n)
