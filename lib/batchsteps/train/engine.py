"""The multi-replica engine: steps to a target for many seeds as one batched computation."""

from __future__ import annotations

import contextlib
import itertools
import numbers
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .. import validation
from .optimizers import BatchedOptimizer
from .optimizers import optimizer as _optimizer
from .problems import Problem
from .registry import spec
from .sampling import FullBatch, Sampler
from .schedules import Schedule
from .targets import Target, parse_target, parse_targets
from .workloads import Workload
from .workloads import workload as _workload

__all__ = [
    "StepsResult",
    "Snapshot",
    "measure_steps",
    "measure_targets",
    "measure_stacked",
    "steps_to_target",
    "default_device",
    "resolve_device",
    "check_seeds",
    "flushing_denormals",
]

#: Reasons a replica stops: target met, loss NaN/inf, step budget spent, no target given.
REASONS = ("reached", "diverged", "max_steps", "no target")
_MAX_CHECK_EVERY = 256
#: Default margins (``near``): a check whose measure is within the margin of the target does
#: not move the replay's starting point past it. A factor on loss and grad_norm_sq thresholds,
#: an absolute margin below accuracy thresholds. Sized from measured excursions on digits-mlp
#: (batch 32): within 56 steps the full-data loss rose up to 1.09x (SGD) and 1.38x (Adam)
#: above its running minimum, the squared gradient norm up to 28x (SGD) and 40x (Adam).
NEAR = {"loss": 1.5, "grad_norm_sq": 50.0, "accuracy": 0.05}
#: A replay checks ``SPLIT`` times per interval before it searches the sub-interval again.
SPLIT = 8


def default_device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _flushing_now() -> bool:
    """Whether this thread's CPU arithmetic flushes denormal floats to zero now."""
    return torch.tensor(1e-37).div(100).item() == 0.0


@contextlib.contextmanager
def flushing_denormals() -> Iterator[None]:
    """Flush denormal floats (magnitude below 1.2e-38) to zero in CPU arithmetic, restored after.

    The momentum and Adam moments of a parameter whose gradient stays zero (a dead ReLU unit)
    decay geometrically into the denormal range after about 850 steps at ``beta = 0.9``, where
    x86 arithmetic on them is 10-100 times slower (the optimizer update took twice as long).
    Flushing changes values below ``1.2e-38`` only, far below the last bit of any parameter
    they update, so the steps stay the same. Acts on the calling thread (``torch`` keeps the
    flag per thread); a no-op where the CPU has no such mode.
    """
    before = _flushing_now()
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(before)


def check_seeds(seeds: object) -> list[int]:
    """Validate seeds: an int ``k >= 1`` (meaning ``range(k)``) or distinct ints ``>= 0``."""
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        return list(range(validation.integer("seeds", seeds, low=1)))
    return validation.sequence_of(
        "seeds", seeds, lambda name, s: validation.integer(name, s, low=0), distinct=True
    )


