r"""The gradient noise scale of McCandlish et al. (2018), measured on any ``nn.Module``.

With :math:`G = \nabla f(\theta)` the full-data gradient and :math:`\Sigma` the covariance of a
one-sample gradient, a batch of b samples drawn uniformly with replacement has
:math:`\mathbb E\|g_b\|^2 = \|G\|^2 + \operatorname{tr}\Sigma / b`. Two batch sizes
:math:`b_s < b_l` give unbiased estimates of both terms,

.. math:: \widehat{\|G\|^2} = \frac{b_l\|g_l\|^2 - b_s\|g_s\|^2}{b_l - b_s},\qquad
   \widehat{\operatorname{tr}\Sigma} = \frac{\|g_s\|^2 - \|g_l\|^2}{1/b_s - 1/b_l},

which are averaged over independent draws before the simple noise scale
:math:`B_{\text{simple}} = \operatorname{tr}\Sigma / \|G\|^2` is taken. torch is imported only
when a gradient is computed, so ``batchsteps.analysis`` stays light.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    import torch
    from torch import nn

LOSSES = ("cross_entropy", "mse")
"""Loss names accepted for ``loss_fn`` (the engine's: mean cross-entropy, mean squared error)."""


def _interval(value: float, spread: float) -> tuple[float, float]:
    return (float(value - spread), float(value + spread))


def _ratio_interval(
    num: float, den: float, var_num: float, var_den: float, cov: float, t: float
) -> tuple[float, float]:
    r"""Fieller's interval for :math:`\mu_n/\mu_d` from two correlated normal means, in
    :math:`[0, \infty]`: :math:`(0, \infty)` when the denominator is not resolved from zero
    (or its mean is not even positive)."""
    a = den * den - t * t * var_den
    half_b = num * den - t * t * cov
    c = num * num - t * t * var_num
    disc = half_b * half_b - a * c
    if den <= 0 or a <= 0 or disc < 0:
        return (0.0, math.inf)
    root = math.sqrt(disc)
    return (max(0.0, float((half_b - root) / a)), max(0.0, float((half_b + root) / a)))


@dataclass(frozen=True)
class NoiseScale:
    r"""Two-batch estimates of :math:`\|G\|^2`, :math:`\operatorname{tr}\Sigma` and
    :math:`B_{\text{simple}}`, each with a ``confidence`` interval over ``draws`` draws.

    ``grad_norm_sq_ci`` and ``trace_sigma_ci`` are Student-t intervals of the mean over draws;
    ``b_simple_ci`` is Fieller's interval for the ratio of the two means (clipped to
    :math:`[0, \infty]`, unbounded when :math:`\|G\|^2` is not resolved from zero).
    ``small_norm_sq``/``large_norm_sq`` are the measured :math:`\|g_s\|^2, \|g_l\|^2` per draw;
    ``loss`` is the mean loss of the large batches (an unbiased estimate of the training loss).
    """

    grad_norm_sq: float
    grad_norm_sq_ci: tuple[float, float]
    trace_sigma: float
    trace_sigma_ci: tuple[float, float]
    b_simple: float
    b_simple_ci: tuple[float, float]
    small: int
    large: int
    draws: int
    confidence: float
    loss: float = math.nan
    small_norm_sq: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    large_norm_sq: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)

    @property
    def grad_norm_sq_draws(self) -> np.ndarray:
        r"""The per-draw estimates :math:`(b_l\|g_l\|^2 - b_s\|g_s\|^2)/(b_l - b_s)`."""
        b_s, b_l = self.small, self.large
        return (b_l * self.large_norm_sq - b_s * self.small_norm_sq) / (b_l - b_s)

    @property
    def trace_sigma_draws(self) -> np.ndarray:
        r"""The per-draw estimates :math:`(\|g_s\|^2 - \|g_l\|^2)/(1/b_s - 1/b_l)`."""
        return (self.small_norm_sq - self.large_norm_sq) / (1 / self.small - 1 / self.large)


