"""Sphinx glue for the batchsteps book: MathJax everywhere, each inline script once, Colab.

Three fixes to what the book's pages would otherwise carry:

- Sphinx loads MathJax only on pages whose body has math, but the navigation of every page
  shows chapter titles with math (``One template: $A/K + B/b + C$``): raw TeX there. Assets
  are loaded on every page (``set_html_assets_policy("always")``).
- Sphinx 7.4 adds an inline script registered after the builder started (sphinx-thebe's
  ``const THEBE_JS_URL = ...``) twice, once as filename ``None`` and once as ``''``; the second
  ``const`` is a SyntaxError in every page's console. Each page keeps the first copy only.
- Colab opens notebooks, not MyST markdown. The Colab launch button is pointed at the executed
  notebook the theme copies to ``_sources/<page>.ipynb`` (the download button's file), on the
  branch the HTML is published to (``batchsteps_colab_branch``, default ``gh-pages``).
"""

from __future__ import annotations

from typing import Any


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


def _rewrite(buttons: list, prefix: str, branch: str, pagename: str) -> None:
    for button in buttons:
        if isinstance(button.get("buttons"), list):
            _rewrite(button["buttons"], prefix, branch, pagename)
        url = button.get("url", "")
        if url.startswith(prefix) and not url.endswith(".ipynb"):
            org_repo = url[len(prefix) :].split("/blob/")[0]
            button["url"] = f"{prefix}{org_repo}/blob/{branch}/_sources/{pagename}.ipynb"


def colab_opens_the_notebook(app, pagename, templatename, context, doctree) -> None:
    """Point the Colab launch button of a MyST-notebook page at its generated ``.ipynb``."""
    if not context.get("ipynb_source"):
        return
    launch = app.config.html_theme_options.get("launch_buttons", {})
    colab = launch.get("colab_url", "").rstrip("/")
    if colab:
        prefix = f"{colab}/github/"
        _rewrite(
            context.get("header_buttons", []), prefix, app.config.batchsteps_colab_branch, pagename
        )


def setup(app) -> dict[str, Any]:
    app.set_html_assets_policy("always")
    app.add_config_value("batchsteps_colab_branch", "gh-pages", "html")
    app.connect("html-page-context", each_script_once, priority=900)
    app.connect("html-page-context", colab_opens_the_notebook, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
