r"""The measurements in words and tables for a page: the comparison table as text, one
sentence per claim, the theory's ratios judged, the budget's pole, the runs at the left end.
"""

from __future__ import annotations

import math

import pandas as pd

from .. import validation
from ..analysis import AIC_MARGIN, Preference
from ..train import spec
from .compare import CLAIM_TWO, NOT_SUPPORTED, VERDICTS
from .running import Measured

__all__ = [
    "interval_text",
    "present",
    "summary",
    "theory_check",
    "budget_verdict",
    "left_end",
    "left_end_summary",
    "verdict_changes",
]


def interval_text(value: float, low: float, high: float) -> str:
    """An estimate with its interval, each to 3 significant digits.

    >>> interval_text(12.345, 10.0, 15.0)
    '12.3 [10, 15]'
    """
    return f"{value:.3g} [{low:.3g}, {high:.3g}]"


def _ratio(value: float, low: float | None = None) -> str:
    """A ratio to 3 digits (``"none"`` if not finite); with ``low`` below it, the band
    ``low`` to ``value``."""
    if not math.isfinite(value):
        return "none"
    if low is not None and low < value:
        return f"{low:.3g} to {value:.3g}"
    return f"{value:.3g}"


def present(table: pd.DataFrame) -> pd.DataFrame:
    r"""The :func:`comparison` table as a page shows it: estimates with their intervals as
    text, measured ratios to SGD beside the theory's (for :math:`b^\star` the band its
    proof allows, ``"2 to 20"``, where it is one), the law the AIC prefers."""
    validation.instance("table", table, pd.DataFrame, "what comparison() returns")
    validation.columns("table", table, ("critical_batch",))
    rows = {}
    for o, row in table.iterrows():
        rows[o] = {
            "rate α": f"{row['lr']:g}",
            "b* [95% interval]": interval_text(
                row["critical_batch"], row["critical_low"], row["critical_high"]
            ),
            "K_min [95% interval]": interval_text(
                row["min_steps"], row["min_steps_low"], row["min_steps_high"]
            ),
            "b* / SGD's: measured": _ratio(row["critical_ratio"]),
            "b* / SGD's: theory": _ratio(
                row["theory_critical_ratio"], row.get("theory_critical_low")
            ),
            "K_min / SGD's: measured": _ratio(row["steps_ratio"]),
            "K_min / SGD's: theory": _ratio(row["theory_steps_ratio"]),
            "AIC prefers": Preference(row["preferred_law"], row["delta_aic"], AIC_MARGIN).text,
            "lack of fit p": f"{row['lack_of_fit_p']:.2g}",
            "runs reached / out of budget / diverged": (
                f"{row['runs_reached']} / {row['runs_budget']} / {row['runs_diverged']}"
            ),
        }
    return pd.DataFrame(rows).T.rename_axis("optimizer")


# ---------------------------------------------------------------------------------------------
# The rate swept


def budget_verdict(table: pd.DataFrame) -> str:
    r"""One sentence from a :func:`budget_table`: for each optimizer whether its measured pole
    is beyond what the step budget alone produces (the lower end of the measured
    :math:`b_0`'s interval above the artefact's :math:`b_0`) or could be the budget's (it is
    not), with the numbers.

    >>> t = pd.DataFrame({"measured_b0": [9.9, 27.6], "measured_b0_low": [8.1, 27.1],
    ...                   "measured_b0_high": [12.0, 28.2], "artefact_b0": [11.8, 3.8]},
    ...                  index=pd.Index(["sgd", "momentum"], name="optimizer"))
    >>> for part in budget_verdict(t).split("; "):
    ...     print(part)
    the budget alone could have made the pole of sgd (b0 9.9 [8.1, 12] against 11.8)
    the pole of momentum is beyond the budget's (27.6 [27.1, 28.2] against 3.8)
    """
    need = ("measured_b0", "measured_b0_low", "measured_b0_high", "artefact_b0")
    validation.instance("table", table, pd.DataFrame, "what budget_table() returns")
    validation.columns("table", table, need)
    parts = []
    for o, row in table.iterrows():
        measured = interval_text(*row[["measured_b0", "measured_b0_low", "measured_b0_high"]])
        art = row["artefact_b0"]
        if not math.isfinite(art):
            parts.append(f"no pole-free fit for {o} (the cut curve reached at too few sizes)")
        elif row["measured_b0_low"] > art:
            parts.append(f"the pole of {o} is beyond the budget's ({measured} against {art:.3g})")
        else:
            parts.append(
                f"the budget alone could have made the pole of {o} (b0 {measured} against "
                f"{art:.3g})"
            )
    return "; ".join(parts)


