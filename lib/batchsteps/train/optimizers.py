r"""The built-in optimizers, each declared once (:class:`~.registry.OptimizerSpec`), and the
batched optimizer the engine trains with.

Every parameter tensor carries the replica index in its first dimension, so one update call
updates all replicas at once. The updates follow ``torch.optim`` exactly where torch has the
optimizer (tests compare step for step); AdaBelief follows Zhuang et al. (2020), Algorithm 2.
In the updates, :math:`g` is the stochastic gradient at step :math:`k = 1, 2, \dots` and
:math:`\alpha` the learning rate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch

from .. import validation
from .registry import (
    DEFAULTS,
    OPTIMIZERS,
    HyperParameter,
    OptimizerSpec,
    PlotStyle,
    RateGrid,
    register,
    spec,
)

__all__ = ["OPTIMIZERS", "DEFAULTS", "BatchedOptimizer", "optimizer"]

Tensors = list[torch.Tensor]
#: The Adam type's eps: > 0 (a decay coefficient takes HyperParameter's default range [0, 1)).
_EPS = HyperParameter(1e-8, low=0.0, high=None, low_open=True)


def _sgd_step(params: Tensors, grads: Tensors, state, k: int, lr: float, h: Mapping) -> None:
    r""":math:`\theta \leftarrow \theta - \alpha g`."""
    torch._foreach_add_(params, grads, alpha=-lr)


def _heavy_ball(buf: Tensors, grads: Tensors, beta: float) -> None:
    torch._foreach_mul_(buf, beta)
    torch._foreach_add_(buf, grads)


def _momentum_step(params: Tensors, grads: Tensors, state, k: int, lr: float, h: Mapping) -> None:
    r"""Heavy ball (``torch.optim.SGD(momentum=β)``): :math:`m \leftarrow \beta m + g`,
    :math:`\theta \leftarrow \theta - \alpha m`."""
    (buf,) = state
    _heavy_ball(buf, grads, h["beta"])
    torch._foreach_add_(params, buf, alpha=-lr)


def _nesterov_step(params: Tensors, grads: Tensors, state, k: int, lr: float, h: Mapping) -> None:
    r""":math:`m \leftarrow \beta m + g`, :math:`\theta \leftarrow \theta - \alpha(g + \beta m)`."""
    (buf,) = state
    _heavy_ball(buf, grads, h["beta"])
    torch._foreach_add_(params, grads, alpha=-lr)
    torch._foreach_add_(params, buf, alpha=-lr * h["beta"])


def _rmsprop_step(params: Tensors, grads: Tensors, state, k: int, lr: float, h: Mapping) -> None:
    r"""``torch.optim.RMSprop(alpha=β₂)``: :math:`v \leftarrow \beta_2 v + (1-\beta_2) g^2`,
    :math:`\theta \leftarrow \theta - \alpha g/(\sqrt v + \epsilon)`."""
    (v,) = state
    beta2 = h["beta2"]
    torch._foreach_mul_(v, beta2)
    torch._foreach_addcmul_(v, grads, grads, value=1 - beta2)
    denom = torch._foreach_sqrt(v)
    torch._foreach_add_(denom, h["eps"])
    torch._foreach_addcdiv_(params, grads, denom, value=-lr)


def _first_moment(m: Tensors, grads: Tensors, beta1: float) -> None:
    torch._foreach_mul_(m, beta1)
    torch._foreach_add_(m, grads, alpha=1 - beta1)


def _second_moment(v: Tensors, grads: Tensors, beta2: float) -> None:
    torch._foreach_mul_(v, beta2)
    torch._foreach_addcmul_(v, grads, grads, value=1 - beta2)


def _corrected_step(
    params: Tensors, m: Tensors, second: Tensors, k: int, lr: float, h: Mapping
) -> None:
    r""":math:`\theta \leftarrow \theta - \frac{\alpha}{1-\beta_1^k}
    \frac{m}{\sqrt{s/(1-\beta_2^k)} + \epsilon}` with :math:`s` = ``second``."""
    bias1 = 1 - h["beta1"] ** k
    bias2_sqrt = math.sqrt(1 - h["beta2"] ** k)
    denom = torch._foreach_sqrt(second)
    torch._foreach_div_(denom, bias2_sqrt)
    torch._foreach_add_(denom, h["eps"])
    torch._foreach_addcdiv_(params, m, denom, value=-lr / bias1)


def _adam_step(params: Tensors, grads: Tensors, state, k: int, lr: float, h: Mapping) -> None:
    r""":math:`m \leftarrow \beta_1 m + (1-\beta_1) g`,
    :math:`v \leftarrow \beta_2 v + (1-\beta_2) g^2`, then the bias-corrected step with
    :math:`s = v`."""
    m, v = state
    _first_moment(m, grads, h["beta1"])
    _second_moment(v, grads, h["beta2"])
    _corrected_step(params, m, v, k, lr, h)


def _amsgrad_step(params: Tensors, grads: Tensors, state, k: int, lr: float, h: Mapping) -> None:
    r"""As Adam, with :math:`\hat v \leftarrow \max(\hat v, v)` and :math:`s = \hat v`."""
    m, v, v_max = state
    _first_moment(m, grads, h["beta1"])
    _second_moment(v, grads, h["beta2"])
    torch._foreach_maximum_(v_max, v)
    _corrected_step(params, m, v_max, k, lr, h)


def _adabelief_step(params: Tensors, grads: Tensors, state, k: int, lr: float, h: Mapping) -> None:
    r""":math:`m` as Adam, :math:`s \leftarrow \beta_2 s + (1-\beta_2)(g - m)^2 + \epsilon`,
    then the bias-corrected step."""
    m, s = state
    beta2 = h["beta2"]
    _first_moment(m, grads, h["beta1"])
    torch._foreach_mul_(s, beta2)
    diff = torch._foreach_sub(grads, m)
    torch._foreach_addcmul_(s, diff, diff, value=1 - beta2)
    torch._foreach_add_(s, h["eps"])
    _corrected_step(params, m, s, k, lr, h)


def _torch_adam(params, lr: float, h: Mapping, amsgrad: bool = False) -> torch.optim.Optimizer:
    betas = (h["beta1"], h["beta2"])
    return torch.optim.Adam(params, lr=lr, betas=betas, eps=h["eps"], amsgrad=amsgrad)


# The built-in optimizers, in the book's order: each is this one declaration.
register(
    OptimizerSpec(
        name="sgd", label="SGD", step=_sgd_step,
        rates=RateGrid(0.1), style=PlotStyle("#0072B2", "o", "-"),
        torch_factory=lambda params, lr, h: torch.optim.SGD(params, lr=lr),
        bound="sgd",
    )
)  # fmt: skip
register(
    OptimizerSpec(
        name="momentum", label="Momentum", step=_momentum_step, state=("momentum",),
        hyper={"beta": HyperParameter(0.9)},
        rates=RateGrid(0.02), style=PlotStyle("#D55E00", "s", "--"),
        torch_factory=lambda params, lr, h: torch.optim.SGD(params, lr=lr, momentum=h["beta"]),
        bound="momentum",
    )
)  # fmt: skip
register(
    OptimizerSpec(
        name="nesterov", label="Nesterov", step=_nesterov_step, state=("momentum",),
        hyper={"beta": HyperParameter(0.9)},
        rates=RateGrid(0.02), style=PlotStyle("#CC79A7", "D", "-."),
        torch_factory=lambda params, lr, h: torch.optim.SGD(
            params, lr=lr, momentum=h["beta"], nesterov=True
        ),
    )
)  # fmt: skip
register(
    OptimizerSpec(
        name="adam", label="Adam", step=_adam_step, state=("m", "v"),
        hyper={"beta1": HyperParameter(0.9), "beta2": HyperParameter(0.999), "eps": _EPS},
        rates=RateGrid(0.002), style=PlotStyle("#009E73", "^", ":"),
        torch_factory=_torch_adam,
        bound="adam",
    )
)  # fmt: skip
register(
    OptimizerSpec(
        name="amsgrad", label="AMSGrad", step=_amsgrad_step, state=("m", "v", "v_max"),
        hyper={"beta1": HyperParameter(0.9), "beta2": HyperParameter(0.999), "eps": _EPS},
        rates=RateGrid(0.002), style=PlotStyle("#56B4E9", "v", "-"),
        torch_factory=lambda params, lr, h: _torch_adam(params, lr, h, amsgrad=True),
        bound="amsgrad",
    )
)  # fmt: skip
register(
    OptimizerSpec(
        name="rmsprop", label="RMSProp", step=_rmsprop_step, state=("v",),
        hyper={"beta2": HyperParameter(0.999), "eps": _EPS},
        rates=RateGrid(0.001), style=PlotStyle("#E69F00", "P", "--"),
        torch_factory=lambda params, lr, h: torch.optim.RMSprop(
            params, lr=lr, alpha=h["beta2"], eps=h["eps"]
        ),
        bound="rmsprop",
    )
)  # fmt: skip
register(
    OptimizerSpec(
        name="adabelief", label="AdaBelief", step=_adabelief_step, state=("m", "s"),
        hyper={"beta1": HyperParameter(0.9), "beta2": HyperParameter(0.999), "eps": _EPS},
        rates=RateGrid(0.002), style=PlotStyle("#7A5C00", "X", "-."),
        bound="adabelief",
    )
)  # fmt: skip


@dataclass(frozen=True)
class BatchedOptimizer:
    r"""One registered optimizer's update at learning rate ``lr`` with hyperparameters
    ``hyper``, applied to stacked parameters (replica index first).

    The update is the registered one (``spec(name).step``, see :class:`OptimizerSpec`); the
    state is one list of tensors shaped like the parameters per slot of ``spec(name).state``,
    zero at the start. Checked as :func:`optimizer` checks its arguments: ``name`` one of
    :data:`OPTIMIZERS`, ``lr`` > 0 (kept as a float), ``hyper`` the hyperparameters that
    optimizer takes, each in its range; those not given take their defaults
    (:data:`DEFAULTS`).
    """

    name: str
    lr: float
    hyper: Mapping[str, float] = field(default_factory=dict)
    spec: OptimizerSpec = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        declared = spec(self.name, argument="name")
        object.__setattr__(self, "lr", validation.positive("lr", self.lr))
        hyper = validation.mapping_of("hyper", self.hyper, nonempty=False)
        object.__setattr__(self, "hyper", declared.resolve(hyper))
        object.__setattr__(self, "spec", declared)

    def init_state(self, params: Sequence[torch.Tensor]) -> list[list[torch.Tensor]]:
        """Zero state: one list of tensors (shaped like ``params``) per state slot."""
        return [[torch.zeros_like(p) for p in params] for _ in self.spec.state]

    def step(
        self,
        params: list[torch.Tensor],
        grads: list[torch.Tensor],
        state: list[list[torch.Tensor]],
        k: int,
    ) -> None:
        """Apply update number ``k`` (1-based) in place to ``params`` and ``state``."""
        self.spec.step(params, grads, state, k, self.lr, self.hyper)


def optimizer(name: str, lr: float, **hyper: float) -> BatchedOptimizer:
    r"""The batched optimizer ``name`` with learning rate :math:`\alpha` = ``lr`` > 0.

    ``name`` is one of :data:`OPTIMIZERS`; ``hyper`` overrides its defaults
    (:data:`DEFAULTS`: ``beta`` for momentum and Nesterov; ``beta1``, ``beta2``, ``eps`` for
    the Adam type; RMSProp takes ``beta2`` and ``eps``), each checked against its range.

    >>> optimizer("adam", 1e-3).hyper["beta2"]
    0.999
    """
    return BatchedOptimizer(name, lr, hyper)
