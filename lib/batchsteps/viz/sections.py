"""A chapter's measured section in one call: both laws fitted to one optimizer's runs of the
shared Part II sweep, every number the prose cites glued, with its figure."""

from __future__ import annotations

import dataclasses

import numpy as np

from .. import validation
from ..analysis import FirstPassageAudit, Fit, compare_laws, late_counts, resolve_law
from ..experiments import Measured, fit_optimizers, pole_shown
from .curves import plot_measured, status_summary
from .display import glue

#: The targets a measured section reports: the theorems' gradient measure, then the loss.
TARGETS = ("grad_norm_sq", "loss")


def measured_section(
    measured: Measured,
    optimizer: str,
    *,
    prefix: str | None = None,
    audit: FirstPassageAudit | None = None,
    folder: str = "digits/sweep",
) -> dict[str, dict[str, Fit]]:
    r"""Fit both laws to ``optimizer``'s runs in ``measured`` for the gradient and the loss
    target, glue what a chapter's measured section cites with its figure, and return the fits
    (``{target: {law: Fit}}``).

    Glued under ``{prefix}_measured_`` (``prefix`` defaults to ``optimizer``): ``figure`` (the
    three panels of :func:`plot_measured`, gradient target), ``bmin``, ``bmax``, ``lr``,
    ``target``; for the gradient target the constant-rate fit's ``bstar`` :math:`= 2 b_0`
    with ``bstar_low`` and ``bstar_high`` (its 95% interval) and ``kmin``; for the loss
    target ``loss_bstar`` and ``loss_kmin``; the law the AIC prefers for each target
    (``law_gradient``, ``law_loss``), ``excluded``, the runs the gradient fit left out, and
    ``status``, how the gradient target's runs ended (:func:`status_summary`: the words for
    the figure's markers), and ``pole``, a sentence saying whether those runs show the
    constant-rate law's pole (:func:`~batchsteps.experiments.pole_shown`) and so whether
    ``bstar`` and its interval describe the data or only the closest curve of that shape.
    With an ``audit`` (:func:`~batchsteps.analysis.read_first_passage_audit`) of the store
    ``folder`` the runs came from, also ``late`` of ``audited`` runs counted later than their
    first passage, and ``exact_bstar`` (``exact_bstar_low``, ``exact_bstar_high``): the
    gradient target's constant-rate fit to the first passages.
    """
    validation.instance("measured", measured, Measured, "a Measured (from experiments.measure)")
    exp = measured.experiment
    validation.one_of("optimizer", optimizer, exp.optimizers, "an optimizer that was measured")
    if any(t not in exp.targets for t in TARGETS):
        allowed = f"a measurement of the targets {TARGETS} (it has {exp.targets})"
        raise validation.value_error("measured", measured, allowed)
    if prefix is None:
        prefix = optimizer
    if not validation.string("prefix", prefix).isidentifier():
        raise validation.value_error("prefix", prefix, "an identifier (letters, digits, _)")
    fits = {t: fit_optimizers(measured, t, (optimizer,))[optimizer] for t in TARGETS}
    gradient, loss = (fits[t]["constant_lr"] for t in TARGETS)
    preferred = {t: resolve_law(compare_laws(fits[t]).index[0]).label for t in TARGETS}
    with np.errstate(invalid="ignore"):  # bootstrap curves are inf below their pole
        figure = plot_measured(fits["grad_norm_sq"], optimizer)
    low, high = gradient.ci["critical_batch"]
    shown, why = pole_shown(fits["grad_norm_sq"])
    if shown:
        pole = f"The gradient target's runs show the pole ({why}, and its lack-of-fit test passes)."
    else:
        pole = (
            f"The gradient target's runs do not show a pole: {why}; so its b* and interval "
            "describe the closest curve of the constant-rate shape, not a pole of the data."
        )
    values = {
        "figure": figure,
        "bmin": min(measured.experiment.batch_sizes),
        "bmax": max(measured.experiment.batch_sizes),
        "lr": measured.tuning.lr[optimizer],
        "target": measured.experiment.targets["grad_norm_sq"],
        "bstar": gradient.critical_batch,
        "bstar_low": low,
        "bstar_high": high,
        "kmin": gradient.min_steps,
        "loss_bstar": loss.critical_batch,
        "loss_kmin": loss.min_steps,
        "law_gradient": preferred["grad_norm_sq"],
        "law_loss": preferred["loss"],
        "excluded": gradient.n_excluded,
        "status": status_summary(gradient),
        "pole": pole,
    }
    if audit is not None:
        validation.instance("audit", audit, FirstPassageAudit, "a FirstPassageAudit or None")
        exact = dataclasses.replace(measured, frame=audit.first_passage(measured.frame, folder))
        mine = exact.frame[exact.frame["optimizer"] == optimizer]
        late = late_counts(mine, by=("optimizer",))
        first = fit_optimizers(exact, "grad_norm_sq", (optimizer,))[optimizer]["constant_lr"]
        low, high = first.ci["critical_batch"]
        values |= {
            "late": int(late["late"].sum()),
            "audited": int(late["runs"].sum()),
            "exact_bstar": first.critical_batch,
            "exact_bstar_low": low,
            "exact_bstar_high": high,
        }
    for key, value in values.items():
        glue(f"{prefix}_measured_{key}", value, display=False)
    return fits
