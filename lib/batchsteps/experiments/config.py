r"""The book's experiments, configured: which workload, optimizers, batch sizes, seeds, targets
and budgets each experiment uses at each scale.

:func:`experiment` gives the configuration of an experiment (``"digits"``, ``"fashion"``,
``"cifar"``) at a scale: ``"book"`` (the default: sized so the book builds on two CPU cores)
or ``"full"`` (paper scale, for a GPU), read from the environment variable ``BATCHSTEPS_SCALE``
unless given.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from .. import validation
from ..train import OPTIMIZERS

__all__ = ["SCALES", "SCALE_ENV", "EXPERIMENTS", "Experiment", "current_scale", "experiment"]

#: The scales of the book's experiments.
SCALES = ("book", "full")
#: Environment variable choosing the scale (``book`` when unset or empty).
SCALE_ENV = "BATCHSTEPS_SCALE"
#: The experiments, in the order of the book.
EXPERIMENTS = ("digits", "fashion", "cifar")

#: The optimizers of the book-scale sweeps (every registered one at full scale on digits and
#: Fashion-MNIST; these three on CIFAR-10).
_BOOK_OPTIMIZERS = ("sgd", "momentum", "adam")


@dataclass(frozen=True, eq=False)
class Experiment:
    r"""Everything that determines one experiment's measurements at one scale.

    ``targets`` maps a measure (``"grad_norm_sq"``: :math:`\|\nabla f\|^2 \le \varepsilon^2`,
    the theory's measure; ``"loss"``: the practitioner's) to the engine's target text.
    Learning rates come from :func:`tune_rates`: for each optimizer the grid ``lr_grid[o]``
    (its registered rate grid, ``batchsteps.train.spec(o).rates``) is run at ``tune_batch``
    with ``tune_seeds`` to ``tune_target`` (at most ``tune_max_steps`` steps); the fastest rate
    (fewest median steps; the smallest rate within ``tune_tolerance`` of the fewest) is halved.
    ``skip_after``: the batch sizes are swept from the largest down, and once that many
    consecutive batch sizes had no run reach the target the smaller ones are not run (the law
    says they cannot do better); ``None`` runs every cell. ``workers``: processes running
    curves in parallel (at most ``$BATCHSTEPS_WORKERS`` when set); ``n_boot``: bootstrap
    resamples of each fit.
    """

    name: str
    scale: str
    workload: str
    workload_options: Mapping[str, object]
    optimizers: tuple[str, ...]
    batch_sizes: tuple[int, ...]
    seeds: tuple[int, ...]
    targets: Mapping[str, str]
    max_steps: int
    lr_grid: Mapping[str, tuple[float, ...]]
    tune_batch: int
    tune_seeds: tuple[int, ...]
    tune_target: str
    tune_max_steps: int
    tune_tolerance: float
    skip_after: int | None
    workers: int
    n_boot: int
    device: str | None = None

    def table(self) -> pd.DataFrame:
        """The configuration as a one-column table (for a page)."""
        rows = {
            "workload": " ".join(
                [self.workload, *(f"{k}={v}" for k, v in self.workload_options.items())]
            ),
            "optimizers": ", ".join(self.optimizers),
            "batch sizes": ", ".join(map(str, self.batch_sizes)),
            "seeds per cell": len(self.seeds),
            "targets": "; ".join(self.targets.values()),
            "max steps": self.max_steps,
            "rate tuned at batch": self.tune_batch,
            "tuning seeds": len(self.tune_seeds),
            "skip after misses": "never" if self.skip_after is None else self.skip_after,
            "bootstrap resamples": self.n_boot,
            "worker processes": self.workers,
        }
        return pd.DataFrame({self.scale: pd.Series(rows, dtype=object)})


def current_scale(value: str | None = None) -> str:
    """The scale: ``value`` if given, else ``$BATCHSTEPS_SCALE``, else ``"book"``.

    >>> current_scale("full")
    'full'
    """
    given = value if value is not None else (os.environ.get(SCALE_ENV) or "book")
    where = "scale" if value is not None else f"${SCALE_ENV}"
    return validation.one_of(where, validation.string(where, given).strip().lower(), SCALES)


def _workers(limit: int) -> int:
    return max(1, min(limit, os.cpu_count() or 1))


def experiment(name: str = "digits", scale: str | None = None) -> Experiment:
    r"""The configuration of experiment ``name`` (one of ``EXPERIMENTS``) at a scale.

    ``scale``: ``"book"`` or ``"full"``; ``None`` reads ``$BATCHSTEPS_SCALE``. The
    ``"cifar"`` experiment (ResNet-20 on CIFAR-10) exists only at full scale.

    >>> experiment("digits", "book").batch_sizes
    (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
    """
    validation.one_of("name", name, EXPERIMENTS, "an experiment")
    level = current_scale(scale)
    full = level == "full"
    if name == "cifar" and not full:
        raise validation.value_error(
            "scale", level, f"'full' for the cifar experiment (set {SCALE_ENV}=full)"
        )
    common = {
        "name": name,
        "scale": level,
        "lr_grid": {o: declared.rates.values for o, declared in OPTIMIZERS.items()},
        "tune_tolerance": 0.1,
        "skip_after": None if full else 2,
        "n_boot": 1000 if full else 200,
    }
    if name == "digits":
        return Experiment(
            workload="digits-mlp",
            workload_options={},
            optimizers=tuple(OPTIMIZERS) if full else _BOOK_OPTIMIZERS,
            batch_sizes=tuple(2**k for k in range(0 if full else 1, 13 if full else 11)),
            seeds=tuple(range(16 if full else 5)),
            targets={"grad_norm_sq": "grad_norm_sq<=0.001", "loss": "loss<=0.1"},
            max_steps=10_000 if full else 2000,
            tune_batch=256,
            tune_seeds=tuple(range(4 if full else 2)),
            tune_target="loss<=0.1",
            tune_max_steps=1000 if full else 400,
            workers=_workers(4 if full else 2),
            **common,
        )
    if name == "fashion":
        return Experiment(
            workload="fashion-mnist-mlp",
            workload_options={} if full else {"n_train": 5000, "hidden": 16},
            optimizers=tuple(OPTIMIZERS) if full else _BOOK_OPTIMIZERS,
            batch_sizes=tuple(2**k for k in range(1 if full else 2, 13 if full else 9)),
            seeds=tuple(range(8 if full else 3)),
            targets={"loss": "loss<=0.6"},
            max_steps=20_000 if full else 1500,
            tune_batch=256,
            tune_seeds=tuple(range(2 if full else 1)),
            tune_target="loss<=0.6",
            tune_max_steps=2000 if full else 500,
            workers=_workers(4 if full else 2),
            **common,
        )
    return Experiment(
        workload="cifar10-resnet20",
        workload_options={},
        optimizers=_BOOK_OPTIMIZERS,
        batch_sizes=tuple(2**k for k in range(4, 13)),
        seeds=tuple(range(4)),
        targets={"accuracy": "accuracy>=0.8"},
        max_steps=40_000,
        tune_batch=1024,
        tune_seeds=(0,),
        tune_target="accuracy>=0.8",
        tune_max_steps=4000,
        workers=1,
        device="cuda",
        **common,
    )
