"""benchmarks/denormals.py runs (it once broke unnoticed when the record hook's argument
changed) and finds the same final parameters with and without the flush."""

import pytest

import scripts


@pytest.mark.slow  # a fresh interpreter and six short engine runs: about 3 s
def test_the_quick_run_compares_every_optimizer_and_finds_the_same_parameters():
    out = scripts.run("denormals", "--quick")
    rows = [line.split("|") for line in out.splitlines() if line.startswith("| ")]
    repeats = [row for row in rows if row[2].strip() == "1"]
    assert [row[1].strip() for row in repeats] == ["sgd", "momentum", "adam"], out
    assert all(row[6].strip() == "True" for row in repeats), out
