"""The book's Sphinx extension (``_ext/batchsteps_book.py``): buttons from one setting, a cache
keyed by the library. Fast: no build."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import book_pages
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location(
    "batchsteps_book", ROOT / "_ext" / "batchsteps_book.py"
)
ext = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ext)


def test_without_a_repository_address_no_button_needs_one():
    settings = ext.launch_settings("")
    assert settings["launch_buttons"] == {}
    assert not settings["use_repository_button"] and not settings["use_issues_button"]


def test_with_a_repository_address_binder_opens_each_chapter_that_exists():
    settings = ext.launch_settings("https://github.com/someone/batchsteps")
    launch = settings["launch_buttons"]
    assert settings["use_repository_button"] and launch["binderhub_url"].startswith("https://")
    assert launch["notebook_interface"] == "jupyterlab" and "colab_url" not in launch
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    chapters = re.findall(r"file: (chapters/\w+)", yaml.safe_dump(toc))
    assert chapters and all((ROOT / f"{c}.md").is_file() for c in chapters)


def test_binder_builds_from_the_files_the_readme_installs():
    assert (ROOT / "apt.txt").is_file() and (ROOT / "requirements.txt").is_file()
    assert not (ROOT / "binder").exists(), "a binder/ folder would hide apt.txt from Binder"


def test_the_repository_address_is_one_setting_and_empty_by_default():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["repository"]["url"] == ""
    assert "launch_buttons" not in config
    assert not {"use_repository_button", "use_issues_button"} & set(config.get("html", {}))


def test_the_library_hash_changes_with_any_library_file_and_only_then(tmp_path):
    (tmp_path / "lib" / "batchsteps").mkdir(parents=True)
    module = tmp_path / "lib" / "batchsteps" / "m.py"
    module.write_text("x = 1\n")
    (tmp_path / "requirements.txt").write_text("numpy\n")
    first = ext.library_hash(tmp_path)
    (tmp_path / "chapter.md").write_text("prose")
    assert ext.library_hash(tmp_path) == first
    module.write_text("x = 2\n")
    assert ext.library_hash(tmp_path) != first


def test_apt_txt_lists_what_the_book_and_tests_need():
    packages = {
        line.split("#")[0].strip()
        for line in (ROOT / "apt.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    }
    assert {"chromium", "dataset-fashion-mnist"} <= packages


def test_ci_runs_the_readmes_test_command_and_installs_nothing_else():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = "./install.sh && .venv/bin/python -m pytest"
    assert command in readme and "./install.sh && .venv/bin/jupyter-book build ." in readme
    assert re.search(rf"^{re.escape(command)}$", ci, re.MULTILINE)
    for installer in ("apt-get", "pip install", "pip3", "conda"):
        assert installer not in ci, installer


@pytest.mark.slow
def test_jupytext_pairs_a_chapter_with_a_notebook_the_book_never_reads(tmp_path):
    """The README's ``jupytext --sync chapters/sgd.md``: a notebook in notebooks/, and an edit
    saved in the notebook comes back to the chapter."""
    jupytext = pytest.importorskip("jupytext")
    shutil.copy2(ROOT / "jupytext.toml", tmp_path / "jupytext.toml")
    (tmp_path / "chapters").mkdir()
    chapter = tmp_path / "chapters" / "sgd.md"
    shutil.copy2(ROOT / "chapters" / "sgd.md", chapter)
    tool = str(Path(sys.executable).with_name("jupytext"))
    subprocess.run([tool, "--sync", "chapters/sgd.md"], cwd=tmp_path, check=True)
    paired = tmp_path / "notebooks" / "sgd.ipynb"
    assert paired.is_file() and not (tmp_path / "chapters" / "sgd.ipynb").exists()
    notebook = jupytext.read(paired)
    notebook.cells.append(jupytext.reads("A sentence written in Jupyter.", fmt="md").cells[0])
    jupytext.write(notebook, paired)
    subprocess.run([tool, "--sync", "notebooks/sgd.ipynb"], cwd=tmp_path, check=True)
    assert "A sentence written in Jupyter." in chapter.read_text()
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "notebooks" in config["exclude_patterns"]
    assert "chapters/*.ipynb" in config["exclude_patterns"]
    assert "notebooks/" in (ROOT / ".gitignore").read_text().splitlines()


def test_a_page_carries_no_saved_widget_state_and_keeps_its_other_scripts():
    state = SimpleNamespace(attributes={"type": ext.WIDGET_STATE, "body": '{"state": {}}'})
    mathjax = SimpleNamespace(filename="mathjax.js", attributes={})
    inline = SimpleNamespace(filename=None, attributes={"body": "let x = 1;"})
    context = {"script_files": [mathjax, state, inline]}
    ext.no_widget_state(None, "chapters/sgd", "page.html", context, None)
    assert context["script_files"] == [mathjax, inline]


def test_a_re_exported_constant_is_documented_from_the_module_that_defines_it():
    import batchsteps.experiments as ex
    import batchsteps.train as train

    assert ext.defining_doc("EXPERIMENTS", ex.EXPERIMENTS)[0].startswith("The experiments")
    assert ext.ReexportedData.documents("WORKLOADS", train.WORKLOADS)
    assert not ext.ReexportedData.documents("workload", train.workload)  # a function: autodoc's
    assert ext.defining_doc("EXPERIMENTS", list(ex.EXPERIMENTS)) == []  # not the same object


def test_a_book_built_otherwise_is_stale_for_the_tests(tmp_path):
    """Only the book the tests built (cold, warnings as errors) is reused: a build the reader
    made since, or one without the tests' stamp, is built again."""
    html, stamp = tmp_path / "html", tmp_path / "tested-build.txt"
    html.mkdir()
    (html / "index.html").write_text("<html></html>")
    search = html / "searchindex.js"
    search.write_text("Search.setIndex({})")
    future = time.time() + 86400  # newer than every source
    os.utime(search, (future, future))
    assert book_pages.book_is_stale(html, stamp)  # no stamp: not built by the tests
    book_pages.stamp_build(html, stamp)
    assert not book_pages.book_is_stale(html, stamp)
    os.utime(search, (future + 10, future + 10))  # rebuilt since, by someone else
    assert book_pages.book_is_stale(html, stamp)
    book_pages.stamp_build(html, stamp)
    os.utime(search, (1.0, 1.0))
    book_pages.stamp_build(html, stamp)
    assert book_pages.book_is_stale(html, stamp)  # older than a source
