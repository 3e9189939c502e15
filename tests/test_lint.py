"""The project's own files are ruff-clean (lint and format), as the developers' guide requires.

Only files the project tracks are checked (``git ls-files``): a reader's own script or a paired
notebook lying in the clone is theirs, not the project's. Outside a git checkout (an unpacked
archive) the project's folders are checked instead.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ["lib", "tests", "benchmarks", "_ext"]


def project_python_files() -> list[str]:
    """The tracked ``*.py`` files, or the project's folders outside a git checkout."""
    git = shutil.which("git")
    if git and (ROOT / ".git").exists():
        listed = subprocess.run(
            [git, "ls-files", "-z", "--", "*.py"], cwd=ROOT, capture_output=True, check=True
        )
        return [name for name in listed.stdout.decode().split("\0") if name]
    return [folder for folder in FOLDERS if (ROOT / folder).is_dir()]


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]])
def test_ruff_is_clean(command):
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    files = project_python_files()
    assert files, "no Python files found to lint"
    result = subprocess.run([ruff, *command, *files], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_readers_untracked_script_is_not_the_projects_to_lint():
    stray = ROOT / "my_own_scratch_script_for_lint_test.py"
    stray.write_text("import os,sys\nx=1\n")  # neither lint- nor format-clean
    try:
        files = project_python_files()
    finally:
        stray.unlink()
    assert stray.name not in files