def _check_sizes(small: object, large: object, draws: object) -> tuple[int, int, int]:
    for name, value in (("small", small), ("large", large), ("draws", draws)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name}={value!r} must be an integer")
    if small < 1:
        raise ValueError(f"small={small!r} must be >= 1")
    if large <= small:
        raise ValueError(f"small={small!r} must be smaller than large={large!r}")
    if draws < 2:
        raise ValueError(f"draws={draws!r} must be >= 2 (an interval needs two draws)")
    return int(small), int(large), int(draws)


def _check_confidence(confidence: object) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real):
        raise TypeError(f"confidence={confidence!r} must be a real number in (0, 1)")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence!r} is outside the allowed range (0, 1)")
    return float(confidence)


def noise_scale_from_norms(
    small_norm_sq: Sequence[float] | np.ndarray,
    large_norm_sq: Sequence[float] | np.ndarray,
    small: int,
    large: int,
    *,
    confidence: float = 0.95,
    loss: float = math.nan,
) -> NoiseScale:
    r"""The two-batch estimator from measured squared norms :math:`\|g_s\|^2, \|g_l\|^2`.

    Draw d gives :math:`\widehat{\|G\|^2}_d` and :math:`\widehat{\operatorname{tr}\Sigma}_d`
    (see the module); their means carry Student-t intervals, and
    :math:`B_{\text{simple}} = \overline{\operatorname{tr}\Sigma}/\overline{\|G\|^2}`
    (``inf`` when the mean :math:`\|G\|^2` is not positive) Fieller's interval.

    >>> r = noise_scale_from_norms([3.0, 3.2], [1.2, 1.2], 1, 10)
    >>> round(r.grad_norm_sq, 3), round(r.trace_sigma, 3)
    (0.989, 2.111)
    """
    x = np.asarray(small_norm_sq, dtype=float)
    y = np.asarray(large_norm_sq, dtype=float)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(
            f"small_norm_sq and large_norm_sq must be 1-d of one length, got shapes "
            f"{x.shape} and {y.shape}"
        )
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("small_norm_sq and large_norm_sq must be finite (did training diverge?)")
    small, large, draws = _check_sizes(small, large, x.size)
    confidence = _check_confidence(confidence)
    from scipy import stats

    grads = (large * y - small * x) / (large - small)
    traces = (x - y) / (1 / small - 1 / large)
    g_mean, s_mean = float(grads.mean()), float(traces.mean())
    cov = np.cov(np.stack([traces, grads]), ddof=1) / draws
    t = float(stats.t.ppf(0.5 + confidence / 2, draws - 1))
    ratio = s_mean / g_mean if g_mean > 0 else math.inf
    return NoiseScale(
        grad_norm_sq=g_mean,
        grad_norm_sq_ci=_interval(g_mean, t * math.sqrt(cov[1, 1])),
        trace_sigma=s_mean,
        trace_sigma_ci=_interval(s_mean, t * math.sqrt(cov[0, 0])),
        b_simple=ratio,
        b_simple_ci=_ratio_interval(s_mean, g_mean, cov[0, 0], cov[1, 1], cov[0, 1], t),
        small=small,
        large=large,
        draws=draws,
        confidence=confidence,
        loss=float(loss),
        small_norm_sq=x,
        large_norm_sq=y,
    )


# ------------------------------------------------------------------ torch side


def _loss_function(loss_fn: object) -> Callable[..., Any]:
    import torch.nn.functional as F

    if isinstance(loss_fn, str):
        if loss_fn == "cross_entropy":
            return F.cross_entropy
        if loss_fn == "mse":
            return F.mse_loss
        raise ValueError(f"loss_fn={loss_fn!r} is not a known loss; allowed: {', '.join(LOSSES)}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn={loss_fn!r} must be callable(output, target) or a loss name")
    return loss_fn


def _tensors(data: object) -> tuple[torch.Tensor, ...]:
    import torch

    tensors = getattr(data, "tensors", data)  # a TensorDataset holds its tensors there
    if not isinstance(tensors, list | tuple) or len(tensors) < 2:
        raise TypeError(
            f"data={type(data).__name__} must be a TensorDataset or a tuple (inputs..., targets) "
            f"of at least two tensors"
        )
    for i, t in enumerate(tensors):
        if not isinstance(t, torch.Tensor) or t.dim() == 0:
            raise TypeError(f"data[{i}]={type(t).__name__} must be a tensor with a first dimension")
    lengths = {int(t.shape[0]) for t in tensors}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"data tensors must share one non-zero first dimension, got {lengths}")
    return tuple(tensors)


