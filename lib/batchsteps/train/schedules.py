r"""Learning-rate schedules: the rate of update :math:`k + 1` is :math:`\alpha_k = \alpha\, s(k)`.

:math:`\alpha` is the base rate (``lr``) and :math:`k = 0, 1, 2, \dots` the number of updates
already made, so the first update runs at :math:`\alpha s(0)` (:math:`\alpha` itself, but
during a warm-up). This is the book's :math:`\theta_{k+1} = \theta_k - \alpha_k g_k`, the loop of
``batchsteps.theory.quadratic.expected_steps`` and the ``lr_lambda`` of
``torch.optim.lr_scheduler.LambdaLR`` (a schedule can be passed to it as is).
:func:`~batchsteps.train.measure_steps` takes one as ``schedule``.
"""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from dataclasses import dataclass

from ..validation import integer, positive, type_error, value_error

__all__ = [
    "Schedule",
    "Constant",
    "InverseTime",
    "WarmupThenDecay",
    "constant",
    "inverse_time",
    "warmup_then_decay",
]


class Schedule(ABC):
    r"""A multiplier :math:`s(k)` of the base rate after :math:`k \ge 0` updates (see the
    module); a schedule of your own subclasses it (a frozen dataclass, as those here)."""

    @abstractmethod
    def __call__(self, k: int) -> float:
        """:math:`s(k)`, the factor on the base rate of update :math:`k + 1`."""


def _updates(k: object) -> int:
    """``k`` if it is an integer >= 0 (a cheap check: the engine calls a schedule every step)."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise type_error("k", k, "an integer >= 0 (the updates made)")
    if k < 0:
        raise value_error("k", k, "an integer >= 0 (the updates made)")
    return k


@dataclass(frozen=True)
class Constant(Schedule):
    r""":math:`s(k) = 1`: the constant rate :math:`\alpha`."""

    def __call__(self, k: int) -> float:
        _updates(k)
        return 1.0


@dataclass(frozen=True)
class InverseTime(Schedule):
    r""":math:`s(k) = 1/(1 + k/\kappa)` with :math:`\kappa` = ``decay`` > 0: the rate halves
    after :math:`\kappa` updates and falls like :math:`\alpha\kappa/k` after that."""

    decay: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "decay", positive("decay", self.decay))

    def __call__(self, k: int) -> float:
        return 1.0 / (1.0 + _updates(k) / self.decay)


@dataclass(frozen=True)
class WarmupThenDecay(Schedule):
    r"""A linear warm-up over :math:`w` = ``warmup`` updates, then inverse-time decay:
    :math:`s(k) = (k + 1)/w` for :math:`k < w`, else :math:`1/(1 + (k - w)/\kappa)` with
    :math:`\kappa` = ``decay``. The full rate is reached at :math:`k = w - 1`."""

    warmup: int
    decay: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "warmup", integer("warmup", self.warmup, low=1))
        object.__setattr__(self, "decay", positive("decay", self.decay))

    def __call__(self, k: int) -> float:
        if _updates(k) < self.warmup:
            return (k + 1) / self.warmup
        return 1.0 / (1.0 + (k - self.warmup) / self.decay)


def constant() -> Constant:
    """The constant rate: :math:`s(k) = 1` (the same steps as no schedule, bit for bit)."""
    return Constant()


def inverse_time(decay: float) -> InverseTime:
    r"""Inverse-time decay :math:`s(k) = 1/(1 + k/\kappa)`, :math:`\kappa` = ``decay`` > 0.

    >>> inverse_time(10)(10)
    0.5
    """
    return InverseTime(decay)


def warmup_then_decay(warmup: int, decay: float) -> WarmupThenDecay:
    r"""Linear warm-up over ``warmup`` :math:`\ge 1` updates, then inverse-time decay with
    :math:`\kappa` = ``decay`` > 0 (:class:`WarmupThenDecay`).

    >>> [warmup_then_decay(2, 4.0)(k) for k in range(4)]
    [0.5, 1.0, 1.0, 0.8]
    """
    return WarmupThenDecay(warmup, decay)
