"""benchmarks/stacking.py runs each sweep both ways and finds the same steps both ways."""

import re

import pytest

import scripts


@pytest.mark.slow  # the quick sweeps, twice each: about a minute of CPU
def test_the_quick_stacking_benchmark_compares_each_sweep_both_ways():
    out = scripts.run("stacking", "--quick")
    rows = re.findall(r"^\| ([\w-]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+)x \| (\w+) \|$", out, re.M)
    names = ["part2", "fashion", "tuned-digits", "tuned-teacher-student"]
    assert [r[0] for r in rows] == names, out
    for name, alone, stacked, ratio, same in rows:
        assert same == "yes", f"{name}: the stacked sweep took other steps\n{out}"
        assert float(alone) > 0 and float(stacked) > 0 and float(ratio) > 0
    sizes = re.findall(r"^\| (\d+) \| [\d.]+ \| [\d.]+ \| [\d.]+x \|$", out, re.M)
    assert sizes == ["4", "64"], out
