"""The package's promises about imports: light at the top, torch only where it is needed."""

import subprocess
import sys

import pytest


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_import_batchsteps_loads_no_subpackage_and_no_torch():
    loaded = _modules_after("import batchsteps")
    assert "torch" not in loaded
    assert not {"batchsteps.theory", "batchsteps.train"} & loaded


@pytest.mark.slow
def test_theory_and_analysis_load_without_torch():
    loaded = _modules_after("import batchsteps as bs; bs.theory.bound('sgd'); bs.analysis")
    assert "torch" not in loaded


def test_subpackages_load_on_first_touch():
    import batchsteps as bs

    assert bs.theory.bound("sgd").name == "sgd"
    assert callable(bs.train.steps_to_target) and callable(bs.train.sweep)
    assert callable(bs.analysis.fit_steps) and callable(bs.analysis.noise_scale_from_norms)
    assert callable(bs.experiments.measure) and callable(bs.experiments.noise_scale)
    assert callable(bs.viz.explorer)