def _against_theory(measured: float, low: float, high: float) -> str:
    """Where a measured ratio lies against the theory's value (``low == high``) or band."""
    if not all(map(math.isfinite, (measured, low, high))) or measured <= 0:
        return ""
    if low == high:
        factor = high / measured
        if factor >= 1:
            return f", {factor:.2g} times smaller than predicted"
        return f", {1 / factor:.2g} times larger than predicted"
    band = f"the band the proof allows ({low:.3g} to {high:.3g})"
    if measured < low:
        return f", {low / measured:.2g} times below {band}"
    if measured > high:
        return f", {measured / high:.2g} times above {band}"
    return f", inside {band}"


def theory_check(table: pd.DataFrame, verdict: pd.DataFrame, optimizer: str = "momentum") -> str:
    r"""One sentence comparing ``optimizer``'s measured ratios to SGD's with the theory's, from
    a :func:`comparison` table and the :func:`verdicts` of the same fits: for :math:`b^\star`
    and for :math:`K_{\min}`, whether the measured order agrees with the predicted one
    (claims 2a and 2b: intervals disjoint the predicted way), opposes it, is undecided or not
    supported, and where the measured ratio lies against the theory's: for :math:`b^\star`
    against the band its proof allows (``theory_critical_low`` to ``theory_critical_ratio``,
    see :func:`~batchsteps.experiments.theory_band`), for :math:`K_{\min}` by what factor it
    differs from the one predicted value."""
    validation.instance("table", table, pd.DataFrame, "what comparison() returns")
    validation.columns("table", table, ("theory_critical_low", "theory_critical_ratio"))
    validation.instance("verdict", verdict, pd.DataFrame, "what verdicts() returns")
    validation.columns("verdict", verdict, ("verdict",))
    validation.one_of("optimizer", optimizer, table.index, "an optimizer of the table")
    if "sgd" not in table.index:
        raise validation.value_error("table", table, "a comparison that holds 'sgd'")
    rows = verdict[verdict["optimizer"] == optimizer].set_index("claim")
    row = table.loc[optimizer]
    parts = []
    for claim, name, measured, low, high in (
        (CLAIM_TWO[0], "b*", row["critical_ratio"], row["theory_critical_low"],
         row["theory_critical_ratio"]),
        (CLAIM_TWO[1], "K_min", row["steps_ratio"], row["theory_steps_ratio"],
         row["theory_steps_ratio"]),
    ):  # fmt: skip
        said = rows.loc[claim, "verdict"] if claim in rows.index else "undecided"
        if said == NOT_SUPPORTED:
            parts.append(
                f"for {name} the comparison is {NOT_SUPPORTED} ({rows.loc[claim, 'evidence']})"
            )
            continue
        direction = {
            "holds": "in the predicted direction (intervals disjoint)",
            "fails": "opposite to the prediction (intervals disjoint)",
            "undecided": "of undecided direction (intervals overlap)",
        }[said]
        parts.append(
            f"the measured ratio of {name}, {measured:.3g}, is {direction}"
            f"{_against_theory(measured, low, high)}"
        )
    return "; ".join(parts)


