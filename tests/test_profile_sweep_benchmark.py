"""benchmarks/profile_sweep.py runs and times every part it reports (it once stopped doing so
unnoticed when the engine's modules changed)."""

import re

import pytest

import scripts

PARTS = (
    "checks: full-data measure",
    "checks: loss bound, every step",
    "train: batch indices",
    "train: forward+backward",
    "train: optimizer update",
)


@pytest.mark.slow  # the reduced sweep: about 20 s of CPU
def test_the_reduced_profile_times_training_checks_and_updates():
    out = scripts.run("profile_sweep", "--reduced")
    runs = re.search(r"- engine runs: (\d+) for the (\d+) cells of the sweep", out)
    assert runs, out
    assert 0 < int(runs[1]) < int(runs[2])  # a batch size's settings and targets share a run
    for part in PARTS:
        row = re.search(rf"^\| {re.escape(part)} \| ([\d,]+) \| ([\d.]+) \|", out, re.MULTILINE)
        assert row, f"no row for {part!r} in:\n{out}"
        assert int(row[1].replace(",", "")) > 0 and float(row[2]) > 0
