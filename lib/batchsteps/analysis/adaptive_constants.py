r"""The constants of the Adam-type bound, measured along a real AMSGrad run.

The bound of :mod:`batchsteps.theory.adam` holds under (A3): :math:`\|g_k\| \le G`,
:math:`(\theta_{k,i} - \theta_i)^2 \le D`, :math:`h_{\min} \le h_{k,i} \le h_{\max}` with
:math:`h_{k+1} \ge h_k`, plus (A2): :math:`\mathbb E\|g_k - \nabla f(\theta_k)\|^2 \le \sigma^2/b`.
:func:`measure_adaptive_run` trains a model with ``torch.optim.Adam(amsgrad=True)``, reads the
optimizer's state after every step and records the smallest constants for which those
assumptions held along the run, together with the measure the bound controls,

.. math:: V_K(\theta) = \frac1K \sum_{k=0}^{K-1}
   \langle \theta_k - \theta, \nabla f(\theta_k)\rangle,

at a reference point :math:`\theta`. The theorem needs :math:`\theta` fixed before the run
(its step 5 conditions on the past); :func:`full_batch_reference` gives such a point near a
minimiser. ``"initial"`` (:math:`\theta_0`) is also fixed; ``"final"`` (:math:`\theta_K`)
depends on the run's own batches and is offered for exploration only.

torch's AMSGrad divides by bias corrections, so in the book's form
:math:`\theta_{k+1} = \theta_k - \alpha H_k^{-1} m_k` (with ``lr`` as :math:`\alpha` and torch's
``exp_avg`` as :math:`m_k`) its preconditioner after the t-th update (t = k + 1) is

.. math:: h_k = (1 - \beta_1^{t}) \left(\sqrt{\hat v_k / (1 - \beta_2^{t})} + \delta\right),

which need not grow with k: the run reports how often and how much it shrank.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

REFERENCES = ("final", "initial")


@dataclass(frozen=True)
class AdaptiveRun:
    r"""What one AMSGrad run measured: the constants of (A2)-(A3) and :math:`V_K(\theta)`.

    ``G``: largest of :math:`\|g_k\|` and :math:`\|\nabla f(\theta_k)\|`; ``D``: largest
    :math:`(\theta_{k,i} - \theta_i)^2`; ``h_min``/``h_max``: extremes of the preconditioner;
    ``sigma``: square root of the largest one-sample gradient variance
    :math:`\frac1n\sum_i\|\nabla f_i - \nabla f\|^2` seen at the checkpoints;
    ``variational``: :math:`V_K(\theta)`; ``stochastic_variational``: the same with
    :math:`g_k` in place of :math:`\nabla f(\theta_k)` (equal in expectation). The three
    terms of the summed one-step identity, as measured: ``telescoped``
    :math:`\sum_k (\|\theta_k-\theta\|^2_{H_k} - \|\theta_{k+1}-\theta\|^2_{H_k})` (bounded by
    :math:`dDh_{\max}`), ``cross`` :math:`\frac1K\sum_k\langle\theta_k-\theta, m_{k-1}\rangle`
    (at least :math:`-\sqrt{dD}G`), ``weighted_momentum``
    :math:`\frac1K\sum_k\|m_k\|^2_{H_k^{-1}}` (at most :math:`\mathbb E\|m\|^2/h_{\min}`).
    ``shrink_fraction``: share of coordinate-steps with
    :math:`h_{k+1,i} < h_{k,i}`; ``max_shrink``: the largest relative decrease.

    Coordinates whose stochastic gradient was zero at every step (weights of pixels that are
    blank in every image, say) never move and add exactly zero to every term of the
    derivation, so they are left out: ``d`` counts the coordinates that moved, ``d_total``
    all of them, and ``D``, ``h_min``, ``h_max`` are taken over the moved ones. ``variational``
    uses every coordinate.
    """

    batch_size: int
    steps: int
    alpha: float
    beta1: float
    beta2: float
    delta: float
    d: int
    d_total: int
    G: float
    D: float
    h_min: float
    h_max: float
    sigma: float
    variational: float
    stochastic_variational: float
    telescoped: float
    cross: float
    weighted_momentum: float
    shrink_fraction: float
    max_shrink: float
    loss_initial: float
    loss_final: float
    seed: int
    reference: str
    amsgrad: bool = True

    def terms(self) -> dict[str, tuple[float, float]]:
        r"""Each term of the averaged identity: ``name -> (measured, its bound in the proof)``.

        With :math:`c = 2\alpha(1-\beta_1)`, the identity reads
        ``stochastic_variational = telescoping + momentum_cross + noise_and_drift`` where
        ``telescoping`` is :math:`T/(cK)` (bounded by :math:`A/K`), ``momentum_cross`` is
        :math:`-2\alpha\beta_1\,\mathrm{cross}/c` (bounded by :math:`\beta_1\sqrt{dD}G/(1-\beta_1)`)
        and ``noise_and_drift`` is :math:`\alpha^2\,\mathrm{weighted\_momentum}/c` (bounded by
        :math:`B/b + \alpha G^2/((1-\beta_1)h_{\min})`).
        """
        from batchsteps.theory import adam
        from batchsteps.theory.symbols import BY_NAME

        at = {BY_NAME[name]: v for name, v in self.values().items()}
        at[BY_NAME["b"]] = float(self.batch_size)
        c = 2 * self.alpha * (1 - self.beta1)
        measured = {
            "telescoping": self.telescoped / (c * self.steps),
            "momentum_cross": -2 * self.alpha * self.beta1 * self.cross / c,
            "noise_and_drift": self.alpha**2 * self.weighted_momentum / c,
        }
        upper = {
            "telescoping": adam.telescoping_bound() / (c * self.steps),
            "momentum_cross": adam.cross_term_bound() / c,
            "noise_and_drift": self.alpha**2 * adam.second_moment_bound() / (BY_NAME["h_min"] * c),
        }
        return {name: (measured[name], float(upper[name].subs(at))) for name in measured}

    def values(self) -> dict[str, float]:
        """Keyword values for ``bound("amsgrad").subs`` (add ``epsilon``)."""
        names = ("alpha", "beta1", "sigma", "G", "D", "d", "h_min", "h_max")
        return {name: float(getattr(self, name)) for name in names}


def digits_mlp(hidden: int = 32, seed: int = 0):
    """scikit-learn's digits (1797 images, pixels scaled to [0, 1]) and a one-hidden-layer MLP.

    Returns ``(model, inputs, targets)``: a ``torch.nn.Sequential`` 64 → ``hidden`` → 10 with
    ReLU (the architecture of the ``"digits-mlp"`` workload), initialised from ``seed``, a
    float32 tensor (1797, 64) and an int64 tensor (1797,).
    """
    _check_int("hidden", hidden, 1)
    _check_int("seed", seed, 0)
    import torch
    from sklearn.datasets import load_digits

    data = load_digits()
    inputs = torch.tensor(data.data / 16.0, dtype=torch.float32)
    targets = torch.tensor(data.target, dtype=torch.int64)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10)
    )
    torch.random.set_rng_state(generator_state)
    return model, inputs, targets


def full_batch_reference(model, inputs, targets, *, steps: int = 500, lr: float = 1e-2):
    r"""A comparison point fixed before any stochastic run: ``steps`` of full-batch Adam.

    Deterministic (no sampling), so it is independent of the batches of the runs it is used
    for, as the theorem requires of :math:`\theta`. Returns the flat parameter vector.
    """
    import torch

    _check_inputs(model, inputs, targets)
    _check_int("steps", steps, 1)
    _check_positive("lr", lr)
    net = copy.deepcopy(model)
    params = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(inputs), targets).backward()
        optimizer.step()
    return _flat(params)


def measure_adaptive_run(
    model,
    inputs,
    targets,
    *,
    batch_size: int,
    steps: int,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    seed: int = 0,
    reference: str | Any = "final",
    variance_every: int = 10,
    amsgrad: bool = True,
) -> AdaptiveRun:
    r"""Train a copy of ``model`` with AMSGrad for ``steps`` steps and measure (A2)-(A3).

    Mini-batches of ``batch_size`` are drawn uniformly with replacement (as (A2) assumes) with
    a generator seeded by ``seed``; the loss is the mean cross-entropy. After every step the
    optimizer's state gives :math:`m_k`, :math:`\hat v_k` and hence :math:`h_k`; the full-batch
    gradient :math:`\nabla f(\theta_k)` is computed at every iterate, the one-sample gradient
    variance every ``variance_every`` steps. ``model`` itself is not changed.
    ``amsgrad=False`` runs plain Adam instead (:math:`\hat v_k` replaced by :math:`v_k` in
    :math:`h_k`), for which the bound's monotone assumption is only an assumption.
    """
    import torch

    _check_inputs(model, inputs, targets)
    _check_int("batch_size", batch_size, 1)
    _check_int("steps", steps, 1)
    _check_int("seed", seed, 0)
    _check_int("variance_every", variance_every, 1)
    _check_positive("lr", lr)
    _check_positive("eps", eps)
    _check_betas(betas)
    if isinstance(reference, torch.Tensor):
        size = sum(p.numel() for p in model.parameters() if p.requires_grad)
        if reference.shape != (size,):
            raise ValueError(
                f"reference of shape {tuple(reference.shape)} must be a flat vector of the "
                f"model's {size} trainable parameters"
            )
    elif reference not in REFERENCES:
        raise ValueError(
            f"reference={reference!r} is not allowed; allowed: {REFERENCES} or a flat tensor"
        )

    net = copy.deepcopy(model)
    params = [p for p in net.parameters() if p.requires_grad]
    if not isinstance(amsgrad, bool):
        raise TypeError(f"amsgrad={amsgrad!r} must be True or False")
    optimizer = torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, amsgrad=amsgrad)
    loss_fn = torch.nn.functional.cross_entropy
    generator = torch.Generator().manual_seed(seed)
    n = inputs.shape[0]

    thetas, full_grads, precond, sigma_sq, big_g = [_flat(params)], [], [], 0.0, 0.0
    touched = torch.zeros_like(thetas[0], dtype=torch.bool)
    stochastic_grads, momenta = [], []
    for k in range(steps):
        full = _full_gradient(net, params, inputs, targets)
        full_grads.append(full)
        if k % variance_every == 0:
            sigma_sq = max(sigma_sq, _one_sample_variance(net, inputs, targets, full))
        index = torch.randint(n, (batch_size,), generator=generator)
        optimizer.zero_grad()
        loss_fn(net(inputs[index]), targets[index]).backward()
        stochastic = torch.cat([p.grad.reshape(-1) for p in params])
        touched |= stochastic != 0
        stochastic_grads.append(stochastic.detach().clone())
        big_g = max(big_g, float(stochastic.norm()))
        big_g = max(big_g, float(full.norm()))
        optimizer.step()
        precond.append(_preconditioner(optimizer, params, betas, eps))
        momenta.append(
            torch.cat([optimizer.state[p]["exp_avg"].reshape(-1) for p in params]).clone()
        )
        thetas.append(_flat(params))

    theta_all = torch.stack(thetas).double()
    if isinstance(reference, torch.Tensor):
        point_all = reference.detach().double()
    else:
        point_all = theta_all[-1] if reference == "final" else theta_all[0]
    full_grads = torch.stack(full_grads).double()
    variational = float(((theta_all[:-1] - point_all) * full_grads).sum(dim=1).mean())
    theta, point = theta_all[:, touched], point_all[touched]
    h = torch.stack(precond).double()[:, touched]
    g = torch.stack(stochastic_grads).double()[:, touched]
    m = torch.stack(momenta).double()[:, touched]
    m_before = torch.cat([torch.zeros_like(m[:1]), m[:-1]])
    offset = theta - point
    telescoped = float((h * (offset[:-1] ** 2 - offset[1:] ** 2)).sum())
    shrink = h[1:] < h[:-1]
    relative = ((h[:-1] - h[1:]) / h[:-1]).clamp(min=0.0)
    with torch.no_grad():
        loss_initial = float(loss_fn(model(inputs), targets))
        loss_final = float(loss_fn(net(inputs), targets))
    return AdaptiveRun(
        batch_size=batch_size,
        steps=steps,
        alpha=float(lr),
        beta1=float(betas[0]),
        beta2=float(betas[1]),
        delta=float(eps),
        d=int(theta.shape[1]),
        d_total=int(touched.numel()),
        G=big_g,
        D=float((offset**2).max()),
        h_min=float(h.min()),
        h_max=float(h.max()),
        sigma=math.sqrt(sigma_sq),
        variational=variational,
        stochastic_variational=float((offset[:-1] * g).sum(dim=1).mean()),
        cross=float((offset[:-1] * m_before).sum(dim=1).mean()),
        weighted_momentum=float((m**2 / h).sum(dim=1).mean()),
        telescoped=telescoped,
        shrink_fraction=float(shrink.double().mean()) if steps > 1 else 0.0,
        max_shrink=float(relative.max()) if steps > 1 else 0.0,
        loss_initial=loss_initial,
        loss_final=loss_final,
        seed=seed,
        reference=reference if isinstance(reference, str) else "given",
        amsgrad=amsgrad,
    )


def envelope(runs) -> dict[str, float]:
    """One set of constants valid for every run: the largest d, G, D, h_max, sigma, smallest h_min.

    ``alpha`` and ``beta1`` must agree across runs; returns keyword values for
    ``bound("amsgrad").subs`` (add ``epsilon``).
    """
    runs = list(runs)
    if not runs or not all(isinstance(r, AdaptiveRun) for r in runs):
        raise TypeError(f"runs={runs!r} must be a non-empty sequence of AdaptiveRun")
    for name in ("alpha", "beta1"):
        seen = {getattr(r, name) for r in runs}
        if len(seen) > 1:
            raise ValueError(f"runs disagree on {name}: {sorted(seen)}; allowed: one value")
    first = runs[0].values()
    return {
        **first,
        "d": float(max(r.d for r in runs)),
        "sigma": max(r.sigma for r in runs),
        "G": max(r.G for r in runs),
        "D": max(r.D for r in runs),
        "h_min": min(r.h_min for r in runs),
        "h_max": max(r.h_max for r in runs),
    }


def bound_at(bound, values: Mapping[str, float], steps: int, batch_size: float) -> float:
    r""":math:`A/K + B/b + C` of a numeric bound's constants at ``K = steps``, ``b = batch_size``.

    ``bound`` is a :class:`batchsteps.theory.Bound`; ``values`` its parameters without
    ``epsilon`` (the value of the bound does not depend on the target).
    """
    _check_int("steps", steps, 1)
    _check_positive("batch_size", batch_size)
    from batchsteps.theory.symbols import BY_NAME

    at = {BY_NAME[name]: float(v) for name, v in values.items()}
    A, B, C = (float(e.subs(at)) for e in (bound.A, bound.B, bound.C))
    return A / steps + B / batch_size + C


def _flat(params):
    import torch

    return torch.cat([p.detach().reshape(-1) for p in params]).clone()


def _full_gradient(net, params, inputs, targets):
    import torch

    loss = torch.nn.functional.cross_entropy(net(inputs), targets)
    grads = torch.autograd.grad(loss, params)
    return torch.cat([g.reshape(-1) for g in grads]).detach()


def _one_sample_variance(net, inputs, targets, full) -> float:
    r""":math:`\frac1n\sum_i \|\nabla f_i(\theta) - \nabla f(\theta)\|^2` by ``torch.func``."""
    import torch
    from torch.func import functional_call, grad, vmap

    names = [name for name, p in net.named_parameters() if p.requires_grad]
    detached = {name: p.detach() for name, p in net.named_parameters() if p.requires_grad}

    def one(weights, x, y):
        out = functional_call(net, weights, (x.unsqueeze(0),))
        return torch.nn.functional.cross_entropy(out, y.unsqueeze(0))

    per_sample = vmap(grad(one), in_dims=(None, 0, 0))(detached, inputs, targets)
    flat = torch.cat([per_sample[name].reshape(inputs.shape[0], -1) for name in names], dim=1)
    return float(((flat.double() - full.double()) ** 2).sum(dim=1).mean())


def _preconditioner(optimizer, params, betas, eps):
    import torch

    pieces = []
    for p in params:
        state = optimizer.state[p]
        t = float(state["step"])
        second = state["max_exp_avg_sq"] if "max_exp_avg_sq" in state else state["exp_avg_sq"]
        corrected = (second / (1 - betas[1] ** t)).sqrt() + eps
        pieces.append(((1 - betas[0] ** t) * corrected).reshape(-1))
    return torch.cat(pieces).detach().clone()


def _check_int(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}={value!r} must be an int >= {low}")
    if value < low:
        raise ValueError(f"{name}={value!r} must be an int >= {low}")


def _check_positive(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}={value!r} must be a real number > 0")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}={value!r} must be a finite number > 0")


def _check_betas(betas) -> None:
    if not isinstance(betas, tuple | list) or len(betas) != 2:
        raise TypeError(f"betas={betas!r} must be a pair (beta1, beta2)")
    for name, value in zip(("beta1", "beta2"), betas, strict=True):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"betas={betas!r}: {name}={value!r} must be a real number in [0, 1)")
        if not 0.0 <= value < 1.0:
            raise ValueError(f"betas={betas!r}: {name}={value!r} is outside the allowed [0, 1)")


def _check_inputs(model, inputs, targets) -> None:
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model={type(model).__name__} must be a torch.nn.Module")
    if not isinstance(inputs, torch.Tensor) or inputs.ndim < 2:
        raise TypeError(f"inputs={type(inputs).__name__} must be a tensor (n, features...)")
    if not isinstance(targets, torch.Tensor) or targets.shape != inputs.shape[:1]:
        raise ValueError(
            f"targets of shape {tuple(getattr(targets, 'shape', ()))} must be a tensor of "
            f"shape ({inputs.shape[0]},): one class index per input"
        )
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("model has no trainable parameters; allowed: at least one")
