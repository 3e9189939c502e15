"""Targets: what "reached" means for a run, parsed from strings like ``"loss<=0.5"``."""

from __future__ import annotations

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
#: The thresholds a measure can meet: (low, high), ``None`` unbounded.
_RANGE: dict[str, tuple[float, float | None]] = {
    "loss": (0.0, None),
    "grad_norm_sq": (0.0, None),
    "accuracy": (0.0, 1.0),
}


@dataclass(frozen=True)
class Target:
    r"""A target on a full-training-set measure.

    ``measure`` is ``"loss"`` (:math:`f(\theta)`), ``"grad_norm_sq"``
    (:math:`\|\nabla f(\theta)\|^2`, the theory's measure) or ``"accuracy"`` (fraction of the
    training set classified correctly); ``threshold`` is the value to reach, a finite real
    number (kept as a float) that the measure can meet: :math:`\ge 0` for ``loss`` and
    ``grad_norm_sq`` (both non-negative), in :math:`[0, 1]` for ``accuracy``.
    """

    measure: str
    threshold: float

    def __post_init__(self) -> None:
        validation.one_of("measure", self.measure, _OPERATOR)
        low, high = _RANGE[self.measure]
        note = f"for {self.measure}"
        threshold = validation.real("threshold", self.threshold, low=low, high=high, note=note)
        object.__setattr__(self, "threshold", threshold)

    @property
    def text(self) -> str:
        """The target as the string that parses to it."""
        return f"{self.measure}{_OPERATOR[self.measure]}{self.threshold!r}"

    def holds(self, value: torch.Tensor) -> torch.Tensor:
        """Boolean tensor: where the measured ``value`` meets the target (NaN never does)."""
        if self.measure == "accuracy":
            return value >= self.threshold
        return value <= self.threshold


def _parse(name: str, target: object, none: bool = True) -> Target | None:
    """:func:`parse_target`, its errors naming the argument ``name`` (``None`` refused where
    ``none`` is false)."""
    if (target is None and none) or isinstance(target, Target):
        return target
    forms = ", ".join(repr(f) for f in TARGET_FORMS)
    allowed = f"{'None, ' if none else ''}a Target or a str of one of the accepted forms {forms}"
    if not isinstance(target, str):
        raise validation.type_error(name, target, allowed)
    match = _PATTERN.match(target)
    if match is None or _OPERATOR[match["measure"]] != match["op"]:
        raise validation.value_error(name, target, allowed)
    try:
        value = float(match["value"])
    except ValueError:
        raise validation.value_error(name, target, allowed) from None
    measure = match["measure"]
    try:  # the threshold's range is Target's own check
        return Target(measure, value)
    except ValueError:
        bounds = validation.interval(*_RANGE[measure])
        raise validation.value_error(
            name, target, f"{allowed}, with a finite threshold x {bounds} for {measure}"
        ) from None


def parse_target(target: str | Target | None) -> Target | None:
    """Parse ``"loss<=x"``, ``"grad_norm_sq<=x"`` or ``"accuracy>=x"`` (or pass ``None``):
    ``x`` a finite number the measure can meet, ``>= 0`` for ``loss`` and ``grad_norm_sq``,
    in ``[0, 1]`` for ``accuracy``; a ``Target`` passes through.

    >>> parse_target("loss<=0.5")
    Target(measure='loss', threshold=0.5)
    """
    return _parse("target", target)


def parse_targets(targets: Sequence[str | Target], name: str = "targets") -> list[Target]:
    """Parse a non-empty sequence of distinct targets (each as :func:`parse_target`);
    ``TypeError`` for anything but a sequence (one target alone included), ``ValueError`` for
    an empty one or one target twice, both naming the argument ``name``; an entry's own error
    (``None`` is a ``ValueError``) names it ``name[i]``.

    >>> [t.text for t in parse_targets(["loss<=0.1", "grad_norm_sq<=0.001"])]
    ['loss<=0.1', 'grad_norm_sq<=0.001']
    """
    forms = ", ".join(repr(f) for f in TARGET_FORMS)
    allowed = f"a non-empty sequence of distinct targets of the forms {forms}"
    if isinstance(targets, str | Target) or not isinstance(targets, Sequence):
        raise validation.type_error(name, targets, allowed)
    for i, t in enumerate(targets):
        if t is None:  # no checks: a run has one target or none, never None beside others
            raise validation.value_error(f"{name}[{i}]", t, f"a target: {allowed}")
    parsed = [_parse(f"{name}[{i}]", t, none=False) for i, t in enumerate(targets)]
    if not parsed or len({t.text for t in parsed}) < len(parsed):
        raise validation.value_error(name, targets, allowed)
    return parsed
