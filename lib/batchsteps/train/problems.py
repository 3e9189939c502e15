"""Batched problems: what the engine needs from a workload, for R replicas at once.

A problem turns a :class:`~batchsteps.train.workloads.Workload` into four operations on
stacked parameters (replica index first): initial parameters for a list of seeds, mini-batch
descriptors for a seed and a chunk of steps, mini-batch loss and gradient, and full-data
measures (loss, accuracy, squared gradient norm). Three kinds:

- :class:`StackedMLP`: a ReLU MLP as stacked weights, forward and backward written out with
  ``baddbmm``/``bmm`` (the fast path: no autograd graph, no per-replica Python);
- :class:`FunctionalModel`: any ``nn.Module`` through ``torch.func`` (``vmap`` of ``grad``);
- :class:`NoisyQuadratic`: the noisy quadratic model, gradients sampled in closed form.
"""

from __future__ import annotations

import abc
import itertools
import math
import threading
from collections.abc import Callable, Sequence

import torch
from torch import nn

from .. import validation
from .sampling import CHUNK, chunk_seed, draw_indices

__all__ = ["Problem", "StackedMLP", "FunctionalModel", "NoisyQuadratic", "init_modules"]

# Rows of the data processed at once in full-data measures (bounds the memory of R x rows).
_EVAL_ELEMENTS = 1 << 23
# A bounded loss (StackedMLP.bounded_loss): its blocks are multiples of _BOUND_BLOCK rows, at
# most _BOUND_ROWS in all; a partial sum proves the mean above a threshold past the relative
# margin _ROUND_OFF.
_BOUND_BLOCK = 64
_BOUND_ROWS = 448
_ROUND_OFF = 1e-4
# Rows from which a narrowing layer's product is computed features-major (StackedMLP._forward).
_FEATURES_MAJOR = 8
#: FLOPs a replica of a full-data forward pass may cost for a loss target to be checked after
#: every step by default (see ``StackedMLP.cheap_loss_bound``).
CHEAP_FORWARD = 5e7
# The global RNG is shared by the threads of a process (a thread-pool sweep): one seeding at a time.
_RNG_LOCK = threading.Lock()


def init_modules(factory: Callable[[], nn.Module], seeds: Sequence[int]) -> list[nn.Module]:
    """One module per seed, built right after ``torch.manual_seed(seed)`` (global RNG restored).

    So replica ``seed`` starts exactly where a plain script ``torch.manual_seed(seed);
    model = factory()`` starts.
    """
    modules = []
    with _RNG_LOCK, torch.random.fork_rng(devices=[]):
        for seed in seeds:
            torch.manual_seed(seed)
            modules.append(factory())
    return modules


