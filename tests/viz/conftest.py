"""What every figure of ``batchsteps.viz`` promises, checked for each plotting function.

A plotting function returns its Figure, draws into the axes it is given (and then returns
their figure), and leaves nothing open in pyplot: the autouse fixture fails any test after
which ``plt.get_fignums()`` is not empty.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


@pytest.fixture(autouse=True)
def nothing_left_open_in_pyplot():
    """Fail a test that leaves a figure open in pyplot (and close it for the next test)."""
    plt.close("all")
    yield
    left = plt.get_fignums()
    plt.close("all")
    assert left == [], f"figures left open in pyplot: {left}"


@pytest.fixture
def follows_the_figure_contract() -> Callable[..., None]:
    """``check(plot, *args, nrows=1, ncols=1, keyword=None, **kwargs)``: ``plot(*args,
    **kwargs)`` returns a Figure that pyplot does not hold, and given axes (``ax=`` one Axes
    for a one-panel figure, ``axes=`` a list otherwise, or as ``keyword`` says) it draws into
    all of them and returns their figure."""

    def check(
        plot: Callable[..., Figure],
        *args,
        nrows: int = 1,
        ncols: int = 1,
        keyword: str | None = None,
        **kwargs,
    ) -> None:
        made = plot(*args, **kwargs)
        assert isinstance(made, Figure)
        assert len(made.axes) >= nrows * ncols
        assert plt.get_fignums() == []
        given = Figure()
        grid = given.subplots(nrows, ncols, squeeze=False)
        keyword = keyword or ("ax" if nrows * ncols == 1 else "axes")
        value = grid[0, 0] if keyword == "ax" else grid.ravel().tolist()
        assert plot(*args, **{keyword: value}, **kwargs) is given
        assert all(ax.has_data() for ax in grid.ravel())
        assert plt.get_fignums() == []

    return check
