"""In a Jupyter kernel whose environment says ``MPLBACKEND=Agg``, figures still show as images."""

import nbformat
import pytest
from nbclient import NotebookClient

import batchsteps.viz as viz


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
