r"""The optimizers the library knows: one declaration each, read by everything else.

An optimizer is an :class:`OptimizerSpec`: its name and label, its batched update (``step`` on
parameters stacked replica first, with named ``state`` slots that start at zero: optax's
``init``/``update`` pair), the ``torch.optim`` optimizer it reproduces (for the plain reference
loop and the tests), its hyperparameters with defaults and allowed ranges, its default grid of
learning rates, its plot style (plain data; :mod:`batchsteps.viz` draws with it) and the name
of its bound in :mod:`batchsteps.theory` (a string; experiments and viz look it up).

:func:`register` adds one (your own optimizer), :func:`unregister` removes it, :func:`spec`
and :data:`OPTIMIZERS` read them. The engine, sweeps, the reference loop, the experiments'
rate grids and the figures' styles all read this registry, so a registered optimizer can be
trained, swept and drawn at once. A registration lives in this process (and in worker
processes forked after it); workers that start afresh must register it too.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import torch

from ..validation import (
    boolean,
    instance,
    integer,
    interval,
    one_of,
    real,
    string,
    type_error,
    value_error,
)

__all__ = [
    "HyperParameter",
    "RateGrid",
    "PlotStyle",
    "OptimizerSpec",
    "OPTIMIZERS",
    "DEFAULTS",
    "register",
    "unregister",
    "spec",
    "hyper_names",
]


@dataclass(frozen=True)
class HyperParameter:
    r"""A hyperparameter's default and its allowed values :math:`low \le x < high`.

    ``low``/``high``: the ends (``None``: unbounded), real numbers with ``low <= high`` (equal
    only with both ends included); ``low_open``/``high_open`` (``True`` or ``False``): that end
    excluded. Values are finite real numbers. The default, :math:`[0, 1)`, suits a decay
    coefficient :math:`\beta`.
    """

    default: float
    low: float | None = 0.0
    high: float | None = 1.0
    low_open: bool = False
    high_open: bool = True

    def __post_init__(self) -> None:
        for name in ("low", "high"):
            value = getattr(self, name)
            if value is not None:
                real(name, value)
        for name in ("low_open", "high_open"):
            object.__setattr__(self, name, boolean(name, getattr(self, name)))
        low, high = self.low, self.high
        if low is not None and high is not None:
            if low > high or (low == high and (self.low_open or self.high_open)):
                raise ValueError(
                    f"low and high must bound a non-empty range (low < high, or low == high "
                    f"with both ends included), got low={low!r}, high={high!r}"
                    f" ({self.allowed})"
                )
        object.__setattr__(self, "default", self.check("default", self.default))

    @property
    def allowed(self) -> str:
        """The range in words, e.g. ``"in [0, 1)"`` or ``"> 0"``."""
        return interval(self.low, self.high, low_open=self.low_open, high_open=self.high_open)

    def check(self, name: str, value: object) -> float:
        """``value`` as a float if allowed, else ``TypeError``/``ValueError`` naming ``name``."""
        return real(
            name, value, low=self.low, high=self.high, low_open=self.low_open,
            high_open=self.high_open,
        )  # fmt: skip


@dataclass(frozen=True)
class RateGrid:
    r"""A geometric grid of learning rates :math:`\alpha_i = \alpha_0 f^i`, :math:`i < n`:
    ``start`` :math:`\alpha_0 > 0`, ``count`` :math:`n \ge 1`, ``factor`` :math:`f > 1`.

    >>> RateGrid(0.1, 3).values
    (0.1, 0.2, 0.4)
    """

    start: float
    count: int = 6
    factor: float = 2.0

    def __post_init__(self) -> None:
        real("start", self.start, low=0, low_open=True)
        integer("count", self.count, low=1)
        real("factor", self.factor, low=1, low_open=True)

    @property
    def values(self) -> tuple[float, ...]:
        """The rates, smallest first (rounded to 10 significant decimals)."""
        return tuple(float(f"{self.start * self.factor**i:.10g}") for i in range(self.count))


@dataclass(frozen=True)
class PlotStyle:
    """How an optimizer is drawn: a matplotlib colour, marker and line style."""

    color: str
    marker: str
    linestyle: str = "-"

    def __post_init__(self) -> None:
        for name in ("color", "marker", "linestyle"):
            string(name, getattr(self, name), nonempty=True)


@dataclass(frozen=True)
class OptimizerSpec:
    r"""One optimizer, declared once.

    - ``name``: its key (``"adam"``); ``label``: its name on a page (``"Adam"``);
    - ``step(params, grads, state, k, lr, hyper)``: the batched update number ``k`` (1-based),
      in place on the stacked ``params`` and ``state`` (one list of tensors shaped like
      ``params`` per name in ``state``, zero before the first update);
    - ``rates``: the default grid of learning rates (sweeps without ``lr``, the experiments'
      rate rule); ``style``: its :class:`PlotStyle`;
    - ``hyper``: hyperparameter name -> :class:`HyperParameter` (``lr`` is separate);
    - ``torch_factory(params, lr, hyper)``: the ``torch.optim`` optimizer ``step`` reproduces
      (``None`` when torch has none);
    - ``bound``: the name of its bound in :func:`batchsteps.theory.bound` (``None``: none).
    """

    name: str
    label: str
    step: Callable[..., None] = field(repr=False)
    rates: RateGrid
    style: PlotStyle
    state: tuple[str, ...] = ()
    hyper: Mapping[str, HyperParameter] = field(default_factory=dict)
    torch_factory: Callable[..., torch.optim.Optimizer] | None = field(default=None, repr=False)
    bound: str | None = None

    def __post_init__(self) -> None:
        string("name", self.name, nonempty=True)
        string("label", self.label)
        if not callable(self.step):
            raise type_error("step", self.step, "a callable (params, grads, state, k, lr, hyper)")
        instance("rates", self.rates, RateGrid)
        instance("style", self.style, PlotStyle)
        instance("state", self.state, tuple)
        for i, slot in enumerate(self.state):
            string(f"state[{i}]", slot, nonempty=True)
        instance("hyper", self.hyper, Mapping)
        for key, value in self.hyper.items():
            string("hyper's keys", key, nonempty=True)
            if not key.isidentifier() or keyword.iskeyword(key) or key == "lr":
                raise value_error("hyper's keys", key, "identifiers other than 'lr' and keywords")
            instance(f"hyper[{key!r}]", value, HyperParameter)
        object.__setattr__(self, "hyper", MappingProxyType(dict(self.hyper)))
        if self.torch_factory is not None and not callable(self.torch_factory):
            raise type_error("torch_factory", self.torch_factory, "a callable or None")
        if self.bound is not None:
            string("bound", self.bound, nonempty=True)

    @property
    def defaults(self) -> dict[str, float]:
        """Each hyperparameter's default."""
        return {key: h.default for key, h in self.hyper.items()}

    def resolve(self, hyper: Mapping[str, object]) -> dict[str, float]:
        r"""The hyperparameters of a run: the defaults overridden by ``hyper``, each checked
        against its range. A keyword this optimizer does not take is a ``TypeError``.

        >>> spec("momentum").resolve({"beta": 0.5})
        {'beta': 0.5}
        """
        unknown = [key for key in hyper if key not in self.hyper]
        if unknown:
            takes = ", ".join(self.hyper) or "no hyperparameters besides lr"
            raise TypeError(
                f"optimizer {self.name!r} got unexpected keyword {unknown[0]!r}; it takes {takes}"
            )
        out = self.defaults
        for key, value in hyper.items():
            out[key] = self.hyper[key].check(key, value)
        return out


