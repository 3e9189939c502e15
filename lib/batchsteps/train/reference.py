"""The plain loop: one ``nn.Module`` and one ``torch.optim`` optimizer, one seed at a time.

It is the baseline every speed figure compares against and the reference the engine's tests
agree with. It checks the target after every step (the definition the engine must match).
"""

from __future__ import annotations

import torch
from torch import nn

from .problems import init_modules
from .registry import spec
from .sampling import CHUNK, draw_indices
from .targets import parse_target
from .workloads import Workload
from .workloads import workload as _workload

__all__ = ["torch_optimizer", "plain_steps_to_target"]


def torch_optimizer(name: str, params, lr: float, **hyper: float) -> torch.optim.Optimizer:
    """The ``torch.optim`` optimizer the engine's ``name`` reproduces: its registered
    ``torch_factory`` (AdaBelief has none: torch has no AdaBelief)."""
    declared = spec(name, argument="name")
    if declared.torch_factory is None:
        raise ValueError(
            f"name must be an optimizer with a torch.optim counterpart (a torch_factory), "
            f"got {name!r}"
        )
    return declared.torch_factory(params, lr, declared.resolve(hyper))


def _full_measure(model: nn.Module, wl: Workload, measure: str) -> float:
    out = model(wl.X)
    if measure == "accuracy":
        return (out.argmax(-1) == wl.y).float().mean().item()
    loss = (
        nn.functional.cross_entropy(out, wl.y)
        if wl.classification
        else nn.functional.mse_loss(out, wl.y)
    )
    if measure == "loss":
        return loss.item()
    grads = torch.autograd.grad(loss, list(model.parameters()))
    return sum(g.square().sum() for g in grads).item()


def plain_steps_to_target(
    workload: str | Workload,
    optimizer: str,
    batch_size: int,
    *,
    lr: float,
    seed: int,
    target: str | None,
    max_steps: int,
    sampling: str = "engine",
    **hyper: float,
) -> int:
    """First step at which ``target`` holds for one seed, checked after every step, else -1.

    ``sampling="engine"`` draws the engine's batches (so trajectories can be compared step by
    step); ``"torch"`` draws ``torch.randint`` from a generator seeded with ``seed``.
    """
    wl = _workload(workload)
    tgt = parse_target(target)
    (model,) = init_modules(wl.model, [seed])
    opt = torch_optimizer(optimizer, model.parameters(), lr, **hyper)
    loss_fn = nn.functional.cross_entropy if wl.classification else nn.functional.mse_loss
    gen = torch.Generator().manual_seed(seed)
    chunk = None

    def holds() -> bool:
        return bool(tgt.holds(torch.tensor(_full_measure(model, wl, tgt.measure))))

    if tgt is not None and holds():
        return 0
    for k in range(max_steps):
        if sampling == "engine":
            if k % CHUNK == 0:
                chunk = draw_indices(seed, k // CHUNK, wl.n, batch_size)
            idx = chunk[k % CHUNK]
        else:
            idx = torch.randint(wl.n, (batch_size,), generator=gen)
        loss = loss_fn(model(wl.X[idx]), wl.y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if not torch.isfinite(loss):
            return -1
        if tgt is not None:
            with torch.no_grad() if tgt.measure != "grad_norm_sq" else torch.enable_grad():
                if holds():
                    return k + 1
    return -1