def left_end(measured: Measured) -> pd.DataFrame:
    """At the smallest batch size of each measured curve (optimizer x target, skipped cells
    counted as not run): how many runs reached the target, ran out of budget or diverged."""
    validation.instance("measured", measured, Measured, "a Measured (see measure())")
    b_min = min(measured.experiment.batch_sizes)
    rows = []
    for (m, o), group in measured.frame.groupby(["measure", "optimizer"], sort=False):
        at = group[group["batch_size"] == b_min]["reason"].value_counts()
        skipped = measured.skipped
        was_skipped = bool(
            len(skipped)
            and ((skipped["measure"] == m) & (skipped["optimizer"] == o)
                 & (skipped["batch_size"] == b_min)).any()
        )  # fmt: skip
        rows.append(
            {
                "target": m,
                "optimizer": o,
                "batch_size": b_min,
                "reached": int(at.get("reached", 0)),
                "out of budget": int(at.get("max_steps", 0)),
                "diverged": int(at.get("diverged", 0)),
                "skipped": was_skipped,
            }
        )
    return pd.DataFrame(rows)


def left_end_summary(measured: Measured) -> str:
    """One sentence from :func:`left_end`: of the measured curves, how many have no run
    reaching the target at the smallest batch size, and why (budget, divergence, or not run
    because the two batch sizes above it had none)."""
    table = left_end(measured)
    none = table[table["reached"] == 0]
    budget = int(((none["out of budget"] > 0) & (none["diverged"] == 0)).sum())
    diverged = int((none["diverged"] > 0).sum())
    skipped = int(none["skipped"].sum())
    b_min = int(table["batch_size"].iloc[0]) if len(table) else 0
    text = (
        f"at b = {b_min}, {len(none)} of the {len(table)} measured curves have no run reaching "
        f"the target"
    )
    if len(none):
        text += (
            f" ({budget} because every run there ran out of the step budget, {diverged} with "
            f"runs that diverged, {skipped} not run: the two batch sizes above had no run reach)"
        )
    return text


def summary(verdicts_table: pd.DataFrame) -> dict[str, str]:
    """One plain sentence per claim from a :func:`verdicts` table (several tables may be
    concatenated, with a ``target`` column): for each verdict, where it was reached.

    >>> table = pd.DataFrame({"claim": ["1"] * 2, "optimizer": ["sgd", "adam"],
    ...                       "verdict": ["holds", "fails"], "evidence": ["", ""]})
    >>> summary(table)["1"]
    'holds for sgd; fails for adam'
    """
    validation.instance("verdicts_table", verdicts_table, pd.DataFrame, "what verdicts() returns")
    validation.columns("verdicts_table", verdicts_table, ("claim", "optimizer", "verdict"))
    sentences = {}
    for claim, group in verdicts_table.groupby("claim", sort=True):
        parts = []
        for verdict in VERDICTS:
            chosen = group[group["verdict"] == verdict]
            if chosen.empty:
                continue
            if "target" in chosen.columns:
                pairs = zip(chosen["optimizer"], chosen["target"], strict=True)
                where = [f"{o} ({t})" for o, t in pairs]
            else:
                where = list(chosen["optimizer"])
            parts.append(f"{verdict} for {', '.join(where)}")
        sentences[str(claim)] = "; ".join(parts)
    return sentences


def verdict_changes(before: pd.DataFrame, after: pd.DataFrame) -> str:
    """Which verdicts differ between two tables of :func:`verdicts` (columns ``claim``,
    ``optimizer``, ``verdict`` and, where both have it, ``target``), in words: "none of the N
    verdicts changes", or "k of the N verdicts change: ..." with each change."""
    for name, table in (("before", before), ("after", after)):
        validation.instance(name, table, pd.DataFrame, "a table of verdicts")
        validation.columns(name, table, ["claim", "optimizer", "verdict"])
    keys = [k for k in ("claim", "target", "optimizer") if k in before and k in after]
    pair = before.merge(after, on=keys, suffixes=("", "_after"), validate="one_to_one")
    changed = pair[pair["verdict"] != pair["verdict_after"]]
    if changed.empty:
        return f"none of the {len(pair)} verdicts changes"
    parts = []
    for row in changed.itertuples():
        where = f" ({row.target})" if "target" in keys else ""
        parts.append(
            f"claim {row.claim.split(':')[0]} for {spec(row.optimizer).label}{where}: "
            f"*{row.verdict}* becomes *{row.verdict_after}*"
        )
    return f"{len(changed)} of the {len(pair)} verdicts change: " + "; ".join(parts)