class Problem(abc.ABC):
    """Interface of a batched problem (see the module docstring)."""

    n: int | None = None
    classification: bool = False

    @property
    def cheap_loss_bound(self) -> bool:
        """Whether :meth:`bounded_loss` costs little enough to check a loss target after every
        step by default."""
        return False

    @abc.abstractmethod
    def init(self, seeds: Sequence[int]) -> list[torch.Tensor]:
        """Stacked initial parameters, replica ``r`` built after ``torch.manual_seed(seeds[r])``."""

    @abc.abstractmethod
    def draw(self, seed: int, chunk: int, batch_size: int) -> torch.Tensor:
        """The batch indices of one replica for one block of steps."""

    @abc.abstractmethod
    def loss_grad(
        self, params: list[torch.Tensor], batch: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Per-replica mini-batch losses and stacked gradients."""

    @abc.abstractmethod
    def measure(self, params: list[torch.Tensor], what: str) -> torch.Tensor:
        """Per-replica full-data ``loss``, ``grad_norm_sq`` or ``accuracy``."""

    def bounded_loss(
        self, params: list[torch.Tensor], threshold: float, scores: torch.Tensor | None
    ) -> torch.Tensor:
        """Per replica, a value that equals the full-data loss wherever that is at most
        ``threshold`` and exceeds ``threshold`` elsewhere: enough to decide a loss target.
        ``scores`` (replicas x rows, or ``None``) may guide a cheaper computation and be
        updated in place. Here: the loss itself."""
        return self.measure(params, "loss")


class _DataProblem(Problem):
    def __init__(self, X: torch.Tensor, y: torch.Tensor, loss: str, device: torch.device):
        self.X = X.to(device)
        self.y = y.to(device)
        self.n = int(X.shape[0])
        self.loss = loss
        self.classification = loss == "cross_entropy"
        self.device = device

    def draw(self, seed: int, chunk: int, batch_size: int) -> torch.Tensor:
        return draw_indices(seed, chunk, self.n, batch_size, self.device)

    def _check_dtype(self, module: nn.Module) -> None:
        """``TypeError`` unless floating-point ``X`` has the dtype of the model's parameters (a
        model of float32 layers cannot multiply float64 data; integer inputs, token ids for an
        embedding, are the model's to read)."""
        first = next(module.parameters(), None)
        if first is not None and self.X.is_floating_point() and self.X.dtype != first.dtype:
            raise validation.type_error(
                "X", self.X, f"a tensor of the model's dtype {first.dtype}, not {self.X.dtype} "
                f"(convert it: X.to({first.dtype}))"
            )  # fmt: skip

    def _check_targets(self, output: tuple[int, ...]) -> None:
        """Before training, ``y`` against the shape of one row's model output ``output``:
        class indices below its size for cross-entropy, the same shape for the squared
        error (a ``ValueError``; a ``TypeError`` for integer targets of the squared error)."""
        if self.classification:
            largest = int(self.y.max())
            if largest >= output[0]:
                raise validation.value_error(
                    "y", self.y,
                    f"class indices < {output[0]}, the model's output size (largest {largest})",
                )  # fmt: skip
            return
        if not self.y.dtype.is_floating_point:
            raise validation.type_error("y", self.y, f"a float tensor for mse, not {self.y.dtype}")
        if tuple(self.y.shape[1:]) != output:
            shape = ", ".join(map(str, ("n", *output)))
            raise validation.value_error(
                "y", self.y,
                f"targets of the model's output shape ({shape}) for mse, not {tuple(self.y.shape)}",
            )  # fmt: skip

    def measure(self, params, what):
        """Full-data ``what`` per replica, summed over chunks of rows (``_measure_chunk``)."""
        replicas = params[0].shape[0]
        rows = self._rows(replicas)
        total = torch.zeros(replicas, dtype=params[0].dtype, device=self.device)
        grads = None
        for start in range(0, self.n, rows):
            x, t = self.X[start : start + rows], self.y[start : start + rows]
            value, part = self._measure_chunk(params, x, t, what, x.shape[0] / self.n)
            total += value
            if part is not None:
                grads = (
                    part if grads is None else [g.add_(p) for g, p in zip(grads, part, strict=True)]
                )
        if what == "grad_norm_sq":
            return sum(g.square().flatten(1).sum(1) for g in grads)
        return total

    @abc.abstractmethod
    def _measure_chunk(self, params, x, t, what, weight):
        """One chunk's share of ``what`` (weighted by ``weight``) and, for the gradient, its
        weighted per-replica gradients (else ``None``)."""

    def _rows(self, replicas: int) -> int:
        width = max(int(math.prod(self.X.shape[1:])), 1)
        return max(1, _EVAL_ELEMENTS // (replicas * width))


def _class_dim(out: torch.Tensor) -> tuple[torch.Tensor, int]:
    """``out`` (R, m, k) as a tensor whose class dimension is ``dim``: the class-major tensor
    (R, k, m) and 1 when ``out`` is a transposed view of one (a narrowing layer's output, see
    ``StackedMLP._forward``), where a softmax over the classes runs along contiguous rows;
    else ``out`` itself and -1."""
    major = out.transpose(1, 2)
    return (major, 1) if major.is_contiguous() else (out, -1)


def _log_probs(out: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Log-softmax of ``out`` (R, m, k) over the classes, in the layout of :func:`_class_dim`,
    with the index of each row's class ``t`` (R, m) in that layout and the class dimension."""
    z, dim = _class_dim(out)
    return torch.log_softmax(z, dim=dim), t.unsqueeze(dim), dim


def _per_row_loss(out: torch.Tensor, t: torch.Tensor, loss: str) -> torch.Tensor:
    """Each row's loss, (R, m), for outputs ``out`` (R, m, k) against ``t`` (R, m[, k])."""
    if loss == "cross_entropy":
        logp, index, dim = _log_probs(out, t)
        return logp.gather(dim, index).squeeze(dim).neg_()
    return (out - t).square().mean(dim=-1)


def _loss_and_dout(out: torch.Tensor, t: torch.Tensor, loss: str, grad: bool):
    r"""Per-replica mean loss of outputs ``out`` (R, b, k) against ``t``, and d loss / d out.

    Cross-entropy: :math:`-\frac1b \sum_i \log p_{i, t_i}` with :math:`p = \mathrm{softmax}`,
    whose derivative is :math:`(p - \mathrm{onehot}(t)) / b`; squared error:
    :math:`\frac{1}{bk} \sum (o - t)^2`, derivative :math:`2 (o - t) / (bk)`."""
    if loss == "cross_entropy":
        logp, index, dim = _log_probs(out, t)
        value = logp.gather(dim, index).squeeze(dim).mean(dim=1).neg_()
        if not grad:
            return value, None
        dout = logp.exp_()
        minus_one = dout.new_full((), -1.0).expand(index.shape)  # no host-to-device copy
        dout.scatter_add_(dim, index, minus_one).div_(out.shape[1])
        return value, dout if dim == -1 else dout.transpose(1, 2)
    diff = out - t
    value = diff.square().mean(dim=(1, 2))
    if not grad:
        return value, None
    return value, diff.mul_(2.0 / (out.shape[1] * out.shape[2]))


class StackedMLP(_DataProblem):
    r"""A ReLU MLP for R replicas as stacked weights ``W_l`` and biases ``b_l`` (R, 1, out).

    Forward :math:`a_l = \mathrm{relu}(a_{l-1} W_l + b_l)` (no ReLU on the last layer); the
    backward pass is written out: :math:`\partial W_l = a_{l-1}^\top \delta_l`,
    :math:`\partial b_l = \sum_i \delta_{l,i}`,
    :math:`\delta_{l-1} = (\delta_l W_l^\top) \odot [a_{l-1} > 0]`. Losses: mean cross-entropy
    (:math:`\delta_L = (\mathrm{softmax} - \mathrm{onehot})/b`) or mean squared error.

    A layer's weight is stored (R, in, out) when it widens or keeps the width and in torch's
    (R, out, in) layout when it narrows (``layout[l]`` is ``"in_out"`` or ``"out_in"``):
    batched products with a narrow last dimension are several times slower on CPU.
    """

    def __init__(self, factory, X, y, loss, device):
        super().__init__(X, y, loss, device)
        self.factory = factory
        linears = [m for m in factory() if isinstance(m, nn.Linear)]
        self.layout = ["out_in" if m.out_features < m.in_features else "in_out" for m in linears]
        self.sizes = (linears[0].in_features, *(m.out_features for m in linears))
        self._check_dtype(linears[0])
        self._check_targets((self.sizes[-1],))

    def init(self, seeds):
        modules = init_modules(self.factory, seeds)
        linears = [[m for m in mod if isinstance(m, nn.Linear)] for mod in modules]
        params = []
        for layer, kind in enumerate(self.layout):
            weights = [ls[layer].weight.detach() for ls in linears]
            w = torch.stack([x if kind == "out_in" else x.t() for x in weights])
            b = torch.stack([ls[layer].bias.detach().unsqueeze(0) for ls in linears])
            params += [w.contiguous().to(self.device), b.to(self.device)]
        return params

    def to_modules(self, params: list[torch.Tensor], factory=None) -> list[nn.Module]:
        """Plain ``nn.Module`` copies of the replicas (for inspection and tests)."""
        out = []
        for r in range(params[0].shape[0]):
            mod = (factory or self.factory)()
            linears = [m for m in mod if isinstance(m, nn.Linear)]
            with torch.no_grad():
                for i, lin in enumerate(linears):
                    w = params[2 * i][r]
                    lin.weight.copy_(w if self.layout[i] == "out_in" else w.t())
                    lin.bias.copy_(params[2 * i + 1][r, 0])
            out.append(mod)
        return out

    def _in_out(self, params, i):
        w = params[2 * i]
        return w.transpose(1, 2) if self.layout[i] == "out_in" else w

    def _forward(self, params, x):
        r"""Activations of every layer, input first, each (R, rows, width) or (rows, width).

        A narrowing layer (``"out_in"``) on at least ``_FEATURES_MAJOR`` rows computes
        :math:`z^\top = W a^\top + b^\top` (R, out, rows) and returns its transpose, a view:
        the product then has the rows, not the narrow width, as its last dimension (2-3 times
        faster for 128 -> 10 on CPU)."""
        acts = [x]
        layers = len(params) // 2
        a = x
        for i in range(layers):
            w, b = params[2 * i], params[2 * i + 1]
            if self.layout[i] == "out_in" and a.shape[-2] >= _FEATURES_MAJOR:
                at, bt = a.transpose(-1, -2), b.transpose(1, 2)
                z = torch.baddbmm(bt, w, at) if a.dim() == 3 else torch.matmul(w, at).add_(bt)
                z = z.transpose(1, 2)
            else:
                w = self._in_out(params, i)
                z = torch.baddbmm(b, a, w) if a.dim() == 3 else torch.matmul(a, w).add_(b)
            a = torch.relu_(z) if i < layers - 1 else z
            acts.append(a)
        return acts

    def _backward(self, params, acts, dout):
        layers = len(params) // 2
        grads: list[torch.Tensor] = [None] * len(params)  # type: ignore[list-item]
        delta = dout
        for i in reversed(range(layers)):
            a = acts[i]
            if self.layout[i] == "out_in":
                left, right = delta.transpose(-1, -2), a
            else:
                left, right = a.transpose(-1, -2), delta
            grads[2 * i] = torch.matmul(left, right)
            grads[2 * i + 1] = delta.sum(dim=1, keepdim=True)
            if i > 0:
                delta = torch.bmm(delta, self._in_out(params, i).transpose(1, 2))
                delta = torch.ops.aten.threshold_backward(delta, a, 0.0)  # relu'
        return grads

    def loss_grad(self, params, batch):
        flat = batch.reshape(-1)
        x = self.X.index_select(0, flat).view(*batch.shape, *self.X.shape[1:])
        t = self.y.index_select(0, flat).view(*batch.shape, *self.y.shape[1:])
        acts = self._forward(params, x)
        value, dout = _loss_and_dout(acts[-1], t, self.loss, True)
        return value, self._backward(params, acts, dout)

    @property
    def cheap_loss_bound(self) -> bool:
        """A full-data forward pass of at most ``CHEAP_FORWARD`` FLOPs a replica (digits:
        3.4e7; Fashion-MNIST's 784 inputs cost 1.3e8 with 16 hidden units): the bound needs
        a few per cent of the rows where the losses are heavy-tailed, but up to half of them
        where they are not (measured: 40% on Fashion-MNIST at the loss 0.6), and on wide
        inputs a check after every step then costs several training steps."""
        pairs = itertools.pairwise(self.sizes)
        return 2 * self.n * sum(a * b for a, b in pairs) <= CHEAP_FORWARD

    def bounded_loss(self, params, threshold, scores):
        r"""The loss is a mean of non-negative terms, so a partial sum over some rows that
        exceeds :math:`n \cdot` ``threshold`` (by more than round-off) proves the mean above
        it. Rows are taken in the order of ``scores`` (per replica, the rows' losses when last
        computed), largest first, among the ``_BOUND_ROWS`` largest (``topk``: a full sort
        would cost more than the rows). The scores predict how many rows a proof needs
        (where their partial sums pass the bound): those rows come as one block (rounded up
        to 64), the rest of the ``_BOUND_ROWS`` as a second for the replicas it did not
        prove. A replica left unproved, or whose scores predict no proof, gets the full-data
        loss, each row's loss computed (:meth:`row_losses`), so a decision never differs
        from the full computation's. ``scores`` is updated with every loss computed."""
        if scores is None or self.n < 2 * _BOUND_BLOCK:
            return self.measure(params, "loss")
        bound = self.n * threshold * (1 + _ROUND_OFF)
        stale, top = scores.topk(min(_BOUND_ROWS, self.n), dim=1)
        # rows before the one where each replica's last-computed losses pass the bound
        need = (stale.cumsum(1) <= bound).sum(1)
        planned = need < top.shape[1]
        alive = torch.nonzero(planned).flatten()
        total = torch.zeros(params[0].shape[0], dtype=params[0].dtype, device=self.device)
        if len(alive):
            size = int(need[alive].max()) + 1
            size = min(-(-size // _BOUND_BLOCK) * _BOUND_BLOCK, top.shape[1])
            for start, stop in ((0, size), (size, top.shape[1])):
                if not len(alive) or start == stop:
                    break
                part = params if len(alive) == len(total) else [p[alive] for p in params]
                rows = top[alive, start:stop]
                losses = self.row_losses(part, rows)
                scores[alive.unsqueeze(1), rows] = losses
                total[alive] += losses.sum(1)
                alive = alive[~(total[alive] > bound)]
        value = total / self.n
        left = ~planned
        left[alive] = True
        if left.any():
            losses = self.row_losses([p[left] for p in params])
            scores[left] = losses
            value[left] = losses.sum(1) / self.n
        return value

    def row_losses(
        self, params: list[torch.Tensor], rows: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Each replica's loss on each of its ``rows`` (R, m): training-row indices per
        replica, or ``None`` for every row (then (R, n), in chunks as :meth:`measure` takes
        them)."""
        if rows is not None:
            out = self._forward(params, self.X[rows])[-1]
            return _per_row_loss(out, self.y[rows], self.loss)
        chunk = self._rows(params[0].shape[0])
        parts = []
        for start in range(0, self.n, chunk):
            x, t = self.X[start : start + chunk], self.y[start : start + chunk]
            out = self._forward(params, x)[-1]
            parts.append(_per_row_loss(out, t.expand(params[0].shape[0], *t.shape), self.loss))
        return torch.cat(parts, dim=1)

    def _measure_chunk(self, params, x, t, what, weight):
        t = t.expand(params[0].shape[0], *t.shape)
        acts = self._forward(params, x)
        out = acts[-1]
        if what == "accuracy":
            return (out.argmax(-1) == t).sum(1).to(params[0].dtype) / self.n, None
        value, dout = _loss_and_dout(out, t, self.loss, what == "grad_norm_sq")
        if what == "grad_norm_sq":
            return value * weight, self._backward(params, acts, dout.mul_(weight))
        return value * weight, None


#: Layers whose forward pass draws random numbers in training mode (dropout with p > 0,
#: randomized leaky ReLU): torch.func's vmap refuses them.
_DROPOUT = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
            nn.FeatureAlphaDropout)  # fmt: skip


def _draws_random_numbers(module: nn.Module) -> bool:
    if not module.training:
        return False
    return isinstance(module, nn.RReLU) or (isinstance(module, _DROPOUT) and module.p > 0)


class FunctionalModel(_DataProblem):
    """Any ``nn.Module`` for R replicas through ``torch.func`` (``vmap`` over stacked params).

    Batch-norm layers are made functional first (``torch.func.replace_all_batch_norm_modules_``:
    batch statistics always, no running averages), so every replica is a pure function.
    """

    def __init__(self, factory, X, y, loss, device):
        super().__init__(X, y, loss, device)
        self.factory = factory
        self._template = self._fresh()
        self._names = [n for n, _ in self._template.named_parameters()]
        self._buffers = {k: v.to(device) for k, v in self._template.named_buffers()}
        self._step = torch.func.vmap(torch.func.grad_and_value(self._loss), in_dims=(0, 0, 0))
        self._eval_loss = torch.func.vmap(self._loss, in_dims=(0, None, None))
        self._eval_grad = torch.func.vmap(torch.func.grad(self._loss), in_dims=(0, None, None))
        self._eval_out = torch.func.vmap(self._out, in_dims=(0, None))
        random = [type(m).__name__ for m in self._template.modules() if _draws_random_numbers(m)]
        if random:
            raise validation.value_error(
                "model", factory, f"a model whose forward pass is deterministic, without "
                f"{', '.join(sorted(set(random)))} (all replicas are differentiated at once with "
                "torch.func, which refuses random operations)"
            )  # fmt: skip
        self._check_dtype(self._template)
        with torch.no_grad():
            out = self._template(self.X[:2])
        if out.dim() >= 2 or not self.classification:  # cross_entropy's classes: dimension 1
            self._check_targets(tuple(out.shape[1:]))

    def _fresh(self) -> nn.Module:
        module = self.factory()
        torch.func.replace_all_batch_norm_modules_(module)
        return module.to(self.device)

    def init(self, seeds):
        modules = init_modules(self.factory, seeds)
        per = [[p.detach() for p in m.parameters()] for m in modules]
        return [torch.stack(ps).to(self.device) for ps in zip(*per, strict=True)]

    def _out(self, plist, x):
        return torch.func.functional_call(
            self._template, ({**dict(zip(self._names, plist, strict=True)), **self._buffers}), (x,)
        )

    def _loss(self, plist, x, t):
        out = self._out(plist, x)
        if self.loss == "cross_entropy":
            return nn.functional.cross_entropy(out, t)
        return nn.functional.mse_loss(out, t)

    def loss_grad(self, params, batch):
        grads, value = self._step(params, self.X[batch], self.y[batch])
        return value, list(grads)

    def _measure_chunk(self, params, x, t, what, weight):
        if what == "accuracy":
            out = self._eval_out(params, x)
            return (out.argmax(-1) == t).sum(1).to(params[0].dtype) / self.n, None
        if what == "loss":
            return self._eval_loss(params, x, t) * weight, None
        return 0.0, [g * weight for g in self._eval_grad(params, x, t)]


class NoisyQuadratic(Problem):
    r"""The noisy quadratic model: :math:`f(\theta) = \tfrac12 \sum_i h_i \theta_i^2`.

    The mini-batch gradient is :math:`h \odot \theta + \xi` with independent
    :math:`\xi_i \sim \mathcal N(0, c_i / b)`: the mean of :math:`b` one-sample gradients whose
    noise has variance :math:`c_i`, drawn fresh at every step (an infinite data stream; Zhang
    et al. 2019 take :math:`c_i = h_i`). Every replica starts at the same ``theta0``.
    """

    def __init__(self, curvature, noise, theta0, device: torch.device):
        self.h = curvature.to(device)
        self.c = noise.to(device)
        self.theta0 = theta0.to(device)
        self.device = device

    def init(self, seeds):
        return [self.theta0.expand(len(seeds), -1).clone()]

    def draw(self, seed, chunk, batch_size):
        gen = torch.Generator(device=self.device)
        gen.manual_seed(chunk_seed(seed, chunk))
        noise = torch.randn((CHUNK, self.h.shape[0]), generator=gen, device=self.device)
        return noise.mul_(torch.sqrt(self.c / batch_size))

    def loss_grad(self, params, batch):
        (theta,) = params
        value = 0.5 * (self.h * theta.square()).sum(1)
        return value, [self.h * theta + batch]

    def measure(self, params, what):
        (theta,) = params
        if what == "loss":
            return 0.5 * (self.h * theta.square()).sum(1)
        return (self.h * theta).square().sum(1)
