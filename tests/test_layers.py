"""The layering is enforced, not just described: import-linter's contracts in pyproject.toml
hold (viz > experiments > analysis | train > theory; no torch in analysis or theory), and a
contract that the code breaks makes ``lint-imports`` fail, so the check cannot pass vacuously."""

import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(config)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_the_contracts_of_pyproject_hold():
    result = _lint(ROOT / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_pyproject_states_the_layers_and_forbids_torch_below_experiments():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert config["root_package"] == "batchsteps"
    contracts = {c["id"]: c for c in config["contracts"]}
    assert contracts["layers"]["layers"] == [
        "batchsteps.viz",
        "batchsteps.experiments",
        "batchsteps.analysis | batchsteps.train",
        "batchsteps.theory",
        "batchsteps.validation",
    ]
    forbidden = contracts["no-torch"]
    assert forbidden["type"] == "forbidden" and forbidden["forbidden_modules"] == ["torch"]
    assert set(forbidden["source_modules"]) == {"batchsteps.analysis", "batchsteps.theory"}


def test_a_contract_the_code_breaks_fails(tmp_path):
    # experiments imports train: forbidding it must be reported as broken
    config = tmp_path / "broken.toml"
    config.write_text(
        '[tool.importlinter]\nroot_package = "batchsteps"\n\n'
        "[[tool.importlinter.contracts]]\n"
        'name = "experiments without train"\ntype = "forbidden"\n'
        'source_modules = ["batchsteps.experiments"]\n'
        'forbidden_modules = ["batchsteps.train"]\n'
    )
    result = _lint(config)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and "batchsteps.experiments" in result.stdout
