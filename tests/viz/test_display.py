"""In a Jupyter kernel whose environment says ``MPLBACKEND=Agg``, figures still show as images."""

import nbformat
from nbclient import NotebookClient

import batchsteps.viz as viz


def run_cells(*sources: str) -> list[dict]:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    return [output for cell in notebook.cells for output in cell.outputs]


def test_a_figure_ending_a_cell_is_an_image_under_agg(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    outputs = run_cells(
        "import matplotlib, matplotlib.pyplot as plt\nmatplotlib.get_backend()",
        "import batchsteps.viz\nfig, ax = plt.subplots()\nax.plot([1, 2])\nfig",
    )
    assert "agg" in outputs[0]["data"]["text/plain"].lower()
    assert "image/png" in outputs[1]["data"]


def test_without_the_library_the_same_cell_prints_text_under_agg(monkeypatch):
    """The failure the library prevents: this test fails if Agg ever shows images by itself."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    (output,) = run_cells("import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nfig")
    assert "image/png" not in output["data"]
    assert output["data"]["text/plain"].startswith("<Figure size")


def test_outside_a_kernel_nothing_is_registered():
    assert viz.in_kernel() is False and viz.figures_as_images() is False
