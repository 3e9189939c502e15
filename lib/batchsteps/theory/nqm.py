r"""The noisy quadratic model (Zhang et al., 2019): exact expected loss, no sampling.

The loss is :math:`f(\theta) = \tfrac12\sum_i h_i\theta_i^2`, and a batch of b samples gives
the gradient :math:`g_i = h_i\theta_i + \xi_i` with independent zero-mean noise of variance
:math:`c_i/b` (Zhang et al. take :math:`c_i = h_i`). The optimizers covered are heavy ball with a
diagonal preconditioner :math:`P = H^{-p}`,

.. math:: m_k = \beta m_{k-1} + g_k,\qquad \theta_{k+1,i} = \theta_{k,i} - \alpha h_i^{-p} m_{k,i},

which is SGD for :math:`\beta = p = 0`, heavy-ball momentum for :math:`p = 0` and Adam-like
preconditioned SGD for :math:`p = 1/2`. Per coordinate, with :math:`a_i = \alpha h_i^{-p}` and
:math:`v_i = c_i/b`, the pair :math:`(\theta, m)` moves linearly, so the second moments
:math:`u = (\mathbb E\theta^2, \mathbb E\theta m, \mathbb E m^2)` obey the exact recursion

.. math:: u_{k+1} = T u_k + v_i\,(a_i^2, -a_i, 1),

a 3×3 linear recursion (for SGD only its first entry matters:
:math:`s_{k+1} = (1 - a_i h_i)^2 s_k + a_i^2 v_i`). The matrix :math:`T` does not depend on
b; only the forcing does, through :math:`1/b`. The expected loss
:math:`\mathbb E f(\theta_k) = \tfrac12\sum_i h_i u_{k,i,1}` is therefore, exactly,

.. math:: \mathbb E f(\theta_k) = D_k + \frac{N_k}{b},

with :math:`D_k` the loss of the noise-free run and :math:`N_k \ge 0` (non-decreasing in k)
the loss that unit noise has added by step k: the template :math:`A/K + B/b` of the book, exact
here at every step. Both sequences are computed once, for every batch size at once.
This module imports no torch.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from .. import validation

__all__ = [
    "NoisyQuadratic",
    "noisy_quadratic",
    "transition",
    "LossTerms",
    "loss_terms",
    "expected_loss",
    "stationary_loss",
    "expected_steps_to_target",
    "TunedSteps",
    "steps_with_tuned_lr",
]

_BLOCK_BYTES = 4 * 2**20
"""Memory aimed at for the rows of one block of the scan (see ``_Scan``)."""


def _array(
    name: str, value: object, dim: int | None = None, *, low: float | None = None, **bounds
) -> np.ndarray:
    """A number or a non-empty 1-d array of finite numbers (``>= low`` or ``> low``), broadcast
    to ``dim`` entries when given (it must have 1 or ``dim``)."""
    array = validation.real_array(
        name, [value] if isinstance(value, numbers.Number) else value, low=low, **bounds
    )
    if dim is not None and array.size not in (1, dim):
        raise validation.value_error(name, value, f"a number or an array of 1 or dim={dim} entries")
    return np.broadcast_to(array, (dim or array.size,)).copy()


@dataclass(frozen=True)
class NoisyQuadratic:
    r"""A noisy quadratic: curvatures :math:`h_i`, noise variances :math:`c_i`, start.

    ``curvature``: :math:`h_i > 0`; ``noise``: :math:`c_i \ge 0`, the variance of a one-sample
    gradient in coordinate i (a batch of b has :math:`c_i/b`); ``theta0``: the deterministic
    starting point. Scalars broadcast to the dimension of ``curvature``.

    >>> NoisyQuadratic(curvature=[1.0, 0.5], noise=[1.0, 0.5], theta0=1.0).initial_loss
    0.75
    """

    curvature: np.ndarray
    noise: np.ndarray
    theta0: np.ndarray

    def __post_init__(self) -> None:
        h = _array("curvature", self.curvature, low=0, low_open=True)
        c = _array("noise", self.noise, h.size, low=0)
        object.__setattr__(self, "curvature", h)
        object.__setattr__(self, "noise", c)
        object.__setattr__(self, "theta0", _array("theta0", self.theta0, h.size))

    @property
    def dim(self) -> int:
        """Number of coordinates d."""
        return int(self.curvature.size)

    @property
    def initial_loss(self) -> float:
        r""":math:`f(\theta_0) = \tfrac12\sum_i h_i\theta_{0,i}^2`."""
        return float(0.5 * np.sum(self.curvature * self.theta0**2))


def noisy_quadratic(
    dim: int = 100, *, decay: float = 1.0, theta0: float = 1.0, noise_factor: float = 1.0
) -> NoisyQuadratic:
    r"""Zhang et al.'s problem: :math:`h_i = i^{-\text{decay}}`, :math:`c_i = \text{noise\_factor}
    \cdot h_i`, :math:`\theta_{0,i} = \text{theta0}` for :math:`i = 1..\text{dim}`.

    >>> noisy_quadratic(3).curvature
    array([1.        , 0.5       , 0.33333333])
    """
    dim = validation.integer("dim", dim, low=1)
    decay, theta0 = validation.real("decay", decay, low=0), validation.real("theta0", theta0)
    noise_factor = validation.real("noise_factor", noise_factor, low=0)
    h = np.arange(1, dim + 1, dtype=float) ** -decay
    return NoisyQuadratic(curvature=h, noise=noise_factor * h, theta0=theta0)


def _check_method(lr: float, beta: float, power: float) -> tuple[float, float, float]:
    """``lr > 0``, ``beta`` in [0, 1), ``power`` in [0, 1] (0: SGD, 0.5: Adam-like)."""
    return (
        validation.positive("lr", lr),
        validation.probability("beta", beta, high_open=True),
        validation.probability("power", power),
    )


def _check_batches(batch_sizes: object) -> np.ndarray:
    return _array("batch_sizes", batch_sizes, low=0, low_open=True)


def transition(problem: NoisyQuadratic, lr: float, beta: float, power: float) -> np.ndarray:
    r"""The augmented 4×4 matrices of the second-moment recursion at unit noise, ``(d, 4, 4)``.

    With :math:`a = \alpha h^{-p}` and the one-step map :math:`\theta' = (1 - a h)\theta -
    a\beta m - a\xi`, :math:`m' = h\theta + \beta m + \xi`, the rows are
    :math:`\mathbb E\theta'^2`, :math:`\mathbb E\theta' m'`, :math:`\mathbb E m'^2` and the
    constant 1; the last column is the forcing of noise variance :math:`c` (a batch of one).
    Inputs are trusted.
    """
    h = problem.curvature
    a = lr * h**-power
    p, q = 1 - a * h, -a * beta  # theta' = p theta + q m - a xi
    r, s = h, np.full_like(h, beta)  # m' = r theta + s m + xi
    T = np.zeros((h.size, 4, 4))
    T[:, 0, :3] = np.stack([p * p, 2 * p * q, q * q], axis=-1)
    T[:, 1, :3] = np.stack([p * r, p * s + q * r, q * s], axis=-1)
    T[:, 2, :3] = np.stack([r * r, 2 * r * s, s * s], axis=-1)
    T[:, 0, 3] = a**2 * problem.noise
    T[:, 1, 3] = -a * problem.noise
    T[:, 2, 3] = problem.noise
    T[:, 3, 3] = 1.0
    return T


def _power(T: np.ndarray, n: int) -> np.ndarray:
    """``T**n`` for a stack of square matrices, by repeated squaring."""
    result = np.broadcast_to(np.eye(T.shape[-1]), T.shape).copy()
    base = T
    while n:
        if n & 1:
            result = result @ base
        n >>= 1
        if n:
            base = base @ base
    return result


class _Scan:
    """The two loss sequences :math:`D_k, N_k`, one block of steps at a time.

    The state holds two columns per coordinate: the noise-free run from :math:`\\theta_0`
    (augmented entry 0) and the noise-only run from 0 (augmented entry 1). The rows
    :math:`\\ell^\\top T^j` of one block are built once; the states then jump a whole block
    with :math:`T^{\\text{block}}`, so a block costs one matrix product.
    """

    def __init__(self, problem: NoisyQuadratic, T: np.ndarray, block: int) -> None:
        d = problem.dim
        rows = np.empty((block, d, 4))
        rows[0] = 0.0
        rows[0, :, 0] = 0.5 * problem.curvature
        for j in range(1, block):
            rows[j] = np.einsum("ic,icd->id", rows[j - 1], T)
        self.rows = rows.reshape(block, 4 * d)
        self.jump = _power(T, block)
        self.state = np.zeros((d, 4, 2))
        self.state[:, 0, 0] = problem.theta0**2
        self.state[:, 3, 1] = 1.0
        self.block = block
        self.start = 0

    def terms(self) -> tuple[np.ndarray, np.ndarray]:
        """:math:`(D_k, N_k)` for the steps ``start .. start + block - 1``."""
        both = self.rows @ self.state.reshape(-1, 2)
        return both[:, 0], both[:, 1]

    def advance(self) -> None:
        self.state = self.jump @ self.state
        self.start += self.block


def _block_size(d: int, steps: int) -> int:
    """Steps per block: rows of about ``_BLOCK_BYTES`` (re-read from cache every block), but
    at least 64 so that the jump between blocks stays a small part of the work."""
    fit = _BLOCK_BYTES // (d * 4 * 8)
    return int(min(max(64, fit), 1024, steps + 1))


@dataclass(frozen=True)
class LossTerms:
    r"""The exact :math:`\mathbb E f(\theta_k) = D_k + N_k/b` for :math:`k = 0..\text{steps}`.

    ``deterministic`` is :math:`D_k`, the loss of the noise-free run; ``noise`` is
    :math:`N_k`, the loss a batch of one has added by step k (non-decreasing in k).
    """

    deterministic: np.ndarray
    noise: np.ndarray
    lr: float
    beta: float
    power: float

    def at(self, batch_sizes: np.ndarray | float) -> np.ndarray:
        """The expected loss, shape ``(steps + 1, len(batch_sizes))``."""
        batches = _check_batches(batch_sizes)
        with np.errstate(over="ignore", invalid="ignore"):
            return self.deterministic[:, None] + self.noise[:, None] / batches[None, :]


def loss_terms(
    problem: NoisyQuadratic, *, lr: float, steps: int, beta: float = 0.0, power: float = 0.0
) -> LossTerms:
    r"""The two exact sequences :math:`D_k` and :math:`N_k` of
    :math:`\mathbb E f(\theta_k) = D_k + N_k/b`, :math:`k = 0..\text{steps}`.

    Entries overflow to ``inf`` (or ``nan``) where the rate makes the recursion unstable.

    >>> t = loss_terms(NoisyQuadratic(curvature=1.0, noise=1.0, theta0=1.0), lr=0.5, steps=2)
    >>> t.deterministic.tolist(), t.noise.tolist()   # D: 1/2 (1/4)^k;  N: 1/8, 1/8 + 1/32
    ([0.5, 0.125, 0.03125], [0.0, 0.125, 0.15625])
    """
    problem = validation.instance("problem", problem, NoisyQuadratic)
    lr, beta, power = _check_method(lr, beta, power)
    steps = validation.integer("steps", steps, low=0)
    block = _block_size(problem.dim, steps)
    deterministic, noise = np.empty(steps + 1), np.empty(steps + 1)
    with np.errstate(over="ignore", invalid="ignore"):
        scan = _Scan(problem, transition(problem, lr, beta, power), block)
        while scan.start <= steps:
            stop = min(scan.start + block, steps + 1)
            d_k, n_k = scan.terms()
            deterministic[scan.start : stop] = d_k[: stop - scan.start]
            noise[scan.start : stop] = n_k[: stop - scan.start]
            scan.advance()
    return LossTerms(deterministic, noise, lr, beta, power)


def expected_loss(
    problem: NoisyQuadratic,
    batch_sizes: np.ndarray | float,
    *,
    lr: float,
    steps: int,
    beta: float = 0.0,
    power: float = 0.0,
) -> np.ndarray:
    r"""Exact :math:`\mathbb E f(\theta_k)` for :math:`k = 0..\text{steps}`, each batch size.

    Returns an array of shape ``(steps + 1, len(batch_sizes))``; entries overflow to ``inf``
    (or ``nan``) where the rate makes the recursion unstable.

    >>> p = NoisyQuadratic(curvature=1.0, noise=1.0, theta0=1.0)
    >>> expected_loss(p, [1.0], lr=0.5, steps=1)[:, 0].tolist()   # 1/2, then (1/4 + 1/4)/2
    [0.5, 0.25]
    """
    batches = _check_batches(batch_sizes)
    return loss_terms(problem, lr=lr, steps=steps, beta=beta, power=power).at(batches)


def stationary_loss(
    problem: NoisyQuadratic,
    batch_sizes: np.ndarray | float,
    *,
    lr: float,
    beta: float = 0.0,
    power: float = 0.0,
) -> np.ndarray:
    r""":math:`\lim_k \mathbb E f(\theta_k) = N_\infty / b`, the noise floor; ``inf`` where
    unstable.

    :math:`N_\infty` comes from the fixed point :math:`u_\infty = (I - M)^{-1} w` of the
    recursion, which exists when every eigenvalue of its 3×3 part :math:`M` is inside the unit
    circle (then :math:`D_k \to 0`). For SGD it is
    :math:`\sum_i \tfrac12 a_i c_i / (b(2 - a_i h_i))`.
    """
    problem = validation.instance("problem", problem, NoisyQuadratic)
    lr, beta, power = _check_method(lr, beta, power)
    batches = _check_batches(batch_sizes)
    T = transition(problem, lr, beta, power)
    M, w = T[:, :3, :3], T[:, :3, 3]
    stable = bool(np.all(np.abs(np.linalg.eigvals(M)) < 1))
    if not stable:
        return np.full(batches.size, np.inf)
    fixed = np.linalg.solve(np.eye(3) - M, w[..., None])[:, 0, 0]
    return float(fixed @ (0.5 * problem.curvature)) / batches


def expected_steps_to_target(
    problem: NoisyQuadratic,
    batch_sizes: np.ndarray | float,
    *,
    lr: float,
    target: float,
    max_steps: int,
    beta: float = 0.0,
    power: float = 0.0,
) -> np.ndarray:
    r"""The steps of the expected loss to the target: the first k with
    :math:`D_k + N_k/b \le` ``target``, for each batch size; ``-1`` where it is not reached
    within ``max_steps``.

    Exact and complete: every step up to ``max_steps`` is checked (the expected loss of
    momentum need not decrease monotonically), except that a batch size is settled as ``-1``
    early once :math:`N_k/b`, which never decreases, exceeds the target.

    >>> p = noisy_quadratic(10)
    >>> expected_steps_to_target(p, [1, 10, 100], lr=0.5, target=0.05, max_steps=10_000).tolist()
    [-1, 30, 16]
    """
    problem = validation.instance("problem", problem, NoisyQuadratic)
    lr, beta, power = _check_method(lr, beta, power)
    batches = _check_batches(batch_sizes)
    target = validation.positive("target", target)
    max_steps = validation.integer("max_steps", max_steps, low=0)
    result = np.full(batches.size, -1, dtype=int)
    live = np.arange(batches.size)
    T = transition(problem, lr, beta, power)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        scan = _Scan(problem, T, _block_size(problem.dim, max_steps))
        while live.size and scan.start <= max_steps:
            d_k, n_k = (t[: max_steps + 1 - scan.start] for t in scan.terms())
            hit = d_k[:, None] + n_k[:, None] / batches[live][None, :] <= target
            reached = hit.any(axis=0)
            result[live[reached]] = scan.start + hit[:, reached].argmax(axis=0)
            going = ~reached & (n_k[0] / batches[live] <= target)
            live = live[going]
            scan.advance()
    return result


@dataclass(frozen=True)
class TunedSteps:
    """The fewest exact steps over a grid of learning rates, for each batch size.

    ``steps[j]`` is the minimum over ``lrs`` at ``batch_sizes[j]`` (``-1`` where no rate
    reached the target), ``lr[j]`` the rate attaining it (the smallest such rate on ties;
    ``nan`` where none reached), ``at_edge[j]`` whether that rate is the smallest or largest
    of the grid (then the grid should be widened before the minimum is trusted) and
    ``grid[i, j]`` the steps of rate ``lrs[i]``.
    """

    batch_sizes: np.ndarray
    lrs: np.ndarray
    steps: np.ndarray
    lr: np.ndarray
    at_edge: np.ndarray
    grid: np.ndarray


def steps_with_tuned_lr(
    problem: NoisyQuadratic,
    batch_sizes: np.ndarray | float,
    *,
    lrs: np.ndarray,
    target: float,
    max_steps: int,
    beta: float = 0.0,
    power: float = 0.0,
) -> TunedSteps:
    r""":math:`\min_{\alpha \in \text{lrs}}` of :func:`expected_steps_to_target` for each batch
    size: the learning rate tuned per batch size, as Zhang et al. (2019) compare optimizers.

    >>> p = noisy_quadratic(10)
    >>> rates = [0.25, 0.5, 1.0, 1.5, 1.9]
    >>> r = steps_with_tuned_lr(p, [1, 100], lrs=rates, target=0.05, max_steps=10_000)
    >>> r.steps.tolist(), r.lr.tolist(), r.at_edge.tolist()
    ([-1, 7], [nan, 1.5], [False, False])
    """
    batches = _check_batches(batch_sizes)
    rates = _array("lrs", lrs)
    rates.sort()
    grid = np.stack(
        [
            expected_steps_to_target(
                problem, batches, lr=float(lr), target=target, max_steps=max_steps,
                beta=beta, power=power,
            )
            for lr in rates
        ]
    )  # fmt: skip
    masked = np.where(grid >= 0, grid, np.iinfo(grid.dtype).max)
    best = masked.argmin(axis=0)
    reached = (grid >= 0).any(axis=0)
    steps = np.where(reached, masked.min(axis=0), -1)
    lr = np.where(reached, rates[best], np.nan)
    at_edge = reached & ((best == 0) | (best == rates.size - 1))
    return TunedSteps(batches, rates, steps, lr, at_edge, grid)
