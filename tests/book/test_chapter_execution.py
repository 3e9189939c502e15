"""Chapters executed side by side before Sphinx reads them (``_ext/chapter_execution.py``):
on a small book of pages that sleep, the pages overlap in time, the named page starts first,
MyST-NB reads every page from the cache, and a failing page fails the build as before."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from jupyter_cache import get_cache

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location(
    "chapter_execution", ROOT / "_ext" / "chapter_execution.py"
)
execution = importlib.util.module_from_spec(spec)
spec.loader.exec_module(execution)

HEADER = """---
jupytext:
  text_representation: {extension: .md, format_name: myst}
kernelspec: {display_name: Python 3, language: python, name: python3}
---

"""


def page(name: str, code: str) -> str:
    return HEADER + f"# Page {name}\n\n```{{code-cell}} ipython3\n{code}\n```\n"


#: Seconds each page sleeps: long against a kernel's start (about 1 s, once 4 s, measured on the
#: 2-core machine), so that two pages started together overlap however their kernels start.
SLEEP = 6


def sleeper(name: str) -> str:
    return page(
        name,
        "import pathlib, time\n"
        "start = time.time()\n"
        f"time.sleep({SLEEP})\n"
        f"pathlib.Path('times-{name}.txt').write_text(f'{{start}} {{time.time()}}')\n"
        f"print('page {name} ran')",
    )


def small_book(folder: Path, pages: dict[str, str], first: list[str]) -> Path:
    folder.mkdir()
    (folder / "_config.yml").write_text(
        textwrap.dedent(f"""\
        title: side by side
        execute: {{execute_notebooks: cache, timeout: 120}}
        sphinx:
          local_extensions: {{chapter_execution: {ROOT / "_ext"}}}
          config:
            batchsteps_execute_first: {first}
            nb_execution_raise_on_error: true
        """)
    )
    names = list(pages)
    chapters = "".join(f"  - file: {name}\n" for name in names[1:])
    (folder / "_toc.yml").write_text(f"format: jb-book\nroot: {names[0]}\nchapters:\n{chapters}")
    for name, text in pages.items():
        (folder / f"{name}.md").write_text(text)
    return folder


def build(book: Path, workers: int = 2) -> subprocess.CompletedProcess:
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    env = {**os.environ, execution.WORKERS_ENV: str(workers)}
    return subprocess.run(
        [str(jupyter_book), "build", ".", "-W", "-n", "--keep-going"],
        cwd=book, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def interval(book: Path, name: str) -> tuple[float, float]:
    start, end = map(float, (book / f"times-{name}.txt").read_text().split())
    return start, end


@pytest.mark.slow
def test_pages_execute_side_by_side_named_first_and_are_read_from_the_cache(tmp_path):
    names = ["intro", "a", "b", "c"]
    book = small_book(tmp_path / "book", {n: sleeper(n) for n in names}, first=["c"])
    result = build(book)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    for name in names:
        assert f"{name}.md: Executing notebook, 2 at a time" in log
        assert f"{name}.md: Using cached notebook" in log  # MyST-NB executed nothing itself
        html = (book / "_build" / "html" / f"{name}.html").read_text()
        assert f"page {name} ran" in html
    times = {name: interval(book, name) for name in names}
    starts = sorted(times, key=lambda n: times[n][0])
    assert starts[0] == "c" or times["c"][0] < times[starts[0]][1]  # c in the first pair
    overlapping = [
        (m, n) for m in names for n in names if m < n
        and times[m][0] < times[n][1] and times[n][0] < times[m][1]
    ]  # fmt: skip
    assert len(overlapping) >= 2, times  # two pairs ran at once: 4 pages on 2 workers
    records = get_cache(book / "_build" / ".jupyter_cache").list_cache_records()
    assert len(records) == len(names)
    for record in records:  # where the time went, cell by cell: each page's one cell slept
        (seconds,) = record.data["cell_seconds"]
        assert SLEEP <= seconds <= record.data["execution_seconds"]
    again = build(book)
    assert again.returncode == 0 and "Executing notebook" not in again.stdout + again.stderr


@pytest.mark.slow
def test_a_page_that_fails_fails_the_build_with_its_error(tmp_path):
    pages = {
        "intro": sleeper("intro"),
        "good": sleeper("good"),
        "bad": page("bad", "raise RuntimeError('this page is broken')"),
    }
    book = small_book(tmp_path / "book", pages, first=[])
    result = build(book)
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert "bad.md: failed after" in log and "this page is broken" in log
    assert "good.md: Executed notebook in" in log  # the other page was not held back


@pytest.mark.slow
def test_one_page_or_one_worker_leaves_execution_to_myst_nb(tmp_path):
    book = small_book(tmp_path / "book", {"intro": sleeper("intro"), "a": sleeper("a")}, [])
    result = build(book, workers=1)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert "at a time" not in log and "a.md: Executing notebook using local CWD" in log


@pytest.mark.parametrize(("value", "expected"), [("", os.cpu_count() or 1), ("3", 3), (" 1 ", 1)])
def test_the_number_of_workers_comes_from_the_environment_or_the_cores(value, expected):
    assert execution.build_workers({execution.WORKERS_ENV: value}) == expected
    assert execution.build_workers({}) == (os.cpu_count() or 1)


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_a_bad_number_of_workers_names_the_variable_and_the_value(value):
    with pytest.raises(ValueError, match=rf"BATCHSTEPS_BUILD_WORKERS must be .*{value!r}"):
        execution.build_workers({execution.WORKERS_ENV: value})


def test_named_pages_go_first_in_the_order_named_and_the_rest_keep_theirs():
    pending = [(name, None, None, None) for name in ["a", "b", "c", "d", "e"]]
    ordered = execution.in_order(pending, ["d", "b", "nowhere"])
    assert [p[0] for p in ordered] == ["d", "b", "a", "c", "e"]
