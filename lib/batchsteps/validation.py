"""Argument checks shared by every subpackage, with one house format for bad input.

A wrong type raises ``TypeError``, a wrong value ``ValueError``. Each message names the
argument, says what is allowed and shows the value (its ``repr``, shortened):
``lr must be a finite real number > 0, got -1.0``; a ``TypeError`` adds the value's type:
``lr must be a finite real number > 0, got '0.1' (str)``. ``bool`` is not a number; numpy
scalars are. Each check returns the value converted (``float``, ``int``, an array, ...), so a
function reads ``lr = positive("lr", lr)``. Standard library and numpy only: every layer may
import this module.
"""

from __future__ import annotations

import numbers
import os
import reprlib
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

__all__ = [
    "type_error",
    "value_error",
    "shown",
    "interval",
    "real",
    "positive",
    "probability",
    "integer",
    "boolean",
    "string",
    "one_of",
    "instance",
    "attributes",
    "keys",
    "sequence_of",
    "mapping_of",
    "prefixed",
    "real_array",
    "bool_array",
    "columns",
    "path",
    "generator",
]

T = TypeVar("T")

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 80
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxdict = 8


def shown(value: object) -> str:
    """``repr(value)`` on one line, shortened to about 80 characters."""
    return " ".join(_REPR.repr(value).split())


def type_error(name: str, value: object, allowed: str) -> TypeError:
    """``TypeError("{name} must be {allowed}, got {repr} ({type})")``, to raise."""
    return TypeError(f"{name} must be {allowed}, got {shown(value)} ({type(value).__name__})")


def value_error(name: str, value: object, allowed: str) -> ValueError:
    """``ValueError("{name} must be {allowed}, got {repr}")``, to raise."""
    return ValueError(f"{name} must be {allowed}, got {shown(value)}")


def _entries(n: int) -> str:
    return f"{n} entry" if n == 1 else f"{n} entries"


def _number(x: float) -> str:
    return format(x, "g") if isinstance(x, float) else str(x)


