"""Sphinx glue for the batchsteps book.

- **Launch buttons from one setting.** ``repository.url`` in ``_config.yml`` is the only place
  the book's public address is written. Empty (the default), the pages carry no repository,
  issues, Binder or Thebe button, since they would lead nowhere; set, this extension turns them
  on (Binder opens the chapter's MyST notebook in JupyterLab). The executed notebook is offered
  for download either way (``_sources/<page>.ipynb``).
- **What the kernels inherit.** The kernels that execute the chapters inherit this process's
  environment. A reader's ``MPLBACKEND=Agg`` would make every figure print as
  ``<Figure size ...>``: the build sets the inline backend for its kernels. It also tells them
  they run for the book (``BATCHSTEPS_BOOK_BUILD=1``: no progress bars in the HTML) and keeps
  the sweep store beside the build, ``_build/stores``, unless ``BATCHSTEPS_STORE`` names one.
- **A cache keyed by the library.** Executed chapters are cached by jupyter-cache, keyed by
  their code cells, so a prose edit re-executes nothing. A chapter's results also depend on
  ``lib/batchsteps`` and ``requirements.txt``: when their content hash changes, the cache is
  emptied and every page is read (so executed) again.
- **Chapters side by side**: a cold build executes chapters in parallel, one per core
  (``_ext/chapter_execution.py``).
- **MathJax on every page**: the navigation of every page shows chapter titles with math.
- **Each inline script once**: Sphinx 7.4 adds sphinx-thebe's inline script twice, and the
  second ``const`` is a SyntaxError in every page's console.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from sphinx.ext.autodoc import DataDocumenter, ModuleDocumenter
from sphinx.pycode import ModuleAnalyzer

INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
BOOK_BUILD_ENV = "BATCHSTEPS_BOOK_BUILD"  # batchsteps.environment reads it
STORE_ENV = "BATCHSTEPS_STORE"  # batchsteps.experiments reads it
LIBRARY_INPUTS = ("lib/batchsteps", "requirements.txt")
STAMP = "batchsteps-library.sha256"
BINDER = "https://mybinder.org"


def library_hash(root: Path) -> str:
    """SHA-256 over the names and bytes of every file the chapters' results depend on."""
    digest = hashlib.sha256()
    for name in LIBRARY_INPUTS:
        path = root / name
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(root)).encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()


def launch_settings(repository_url: str) -> dict[str, Any]:
    """The theme options that depend on the repository: every button needing it, or none."""
    if not repository_url:
        return {"use_repository_button": False, "use_issues_button": False, "launch_buttons": {}}
    return {
        "use_repository_button": True,
        "use_issues_button": True,
        "launch_buttons": {
            "notebook_interface": "jupyterlab",
            "binderhub_url": BINDER,
            "thebe": True,
        },
    }


def configure(app, config) -> None:
    """Buttons from ``repository.url``; what the chapter-executing kernels inherit: the inline
    matplotlib backend, the book-build flag (no progress bars in the HTML) and, unless the
    reader named one, the sweep store beside the build (``_build/stores``)."""
    options = dict(config.html_theme_options)
    options.update(launch_settings(options.get("repository_url", "") or ""))
    config.html_theme_options = options
    os.environ["MPLBACKEND"] = INLINE_BACKEND
    os.environ[BOOK_BUILD_ENV] = "1"
    os.environ.setdefault(STORE_ENV, str(Path(app.outdir).parent / "stores"))


def cache_follows_the_library(app) -> None:
    """Empty the executed-notebook cache when ``lib/batchsteps`` or the requirements changed."""
    cache = Path(app.config.nb_execution_cache_path or Path(app.outdir).parent / ".jupyter_cache")
    current = library_hash(Path(app.srcdir))
    stamp = cache / STAMP
    previous = stamp.read_text() if stamp.is_file() else None
    app.env.batchsteps_library_changed = previous != current
    if previous != current:
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True, exist_ok=True)
        stamp.write_text(current)


def reread_on_library_change(app, env, added, changed, removed) -> list[str]:
    """Every page, when the library changed: the doctrees hold the old outputs."""
    if getattr(env, "batchsteps_library_changed", False):
        return sorted(env.found_docs - set(added) - set(changed) - set(removed))
    return []


def offer_the_notebook(app, pagename, templatename, context, doctree) -> None:
    """Copy a notebook page's executed ``.ipynb`` to ``_sources`` for the download button."""
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if not executed.is_file() or context.get("ipynb_source"):
        return
    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(executed, target)
    context["ipynb_source"] = f"{pagename}.ipynb"


def _key(script: Any) -> tuple:
    return (
        script.filename or "",
        script.priority,
        tuple(sorted(script.attributes.items())),
    )


def each_script_once(app, pagename, templatename, context, doctree) -> None:
    """Drop repeated copies of the same script (same source, priority and attributes)."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    kept = []
    for script in scripts:
        key = _key(script) if hasattr(script, "attributes") else (str(script),)
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def no_widget_state(app, pagename, templatename, context, doctree) -> None:
    """Drop the saved ipywidgets state myst-nb embeds in a page: the book loads no widget
    manager (the explorers replace live widgets), so it is dead weight, 100 kB on a chapter."""
    scripts = context.get("script_files")
    if scripts:
        context["script_files"] = [
            s for s in scripts if getattr(s, "attributes", {}).get("type") != WIDGET_STATE
        ]


def defining_doc(name: str, value: object) -> list[str]:
    """The doc comment (``#:``) or docstring of module-level ``name`` in the batchsteps module
    that defines it: a package re-exporting a constant keeps its documentation."""
    for module_name, module in sorted(sys.modules.items()):
        if not module_name.startswith("batchsteps") or getattr(module, name, None) is not value:
            continue
        analyzer = ModuleAnalyzer.for_module(module_name)
        analyzer.analyze()
        doc = analyzer.attr_docs.get(("", name))
        if doc:
            return list(doc)
    return []


def keep_documented_constants(app, what, name, obj, skip, options) -> bool | None:
    """Autodoc skips a re-exported constant (its doc comment sits in another module): keep it
    when the defining module documents it."""
    if what == "module" and skip and ReexportedData.documents(name, obj):
        return False
    return None


class ReexportedData(DataDocumenter):
    """A constant that a package re-exports, documented from the module that defines it."""

    objtype = "reexporteddata"
    directivetype = "data"
    priority = DataDocumenter.priority + 1

    @staticmethod
    def documents(name: str, value: object) -> bool:
        plain = not (callable(value) or inspect.ismodule(value))
        return plain and bool(defining_doc(name, value))

    @classmethod
    def can_document_member(cls, member, membername, isattr, parent) -> bool:
        return isinstance(parent, ModuleDocumenter) and cls.documents(membername, member)

    def get_doc(self) -> list[list[str]]:
        return [defining_doc(self.objpath[-1], self.object)]


def setup(app) -> dict[str, Any]:
    app.set_html_assets_policy("always")
    app.connect("config-inited", configure)
    app.connect("builder-inited", cache_follows_the_library, priority=100)
    app.connect("env-get-outdated", reread_on_library_change)
    app.connect("html-page-context", offer_the_notebook, priority=500)
    app.connect("html-page-context", each_script_once, priority=900)
    app.connect("html-page-context", no_widget_state, priority=900)
    app.connect("autodoc-skip-member", keep_documented_constants)
    app.setup_extension("sphinx.ext.autodoc")
    app.setup_extension("chapter_execution")
    app.add_autodocumenter(ReexportedData)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
