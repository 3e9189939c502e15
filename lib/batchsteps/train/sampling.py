r"""Mini-batch sampling as a pure function of (seed, step).

Step :math:`k` of the run with seed :math:`s` draws its batch from a generator seeded by a
hash of :math:`(s, \lfloor k / C \rfloor)`, :math:`C` = :data:`CHUNK` steps at a time. So a
replica's batches depend only on its own seed, never on the replicas beside it, and a run can
be replayed from any step without saving generator states.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

__all__ = ["CHUNK", "chunk_seed", "draw_indices", "Sampler", "FullBatch"]

#: Steps drawn per generator seeding.
CHUNK = 64
_MASK = (1 << 64) - 1


def chunk_seed(seed: int, chunk: int) -> int:
    """A 63-bit generator seed for chunk ``chunk`` of seed ``seed`` (splitmix64 finalizer)."""
    z = (seed * 0x9E3779B97F4A7C15 + (chunk + 1) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return (z ^ (z >> 31)) & ((1 << 63) - 1)


def draw_indices(
    seed: int, chunk: int, n: int, batch_size: int, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Indices of ``CHUNK`` mini-batches, shape ``(CHUNK, batch_size)``: uniform, with replacement.

    Sampling with replacement is assumption A2 of the theory (unbiased gradients whose variance
    is exactly :math:`\\sigma^2/b`).
    """
    gen = torch.Generator(device=device)
    gen.manual_seed(chunk_seed(seed, chunk))
    return torch.randint(n, (CHUNK, batch_size), generator=gen, device=device)


class Sampler:
    """Per-replica batch descriptors for any step, cached one chunk at a time.

    ``draw(seed, chunk)`` returns a tensor whose first dimension is ``CHUNK`` (indices for a
    data set, noise for a streaming workload); ``batch(step)`` stacks step ``step``'s slice
    over the replicas.
    """

    def __init__(self, seeds: Sequence[int], draw: Callable[[int, int], torch.Tensor]):
        self.seeds = list(seeds)
        self._draw = draw
        self._chunk = -1
        self._cache: torch.Tensor | None = None

    def batch(self, step: int) -> torch.Tensor:
        """Batch descriptors of step ``step`` (0-based), stacked over replicas."""
        chunk, offset = divmod(step, CHUNK)
        if chunk != self._chunk:
            self._cache = torch.stack([self._draw(s, chunk) for s in self.seeds])
            self._chunk = chunk
        return self._cache[:, offset]

    def select(self, keep: torch.Tensor) -> Sampler:
        """The sampler of the replicas where boolean (or index) ``keep`` selects."""
        idx = torch.as_tensor(keep).cpu()
        if idx.dtype == torch.bool:
            idx = idx.nonzero().flatten()
        out = Sampler([self.seeds[i] for i in idx.tolist()], self._draw)
        if self._cache is not None:
            out._chunk = self._chunk
            out._cache = self._cache[idx.to(self._cache.device)]
        return out


class FullBatch:
    """The batches of full-batch training: every step, every replica, all ``n`` rows in order.

    It answers ``batch`` and ``select`` like a :class:`Sampler`, so the engine trains by
    gradient descent on the whole training set with the same loop (no sampling at all).
    """

    def __init__(self, seeds: Sequence[int], n: int, device: torch.device | str = "cpu"):
        self.seeds = list(seeds)
        self._rows = torch.arange(n, device=device)

    def batch(self, step: int) -> torch.Tensor:
        """Every row's index, for each replica: shape ``(replicas, n)``."""
        return self._rows.expand(len(self.seeds), -1)

    def select(self, keep: torch.Tensor) -> FullBatch:
        """The full batches of the replicas where boolean (or index) ``keep`` selects."""
        idx = torch.as_tensor(keep).cpu()
        if idx.dtype == torch.bool:
            idx = idx.nonzero().flatten()
        out = FullBatch([], 0)
        out.seeds, out._rows = [self.seeds[i] for i in idx.tolist()], self._rows
        return out
