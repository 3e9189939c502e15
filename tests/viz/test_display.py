"""In a Jupyter kernel whose environment says ``MPLBACKEND=Agg``, figures still show as images."""

import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

import batchsteps.viz as viz
from batchsteps.viz import display as display_module


def run_cells(*sources: str) -> list[dict]:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    return [output for cell in notebook.cells for output in cell.outputs]


@pytest.mark.slow
def test_a_figure_ending_a_cell_is_an_image_under_agg(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    outputs = run_cells(
        "import matplotlib, matplotlib.pyplot as plt\nmatplotlib.get_backend()",
        "import batchsteps.viz\nfig, ax = plt.subplots()\nax.plot([1, 2])\nfig",
    )
    assert "agg" in outputs[0]["data"]["text/plain"].lower()
    assert "image/png" in outputs[1]["data"]


@pytest.mark.slow
def test_without_the_library_the_same_cell_prints_text_under_agg(monkeypatch):
    """The failure the library prevents: this test fails if Agg ever shows images by itself."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    (output,) = run_cells("import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nfig")
    assert "image/png" not in output["data"]
    assert output["data"]["text/plain"].startswith("<Figure size")


def test_outside_a_kernel_nothing_is_registered():
    assert viz.in_kernel() is False and viz.figures_as_images() is False


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["inline", "Agg"])
def test_a_library_figure_ending_a_cell_shows_once_as_an_image(monkeypatch, backend):
    """new_figure's figures are not kept by pyplot, yet Jupyter shows them, once."""
    if backend == "Agg":
        monkeypatch.setenv("MPLBACKEND", "Agg")
    else:
        monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's default: inline
    outputs = run_cells(
        "import batchsteps as bs\n"
        "values = dict(L=1.0, sigma=1.0, Delta=1.0, alpha=0.5, epsilon=0.1)\n"
        "numeric = bs.theory.bound('sgd').subs(**values)\n"
        "fig = bs.viz.plot_bound(numeric)\n"
        "import matplotlib.pyplot as plt\n"
        "assert plt.get_fignums() == []\n"
        "fig"
    )
    assert len(outputs) == 1 and "image/png" in outputs[0]["data"]


@pytest.mark.parametrize("display", [True, False])
def test_glue_writes_the_output_myst_nb_glue_writes(monkeypatch, display):
    # the book's pages read glued values as MyST-NB wrote them; the library writes the same
    # output without calling it (its first call costs every chapter's kernel 1.7 s of imports)
    from IPython.display import Markdown
    from matplotlib.figure import Figure
    from myst_nb.ext import glue as myst_glue

    figure = Figure(figsize=(2, 1))
    figure.add_subplot().plot([1, 2])
    values = {"n": 3, "x": 0.25, "s": "loss<=0.1", "md": Markdown("`b*`"), "fig": figure}
    written = {}
    for module, attribute, glue in (
        (myst_glue, "ipy_display", myst_glue.glue),
        (display_module, "ipython_display", viz.glue),
    ):
        calls = written.setdefault(module.__name__, [])
        monkeypatch.setattr(module, attribute, lambda *a, calls=calls, **k: calls.append((a, k)))
        for name, value in values.items():
            glue(name, value, display=display)
    ours, theirs = written[display_module.__name__], written[myst_glue.__name__]
    assert ours == theirs and len(ours) == len(values)


@pytest.mark.slow
def test_glue_imports_neither_myst_nb_nor_nbformat():
    # myst_nb.glue imports MyST-NB's glue module, nbformat and jsonschema at its first call
    code = (
        "import sys\nfrom batchsteps.viz import glue\nglue('x', 0.5, display=False)\n"
        "print('loaded:', sorted({'myst_nb', 'nbformat', 'jsonschema'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "loaded: []"