def interval(
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> str:
    """The range in words: ``"> 0"``, ``"<= 1"``, ``"in [0, 1)"`` or ``""`` when unbounded."""
    if low is not None and high is not None:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        return f"in {left}{_number(low)}, {_number(high)}{right}"
    if low is not None:
        return f"{'>' if low_open else '>='} {_number(low)}"
    if high is not None:
        return f"{'<' if high_open else '<='} {_number(high)}"
    return ""


def _inside(x: Any, low: float | None, high: float | None, low_open: bool, high_open: bool) -> Any:
    """Elementwise ``low <(=) x <(=) high`` (``x`` a number or an array)."""
    ok = np.ones(np.shape(x), dtype=bool)
    if low is not None:
        ok &= (x > low) if low_open else (x >= low)
    if high is not None:
        ok &= (x < high) if high_open else (x <= high)
    return ok


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _is_integer(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def real(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    finite: bool = True,
    note: str = "",
) -> float:
    """``value`` as a float: a real number (not a bool) in the range given by ``low``,
    ``high`` (``None``: unbounded; ``*_open``: the end excluded), finite unless ``finite=False``.
    ``note`` (what the number means) is shown in brackets after the range.
    """
    bounds = interval(low, high, low_open=low_open, high_open=high_open)
    finite_word = "finite " if finite and (low is None or high is None) else ""
    allowed = f"a {finite_word}real number {bounds}".rstrip() + (f" ({note})" if note else "")
    if not _is_real(value):
        raise type_error(name, value, allowed)
    number = float(value)
    if (finite and not np.isfinite(number)) or not _inside(number, low, high, low_open, high_open):
        raise value_error(name, value, allowed)
    return number


def positive(name: str, value: object, *, finite: bool = True) -> float:
    """``value`` as a float > 0 (finite unless ``finite=False``)."""
    return real(name, value, low=0, low_open=True, finite=finite)


def probability(
    name: str, value: object, *, low_open: bool = False, high_open: bool = False
) -> float:
    """``value`` as a float in ``[0, 1]``, either end excluded by ``low_open``/``high_open``."""
    return real(name, value, low=0, high=1, low_open=low_open, high_open=high_open)


def integer(name: str, value: object, *, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int: an integer (not a bool; numpy integers too) in ``[low, high]``."""
    allowed = f"an integer {interval(low, high)}".rstrip()
    if not _is_integer(value):
        raise type_error(name, value, allowed)
    if not _inside(int(value), low, high, False, False):
        raise value_error(name, value, allowed)
    return int(value)


def boolean(name: str, value: object) -> bool:
    """``value`` if it is ``True`` or ``False`` (a Python or numpy bool)."""
    if not isinstance(value, bool | np.bool_):
        raise type_error(name, value, "True or False")
    return bool(value)


def string(name: str, value: object, *, nonempty: bool = False) -> str:
    """``value`` if it is a str (non-empty when ``nonempty``)."""
    allowed = "a non-empty str" if nonempty else "a str"
    if not isinstance(value, str):
        raise type_error(name, value, allowed)
    if nonempty and not value:
        raise value_error(name, value, allowed)
    return value


def one_of(name: str, value: T, allowed: Collection[T], what: str = "") -> T:
    """``value`` if it is one of ``allowed`` (``what`` says what they are); a ``TypeError``
    when ``allowed`` are strings and ``value`` is not one."""
    choices = list(allowed)
    words = f"{what + ': ' if what else ''}one of {', '.join(map(repr, choices))}"
    if all(isinstance(c, str) for c in choices) and not isinstance(value, str):
        raise type_error(name, value, words)
    if value not in choices:
        raise value_error(name, value, words)
    return value


def instance(name: str, value: T, types: type | tuple[type, ...], what: str | None = None) -> T:
    """``value`` if it is an instance of ``types``; ``what`` says what is allowed in words
    (default ``"a <type name>"``, or ``"an ..."``)."""
    if not isinstance(value, types):
        if what is None:
            kinds = types if isinstance(types, tuple) else (types,)
            what = " or ".join(
                f"{'an' if kind.__name__[0] in 'AEIOUaeiou' else 'a'} {kind.__name__}"
                for kind in kinds
            )
        raise type_error(name, value, what)
    return value


def attributes(name: str, value: T, needed: Iterable[str], what: str) -> T:
    """``value`` if it has every attribute in ``needed`` (duck typing); ``what`` names it."""
    if not all(hasattr(value, attribute) for attribute in needed):
        raise type_error(name, value, what)
    return value


def keys(
    name: str,
    value: Mapping[str, Any],
    allowed: Iterable[str],
    *,
    required: bool = False,
    note: Callable[[str], str] | None = None,
) -> Mapping[str, Any]:
    """``value`` if its every key is in ``allowed`` (and, when ``required``, every allowed key is
    there); ``note(key)`` may add why an unknown key is not allowed."""
    names = list(allowed)
    for key, entry in value.items():
        if key not in names:
            reason = note(key) if note else ""
            raise ValueError(
                f"{name} must be among {', '.join(names)}{reason}, got {key}={shown(entry)}"
            )
    missing = [key for key in names if key not in value]
    if required and missing:
        raise ValueError(
            f"{name} must include every one of {', '.join(names)}, lacks {', '.join(missing)}"
        )
    return value


def sequence_of(
    name: str,
    value: object,
    item: Callable[[str, Any], T],
    *,
    min_size: int = 1,
    distinct: bool = False,
) -> list[T]:
    """Each entry of the iterable ``value`` (not a str) checked by ``item(f"{name}[i]", entry)``,
    as a list of at least ``min_size`` entries (all different when ``distinct``: the message
    names the first entry given twice)."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise type_error(name, value, "a sequence (list, tuple or array)")
    entries = [item(f"{name}[{i}]", entry) for i, entry in enumerate(value)]
    if len(entries) < min_size:
        raise value_error(name, value, f"a sequence of at least {_entries(min_size)}")
    if distinct:
        for i, entry in enumerate(entries):
            if entry in entries[:i]:
                allowed = f"a sequence of distinct entries ({entry!r} is given twice)"
                raise value_error(name, value, allowed)
    return entries


def mapping_of(
    name: str,
    value: object,
    item: Callable[[str, Any], T] | None = None,
    *,
    what: str = "a mapping",
    nonempty: bool = True,
) -> dict[Any, T]:
    """``value`` as a dict, each value checked by ``item(f"{name}[key]", value)`` when given;
    ``what`` says what is allowed in words; empty is a ``ValueError`` when ``nonempty``."""
    if not isinstance(value, Mapping):
        raise type_error(name, value, what)
    if nonempty and not value:
        raise value_error(name, value, f"{what} (non-empty)")
    if item is None:
        return dict(value)
    return {key: item(f"{name}[{key!r}]", entry) for key, entry in value.items()}


def prefixed(name: str, check: Callable[..., T], *args: Any) -> T:
    """``check(*args)``; a ``TypeError`` or ``ValueError`` it raises is raised again as that
    base type with ``name`` (the entry checked, ``laws[1]``) before its message:
    ``"laws[1]: law must be ..."``. Other errors pass through."""
    try:
        return check(*args)
    except (TypeError, ValueError) as error:  # as the base type: a subclass may need more
        base = TypeError if isinstance(error, TypeError) else ValueError
        raise base(f"{name}: {error}") from None


def real_array(
    name: str,
    value: object,
    *,
    ndim: int | None = 1,
    min_size: int = 1,
    low: float | None = None,
    low_open: bool = False,
    finite: bool = True,
) -> np.ndarray:
    """``value`` as a float array of ``ndim`` dimensions (any, a number included, when
    ``None``) and at least ``min_size`` entries, every entry real (not bool), finite unless
    ``finite=False`` and above ``low`` when given."""
    bounds = interval(low, low_open=low_open)
    finite_word = "finite " if finite else ""
    if ndim is None:
        allowed = " ".join(
            filter(None, (f"a {finite_word}real number", bounds, "or an array of them"))
        )
    else:
        allowed = f"a {ndim}-d array of {finite_word}real numbers {bounds}".rstrip()
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        raise type_error(name, value, allowed) from None
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise type_error(name, value, allowed)
    if ndim is not None and array.ndim != ndim:
        raise value_error(name, value, f"{allowed} (shape {array.shape} has {array.ndim}-d)")
    if array.size < min_size:
        raise value_error(name, value, f"{allowed} with at least {_entries(min_size)}")
    array = array.astype(float)
    if (finite and not np.all(np.isfinite(array))) or not np.all(
        _inside(array, low, None, low_open, False)
    ):
        raise value_error(name, value, allowed)
    return array


def bool_array(name: str, value: object, *, size: int | None = None) -> np.ndarray:
    """``value`` as a 1-d boolean array (of ``size`` entries when given)."""
    allowed = "a 1-d array of booleans" + ("" if size is None else f" with {_entries(size)}")
    array = np.asarray(value)
    if array.dtype != bool:
        raise type_error(name, value, allowed)
    if array.ndim != 1 or (size is not None and array.size != size):
        raise value_error(name, value, f"{allowed} (shape {array.shape})")
    return array


def columns(name: str, frame: Any, needed: Iterable[str]) -> Any:
    """``frame`` (a pandas DataFrame) if it has every column in ``needed``."""
    wanted = list(needed)
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{name} must have the column(s) {', '.join(map(repr, wanted))}, lacks "
            f"{', '.join(map(repr, missing))} (columns: {list(frame.columns)})"
        )
    return frame


def path(name: str, value: object) -> Path:
    """``value`` (a str or ``os.PathLike``) as a ``Path``."""
    if not isinstance(value, str | os.PathLike):
        raise type_error(name, value, "a path (str or os.PathLike)")
    return Path(value)


def generator(name: str, value: object) -> np.random.Generator:
    """A numpy ``Generator``: ``value`` itself, or one seeded by ``value``, an integer >= 0."""
    if isinstance(value, np.random.Generator):
        return value
    allowed = "an integer >= 0 or a numpy Generator"
    if not _is_integer(value):
        raise type_error(name, value, allowed)
    if value < 0:
        raise value_error(name, value, allowed)
    return np.random.default_rng(int(value))
