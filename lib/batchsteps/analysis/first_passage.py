r"""The engine's step counts against the first passage, read from an audit file.

The engine (``batchsteps.train.measure_steps``) checks a target every :math:`c` steps and
locates the first step by replays. Its count :math:`\hat K` is a step at which the target
held, so :math:`\hat K \ge K`, the first passage (the first step at which it holds), with
equality unless the measure met the target and left it again between two checks.
``benchmarks/first_passage.py`` reruns every cell of a build with a check after every step
(:math:`K` itself) and writes both counts of every run to a JSON file;
:func:`read_first_passage_audit` reads it, :meth:`FirstPassageAudit.first_passage` puts
:math:`K` into a sweep frame beside :math:`\hat K`, and :func:`late_counts` says how far
apart they are.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import validation
from .recipe import TunedSweep, best_rate, law_preference

__all__ = [
    "RUN_COLUMNS",
    "FirstPassageAudit",
    "read_first_passage_audit",
    "late_counts",
    "tuned_audit_text",
]

#: What the audit file holds for each run: where the cell was stored, the cell, the seed, the
#: engine's count ``book`` and the first passage ``every_step`` (-1: not reached), and how
#: each run ended.
RUN_COLUMNS = (
    "folder", "workload_name", "optimizer", "batch_size", "lr", "target", "max_steps", "seed",
    "book", "every_step", "book_reason", "every_step_reason",
)  # fmt: skip
#: The cell and seed that identify a run in a sweep frame.
_KEY = ["optimizer", "batch_size", "lr", "target", "seed"]


@dataclass(frozen=True)
class FirstPassageAudit:
    """Both counts of every audited run (``frame``: the columns of ``RUN_COLUMNS`` plus
    ``measure``, the target's measure), each folder's cells, runs and CPU seconds both ways
    (``folders``), and where they come from: the commit and date of the audit, the file's
    ``path``."""

    frame: pd.DataFrame
    folders: pd.DataFrame
    commit: str
    date: str
    path: str

    def runs(self, folder: str) -> pd.DataFrame:
        """The runs of one store folder (such as ``"digits/sweep"``)."""
        validation.one_of("folder", folder, tuple(self.folders.index), "an audited folder")
        return self.frame[self.frame["folder"] == folder].reset_index(drop=True)

    def first_passage(self, frame: pd.DataFrame, folder: str) -> pd.DataFrame:
        """A copy of a sweep ``frame`` whose ``steps``, ``reached`` and ``reason`` are the
        audit's first passages for the runs of ``folder`` it holds (same optimizer, batch
        size, rate, target and seed). Added columns: ``counted_steps`` (the frame's own
        steps), ``audited`` (the audit holds the run) and ``as_audited`` (the frame's steps
        equal the engine's count in the audit: the audit saw the same run)."""
        validation.instance("frame", frame, pd.DataFrame, "a sweep DataFrame")
        validation.columns("frame", frame, [*_KEY, "steps", "reached", "reason"])
        runs = self.runs(folder)[[*_KEY, "book", "every_step", "every_step_reason"]]
        merged = frame.merge(runs, on=_KEY, how="left", validate="many_to_one")
        audited = merged["every_step"].notna().to_numpy()
        out = frame.copy()
        out["counted_steps"] = frame["steps"].to_numpy()
        out["audited"] = audited
        out["as_audited"] = audited & (merged["book"].to_numpy() == frame["steps"].to_numpy())
        steps = np.where(audited, merged["every_step"].fillna(-1).to_numpy(), frame["steps"])
        out["steps"] = steps.astype(np.int64)
        out["reached"] = out["steps"] >= 0
        out["reason"] = np.where(audited, merged["every_step_reason"], frame["reason"])
        return out

    def tuned_sweep(self, sweep: TunedSweep, folder: str) -> TunedSweep:
        """``sweep`` with the audit's first passages in its runs (:meth:`first_passage`) and
        the best rate per batch size chosen again from them (:func:`best_rate`)."""
        validation.instance("sweep", sweep, TunedSweep, "a TunedSweep")
        runs = self.first_passage(sweep.runs, folder)
        return dataclasses.replace(sweep, runs=runs, tuned=best_rate(runs))


def read_first_passage_audit(path: str | os.PathLike) -> FirstPassageAudit:
    r"""Read the JSON file ``benchmarks/first_passage.py --json`` writes.

    ``ValueError`` names the file when it lacks a field or a run contradicts
    :math:`\hat K \ge K` (an engine count below the first passage, or a run the engine counted
    as reached that never reached): then the two counts come from different runs.
    """
    file = validation.path("path", path)
    if not file.is_file():
        raise FileNotFoundError(f"path={str(file)!r} is not a file")
    data = json.loads(file.read_text(encoding="utf-8"))
    where = f"the audit file {str(file)!r}"
    missing = [
        k for k in ("commit", "date", "folders") if not isinstance(data, dict) or k not in data
    ]
    if missing:
        raise ValueError(f"{where} lacks {', '.join(missing)}: is it an audit file?")
    rows = [row | {"folder": f["folder"]} for f in data["folders"] for row in f["rows"]]
    frame = pd.DataFrame(rows, columns=list(RUN_COLUMNS))
    if frame.isna().any().any():
        raise ValueError(f"{where} lacks a field in some run; it needs {', '.join(RUN_COLUMNS)}")
    book, every = frame["book"].to_numpy(), frame["every_step"].to_numpy()
    bad = ((book >= 0) & ((every < 0) | (every > book))).nonzero()[0]
    if bad.size:
        row = frame.iloc[bad[0]].to_dict()
        raise ValueError(f"{where}: a run has an engine count below its first passage: {row}")
    frame["measure"] = frame["target"].str.split(r"<=|>=", regex=True).str[0]
    folders = pd.DataFrame(
        [
            {
                "folder": f["folder"],
                "cells": f["cells"],
                "runs": f["runs"],
                "cpu_book": f["cpu_book"],
                "cpu_every_step": f["cpu_every"],
            }
            for f in data["folders"]
        ]
    ).set_index("folder")
    return FirstPassageAudit(frame, folders, str(data["commit"]), str(data["date"]), str(file))


def late_counts(
    frame: pd.DataFrame, by: tuple[str, ...] = ("measure", "batch_size")
) -> pd.DataFrame:
    r"""How late the counts of a frame from :meth:`FirstPassageAudit.first_passage` are, per
    group of its audited runs: ``runs``; ``late``, the runs with :math:`\hat K \ne K`
    (``counted_steps`` against ``steps``), and their ``late_share``; ``unreached``, the runs
    counted as not reaching the target (:math:`\hat K = -1`) that had reached it; among the
    late runs that reached both ways, the ``median_ratio`` and ``max_ratio`` of
    :math:`\hat K / K` (NaN when there is none)."""
    validation.instance(
        "frame", frame, pd.DataFrame, "a frame from FirstPassageAudit.first_passage"
    )
    validation.columns("frame", frame, ["counted_steps", "steps", "audited"])
    by = list(validation.sequence_of("by", by, lambda n, v: validation.one_of(n, v, frame)))
    rows = []
    for key, group in frame[frame["audited"]].groupby(by, sort=True):
        counted, first = group["counted_steps"], group["steps"]
        late = counted != first
        both = late & (counted >= 0)
        ratio = (counted[both] / first[both]).to_numpy(float)
        rows.append(
            {
                **dict(zip(by, key, strict=True)),
                "runs": len(group),
                "late": int(late.sum()),
                "late_share": float(late.mean()),
                "unreached": int((late & (counted < 0)).sum()),
                "median_ratio": float(np.median(ratio)) if ratio.size else float("nan"),
                "max_ratio": float(ratio.max()) if ratio.size else float("nan"),
            }
        )
    columns = [*by, "runs", "late", "late_share", "unreached", "median_ratio", "max_ratio"]
    return pd.DataFrame(rows, columns=columns)


def tuned_audit_text(
    counted: TunedSweep,
    exact: TunedSweep,
    counted_fits: Mapping[str, object],
    exact_fits: Mapping[str, object],
) -> str:
    """One sentence on what the first passages change in a sweep with the rate tuned per batch
    size: how many runs were counted late (all rates, and at the rates kept), at how many
    batch sizes the best rate changes, and the AIC's preference between the laws both ways
    (``counted_fits``, ``exact_fits``: ``{law: Fit}`` of ``counted.tuned`` and
    ``exact.tuned``)."""
    for name, value in (("counted", counted), ("exact", exact)):
        validation.instance(name, value, TunedSweep, "a TunedSweep")
    runs = exact.runs
    validation.columns("exact.runs", runs, ["counted_steps", "audited"])
    every = late_counts(runs, by=("audited",))
    kept = late_counts(
        runs.merge(counted.tuned[["batch_size", "lr"]].drop_duplicates(), how="inner"),
        by=("audited",),
    )
    rates = [
        counted.tuned.groupby("batch_size")["lr"].first(),
        exact.tuned.groupby("batch_size")["lr"].first(),
    ]
    changed = int((rates[0] != rates[1].reindex(rates[0].index)).sum())
    before, after = law_preference(counted_fits), law_preference(exact_fits)
    was = "as with the counts" if before.law == after.law else f"with the counts: {before.text}"
    return (
        f"{int(every['late'].sum())} of {int(every['runs'].sum())} runs were counted late, "
        f"{int(kept['late'].sum())} of the {int(kept['runs'].sum())} at the rates kept; with "
        f"the first passages in place of the counts, the "
        f"best rate changes at {changed} of {len(rates[0])} batch sizes, and the AIC's "
        f"preference between the laws is {after.text} ({was})"
    )
