r"""Published steps-versus-batch-size measurements, read from a CSV file with its source.

The file holds one row per (model, batch size) with the steps that run needed to reach its
target, after ``#`` comment lines that name the source and its license. The comment lines are
kept with the data, so a chapter can print where the numbers come from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pandas as pd

from .. import validation

REQUIRED = ("model", "batch_size", "steps")
"""Columns a file of published measurements must have."""


@dataclass(frozen=True)
class Published:
    """Published measurements: ``frame`` (one row per run, columns :data:`REQUIRED` and
    whatever else the file has, plus ``reached``, always true: a published point reached its
    target) and ``source``, the file's comment lines without the leading ``#``."""

    frame: pd.DataFrame
    source: tuple[str, ...]
    path: str

    @property
    def models(self) -> tuple[str, ...]:
        """The model names in the order they first appear in the file."""
        return tuple(pd.unique(self.frame["model"]))


def read_published(path: str | os.PathLike) -> Published:
    r"""Read a CSV of published measurements (``model, batch_size, steps``, ...).

    ``path``: a str or ``os.PathLike`` naming a UTF-8 CSV file with a header line. Lines
    starting with ``#`` before the header are the source. Batch sizes and steps must be
    positive and finite numbers (not booleans; a batch size may be fractional, in the file's
    unit), every row must name its model; ``ValueError`` names the file and the offending
    column otherwise (or the file, when it is not such a CSV), ``FileNotFoundError`` if there is
    no such file.
    """
    file = validation.path("path", path)
    if not file.is_file():
        raise FileNotFoundError(f"path={str(file)!r} is not a file")
    try:
        with open(file, encoding="utf-8") as f:
            lines = f.read().splitlines()
        frame = pd.read_csv(file, comment="#")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise ValueError(
            f"path={str(file)!r} must be a UTF-8 CSV file with a header line "
            f"({', '.join(REQUIRED)}, ...), got {type(error).__name__}: {error}"
        ) from None
    source = tuple(line.lstrip("#").strip() for line in lines if line.startswith("#"))
    validation.columns(f"the file {str(file)!r}", frame, REQUIRED)
    for column in ("batch_size", "steps"):
        name = f"column {column!r} of {str(file)!r}"
        if pd.api.types.is_bool_dtype(frame[column]):
            raise validation.value_error(name, frame[column].to_numpy(), "numbers, not booleans")
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        validation.real_array(name, values, low=0, low_open=True)
    blank = frame["model"].isna() | (frame["model"].astype(str).str.strip() == "")
    if blank.any():
        name = f"column 'model' of {str(file)!r}"
        allowed = f"a model name in every row (row {int(blank.to_numpy().argmax())} has none)"
        raise validation.value_error(name, frame["model"].tolist(), allowed)
    frame["model"] = frame["model"].astype(str)
    repeated = frame.duplicated(["model", "batch_size"])
    if repeated.any():
        row = frame[repeated].iloc[0]
        raise validation.value_error(
            f"the file {str(file)!r}", f"{row['model']!r} at batch size {row['batch_size']}",
            "one row per (model, batch size), not two",
        )  # fmt: skip
    frame["reached"] = True
    return Published(frame=frame, source=source, path=str(file))
