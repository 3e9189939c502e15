"""Sympy bounds ``A/K + B/b + C`` per optimizer, and what the template derives from them.

``bound(name)`` returns a :class:`Bound`; ``symbols`` holds the book's sympy symbols.
This package imports no torch.
"""

from __future__ import annotations

from collections.abc import Callable

from .. import validation
from . import adam, adam_smooth
from .bounds import Bound, NumericBound, Parameter, StepSizeCondition
from .momentum import momentum_bound
from .notation import symbols
from .sgd import sgd_bound
from .tuned import NumericTunedBound, TunedBound, tuned_bound

_BOUNDS: dict[str, Callable[[], Bound]] = {
    "sgd": sgd_bound,
    "momentum": momentum_bound,
    "adam": adam.adam_bound,
    "amsgrad": adam.amsgrad_bound,
    "rmsprop": adam.rmsprop_bound,
    "adabelief": adam.adabelief_bound,
    "rmsprop-smooth": adam_smooth.rmsprop_smooth_bound,
}


def names() -> tuple[str, ...]:
    """The optimizer names :func:`bound` knows."""
    return tuple(_BOUNDS)


def bound(name: str) -> Bound:
    """The bound of optimizer ``name`` (one of :func:`names`), derived once in a process (each
    derivation caches its bound).

    >>> bound("sgd").measure
    'grad_norm_sq'
    """
    validation.one_of("name", name, _BOUNDS)
    return _BOUNDS[name]()


__all__ = [
    "Bound",
    "NumericBound",
    "NumericTunedBound",
    "Parameter",
    "StepSizeCondition",
    "TunedBound",
    "bound",
    "names",
    "symbols",
    "tuned_bound",
]
