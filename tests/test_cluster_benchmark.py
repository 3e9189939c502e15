"""benchmarks/cluster.py runs where Dask is installed: the same steps in process, through a
process pool and on Dask workers (the script asserts it), one row of rates a repeat."""

import pytest

import scripts


@pytest.mark.slow  # starts a local Dask cluster and a process pool: about 20 s
def test_the_quick_run_gets_the_same_steps_everywhere_and_reports_a_repeat():
    pytest.importorskip("distributed")
    out = scripts.run("cluster", "--quick")
    assert any(line.startswith("| 1 | ") for line in out.splitlines()), out
    assert "median ratio, dask / in process" in out
