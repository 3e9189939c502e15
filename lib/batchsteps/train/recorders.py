r"""Measurements along a training run: recorders that the engine calls.

A recorder is passed to :func:`~batchsteps.train.measure_steps` as ``record=`` (with
``record_every=``); the engine calls it with a :class:`~batchsteps.train.engine.Snapshot` at
step 0 and after every ``record_every``-th update. So every measurement along a run trains on
the engine's one path (its batched updates, its sampling, its replicas). Recorders keep raw
measurements; :mod:`batchsteps.analysis` turns them into estimates.

- :class:`LossRecorder`: the full-data loss of every replica (:func:`sampled_loss`);
- :class:`NoiseRecorder`: two-batch squared gradient norms of one replica, the input of the
  noise scale :math:`B_{\text{simple}}`;
- :class:`AdaptiveRecorder`: iterates, gradients, momentum and preconditioner of an Adam-type
  run, the input of the constants of the Adam-type bound.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .. import validation
from .engine import Snapshot, measure_steps
from .gradients import (
    LOSSES,
    TwoBatchNorms,
    check_pair,
    exact_noise_scale,
    two_batch_norms,
)
from .problems import StackedMLP
from .workloads import Workload
from .workloads import workload as build

__all__ = [
    "flat_params",
    "replica_module",
    "LossRecorder",
    "sampled_loss",
    "NoiseRecorder",
    "AdaptiveRecorder",
]


_STACKED = "a non-empty sequence of tensors with the replica index first"


def _stacked(params: object) -> tuple[list[torch.Tensor], int]:
    """``params`` (the engine's stacked parameters) as a list, and their replica count: a
    non-empty sequence of tensors of at least one dimension with one first dimension."""
    if isinstance(params, torch.Tensor):
        raise validation.type_error("params", params, _STACKED)
    what = "a torch.Tensor with the replica index first"
    tensors = validation.sequence_of(
        "params", params, lambda name, p: validation.instance(name, p, torch.Tensor, what)
    )
    counts = [p.shape[0] if p.dim() else None for p in tensors]
    if None in counts or len(set(counts)) != 1:
        shapes = [tuple(p.shape) for p in tensors]
        raise ValueError(
            f"params must be {_STACKED}, each with the same number of replicas (its first "
            f"dimension), got shapes {validation.shown(shapes)}"
        )
    return tensors, counts[0]


def flat_params(params: Sequence[torch.Tensor]) -> torch.Tensor:
    """Stacked parameters as one row per replica, shape ``(replicas, d)`` (a copy).

    ``params``: a non-empty sequence of tensors with the replica index first, the same number
    of replicas in each."""
    tensors, replicas = _stacked(params)
    return torch.cat([p.reshape(replicas, -1) for p in tensors], dim=1)


def replica_module(workload: Workload, params: Sequence[torch.Tensor], position: int) -> nn.Module:
    """Replica ``position`` of the engine's stacked ``params`` as a plain ``nn.Module`` of the
    workload (a copy, on the parameters' device).

    ``workload``: a data :class:`Workload` (not a name, not the noisy quadratic); ``params``:
    as :func:`flat_params` takes them; ``position``: an integer in ``[0, replicas)``."""
    workload = _data_workload(workload)
    params, replicas = _stacked(params)
    position = validation.integer("position", position, low=0, high=replicas - 1)
    device = params[0].device
    problem = workload.problem(device)
    one = [p[position : position + 1] for p in params]
    if isinstance(problem, StackedMLP):  # the engine's stacked-MLP layout
        module = problem.to_modules(one, workload.model)[0]
    else:  # the torch.func path stacks parameters in named_parameters order
        module = workload.model()
        with torch.no_grad():
            for target, stacked in zip(module.parameters(), one, strict=True):
                target.copy_(stacked[0])
    return module.to(device)


def _data_workload(workload: object) -> Workload:
    """``workload`` if it is a :class:`Workload` with data and a model (``TypeError`` for
    anything else, a name included; ``ValueError`` for the noisy quadratic)."""
    wl = validation.instance(
        "workload", workload, Workload, "a data Workload (built by workload(name), not a name)"
    )
    if wl.loss not in LOSSES:
        raise ValueError(
            f"workload={wl.name!r} must be a data Workload with "
            f"loss in {LOSSES} and a model factory (the noisy quadratic has neither)"
        )
    return wl


class LossRecorder:
    r"""The full-data loss :math:`f(\theta_k)` of every replica at every recorded step
    (the problem's ``measure(params, "loss")``; on the noisy quadratic
    :math:`\tfrac12\sum_i h_i\theta_{k,i}^2` exactly). ``steps`` and ``losses`` (one array
    over the replicas running at that step) grow as the run goes."""

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.losses: list[np.ndarray] = []

    def __call__(self, snapshot: Snapshot) -> None:
        value = snapshot.problem.measure(snapshot.params, "loss")
        self.steps.append(snapshot.step)
        self.losses.append(value.double().cpu().numpy())


def sampled_loss(
    workload: str | Workload,
    optimizer: str,
    batch_size: int,
    *,
    lr: float,
    seeds: Sequence[int] | int,
    steps: int,
    device: str | None = None,
    **hyper: float,
) -> np.ndarray:
    r"""The full-data loss :math:`f(\theta_k)` of every engine replica at every step
    :math:`k = 0..\text{steps}`, shape ``(n_seeds, steps + 1)``, recorded by a
    :class:`LossRecorder` (on the noisy quadratic, :math:`\tfrac12\sum_i h_i\theta_{k,i}^2`).

    ``ValueError`` where a replica diverged (its loss became inf or nan): a mean over seeds is
    then undefined."""
    steps = validation.integer("steps", steps, low=1)
    recorder = LossRecorder()
    measure_steps(
        build(workload), optimizer, batch_size, lr=lr, seeds=seeds, target=None,
        max_steps=steps, device=device, record=recorder, record_every=1, **hyper,
    )  # fmt: skip
    out = recorder.losses
    if len({row.size for row in out}) != 1 or not all(np.all(np.isfinite(r)) for r in out):
        raise ValueError(
            f"lr={lr!r}: some replicas diverged (their loss became inf or nan), so the mean "
            "over seeds is undefined; choose a stable rate"
        )
    return np.stack(out, axis=1)


class NoiseRecorder:
    r"""Two-batch squared gradient norms of one replica every ``every`` steps of an engine run
    (pass ``record_every=recorder.every``).

    ``workload``: a data :class:`Workload` (a ``TypeError`` for a name: build it with
    ``workload(name)``; a ``ValueError`` for the noisy quadratic). The replica trained with
    ``replica_seed`` (default: the first seed of the run) is rebuilt as the workload's
    ``nn.Module`` (:func:`replica_module`) and measured by
    :func:`~batchsteps.train.two_batch_norms` on the workload's training data with
    its own loss: ``draws`` pairs of batches of sizes ``small`` < ``large``, drawn at step k
    from a generator seeded by ``(seed, k)``, so a record does not depend on when the others
    were taken. Batches are drawn with replacement, so ``large`` may exceed the workload's
    ``n`` (the estimator's :math:`\operatorname{tr}\Sigma/b` term holds for any ``b``).
    ``steps`` and ``norms`` (one :class:`TwoBatchNorms` per recorded step) grow as the run
    goes; a replica that stopped (reached its target, diverged) is no longer measured.
    """

    def __init__(
        self,
        workload: Workload,
        small: int,
        large: int,
        draws: int,
        every: int,
        *,
        replica_seed: int | None = None,
        seed: int = 0,
    ) -> None:
        self.workload = _data_workload(workload)
        self.small, self.large, self.draws = check_pair(small, large, draws)
        self.every = validation.integer("every", every, low=1)
        self.replica_seed = (
            None
            if replica_seed is None
            else validation.integer("replica_seed", replica_seed, low=0)
        )
        self.seed = validation.integer("seed", seed, low=0)
        self.steps: list[int] = []
        self.norms: list[TwoBatchNorms] = []

    def __call__(self, snapshot: Snapshot) -> None:
        seeds = [int(s) for s in snapshot.seeds]
        if self.replica_seed is None:  # follow the first replica of the run throughout
            self.replica_seed = seeds[0]
        if self.replica_seed not in seeds or snapshot.step % self.every:
            return
        module = replica_module(self.workload, snapshot.params, seeds.index(self.replica_seed))
        state = np.random.SeedSequence([self.seed, int(snapshot.step)]).generate_state(1)[0]
        data = (self.workload.X, self.workload.y)
        norms = two_batch_norms(
            module, self.workload.loss, data, self.small, self.large, self.draws, seed=int(state)
        )
        self.steps.append(int(snapshot.step))
        self.norms.append(norms)


class AdaptiveRecorder:
    r"""What the Adam-type bound needs, recorded along an engine run of ``"adam"`` or
    ``"amsgrad"`` (``record_every=1``), for every replica. ``workload``: a data
    :class:`Workload`, as :class:`NoiseRecorder` takes it.

    At every step :math:`k` (from 0): the flat parameters :math:`\theta_k`
    (:func:`flat_params`), the full-data gradient :math:`\nabla f(\theta_k)` and loss. After
    update :math:`t = k + 1`: the mini-batch gradient :math:`g_k`, the momentum :math:`m_k`
    (torch's ``exp_avg``) and the preconditioner of the book's form
    :math:`\theta_{k+1} = \theta_k - \alpha H_k^{-1} m_k`,

    .. math:: h_k = (1 - \beta_1^{t}) \left(\sqrt{\hat v_k / (1 - \beta_2^{t})} + \delta\right)

    (:math:`\hat v` the running maximum for AMSGrad, :math:`v` for Adam). Every
    ``variance_every`` steps: the one-sample gradient variance
    :math:`\frac1n\sum_i\|\nabla f_i(\theta_k) - \nabla f(\theta_k)\|^2`, exactly
    (:func:`~batchsteps.train.exact_noise_scale`). :meth:`arrays` returns one
    replica's record.
    """

    def __init__(self, workload: Workload, *, variance_every: int = 10) -> None:
        self.workload = _data_workload(workload)
        self.variance_every = validation.integer("variance_every", variance_every, low=1)
        self._records: list[tuple[list[int], dict[str, torch.Tensor]]] = []
        self._variance: dict[int, list[tuple[int, float]]] = {}

    def __call__(self, snapshot: Snapshot) -> None:
        opt = snapshot.optimizer
        if opt.name not in ("adam", "amsgrad"):
            raise ValueError(
                f"optimizer={opt.name!r}: the recorder reads Adam's state; allowed: adam, amsgrad"
            )
        params, seeds = snapshot.params, [int(s) for s in snapshot.seeds]
        n = self.workload.n
        rows = torch.arange(n, device=params[0].device).expand(len(seeds), n)
        loss, full = snapshot.problem.loss_grad(params, rows)
        record = {"theta": flat_params(params), "full_grad": flat_params(full), "loss": loss}
        if snapshot.grads is not None:
            t = snapshot.step
            beta1, beta2, eps = (opt.hyper[k] for k in ("beta1", "beta2", "eps"))
            slots = opt.spec.state  # the declared state: m, v (and AMSGrad's running max v_max)
            second = snapshot.state[slots.index("v_max" if "v_max" in slots else "v")]
            precond = [(1 - beta1**t) * ((v / (1 - beta2**t)).sqrt() + eps) for v in second]
            record |= {
                "grad": flat_params(snapshot.grads),
                "momentum": flat_params(snapshot.state[slots.index("m")]),
                "precond": flat_params(precond),
            }
        self._records.append((seeds, {k: v.detach().clone() for k, v in record.items()}))
        if snapshot.step % self.variance_every == 0:
            data = (self.workload.X, self.workload.y)
            for position, seed in enumerate(seeds):
                module = replica_module(self.workload, params, position)
                exact = exact_noise_scale(module, self.workload.loss, data)
                self._variance.setdefault(seed, []).append((snapshot.step, exact.trace_sigma))

    def arrays(self, seed: int) -> dict[str, np.ndarray]:
        r"""The record of the replica trained with ``seed``, as float64 arrays: ``theta`` and
        ``full_grad`` (one row per step :math:`k = 0..K`), ``loss`` (:math:`f(\theta_k)`),
        ``grad``, ``momentum`` and ``precond`` (one row per update :math:`k = 0..K-1`),
        ``variance_steps`` and ``variance`` (the one-sample variance at those steps)."""
        seed = validation.integer("seed", seed)
        rows = [(seeds.index(seed), rec) for seeds, rec in self._records if seed in seeds]
        if not rows:
            raise ValueError(f"seed={seed!r} was not recorded; recorded: {self.seeds}")
        out = {}
        for name in ("theta", "full_grad", "loss", "grad", "momentum", "precond"):
            taken = [rec[name][i] for i, rec in rows if name in rec]
            out[name] = torch.stack(taken).double().cpu().numpy()
        measured = self._variance.get(int(seed), [])
        out["variance_steps"] = np.array([k for k, _ in measured], dtype=int)
        out["variance"] = np.array([v for _, v in measured], dtype=float)
        return out

    @property
    def seeds(self) -> list[int]:
        """The seeds of the replicas recorded."""
        return sorted({s for seeds, _ in self._records for s in seeds})
