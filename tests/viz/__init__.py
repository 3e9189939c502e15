"""Tests of batchsteps.viz: a package, so that its test modules may share names with other
folders (tests/viz/test_noise.py tests viz/noise.py, tests/analysis/test_noise.py
analysis/noise.py)."""