def _module(model: object) -> nn.Module:
    from torch import nn

    if not isinstance(model, nn.Module):
        raise TypeError(f"model={type(model).__name__} must be a torch.nn.Module")
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("model has no parameter with requires_grad=True: no gradient to measure")
    return model


def _device(device: object, model: nn.Module) -> torch.device:
    import torch

    if device is None:
        return next(p for p in model.parameters() if p.requires_grad).device
    if not isinstance(device, str | torch.device):
        raise TypeError(f"device={device!r} must be None, a string or a torch.device")
    try:
        return torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"device={device!r} is not a torch device: {error}") from None


class _Gradients:
    """Squared norms of the gradient of the mean loss over sampled rows, without side effects.

    The model runs through ``torch.func.functional_call`` on detached copies of its parameters
    and buffers on ``device``: its own tensors, ``.grad`` fields and running statistics are
    never touched.
    """

    def __init__(self, model, loss_fn, tensors, device) -> None:
        self.model, self.loss_fn = model, loss_fn
        self.tensors = tuple(t.to(device) for t in tensors)
        self.n = int(self.tensors[0].shape[0])
        self.device = device
        named = dict(model.named_parameters())
        self.params = {
            k: p.detach().to(device).requires_grad_() for k, p in named.items() if p.requires_grad
        }
        self.fixed = {k: p.detach().to(device) for k, p in named.items() if not p.requires_grad}
        self.fixed |= {k: b.detach().to(device).clone() for k, b in model.named_buffers()}

    def loss(self, rows: Sequence[torch.Tensor]) -> torch.Tensor:
        from torch.func import functional_call

        out = functional_call(self.model, {**self.params, **self.fixed}, tuple(rows[:-1]))
        value = self.loss_fn(out, rows[-1])
        if value.dim() != 0:
            raise ValueError(
                f"loss_fn returned shape {tuple(value.shape)}; it must return the scalar mean loss"
            )
        return value

    def norm_sq(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(|g|^2, loss)`` for the mean loss over rows ``index``, as float64 0-d tensors."""
        import torch

        value = self.loss([t[index] for t in self.tensors])
        grads = torch.autograd.grad(value, list(self.params.values()), allow_unused=True)
        total = sum(g.double().square().sum() for g in grads if g is not None)
        return torch.as_tensor(total, dtype=torch.float64), value.detach().double()


def _measure(
    grads: _Gradients, small: int, large: int, draws: int, confidence: float, seed: int
) -> NoiseScale:
    import torch

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
    return noise_scale_from_norms(
        measured[:, 0], measured[:, 1], small, large, confidence=confidence, loss=loss
    )


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed={seed!r} must be an integer >= 0")
    return int(seed)


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

    ``loss_fn(model(*inputs), targets)`` must return the mean loss of a batch (or be
    ``"cross_entropy"`` or ``"mse"``, the engine's losses); ``data`` is a tuple
    ``(inputs..., targets)`` of tensors sharing their first dimension, or a ``TensorDataset``.
    Batches are drawn uniformly with replacement (so :math:`\mathbb E\|g_b\|^2 = \|G\|^2 +
    \operatorname{tr}\Sigma/b` holds exactly), each draw independently, from a generator
    seeded with ``seed``. ``device``: where to compute
    (default: the model's); the model itself is left untouched. The model runs in the mode it
    is in (``train()`` or ``eval()``). Returns a :class:`NoiseScale`.
    """
    model = _module(model)
    loss = _loss_function(loss_fn)
    tensors = _tensors(data)
    small, large, draws = _check_sizes(small, large, draws)
    confidence = _check_confidence(confidence)
    grads = _Gradients(model, loss, tensors, _device(device, model))
    return _measure(grads, small, large, draws, confidence, _check_seed(seed))


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
    import torch
    from torch.func import functional_call, grad_and_value, vmap

    model = _module(model)
    loss = _loss_function(loss_fn)
    tensors = _tensors(data)
    if isinstance(chunk, bool) or not isinstance(chunk, numbers.Integral) or chunk < 1:
        raise ValueError(f"chunk={chunk!r} must be an integer >= 1")
    grads = _Gradients(model, loss, tensors, _device(device, model))
    params = {k: p.detach() for k, p in grads.params.items()}

    def one(p, rows):
        batch = [r.unsqueeze(0) for r in rows]
        out = functional_call(grads.model, {**p, **grads.fixed}, tuple(batch[:-1]))
        return loss(out, batch[-1])

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


# ------------------------------------------------------------------ along a training run


@dataclass(frozen=True)
class NoiseScaleTrace:
    """Noise-scale estimates recorded along a training run: ``estimates[i]`` at ``steps[i]``."""

    steps: np.ndarray
    estimates: tuple[NoiseScale, ...]

    def _field(self, name: str) -> np.ndarray:
        return np.array([getattr(e, name) for e in self.estimates], dtype=float)

    @property
    def b_simple(self) -> np.ndarray:
        r""":math:`B_{\text{simple}}` at each recorded step."""
        return self._field("b_simple")

    @property
    def grad_norm_sq(self) -> np.ndarray:
        r""":math:`\|G\|^2` at each recorded step."""
        return self._field("grad_norm_sq")

    @property
    def trace_sigma(self) -> np.ndarray:
        r""":math:`\operatorname{tr}\Sigma` at each recorded step."""
        return self._field("trace_sigma")

    @property
    def loss(self) -> np.ndarray:
        """The estimated training loss at each recorded step."""
        return self._field("loss")

    def to_frame(self) -> pd.DataFrame:
        """One row per recorded step: estimates and interval ends."""
        import pandas as pd

        rows = []
        for step, e in zip(self.steps, self.estimates, strict=True):
            row: dict[str, float] = {"step": int(step), "loss": e.loss}
            for name in ("grad_norm_sq", "trace_sigma", "b_simple"):
                low, high = getattr(e, f"{name}_ci")
                row |= {name: getattr(e, name), f"{name}_low": low, f"{name}_high": high}
            rows.append(row)
        return pd.DataFrame(rows)


class NoiseScaleRecorder:
    """Call ``recorder(step, model)`` after every step of any training loop: every ``every``
    steps (from step 0) it measures :func:`noise_scale` of ``model`` and keeps it.

    Draws at step k come from a generator seeded by ``(seed, k)``, so a record does not depend
    on when the others were taken. ``trace`` returns what was recorded so far.
    """

    def __init__(
        self,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | str,
        data: Any,
        small: int,
        large: int,
        draws: int,
        every: int,
        device: str | torch.device | None = None,
        *,
        confidence: float = 0.95,
        seed: int = 0,
    ) -> None:
        self.loss_fn = _loss_function(loss_fn)
        self.tensors = _tensors(data)
        self.small, self.large, self.draws = _check_sizes(small, large, draws)
        if isinstance(every, bool) or not isinstance(every, numbers.Integral) or every < 1:
            raise ValueError(f"every={every!r} must be an integer >= 1")
        self.every = int(every)
        self.device = device
        self.confidence = _check_confidence(confidence)
        self.seed = _check_seed(seed)
        self._steps: list[int] = []
        self._estimates: list[NoiseScale] = []

    def __call__(self, step: int, model: nn.Module) -> NoiseScale | None:
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise ValueError(f"step={step!r} must be an integer >= 0")
        if step % self.every:
            return None
        model = _module(model)
        grads = _Gradients(model, self.loss_fn, self.tensors, _device(self.device, model))
        seed = int(np.random.SeedSequence([self.seed, int(step)]).generate_state(1)[0])
        estimate = _measure(grads, self.small, self.large, self.draws, self.confidence, seed)
        self._steps.append(int(step))
        self._estimates.append(estimate)
        return estimate

    @property
    def trace(self) -> NoiseScaleTrace:
        """The estimates recorded so far."""
        return NoiseScaleTrace(np.array(self._steps, dtype=int), tuple(self._estimates))


def noise_scale_along(
    model: nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | str,
    data: Any,
    *,
    optimizer: torch.optim.Optimizer,
    batch_size: int,
    steps: int,
    every: int,
    small: int,
    large: int,
    draws: int,
    confidence: float = 0.95,
    seed: int = 0,
) -> NoiseScaleTrace:
    r"""Train ``model`` in place for ``steps`` steps and record :func:`noise_scale` every
    ``every`` steps (at :math:`k = 0, n, 2n, \dots \le` ``steps``).

    A plain loop: at each step ``batch_size`` rows drawn uniformly with replacement (generator
    seeded with ``seed``), the mean loss, ``backward``, ``optimizer.step()``. ``optimizer`` is a
    ``torch.optim.Optimizer`` over the model's parameters; data go to the model's device.
    """
    import torch

    model = _module(model)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer={optimizer!r} must be a torch.optim.Optimizer")
    for name, value in (("batch_size", batch_size), ("steps", steps)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name}={value!r} must be an integer >= 1")
    device = _device(None, model)
    record = NoiseScaleRecorder(
        loss_fn, data, small, large, draws, every, device, confidence=confidence, seed=seed
    )
    tensors = tuple(t.to(device) for t in record.tensors)
    gen = torch.Generator().manual_seed(_check_seed(seed))
    n = int(tensors[0].shape[0])
    for k in range(int(steps) + 1):
        record(k, model)
        if k == steps:
            break
        index = torch.randint(n, (int(batch_size),), generator=gen).to(device)
        rows = [t[index] for t in tensors]
        optimizer.zero_grad(set_to_none=True)
        record.loss_fn(model(*rows[:-1]), rows[-1]).backward()
        optimizer.step()
    return record.trace


class EngineNoiseRecorder:
    """A ``record`` hook for :func:`batchsteps.train.measure_steps`: the noise scale of one
    replica every ``every`` steps of an engine run (pass ``record_every=recorder.every``).

    The engine calls ``recorder(step, params, seeds)`` with the stacked parameters of the
    replicas still running; the replica trained with ``replica_seed`` (default: the first
    seed of the run) is rebuilt as the workload's ``nn.Module`` and measured on the workload's
    training data with its own loss. ``trace`` returns what was recorded.
    """

    def __init__(
        self,
        workload: Any,
        small: int,
        large: int,
        draws: int,
        every: int,
        *,
        replica_seed: int | None = None,
        confidence: float = 0.95,
        seed: int = 0,
    ) -> None:
        if getattr(workload, "loss", None) not in LOSSES or not callable(workload.model):
            raise ValueError(
                f"workload={getattr(workload, 'name', workload)!r} must be a data workload with "
                f"loss in {LOSSES} and a model factory (the noisy quadratic has neither)"
            )
        if replica_seed is not None:
            replica_seed = _check_seed(replica_seed)
        self.workload, self.replica_seed = workload, replica_seed
        self.recorder = NoiseScaleRecorder(
            workload.loss, (workload.X, workload.y), small, large, draws, every,
            confidence=confidence, seed=seed,
        )  # fmt: skip
        self.every = self.recorder.every

    def module(self, params: Sequence[torch.Tensor], position: int) -> nn.Module:
        """Replica ``position`` of the stacked ``params`` as a plain module of the workload."""
        import torch

        problem = self.workload.problem(params[0].device)
        one = [p[position : position + 1] for p in params]
        if hasattr(problem, "to_modules"):  # the engine's stacked-MLP layout
            module = problem.to_modules(one, self.workload.model)[0]
        else:  # the torch.func path stacks parameters in named_parameters order
            module = self.workload.model()
            with torch.no_grad():
                for target, stacked in zip(module.parameters(), one, strict=True):
                    target.copy_(stacked[0])
        return module.to(params[0].device)

    def __call__(
        self, step: int, params: Sequence[torch.Tensor], seeds: Sequence[int]
    ) -> NoiseScale | None:
        seeds = [int(s) for s in seeds]
        if self.replica_seed is None:  # follow the first replica of the run throughout
            self.replica_seed = seeds[0]
        if self.replica_seed in seeds:
            position = seeds.index(self.replica_seed)
        else:
            return None  # that replica has stopped (reached its target or diverged)
        if step % self.every:
            return None
        return self.recorder(step, self.module(params, position))

    @property
    def trace(self) -> NoiseScaleTrace:
        """The estimates recorded so far."""
        return self.recorder.trace
