"""How long the book takes to build: cold, again with nothing changed, after a prose edit in one
chapter, and after an edit in lib/ (which must re-execute every chapter).

Runs in a fresh clone of this checkout's HEAD in a temporary folder (the working tree is never
touched), with the clone's library first on the path of every kernel, and prints one line per
build with the seconds it took and the chapters it executed; after the cold build, each
chapter's execution seconds and its slowest cells (from the executed-notebook cache, where
``_ext/chapter_execution.py`` records them).

    .venv/bin/python benchmarks/build_times.py
    .venv/bin/python benchmarks/build_times.py --keep /tmp/build-times   # keep the clone
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jupyter_cache import get_cache

ROOT = Path(__file__).resolve().parents[1]
PROSE_CHAPTER = "chapters/adam.md"
LIBRARY_FILE = "lib/batchsteps/environment.py"


def build(clone: Path) -> tuple[float, list[str]]:
    """One ``jupyter-book build .`` of ``clone``: seconds, and the chapters it executed."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    env = {key: value for key, value in os.environ.items() if key != "BATCHSTEPS_STORE"}
    env["PYTHONPATH"] = str(clone / "lib")
    start = time.perf_counter()
    result = subprocess.run(
        [str(jupyter_book), "build", "."], cwd=clone, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"build failed:\n{(result.stdout + result.stderr)[-4000:]}")
    executed = re.findall(r"/(chapters/\w+)\.md: Executing notebook", result.stdout + result.stderr)
    return seconds, executed


def chapter_seconds(clone: Path, cells: int = 3) -> list[str]:
    """One line per executed chapter: its seconds and its ``cells`` slowest code cells."""
    cache = get_cache(clone / "_build" / ".jupyter_cache")
    lines = []
    records = sorted(
        cache.list_cache_records(), key=lambda r: -(r.data.get("execution_seconds") or 0)
    )
    for record in records:
        code = [c for c in cache.get_cache_bundle(record.pk).nb.cells if c.cell_type == "code"]
        seconds = record.data.get("cell_seconds") or [None] * len(code)
        timed = [(s, c) for s, c in zip(seconds, code, strict=True) if s]
        top = sorted(timed, key=lambda pair: -pair[0])[:cells]
        shown = "; ".join(f"{s:.0f} s `{c.source.strip().splitlines()[0][:44]}`" for s, c in top)
        name = Path(record.uri).relative_to(clone)
        lines.append(f"  {str(name):26s} {record.data['execution_seconds']:6.1f} s   {shown}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="clone into this folder and keep it")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="batchsteps-build-times-"))
    clone = folder / "book"
    shutil.rmtree(clone, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    load = os.getloadavg()[0]
    print(f"clone of {ROOT} HEAD in {clone}; 1-minute load average {load:.1f}")

    steps = [("cold (empty _build)", None), ("again, nothing changed", None)]
    steps.append(("after a prose edit in " + PROSE_CHAPTER, PROSE_CHAPTER))
    steps.append(("after an edit in " + LIBRARY_FILE, LIBRARY_FILE))
    for label, edited in steps:
        if edited == PROSE_CHAPTER:
            path = clone / edited
            text = path.read_text(encoding="utf-8")
            marker = "\n## "
            cut = text.index(marker)
            path.write_text(text[:cut] + "\nOne more sentence of prose.\n" + text[cut:])
        elif edited is not None:
            with open(clone / edited, "a", encoding="utf-8") as f:
                f.write("\n# an edit that changes the library's hash\n")
        seconds, executed = build(clone)
        print(f"{label:55s} {seconds:7.1f} s   executed: {', '.join(executed) or 'none'}")
        if label.startswith("cold"):
            print("\n".join(chapter_seconds(clone)), flush=True)
    if args.keep is None:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