_REGISTRY: dict[str, OptimizerSpec] = {}


class _Registered(Mapping[str, OptimizerSpec]):
    """The registry, read-only."""

    def __getitem__(self, name: str) -> OptimizerSpec:
        return _REGISTRY[name]

    def __iter__(self) -> Iterator[str]:
        return iter(_REGISTRY)

    def __len__(self) -> int:
        return len(_REGISTRY)

    def __repr__(self) -> str:
        return f"<registered optimizers: {', '.join(_REGISTRY)}>"


#: The registered optimizers, name -> :class:`OptimizerSpec`, in the order they were
#: registered (the book's first); a read-only view that follows :func:`register`.
OPTIMIZERS: Mapping[str, OptimizerSpec] = _Registered()


class _Defaults(Mapping[str, Mapping[str, float]]):
    """Each registered optimizer's hyperparameter defaults, read from the registry."""

    def __getitem__(self, name: str) -> Mapping[str, float]:
        return MappingProxyType(_REGISTRY[name].defaults)

    def __iter__(self) -> Iterator[str]:
        return iter(_REGISTRY)

    def __len__(self) -> int:
        return len(_REGISTRY)

    def __repr__(self) -> str:
        return repr({name: dict(self[name]) for name in self})


#: Hyperparameters each registered optimizer takes besides ``lr``, with their defaults:
#: name -> {hyperparameter: default}, read from the registry.
DEFAULTS: Mapping[str, Mapping[str, float]] = _Defaults()


def spec(name: str, *, argument: str = "optimizer") -> OptimizerSpec:
    """The declaration of optimizer ``name`` (one of :data:`OPTIMIZERS`); ``argument`` is what
    an error calls ``name`` (the caller's parameter).

    >>> spec("adam").defaults
    {'beta1': 0.9, 'beta2': 0.999, 'eps': 1e-08}
    """
    return _REGISTRY[one_of(argument, name, _REGISTRY)]


def register(optimizer: OptimizerSpec) -> OptimizerSpec:
    """Add ``optimizer`` to the registry (a name not yet registered) and return it.

    The registration holds in this process and in worker processes forked after it; workers
    that start afresh (a spawned process pool, Dask workers) must register it too, e.g. by
    importing the module that declares it."""
    instance("optimizer", optimizer, OptimizerSpec)
    if optimizer.name in _REGISTRY:
        raise ValueError(
            f"optimizer.name must be a name not yet registered (unregister it first), got "
            f"{optimizer.name!r}; registered: {', '.join(_REGISTRY)}"
        )
    _REGISTRY[optimizer.name] = optimizer
    return optimizer


def unregister(name: str) -> OptimizerSpec:
    """Remove optimizer ``name`` from the registry; return its declaration."""
    return _REGISTRY.pop(spec(name, argument="name").name)


def hyper_names() -> tuple[str, ...]:
    """Every hyperparameter name of the registered optimizers, in order of first appearance
    (the sweep's columns): ``beta``, ``beta1``, ``beta2``, ``eps`` for the built-in ones."""
    return tuple(dict.fromkeys(key for s in _REGISTRY.values() for key in s.hyper))
