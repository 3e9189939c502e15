"""Batched optimizer updates: one update for R replicas whose parameters are stacked.

Every parameter tensor carries the replica index in its first dimension, so one call updates
all replicas at once. The updates follow ``torch.optim`` exactly where torch has the optimizer
(tests compare step for step); AdaBelief follows Zhuang et al. (2020), Algorithm 2.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch

__all__ = ["OPTIMIZERS", "DEFAULTS", "BatchedOptimizer", "optimizer", "resolve_hyper"]

#: Hyperparameters each optimizer takes besides ``lr``, with their defaults.
DEFAULTS: dict[str, dict[str, float]] = {
    "sgd": {},
    "momentum": {"beta": 0.9},
    "nesterov": {"beta": 0.9},
    "adam": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    "amsgrad": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    "rmsprop": {"beta2": 0.999, "eps": 1e-8},
    "adabelief": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
}

#: The optimizer names the engine knows, in the book's order.
OPTIMIZERS: tuple[str, ...] = tuple(DEFAULTS)

_STATE_SLOTS = {
    "sgd": 0,
    "momentum": 1,
    "nesterov": 1,
    "adam": 2,
    "amsgrad": 3,
    "rmsprop": 1,
    "adabelief": 2,
}


def _check_name(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"optimizer must be a str, got {name!r}; allowed: {', '.join(OPTIMIZERS)}")
    if name not in DEFAULTS:
        raise ValueError(f"optimizer={name!r} is unknown; allowed: {', '.join(OPTIMIZERS)}")
    return name


def resolve_hyper(name: str, hyper: Mapping[str, object]) -> dict[str, float]:
    r"""The hyperparameters of optimizer ``name``: defaults overridden by ``hyper``.

    Allowed ranges: :math:`0 \le \beta, \beta_1 < 1`, :math:`0 \le \beta_2 < 1`, ``eps > 0``.
    An unknown keyword is a ``TypeError`` naming it; a value out of range a ``ValueError``.

    >>> resolve_hyper("momentum", {})
    {'beta': 0.9}
    """
    _check_name(name)
    allowed = DEFAULTS[name]
    unknown = [k for k in hyper if k not in allowed]
    if unknown:
        takes = ", ".join(allowed) if allowed else "no hyperparameters besides lr"
        raise TypeError(
            f"optimizer {name!r} got unexpected keyword {unknown[0]!r}; it takes {takes}"
        )
    out = dict(allowed)
    for key, value in hyper.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{key} must be a real number, got {value!r}")
        value = float(value)
        if key == "eps":
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"eps must be a finite number > 0, got {value!r}")
        elif not (0.0 <= value < 1.0):
            raise ValueError(f"{key} must lie in [0, 1), got {value!r}")
        out[key] = value
    return out


@dataclass(frozen=True)
class BatchedOptimizer:
    r"""One optimizer's update applied to stacked parameters (replica index first).

    Updates, with :math:`g_k` the stochastic gradient at step :math:`k = 1, 2, \dots`:

    - ``sgd``: :math:`\theta \leftarrow \theta - \alpha g`;
    - ``momentum`` (heavy ball, ``torch.optim.SGD(momentum=β)``):
      :math:`m \leftarrow \beta m + g`, :math:`\theta \leftarrow \theta - \alpha m`;
    - ``nesterov``: as momentum, then :math:`\theta \leftarrow \theta - \alpha (g + \beta m)`;
    - ``adam``/``amsgrad``: :math:`m \leftarrow \beta_1 m + (1-\beta_1) g`,
      :math:`v \leftarrow \beta_2 v + (1-\beta_2) g^2`
      (AMSGrad: :math:`\hat v = \max(\hat v, v)` replaces :math:`v` below),
      :math:`\theta \leftarrow \theta - \frac{\alpha}{1-\beta_1^k}
      \frac{m}{\sqrt{v/(1-\beta_2^k)} + \epsilon}`;
    - ``rmsprop`` (``torch.optim.RMSprop(alpha=β₂)``):
      :math:`v \leftarrow \beta_2 v + (1-\beta_2) g^2`,
      :math:`\theta \leftarrow \theta - \alpha g/(\sqrt v + \epsilon)`;
    - ``adabelief``: :math:`m` as Adam,
      :math:`s \leftarrow \beta_2 s + (1-\beta_2)(g - m)^2 + \epsilon`,
      :math:`\theta \leftarrow \theta - \frac{\alpha}{1-\beta_1^k}
      \frac{m}{\sqrt{s/(1-\beta_2^k)} + \epsilon}`.
    """

    name: str
    lr: float
    hyper: Mapping[str, float] = field(default_factory=dict)

    def init_state(self, params: Sequence[torch.Tensor]) -> list[list[torch.Tensor]]:
        """Zero state: one list of tensors (shaped like ``params``) per state slot."""
        return [[torch.zeros_like(p) for p in params] for _ in range(_STATE_SLOTS[self.name])]

    def step(
        self,
        params: list[torch.Tensor],
        grads: list[torch.Tensor],
        state: list[list[torch.Tensor]],
        k: int,
    ) -> None:
        """Apply update number ``k`` (1-based) in place to ``params`` and ``state``."""
        name, lr, h = self.name, self.lr, self.hyper
        if name == "sgd":
            torch._foreach_add_(params, grads, alpha=-lr)
        elif name in ("momentum", "nesterov"):
            (buf,) = state
            torch._foreach_mul_(buf, h["beta"])
            torch._foreach_add_(buf, grads)
            if name == "momentum":
                torch._foreach_add_(params, buf, alpha=-lr)
            else:
                torch._foreach_add_(params, grads, alpha=-lr)
                torch._foreach_add_(params, buf, alpha=-lr * h["beta"])
        elif name == "rmsprop":
            (v,) = state
            beta2 = h["beta2"]
            torch._foreach_mul_(v, beta2)
            torch._foreach_addcmul_(v, grads, grads, value=1 - beta2)
            denom = torch._foreach_sqrt(v)
            torch._foreach_add_(denom, h["eps"])
            torch._foreach_addcdiv_(params, grads, denom, value=-lr)
        else:
            self._adam_like(params, grads, state, k)

    def _adam_like(self, params, grads, state, k: int) -> None:
        h = self.hyper
        beta1, beta2, eps = h["beta1"], h["beta2"], h["eps"]
        m, v = state[0], state[1]
        torch._foreach_mul_(m, beta1)
        torch._foreach_add_(m, grads, alpha=1 - beta1)
        torch._foreach_mul_(v, beta2)
        if self.name == "adabelief":
            diff = torch._foreach_sub(grads, m)
            torch._foreach_addcmul_(v, diff, diff, value=1 - beta2)
            torch._foreach_add_(v, eps)
            second = v
        else:
            torch._foreach_addcmul_(v, grads, grads, value=1 - beta2)
            second = v
            if self.name == "amsgrad":
                vmax = state[2]
                torch._foreach_maximum_(vmax, v)
                second = vmax
        bias1 = 1 - beta1**k
        bias2_sqrt = math.sqrt(1 - beta2**k)
        denom = torch._foreach_sqrt(second)
        torch._foreach_div_(denom, bias2_sqrt)
        torch._foreach_add_(denom, eps)
        torch._foreach_addcdiv_(params, m, denom, value=-self.lr / bias1)


def optimizer(name: str, lr: float, **hyper: float) -> BatchedOptimizer:
    r"""The batched optimizer ``name`` with learning rate :math:`\alpha` = ``lr`` > 0.

    ``name`` is one of :data:`OPTIMIZERS`; ``hyper`` overrides :data:`DEFAULTS` (``beta`` for
    momentum and Nesterov; ``beta1``, ``beta2``, ``eps`` for the Adam type; RMSProp takes
    ``beta2`` and ``eps``).

    >>> optimizer("adam", 1e-3).hyper["beta2"]
    0.999
    """
    _check_name(name)
    check_lr(lr)
    return BatchedOptimizer(name, float(lr), resolve_hyper(name, hyper))


def check_lr(lr: object, argument: str = "lr") -> float:
    """Validate one learning rate: a finite real number > 0."""
    if isinstance(lr, bool) or not isinstance(lr, (int, float)):
        raise TypeError(f"{argument} must be a real number > 0, got {lr!r}")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"{argument} must be a finite number > 0, got {lr!r}")
    return float(lr)
