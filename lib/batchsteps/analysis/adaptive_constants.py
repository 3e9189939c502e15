r"""The constants of the Adam-type bound, computed from what an AMSGrad run recorded.

The bound of :mod:`batchsteps.theory.adam` holds under (A3): :math:`\|g_k\| \le G`,
:math:`(\theta_{k,i} - \theta_i)^2 \le D`, :math:`h_{\min} \le h_{k,i} \le h_{\max}` with
:math:`h_{k+1} \ge h_k`, plus (A2): :math:`\mathbb E\|g_k - \nabla f(\theta_k)\|^2 \le \sigma^2/b`.
:func:`adaptive_run` takes the iterates, gradients, momenta and preconditioners of one run (as
:class:`~batchsteps.train.AdaptiveRecorder` records them along an engine run, and
:func:`batchsteps.experiments.measure_adaptive_run` runs it) and returns the smallest constants
for which those assumptions held along the run, together with the measure the bound controls,

.. math:: V_K(\theta) = \frac1K \sum_{k=0}^{K-1}
   \langle \theta_k - \theta, \nabla f(\theta_k)\rangle,

at a reference point :math:`\theta`. The theorem needs :math:`\theta` fixed before the run
(its step 5 conditions on the past): a point given before the run (e.g.
:func:`batchsteps.experiments.full_batch_reference`) or ``"initial"`` (:math:`\theta_0`);
``"final"`` (:math:`\theta_K`) depends on the run's own batches and is offered for exploration
only.

torch's AMSGrad divides by bias corrections, so in the book's form
:math:`\theta_{k+1} = \theta_k - \alpha H_k^{-1} m_k` (with ``lr`` as :math:`\alpha` and torch's
``exp_avg`` as :math:`m_k`) its preconditioner after the t-th update (t = k + 1) is

.. math:: h_k = (1 - \beta_1^{t}) \left(\sqrt{\hat v_k / (1 - \beta_2^{t})} + \delta\right),

which need not grow with k: the run reports how often and how much it shrank.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import validation
from ..theory import Bound, adam
from ..theory.notation import BY_NAME

#: The reference points named by a string: :math:`\theta_K` and :math:`\theta_0`.
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
    :math:`\frac1K\sum_k\|m_k\|^2_{H_k^{-1}}` (at most ``momentum_sq`` :math:`/h_{\min}`), and
    ``momentum_sq`` :math:`\frac1K\sum_k\|m_k\|^2` (``nan`` where a run did not record it),
    the quantity step 4 bounds by :math:`2G^2 + 2(1-\beta_1)\sigma^2/((1+\beta_1)b)`.
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
    momentum_sq: float = math.nan

    def terms(self) -> dict[str, tuple[float, float]]:
        r"""Each term of the averaged identity: ``name -> (measured, its bound in the proof)``.

        With :math:`c = 2\alpha(1-\beta_1)`, the identity reads
        ``stochastic_variational = telescoping + momentum_cross + noise_and_drift`` where
        ``telescoping`` is :math:`T/(cK)` (bounded by :math:`A/K`), ``momentum_cross`` is
        :math:`-2\alpha\beta_1\,\mathrm{cross}/c` (bounded by :math:`\beta_1\sqrt{dD}G/(1-\beta_1)`)
        and ``noise_and_drift`` is :math:`\alpha^2\,\mathrm{weighted\_momentum}/c` (bounded by
        :math:`B/b + \alpha G^2/((1-\beta_1)h_{\min})`).
        """
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

    def noise_steps(self) -> dict[str, float]:
        r"""The term ``noise_and_drift`` of :meth:`terms` through the two inequalities of step 4.

        With :math:`c = 2\alpha(1-\beta_1)`: ``measured`` is
        :math:`\alpha^2\,\frac1K\sum_k\|m_k\|^2_{H_k^{-1}}/c`; ``unweighted`` is
        :math:`\alpha^2\,\frac1K\sum_k\|m_k\|^2/(h_{\min}c)`, what the first inequality,
        :math:`\|m\|^2_{H^{-1}} \le \|m\|^2/h_{\min}`, makes of it; ``bound`` is
        :math:`B/b + \alpha G^2/((1-\beta_1)h_{\min})`, what the second,
        :math:`\mathbb E\|m\|^2 \le 2G^2 + 2(1-\beta_1)\sigma^2/((1+\beta_1)b)`, makes of
        that. ``measured <= unweighted`` on every run; ``unweighted/measured`` and
        ``bound/unweighted`` say how much each inequality loses. ``unweighted`` is ``nan`` where
        ``momentum_sq`` was not recorded.
        """
        measured, bound = self.terms()["noise_and_drift"]
        c = 2 * self.alpha * (1 - self.beta1)
        unweighted = self.alpha**2 * self.momentum_sq / (self.h_min * c)
        return {"measured": measured, "unweighted": unweighted, "bound": bound}

    def values(self) -> dict[str, float]:
        """Keyword values for ``bound("amsgrad").subs`` (add ``epsilon``)."""
        names = ("alpha", "beta1", "sigma", "G", "D", "d", "h_min", "h_max")
        return {name: float(getattr(self, name)) for name in names}


def adaptive_run(
    *,
    theta: Any,
    full_grad: Any,
    grad: Any,
    momentum: Any,
    precond: Any,
    sigma_sq: float,
    loss_initial: float,
    loss_final: float,
    reference: str | Any,
    batch_size: int,
    alpha: float,
    beta1: float,
    beta2: float,
    delta: float,
    seed: int,
    amsgrad: bool = True,
) -> AdaptiveRun:
    r"""The constants of (A2)-(A3) and :math:`V_K(\theta)` from one run's record.

    ``theta`` holds the flat iterates :math:`\theta_0..\theta_K` (shape ``(K + 1, d)``);
    ``full_grad`` :math:`\nabla f(\theta_k)`, ``grad`` the mini-batch :math:`g_k`,
    ``momentum`` :math:`m_k` and ``precond`` :math:`h_k` for :math:`k = 0..K-1` (shape
    ``(K, d)``); ``sigma_sq`` the largest one-sample gradient variance seen. ``reference``:
    ``"final"``, ``"initial"`` or a flat point of shape ``(d,)``. Then
    :math:`G = \max_k \max(\|g_k\|, \|\nabla f(\theta_k)\|)`,
    :math:`D = \max_{k,i}(\theta_{k,i} - \theta_i)^2` and :math:`h_{\min}, h_{\max}` over the
    coordinates whose mini-batch gradient was ever non-zero, the three terms of the
    summed one-step identity and the mean of :math:`\|m_k\|^2` (see :class:`AdaptiveRun`).
    """
    theta_all = validation.real_array("theta", theta, ndim=2, min_size=0, finite=False)
    steps, d_total = theta_all.shape[0] - 1, theta_all.shape[1]
    if steps < 1:
        raise validation.value_error("theta", theta, "an array of at least two iterates (rows)")
    arrays = {
        name: validation.real_array(name, value, ndim=2, min_size=0, finite=False)
        for name, value in (
            ("full_grad", full_grad), ("grad", grad), ("momentum", momentum), ("precond", precond)
        )
    }  # fmt: skip
    for name, value in arrays.items():
        if value.shape != (steps, d_total):
            raise ValueError(
                f"{name} of shape {value.shape} must have shape {(steps, d_total)}: one row per "
                f"update of the {steps} recorded"
            )
    if isinstance(reference, str):
        validation.one_of("reference", reference, REFERENCES)
        point_all = theta_all[-1] if reference == "final" else theta_all[0]
    else:
        point_all = np.asarray(reference, dtype=np.float64)
        if point_all.shape != (d_total,):
            raise ValueError(
                f"reference of shape {point_all.shape} must be a flat vector of the model's "
                f"{d_total} parameters"
            )
    amsgrad = validation.boolean("amsgrad", amsgrad)
    full, g_all = arrays["full_grad"], arrays["grad"]
    variational = float(((theta_all[:-1] - point_all) * full).sum(axis=1).mean())
    touched = (g_all != 0).any(axis=0)
    offset = theta_all[:, touched] - point_all[touched]
    h = arrays["precond"][:, touched]
    g = g_all[:, touched]
    m = arrays["momentum"][:, touched]
    m_before = np.concatenate([np.zeros_like(m[:1]), m[:-1]])
    shrink = h[1:] < h[:-1]
    relative = np.clip((h[:-1] - h[1:]) / h[:-1], 0.0, None)
    big_g = max(
        float(np.linalg.norm(g_all, axis=1).max()), float(np.linalg.norm(full, axis=1).max())
    )
    return AdaptiveRun(
        batch_size=int(batch_size),
        steps=steps,
        alpha=float(alpha),
        beta1=float(beta1),
        beta2=float(beta2),
        delta=float(delta),
        d=int(touched.sum()),
        d_total=int(d_total),
        G=big_g,
        D=float((offset**2).max()),
        h_min=float(h.min()),
        h_max=float(h.max()),
        sigma=math.sqrt(sigma_sq),
        variational=variational,
        stochastic_variational=float((offset[:-1] * g).sum(axis=1).mean()),
        cross=float((offset[:-1] * m_before).sum(axis=1).mean()),
        weighted_momentum=float((m**2 / h).sum(axis=1).mean()),
        momentum_sq=float((m**2).sum(axis=1).mean()),
        telescoped=float((h * (offset[:-1] ** 2 - offset[1:] ** 2)).sum()),
        shrink_fraction=float(shrink.mean()) if steps > 1 else 0.0,
        max_shrink=float(relative.max()) if steps > 1 else 0.0,
        loss_initial=float(loss_initial),
        loss_final=float(loss_final),
        seed=int(seed),
        reference=reference if isinstance(reference, str) else "given",
        amsgrad=amsgrad,
    )


def envelope(runs: Iterable[AdaptiveRun]) -> dict[str, float]:
    """One set of constants valid for every run: the largest d, G, D, h_max, sigma, smallest h_min.

    ``alpha`` and ``beta1`` must agree across runs; returns keyword values for
    ``bound("amsgrad").subs`` (add ``epsilon``).
    """
    runs = validation.sequence_of(
        "runs", runs, functools.partial(validation.instance, types=AdaptiveRun)
    )
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


def bound_at(bound: Bound, values: Mapping[str, float], steps: int, batch_size: float) -> float:
    r""":math:`A/K + B/b + C` of a numeric bound's constants at ``K = steps``, ``b = batch_size``.

    ``bound`` is a :class:`batchsteps.theory.Bound`; ``values`` its parameters without
    ``epsilon`` (the value of the bound does not depend on the target), checked against their
    ranges (:meth:`~batchsteps.theory.Bound.constants`).
    """
    validation.instance("bound", bound, Bound, "a batchsteps.theory.Bound (see bound())")
    validation.mapping_of("values", values, what="a mapping parameter name -> value")
    steps = validation.integer("steps", steps, low=1)
    batch_size = validation.positive("batch_size", batch_size)
    A, B, C = bound.constants(**values)
    return A / steps + B / batch_size + C
