"""Targets: what "reached" means for a run, parsed from strings like ``"loss<=0.5"``."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .. import validation

__all__ = ["Target", "parse_target", "parse_targets", "TARGET_FORMS"]

#: The accepted target strings (x a finite number).
TARGET_FORMS = ("loss<=x", "grad_norm_sq<=x", "accuracy>=x")

_PATTERN = re.compile(
    r"^\s*(?P<measure>loss|grad_norm_sq|accuracy)\s*(?P<op><=|>=)\s*(?P<value>[-+0-9.eE]+)\s*$"
)
_OPERATOR = {"loss": "<=", "grad_norm_sq": "<=", "accuracy": ">="}


@dataclass(frozen=True)
class Target:
    r"""A target on a full-training-set measure.

    ``measure`` is ``"loss"`` (:math:`f(\theta)`), ``"grad_norm_sq"``
    (:math:`\|\nabla f(\theta)\|^2`, the theory's measure) or ``"accuracy"`` (fraction of the
    training set classified correctly); ``threshold`` is the value to reach.
    """

    measure: str
    threshold: float

    @property
    def text(self) -> str:
        """The target as the string that parses to it."""
        return f"{self.measure}{_OPERATOR[self.measure]}{self.threshold!r}"

    def holds(self, value: torch.Tensor) -> torch.Tensor:
        """Boolean tensor: where the measured ``value`` meets the target (NaN never does)."""
        if self.measure == "accuracy":
            return value >= self.threshold
        return value <= self.threshold


def parse_target(target: str | Target | None) -> Target | None:
    """Parse ``"loss<=x"``, ``"grad_norm_sq<=x"`` or ``"accuracy>=x"`` (or pass ``None``).

    >>> parse_target("loss<=0.5")
    Target(measure='loss', threshold=0.5)
    """
    if target is None or isinstance(target, Target):
        return target
    forms = ", ".join(repr(f) for f in TARGET_FORMS)
    allowed = f"None, a Target or a str of one of the accepted forms {forms}"
    if not isinstance(target, str):
        raise validation.type_error("target", target, allowed)
    match = _PATTERN.match(target)
    if match is None or _OPERATOR[match["measure"]] != match["op"]:
        raise validation.value_error("target", target, allowed)
    try:
        value = float(match["value"])
    except ValueError:
        raise validation.value_error("target", target, allowed) from None
    if not math.isfinite(value):
        raise validation.value_error("target", target, f"{allowed}, with a finite threshold x")
    return Target(match["measure"], value)


def parse_targets(targets: Sequence[str | Target], name: str = "targets") -> list[Target]:
    """Parse a non-empty sequence of distinct targets (each as :func:`parse_target`);
    ``TypeError`` for anything but a sequence (one target alone included), ``ValueError`` for
    an empty one, ``None`` in it, or one target twice; both name the argument ``name``.

    >>> [t.text for t in parse_targets(["loss<=0.1", "grad_norm_sq<=0.001"])]
    ['loss<=0.1', 'grad_norm_sq<=0.001']
    """
    forms = ", ".join(repr(f) for f in TARGET_FORMS)
    allowed = f"a non-empty sequence of distinct targets of the forms {forms}"
    if isinstance(targets, str | Target) or not isinstance(targets, Sequence):
        raise validation.type_error(name, targets, allowed)
    parsed = [parse_target(t) for t in targets]
    if not parsed or None in parsed or len({t.text for t in parsed}) < len(parsed):
        raise validation.value_error(name, targets, allowed)
    return parsed
