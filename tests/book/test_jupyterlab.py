"""A chapter executed in JupyterLab, as a reader does it, driven in a real browser.

JupyterLab (the one ``requirements.txt`` installs, with jupytext's extension and the settings
``install.sh`` copies from ``lab/overrides.json``) is started on 127.0.0.1 with a token, over a
temporary copy of ``chapters/`` and ``data/``, with its own settings, workspaces, runtime and
sweep store. Headless Chromium opens ``chapters/sgd.md``, which opens as a notebook, runs all
cells, and checks that no cell failed; then it types a new noise level into the SGD panel's
slider and checks that the critical batch the panel shows is the one ``Bound.subs(...)`` gives.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from book_pages import ROOT

import batchsteps as bs

pytestmark = pytest.mark.browser

CHAPTER = "chapters/sgd.md"
START_TIMEOUT_S = 180
RUN_TIMEOUT_S = 1500
"""Running every cell computes the chapter's sweep into an empty store: minutes on a busy
machine."""
SETTINGS = {
    # every cell in the page, none virtualised away: what the test reads is in the DOM
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    # no question about news or updates over the notebook
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}

NOTEBOOK_STATE = """() => {
    const app = window.jupyterapp;
    const panel = app && app.shell.currentWidget;
    if (!panel || !panel.content || !panel.content.model || !panel.sessionContext) {
        return null;
    }
    const model = panel.content.model;
    const cells = Array.from({length: model.cells.length}, (_, i) => model.cells.get(i));
    const code = cells.filter(cell => cell.type === 'code');
    const problems = [];
    code.forEach((cell, i) => {
        for (const output of cell.outputs.toJSON()) {
            const text = [].concat(output.text || []).join('');
            if (output.output_type === 'error') {
                problems.push(`code cell ${i}: ${output.ename}: ${output.evalue}`);
            } else if (output.name === 'stderr' && text.includes('Traceback')) {
                problems.push(`code cell ${i} (stderr): ${text.slice(-2000)}`);
            }
        }
    });
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    return {
        path: panel.context.path,
        notebook: panel.hasClass('jp-NotebookPanel'),
        kernel: kernel ? kernel.status : null,
        cells: code.length,
        executed: code.filter(cell => cell.executionCount !== null).length,
        running: code.filter(cell => cell.executionState === 'running').length,
        problems,
    };
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(server: subprocess.Popen, url: str, token: str) -> None:
    """Shut the server down (its kernels first), then terminate, then kill what is left."""
    try:
        request = urllib.request.Request(
            f"{url}/api/shutdown", method="POST", headers={"Authorization": f"token {token}"}
        )
        urllib.request.urlopen(request, timeout=10).close()
        server.wait(timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=20)
    try:  # the server ran in a session of its own: nothing of it (a kernel, a worker) survives
        os.killpg(server.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@pytest.fixture(scope="module")
def lab(browser, tmp_path_factory):
    """JupyterLab on 127.0.0.1 over a copy of the chapters and of the data they read (as in a
    reader's clone, ``../data`` from a chapter): ``(base URL, token, root)``."""
    tmp = tmp_path_factory.mktemp("jupyterlab")
    root = tmp / "root"
    root.mkdir()
    shutil.copytree(ROOT / "chapters", root / "chapters")
    shutil.copytree(ROOT / "data", root / "data")
    shutil.copy(ROOT / "jupytext.toml", root / "jupytext.toml")
    settings = tmp / "settings"
    for name, value in SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(value), encoding="utf-8")
    drop = ("JUPYTER", "IPYTHONDIR", "BATCHSTEPS_STORE", "BATCHSTEPS_BOOK_BUILD")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTER_DATA_DIR=str(tmp / "data"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
        IPYTHONDIR=str(tmp / "ipython"),
        BATCHSTEPS_STORE=str(tmp / "stores"),
    )
    port, token = free_port(), secrets.token_hex(16)
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = tmp / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if server.poll() is not None:
                pytest.fail(f"jupyter lab exited ({server.returncode}):\n{log.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"no answer in {START_TIMEOUT_S} s:\n{log.read_text()[-4000:]}")
            time.sleep(0.5)
        yield url, token, root, log
    finally:
        stop(server, url, token)


@pytest.fixture(scope="module")
def executed(browser, lab):
    """The chapter opened in JupyterLab with every cell run: ``(page, final notebook state)``."""
    url, token, _root, log = lab
    page = browser.new_page()
    try:
        page.goto(f"{url}/lab/tree/{CHAPTER}?token={token}", wait_until="load")
        page.wait_for_function(
            """() => { const p = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                       return p && p.context && p.context.isReady && p.sessionContext
                              && p.sessionContext.isReady; }""",
            timeout=START_TIMEOUT_S * 1000,
        )
        accept = page.locator(".jp-Dialog button.jp-mod-accept")
        if accept.count():  # a kernel choice, should JupyterLab ask
            accept.first.click()
        state = page.evaluate(NOTEBOOK_STATE)
        assert state["path"] == CHAPTER and state["notebook"], (
            f"{CHAPTER} did not open as a notebook (lab/overrides.json installed?): {state}"
        )
        page.wait_for_function(
            "() => { const p = window.jupyterapp.shell.currentWidget;"
            " const k = p.sessionContext.session && p.sessionContext.session.kernel;"
            " return k && k.status === 'idle'; }",
            timeout=START_TIMEOUT_S * 1000,
        )
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while True:
            time.sleep(2)
            state = page.evaluate(NOTEBOOK_STATE)
            settled = state["kernel"] == "idle" and state["running"] == 0
            if settled and (state["executed"] == state["cells"] or state["problems"]):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"the chapter did not finish in {RUN_TIMEOUT_S} s: {state}")
        yield page, state
    except BaseException:
        page.screenshot(path=str(log.with_name("failure.png")), full_page=True)
        raise
    finally:
        page.close()


def test_every_cell_of_the_chapter_runs_without_error(executed):
    _page, state = executed
    assert state["problems"] == []
    assert state["executed"] == state["cells"] > 0


def test_every_formula_of_the_chapter_typesets_in_jupyterlab(executed):
    """JupyterLab's MathJax typesets the chapter's math, the book's macros included (the
    chapter's first cell defines them): no TeX error such as an undefined ``\\bstar``."""
    page, _state = executed
    count, seen = -1, []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # typesetting is asynchronous: wait until it settles
        seen.append(page.locator(".jp-RenderedMarkdown mjx-container").count())
        if len(seen) >= 3 and seen[-1] == seen[-2] == seen[-3] > 0:
            count = seen[-1]
            break
        time.sleep(1)
    assert count > 20, f"the chapter's math was not typeset: {seen}"
    errors = page.locator(".jp-RenderedMarkdown mjx-merror").evaluate_all(
        "els => els.map(e => e.getAttribute('data-mjx-error') || e.textContent)"
    )
    assert errors == []


def agree_to_four_digits(shown: float, exact: float) -> bool:
    return f"{shown:.4g}" == f"{exact:.4g}"


def test_moving_a_slider_shows_the_critical_batch_python_computes(executed):
    page, _state = executed
    status = page.locator(".bs-panel-status")
    assert status.count() == 1, "the chapter shows no bound panel"
    sliders = page.locator(".widget-slider")
    assert sliders.count() >= 1, "no ipywidgets slider is shown"

    def reading() -> tuple[dict, float, str]:
        span = status.first
        values = json.loads(span.get_attribute("data-values"))
        return values, float(span.get_attribute("data-critical-batch")), span.text_content()

    values_before, before, _ = reading()
    sigma = page.locator(".widget-slider", has=page.get_by_text("sigma", exact=True))
    readout = sigma.locator(".widget-readout")
    readout.scroll_into_view_if_needed()
    new = 2.5 if values_before["sigma"] != 2.5 else 0.5
    readout.fill(f"{new:g}")
    readout.press("Enter")
    page.wait_for_function(
        "old => { const s = document.querySelector('.bs-panel-status');"
        " return s && s.getAttribute('data-values') !== old; }",
        arg=json.dumps(values_before),
        timeout=60_000,
    )
    values, shown, text = reading()
    assert values["sigma"] == pytest.approx(new)
    assert {k: v for k, v in values.items() if k != "sigma"} == {
        k: v for k, v in values_before.items() if k != "sigma"
    }
    expected = bs.theory.bound("sgd").subs(**values).critical_batch
    assert agree_to_four_digits(shown, expected), (shown, expected)
    assert not agree_to_four_digits(shown, before), (shown, before)
    assert f"b* = {expected:.4g}" in text, text