def resolve_device(device: object) -> torch.device:
    """``device`` as a ``torch.device``: ``None`` is CUDA when present, else CPU; otherwise a
    CPU or CUDA device, as a name (``"cpu"``, ``"cuda"``, ``"cuda:1"``) or a ``torch.device``
    (the engine trains on those two kinds only). Anything but a str, a ``torch.device`` or
    ``None`` is a ``TypeError``; a name that torch does not know, another kind of device
    (``"meta"``, ``"mps"``), or CUDA where torch cannot use it (or a GPU index it does not
    have) is a ``ValueError``."""
    if device is None:
        return default_device()
    allowed = "'cpu', 'cuda', 'cuda:<index>', a torch.device of those or None"
    if not isinstance(device, str | torch.device):
        raise validation.type_error("device", device, allowed)
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise validation.value_error("device", device, allowed) from None
    if dev.type not in ("cpu", "cuda"):
        raise validation.value_error("device", device, f"a CPU or CUDA device: {allowed}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise validation.value_error("device", device, "a device this torch can use (no CUDA)")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise validation.value_error("device", device, f"a CUDA device of the {count} here")
    return dev


@dataclass(frozen=True)
class StepsResult:
    """What :func:`measure_steps` measured, one entry per seed.

    ``steps[i]`` is the step count (number of updates) at which the target was found to hold
    for seed ``seeds[i]``, or -1; ``reason[i]`` is one of ``"reached"``, ``"diverged"``,
    ``"max_steps"``, ``"no target"``. The target is checked every ``check_every`` steps. With
    ``check_every=1`` the count is the first passage, the first step at which the target holds.
    With sparser checks, a replica's state is saved at each check that finds it far from the
    target (see :data:`NEAR`), and when a check finds the target met, the run is replayed from
    that saved state with finer and finer checks, down to single steps: the count is a step at
    which the target held, so never below the first passage, and later than it when the
    measure met the target between two checks and had moved back beyond the margin ``near``
    (default :data:`NEAR`) at the next one. That happens where the measure hovers about the
    target (large rates, small batches): ``benchmarks/first_passage.py`` measures how often,
    cell by cell, and the book reports what it found. ``replayed_steps`` counts the
    replica-steps spent replaying. ``lr`` is the base rate, ``schedule`` the learning-rate
    schedule it was multiplied by (``None``: constant).
    """

    workload: str
    optimizer: str
    batch_size: int | None
    lr: float
    hyper: dict
    seeds: tuple[int, ...]
    steps: np.ndarray
    reason: tuple[str, ...]
    target: str | None
    max_steps: int
    check_every: int
    wall_time: float
    device: str
    replayed_steps: int = 0
    near: float | None = None
    schedule: Schedule | None = None

    @property
    def reached(self) -> np.ndarray:
        """Boolean array: where the target was reached."""
        return self.steps >= 0


@dataclass(frozen=True)
class Snapshot:
    r"""What a ``record`` hook of :func:`measure_steps` is given after ``step`` updates.

    ``params`` are the stacked parameters :math:`\theta_k` (replica first, ``k`` = ``step``)
    of the replicas still running, ``seeds`` their seeds; ``grads`` the mini-batch gradients
    :math:`g_{k-1}` of the update that led to them (``None`` at step 0) and ``state`` the
    optimizer's state after it (one list of tensors per slot, see
    :class:`~batchsteps.train.BatchedOptimizer`); ``optimizer`` and ``problem`` are the ones the
    engine trains with. The tensors are live (the engine updates them in place): clone what
    you keep.
    """

    step: int
    params: list[torch.Tensor]
    seeds: list[int]
    grads: list[torch.Tensor] | None
    state: list[list[torch.Tensor]]
    optimizer: BatchedOptimizer
    problem: Problem


def _clone(tensors):
    return [t.clone() for t in tensors]


def _select(tensors, keep):
    return [t[keep] for t in tensors]


class _Replicas:
    """The replicas a loop trains: their batches (a :class:`Sampler` or :class:`FullBatch`)
    and, per replica, the index of the optimizer that updates it (``member``; one
    optimizer's replicas are consecutive, and selecting keeps them so)."""

    def __init__(self, sampler: Sampler | FullBatch, member: np.ndarray, members: int):
        self.sampler, self.member, self.members = sampler, member, members
        starts = np.flatnonzero(np.diff(member)) + 1
        bounds = [0, *starts.tolist(), len(member)]
        #: (optimizer index, first row, end row) of each optimizer's consecutive replicas
        self.blocks = [(int(member[a]), a, b) for a, b in itertools.pairwise(bounds) if b > a]

    @property
    def seeds(self) -> list[int]:
        return self.sampler.seeds

    def counts(self) -> np.ndarray:
        """Replicas per optimizer."""
        return np.bincount(self.member, minlength=self.members)

    def batch(self, step: int) -> torch.Tensor:
        return self.sampler.batch(step)

    def select(self, keep) -> _Replicas:
        """The replicas where boolean ``keep`` (numpy, or a torch tensor on the CPU) is true."""
        mask = keep.numpy() if isinstance(keep, torch.Tensor) else keep
        return _Replicas(self.sampler.select(keep), self.member[mask], self.members)


class _Run:
    """Training loop pieces shared by the main pass and the replays."""

    def __init__(
        self,
        problem: Problem,
        opts: list[BatchedOptimizer],
        target: Target | None,
        near: float | None,
        schedule: Schedule | None,
        every: int,
    ):
        self.problem = problem
        self.opts = opts
        # the state holds the slots of each optimizer named in opts, for all replicas (the
        # settings of one optimizer share them): setting i's are state[self.slots[i]]
        self.kinds: dict[str, BatchedOptimizer] = {}  # the first setting of each optimizer
        for opt in opts:
            self.kinds.setdefault(opt.name, opt)
        ends = np.cumsum([0] + [len(k.spec.state) for k in self.kinds.values()]).tolist()
        places = dict(zip(self.kinds, itertools.pairwise(ends), strict=True))
        self.slots = [slice(*places[opt.name]) for opt in opts]
        self.target = target
        self.margin = near if near is not None or target is None else NEAR[target.measure]
        self.schedule = schedule
        self.replayed = np.zeros(len(opts), dtype=np.int64)  # replica-steps, per optimizer
        self.every = every  # steps between this target's checks
        # per replica and training row, the row's loss when last computed: set when a loss
        # target is checked after every step (see Problem.bounded_loss)
        self.scores: torch.Tensor | None = None

    def init_state(self, params) -> list[list[torch.Tensor]]:
        """Each optimizer's zero state (its slots, shaped like ``params``), one after the other."""
        return [slot for kind in self.kinds.values() for slot in kind.init_state(params)]

    def _updates(self, params, state, replicas: _Replicas) -> list[tuple]:
        """Per block of replicas: its optimizer, its rows (``None``: all) and views of its
        parameters and of its optimizer's state."""
        if len(replicas.blocks) == 1:
            ((m, _, _),) = replicas.blocks
            return [(self.opts[m], None, params, state[self.slots[m]])]
        return [
            (self.opts[m], slice(a, b), [p[a:b] for p in params],
             [[x[a:b] for x in slot] for slot in state[self.slots[m]]])
            for m, a, b in replicas.blocks
        ]  # fmt: skip

    def advance(
        self, params, state, replicas: _Replicas, t0: int, t1: int, loss_sum=None, record=None
    ):
        schedule = self.schedule
        updates = self._updates(params, state, replicas)
        for k in range(t0, t1):
            loss, grads = self.problem.loss_grad(params, replicas.batch(k))
            if loss_sum is not None:
                loss_sum.add_(loss)  # non-finite from the first NaN or inf loss on
            factor = None if schedule is None else schedule(k)  # update k + 1 at alpha_k
            for opt, rows, p, st in updates:
                rate = opt.lr if factor is None else opt.lr * factor
                g = grads if rows is None else [x[rows] for x in grads]
                opt.spec.step(p, g, st, k + 1, rate, opt.hyper)
            if record is not None:
                record(k + 1, params, replicas.seeds, grads, state)

    def check(self, params) -> torch.Tensor:
        value = self.problem.measure(params, self.target.measure)
        return self.target.holds(value) & torch.isfinite(value)

    def assess(
        self, params, rows: np.ndarray, loss_finite: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Where the target holds and where the measure is far from it (see :meth:`near`),
        as boolean arrays, measured on the replicas where ``rows`` is true only (false
        elsewhere); a replica whose mini-batch losses are not finite (``loss_finite``
        false) is neither."""
        hold = np.zeros(len(rows), dtype=bool)
        far = np.zeros(len(rows), dtype=bool)
        if not rows.any():
            return hold, far
        every = rows.all()
        on = None if every else torch.from_numpy(rows).to(params[0].device)
        chosen = params if every else _select(params, on)
        if self.scores is None:
            value = self.problem.measure(chosen, self.target.measure)
        else:  # the bound updates the scores of the replicas it is given
            scores = self.scores if every else self.scores[on]
            value = self.problem.bounded_loss(chosen, self.target.threshold, scores)
            if not every:
                self.scores[on] = scores
        value = value.cpu()
        finite = torch.isfinite(value).numpy()
        if loss_finite is not None:
            finite &= loss_finite[rows]
        hold[rows] = self.target.holds(value).numpy() & finite
        far[rows] = ~self.near(value).numpy() & finite
        return hold, far

    def near(self, value: torch.Tensor) -> torch.Tensor:
        """Where a measured value is close enough to the target that it may have been met and
        lost again since the last check (the snapshot then stays where it was)."""
        tgt = self.target
        if tgt.measure == "accuracy":
            return value >= tgt.threshold - self.margin
        return value <= tgt.threshold * self.margin + 1e-12

    def locate(self, params, state, replicas: _Replicas, t0: int, t1: int) -> list[int]:
        """First step in (t0, t1] where the target holds, for replicas known to hold at t1.

        Replays from the state at ``t0`` (``params`` and ``state``, modified in place) with
        checks every ``ceil((t1 - t0) / SPLIT)`` steps and the main pass's rule: a replica's
        state is saved at each check far from the target, and the interval from its last
        saved state to the check where the target holds is searched again, recursively, down
        to single steps.
        """
        count = len(replicas.seeds)
        found = [t1] * count
        every = -(-(t1 - t0) // SPLIT)
        if t1 - t0 == 1:
            return found
        where = torch.arange(count)
        snap_t = torch.full((count,), t0, dtype=torch.long)
        snap_p, snap_s = _clone(params), [_clone(x) for x in state]
        t = t0
        while len(where):
            nxt = min(t + every, t1)
            self.advance(params, state, replicas, t, nxt)
            self.replayed += (nxt - t) * replicas.counts()
            t = nxt
            if t == t1:
                hold = torch.ones(len(where), dtype=torch.bool)
                far = torch.zeros(len(where), dtype=torch.bool)
            else:
                value = self.problem.measure(params, self.target.measure)
                finite = torch.isfinite(value)
                hold = (self.target.holds(value) & finite).cpu()
                far = (~self.near(value) & finite).cpu()
            for start in sorted(set(snap_t[hold].tolist())):
                group = hold & (snap_t == start)
                if every == 1:  # every step in (start, t) was checked and failed
                    firsts = [t] * int(group.sum())
                else:
                    on = group.to(snap_p[0].device)
                    sub_p, sub_s = _select(snap_p, on), [_select(x, on) for x in snap_s]
                    if (start, t) == (t0, t1):  # no progress possible: scan step by step
                        firsts = self._scan_each_step(sub_p, sub_s, replicas.select(group), t0, t1)
                    else:
                        firsts = self.locate(sub_p, sub_s, replicas.select(group), start, t)
                for pos, first in zip(where[group].tolist(), firsts, strict=True):
                    found[pos] = first
            if far.any():
                snap_t[far] = t
                _copy_rows(params, state, snap_p, snap_s, far.to(params[0].device))
            keep = ~hold
            if hold.any():
                on = keep.to(params[0].device)
                where, snap_t, replicas = where[keep], snap_t[keep], replicas.select(keep)
                params, state = _select(params, on), [_select(x, on) for x in state]
                snap_p, snap_s = _select(snap_p, on), [_select(x, on) for x in snap_s]
        return found

    def _scan_each_step(self, params, state, replicas: _Replicas, t0: int, t1: int) -> list[int]:
        """First step in (t0, t1] where the target holds, checking after every step."""
        found = [t1] * len(replicas.seeds)
        left = torch.arange(len(replicas.seeds))
        for k in range(t0, t1 - 1):
            self.advance(params, state, replicas, k, k + 1)
            self.replayed += replicas.counts()
            hold = self.check(params).cpu()
            for pos in left[hold].tolist():
                found[pos] = k + 1
            if hold.all():
                break
            if hold.any():
                keep = ~hold
                on = keep.to(params[0].device)
                left, replicas = left[keep], replicas.select(keep)
                params, state = _select(params, on), [_select(x, on) for x in state]
        return found


def _copy_rows(params, state, snap_p, snap_s, rows) -> None:
    """Save the current state of the replicas where ``rows`` is true into the snapshot."""
    current = params + [x for st in state for x in st]
    saved = snap_p + [x for st in snap_s for x in st]
    for src, dst in zip(current, saved, strict=True):
        dst[rows] = src[rows]


def _default_check_every(problem: Problem, batch_size: int | None, target: Target | None) -> int:
    """After every step where a check costs little next to a step: on a stream (the noisy
    quadratic, whose measures are closed-form) and for a loss target on a problem whose loss
    bound is cheap (``Problem.cheap_loss_bound``); the counts are then first passages. Else
    about one check per pass over the data, so that the checks cost about as much as training
    (every step for full batches)."""
    if problem.n is None:
        return 1
    if target is not None and target.measure == "loss" and problem.cheap_loss_bound:
        return 1
    return max(1, min(_MAX_CHECK_EVERY, round(problem.n / (batch_size or problem.n))))


def measure_steps(
    workload: str | Workload,
    optimizer: str,
    batch_size: int | None,
    *,
    lr: float,
    seeds: Sequence[int] | int,
    target: str | None,
    max_steps: int,
    device: str | torch.device | None = None,
    check_every: int | None = None,
    near: float | None = None,
    record: Callable[[Snapshot], object] | None = None,
    record_every: int = 1,
    on_check: Callable[[int], None] | None = None,
    schedule: Schedule | None = None,
    **hyper: float,
) -> StepsResult:
    r"""Train one replica per seed as one batched computation; steps until ``target`` holds.

    Replica ``s`` starts from the model built after ``torch.manual_seed(s)`` and at step
    :math:`k` draws :math:`b` = ``batch_size`` training indices uniformly with replacement from
    a generator that depends only on :math:`(s, k)`; its update is the optimizer's (see
    :class:`~batchsteps.train.optimizers.BatchedOptimizer`) at the rate
    :math:`\alpha_k = \alpha\, s(k)`, with :math:`\alpha` = ``lr`` and :math:`s` = ``schedule``
    (a :class:`~batchsteps.train.schedules.Schedule`; ``None``: constant), :math:`k` counting
    the updates made before. The target is a full-training-set measure (``"loss<=x"``,
    ``"grad_norm_sq<=x"``, ``"accuracy>=x"``), checked at step 0 and every ``check_every``
    steps. By default a check comes after every step where that costs little: any target on
    a stream, and a loss target on an MLP of ``Linear`` and ``ReLU`` layers whose full-data
    forward pass costs at most ``CHEAP_FORWARD`` FLOPs (the digits MLP: the loss is a mean of
    non-negative terms, so the rows with the largest losses can prove it above the target from
    part of the data: ``StackedMLP.bounded_loss`` in ``batchsteps.train.problems``);
    the count is then the first passage. Other targets are checked about once per
    pass over the data; when a check first succeeds, the run is replayed from the state saved
    at the replica's last check far from the target (within the margin ``near``; default
    :data:`NEAR`), with finer and finer checks, to find the first step at which the target
    held. That is the first passage unless the measure met the target and left it again
    between checks (see :class:`StepsResult`: the count is then late); ``check_every=1``
    counts the first passage itself, at the price of a full-data check after every step. A
    replica whose mini-batch loss becomes NaN or inf stops with reason ``"diverged"``; the
    others go on.
    CPU arithmetic flushes denormal floats to zero meanwhile (:func:`flushing_denormals`).
    ``batch_size=None`` trains on the whole training set at every step (gradient descent, no
    sampling; data workloads only). ``record(snapshot)`` (optional; a recorder such as
    :class:`~batchsteps.train.NoiseRecorder`) is called at step 0 and after every
    ``record_every``-th update up to ``max_steps`` with a :class:`Snapshot` of the replicas
    still running. ``on_check(step)`` (optional) is called at every check of the main pass,
    with the step count reached (a progress hook). ``device``: where to train
    (:func:`resolve_device`; ``None``: CUDA if present, else the CPU).

    Returns a :class:`StepsResult`; :func:`steps_to_target` returns just its ``steps``.
    """
    ((result,),) = _measure(
        workload, [_optimizer(spec(optimizer).name, lr, **hyper)], batch_size,
        [parse_target(target)],
        seeds=seeds, max_steps=max_steps, device=device, check_every=check_every, near=near,
        record=record, record_every=record_every, on_check=on_check, schedule=schedule,
    )  # fmt: skip
    return result


def measure_targets(
    workload: str | Workload,
    optimizer: str,
    batch_size: int | None,
    *,
    lr: float,
    seeds: Sequence[int] | int,
    targets: Sequence[str | Target],
    max_steps: int,
    device: str | torch.device | None = None,
    check_every: int | None = None,
    near: float | None = None,
    record: Callable[[Snapshot], object] | None = None,
    record_every: int = 1,
    on_check: Callable[[int], None] | None = None,
    schedule: Schedule | None = None,
    **hyper: float,
) -> tuple[StepsResult, ...]:
    """:func:`measure_steps` for several targets along one training run per seed: one
    :class:`StepsResult` per entry of ``targets`` (distinct), in their order, each with the
    steps that :func:`measure_steps` gives for that target alone.

    Every replica trains until each target is reached (or it diverges, or ``max_steps``);
    a target is checked only on the replicas that have not reached it, and each target keeps
    its own replay snapshots, so the result for a target does not depend on the others (a
    seed's steps do not depend on the seeds beside it either). The training the targets share
    is done once: with two targets of which one is reached at step ``K1`` and the other at
    ``K2``, a seed costs ``max(K1, K2)`` training steps instead of ``K1 + K2``. ``wall_time``
    is the whole run's, the same in each result; ``replayed_steps`` is each target's own.
    ``record`` sees the replicas that still have a target to reach.
    """
    (results,) = _measure(
        workload, [_optimizer(spec(optimizer).name, lr, **hyper)], batch_size,
        parse_targets(targets),
        seeds=seeds, max_steps=max_steps, device=device, check_every=check_every, near=near,
        record=record, record_every=record_every, on_check=on_check, schedule=schedule,
    )  # fmt: skip
    return results


def measure_stacked(
    workload: str | Workload,
    optimizers: Sequence[BatchedOptimizer],
    batch_size: int | None,
    *,
    seeds: Sequence[int] | int,
    targets: Sequence[str | Target | None],
    max_steps: int,
    device: str | torch.device | None = None,
    check_every: int | None = None,
    near: float | None = None,
    on_check: Callable[[int], None] | None = None,
    schedule: Schedule | None = None,
) -> tuple[tuple[StepsResult, ...], ...]:
    r""":func:`measure_targets` for several optimizers at once: per entry of ``optimizers``
    (each a registered optimizer at its rate and hyperparameters, made by
    :func:`~batchsteps.train.optimizer`; the same one twice is allowed), the results that
    :func:`measure_targets` gives for it alone: the same steps bit for bit on a CPU (tested
    on one and two threads, MLPs and a generic module through ``torch.func``; on a GPU the
    batched products' kernels may change with the stack's size, and the steps with their
    round-off).

    All the optimizers' replicas (every optimizer trains every seed) form one stack: each step
    computes the mini-batch gradients of all of them in one pass, then each optimizer updates
    its own replicas, at its own rate; the checks measure all of them at once. On a CPU this
    pays the per-operation cost of a step once for the whole stack, so cells of small batches
    take less time together than one after the other (``benchmarks/README.md`` measures it).
    ``targets``: distinct targets, or ``[None]`` (no checks: ``max_steps`` for every replica).
    ``seeds``, ``max_steps``, ``device``, ``check_every``, ``near``, ``on_check`` and
    ``schedule`` (one for every optimizer, multiplying each one's rate) are those of
    :func:`measure_steps`.
    ``wall_time`` is the whole run's, the same in each result; ``replayed_steps`` is each
    optimizer's and target's own. A diverged replica stops alone, as in
    :func:`measure_steps`.
    """
    if isinstance(optimizers, BatchedOptimizer | str) or not isinstance(optimizers, Sequence):
        raise validation.type_error(
            "optimizers", optimizers, "a sequence of BatchedOptimizer (see optimizer())"
        )
    if not optimizers:
        raise validation.value_error("optimizers", optimizers, "at least one optimizer")
    for i, opt in enumerate(optimizers):
        validation.instance(
            f"optimizers[{i}]", opt, BatchedOptimizer, "a BatchedOptimizer (see optimizer())"
        )
        # checked when made; its optimizer may have been unregistered since
        validation.prefixed(f"optimizers[{i}]", spec, opt.name)
    untargeted = isinstance(targets, Sequence) and len(targets) == 1 and targets[0] is None
    parsed = [None] if untargeted else parse_targets(targets)
    return _measure(
        workload, list(optimizers), batch_size, parsed, seeds=seeds, max_steps=max_steps,
        device=device, check_every=check_every, near=near, record=None, record_every=1,
        on_check=on_check, schedule=schedule,
    )  # fmt: skip


def _measure(
    workload, opts: list[BatchedOptimizer], batch_size, targets: list[Target | None], *, seeds,
    max_steps, device, check_every, near, record, record_every, on_check, schedule,
) -> tuple[tuple[StepsResult, ...], ...]:  # fmt: skip
    """Validate, train, and return per optimizer one :class:`StepsResult` per target
    (``[None]``: none)."""
    start_time = time.perf_counter()
    wl = _workload(workload)
    if batch_size is not None:
        batch_size = validation.integer("batch_size", batch_size, low=1)
    elif wl.n is None:
        raise ValueError(
            f"batch_size=None (full batch) needs a finite training set; workload {wl.name!r} "
            "streams its samples: give an int >= 1"
        )
    seeds = check_seeds(seeds)
    max_steps = validation.integer("max_steps", max_steps, low=1)
    for tgt in targets:
        if tgt is not None and tgt.measure == "accuracy" and not wl.classification:
            raise ValueError(
                f"target={tgt.text!r}: accuracy is undefined for workload {wl.name!r} "
                f"({wl.loss} loss)"
            )
    if check_every is not None:
        check_every = validation.integer("check_every", check_every, low=1)
    record_every = validation.integer("record_every", record_every, low=1)
    if schedule is not None:
        validation.instance(
            "schedule", schedule, Schedule, "a Schedule (e.g. inverse_time(100.0)) or None"
        )
    if record is not None and not callable(record):
        raise validation.type_error("record", record, "a callable(Snapshot) or None")
    if on_check is not None and not callable(on_check):
        raise validation.type_error("on_check", on_check, "a callable(step) or None")
    dev = resolve_device(device)
    problem = wl.problem(dev)
    if near is not None:
        near = validation.real("near", near, low=0, note="a margin, see NEAR")
        for tgt in targets:
            if tgt is not None and tgt.measure != "accuracy" and near < 1:
                raise validation.value_error(
                    "near", near, f">= 1 for a {tgt.measure} target (a factor)"
                )
    runs = [
        _Run(problem, opts, tgt, near, schedule,
             check_every or _default_check_every(problem, batch_size, tgt))
        for tgt in targets
    ]  # fmt: skip

    with torch.no_grad(), flushing_denormals():
        steps, reasons = _main_pass(
            runs, batch_size, seeds, max_steps, record, record_every, on_check
        )
    wall_time = time.perf_counter() - start_time
    count = len(seeds)
    return tuple(
        tuple(
            StepsResult(
                workload=wl.name,
                optimizer=opt.name,
                batch_size=batch_size,
                lr=opt.lr,
                hyper=dict(opt.hyper),
                seeds=tuple(seeds),
                steps=steps[i, m * count : (m + 1) * count],
                reason=tuple(reasons[i][m * count : (m + 1) * count]),
                target=None if run.target is None else run.target.text,
                max_steps=max_steps,
                check_every=run.every,
                wall_time=wall_time,
                device=str(dev),
                replayed_steps=int(run.replayed[m]),
                near=run.margin,
                schedule=schedule,
            )
            for i, run in enumerate(runs)
        )
        for m, opt in enumerate(opts)
    )


def _main_pass(runs: list[_Run], batch_size, seeds, max_steps, record, record_every, on_check):
    """Train every seed with every optimizer until each run's target holds (``runs``: one per
    target, or a single run without one); returns steps (one row per run) and reasons (one
    list per run), each optimizer's seeds one after the other."""
    first = runs[0]
    problem, targeted, members = first.problem, first.target is not None, len(first.opts)
    member = np.repeat(np.arange(members), len(seeds))
    seeds = list(seeds) * members
    count = len(seeds)
    steps = np.full((len(runs), count), -1, dtype=np.int64)
    reasons = [["max_steps" if targeted else "no target"] * count for _ in runs]
    if batch_size is None:
        sampler = FullBatch(seeds, problem.n, problem.device)
    else:
        sampler = Sampler(seeds, lambda s, c: problem.draw(s, c, batch_size))
    replicas = _Replicas(sampler, member, members)
    params = problem.init(seeds)
    state = first.init_state(params)
    dev = params[0].device
    # the bookkeeping is in numpy (on the host): cheap next to a step on small replica stacks
    where = np.arange(count)  # positions (in seeds) of the replicas still running
    loss_sum = torch.zeros(count, dtype=params[0].dtype, device=dev)  # of mini-batch losses
    finite = np.ones(count, dtype=bool)  # where loss_sum is finite
    pending = np.ones((len(runs), count), dtype=bool)  # run's target not yet settled
    # per run and replica: the state at the last check that was far from the run's target
    # (its replays start there)
    snap_t = [np.zeros(count, dtype=np.int64) for _ in runs]
    snaps = [(_clone(params), [_clone(x) for x in state]) for _ in runs]
    # the main pass stops at every step where some target is checked; each target is checked
    # at the multiples of its own cadence (and at max_steps), as in a run for it alone
    every = min(run.every for run in runs)
    for run in runs:  # a loss checked after every step: decided from the costliest rows first
        if run.every == 1 and problem.n is not None and targeted and run.target.measure == "loss":
            run.scores = torch.zeros(count, problem.n, dtype=params[0].dtype, device=dev)

    def recorder(k, p, s, grads, st):  # one optimizer only (measure_stacked takes no record)
        if k % record_every == 0:
            record(Snapshot(k, p, s, grads, st, first.opts[0], problem))

    if record is not None:
        recorder(0, params, replicas.seeds, None, state)

    none = np.zeros(count, dtype=bool)
    if targeted:
        hold = [run.assess(params, pending[i], None)[0] for i, run in enumerate(runs)]
    else:
        hold = [none]
    t = 0
    while True:
        for i, run in enumerate(runs):
            reached = hold[i]
            if not reached.any():
                continue
            for pos in where[reached].tolist():
                steps[i, pos], reasons[i][pos] = t, "reached"
            # with a check after every step, t is the first passage: nothing to replay
            for start in sorted(set(snap_t[i][reached].tolist()) - {t}) if run.every > 1 else ():
                group = reached & (snap_t[i] == start)
                on = torch.from_numpy(group).to(dev)
                snap_p, snap_s = snaps[i]
                firsts = run.locate(
                    _select(snap_p, on),
                    [_select(x, on) for x in snap_s],
                    replicas.select(group),
                    start,
                    t,
                )
                steps[i, where[group]] = firsts
            pending[i] &= ~reached
        if not finite.all():
            for i in range(len(runs)):
                for pos in where[~finite & pending[i]].tolist():
                    reasons[i][pos] = "diverged"
            pending &= finite
        done = ~pending.any(0)
        if done.any():
            keep = ~done
            on = torch.from_numpy(keep).to(dev)
            where, replicas, pending, finite = (
                where[keep],
                replicas.select(keep),
                pending[:, keep],
                finite[keep],
            )
            loss_sum = loss_sum[on]
            params, state = _select(params, on), [_select(x, on) for x in state]
            snap_t = [s[keep] for s in snap_t]
            snaps = [(_select(p, on), [_select(x, on) for x in st]) for p, st in snaps]
            for run in runs:
                if run.scores is not None:
                    run.scores = run.scores[on]
        if len(where) == 0 or t >= max_steps:
            break
        nxt = min(t + every, max_steps) if targeted else max_steps
        first.advance(params, state, replicas, t, nxt, loss_sum, recorder if record else None)
        t = nxt
        finite = torch.isfinite(loss_sum).cpu().numpy()
        if on_check is not None:
            on_check(t)
        if not targeted:
            hold = [none[: len(where)]]
            continue
        hold = []
        for i, run in enumerate(runs):
            if t % run.every and t < max_steps:  # not this target's check
                hold.append(none[: len(where)])
                continue
            reached, far = run.assess(params, pending[i], finite)
            hold.append(reached)
            if far.any() and run.every > 1:
                snap_t[i][far] = t
                _copy_rows(params, state, *snaps[i], torch.from_numpy(far).to(dev))
    return steps, reasons


def steps_to_target(
    workload: str | Workload,
    optimizer: str,
    batch_size: int,
    *,
    lr: float,
    seeds: Sequence[int] | int,
    target: str | None,
    max_steps: int,
    device: str | torch.device | None = None,
    schedule: Schedule | None = None,
    **hyper: float,
) -> np.ndarray:
    r"""Per seed, the steps :func:`measure_steps` counts to ``target`` (the first step at which
    it holds, unless it held only briefly before, see :class:`StepsResult`), else -1.

    ``workload``: a name (``"digits-mlp"``, ``"teacher-student"``, ``"nqm"``,
    ``"fashion-mnist-mlp"``, ``"cifar10-resnet20"``) or a :class:`Workload`; ``optimizer``: one
    of ``OPTIMIZERS``; ``batch_size`` :math:`b \ge 1`; ``lr`` :math:`\alpha > 0`; ``seeds``:
    distinct ints :math:`\ge 0` (or a count); ``target``: ``"loss<=x"``, ``"grad_norm_sq<=x"``
    (:math:`\|\nabla f(\theta_k)\|^2 \le x` on the full training set), ``"accuracy>=x"`` or
    ``None`` (train ``max_steps`` without checks); ``max_steps`` :math:`\ge 1`; ``device``:
    where to train (:func:`resolve_device`; ``None``: CUDA if present, else the CPU); ``schedule``:
    the learning rate's :class:`~batchsteps.train.schedules.Schedule` (``None``: constant);
    ``hyper``: the optimizer's hyperparameters (``beta``; ``beta1``, ``beta2``, ``eps``).
    Diverged runs (NaN/inf loss) count as not reached. Deterministic on CPU. See
    :func:`measure_steps` for the method and a richer result.

    >>> steps_to_target("nqm", "sgd", 8, lr=0.5, seeds=[0, 1], target="loss<=1.0", max_steps=500)
    array([10, 10])
    """
    return measure_steps(
        workload,
        optimizer,
        batch_size,
        lr=lr,
        seeds=seeds,
        target=target,
        max_steps=max_steps,
        device=device,
        schedule=schedule,
        **hyper,
    ).steps
