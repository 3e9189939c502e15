"""The house style and the one figure factory: colours per name, log-2 axes, new_figure."""

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

import batchsteps as bs
from batchsteps.viz.style import (
    GREYS,
    OPTIMIZER_STYLES,
    SeriesStyle,
    batch_axis,
    law_linestyle,
    mark_batch,
    new_figure,
    series_style,
    style_of,
    use_style,
)


def test_every_bound_of_the_theory_has_a_house_style():
    for name in bs.theory.names():
        assert isinstance(style_of(name), SeriesStyle)


def test_optimizers_differ_in_colour_or_marker_and_never_in_both_alike():
    looks = [(s.color, s.marker) for s in OPTIMIZER_STYLES.values()]
    assert len(set(looks)) == len(looks)
    assert len({s.marker for s in OPTIMIZER_STYLES.values()}) == len(looks)


def test_style_of_names_the_known_styles():
    assert style_of("sgd").label == "SGD"
    with pytest.raises(
        ValueError,
        match="name must be an optimizer with a house style: one of 'sgd', .*, got 'newton'",
    ):
        style_of("newton")
    with pytest.raises(TypeError, match="name must be .*, got 3"):
        style_of(3)


def test_series_style_relabels_an_optimizer_and_greys_anything_else():
    assert series_style("momentum") == OPTIMIZER_STYLES["momentum"]
    tagged = series_style(("adam", "loss"))
    assert tagged.label == "adam, loss" and tagged.color == OPTIMIZER_STYLES["adam"].color
    assert series_style("model A", 1) == SeriesStyle("model A", GREYS[1], "o")
    assert series_style("model A", len(GREYS) + 1) == series_style("model A", 1)  # round again


@pytest.mark.parametrize(
    ("index", "error"), [("a", TypeError), (1.0, TypeError), (True, TypeError), (-1, ValueError)]
)
def test_series_style_checks_its_index(index, error):
    with pytest.raises(error, match=f"index must be an integer >= 0, got {index!r}"):
        series_style("x", index)


def test_law_linestyles():
    assert law_linestyle("constant_lr") == "-" and law_linestyle("tuned_lr") == "--"
    assert law_linestyle("schedule") == "-."


def test_a_new_figure_is_styled_and_not_kept_by_pyplot():
    mpl.rcParams["axes.spines.top"] = True
    fig, ax = new_figure(width=5.0, height=3.0)
    assert isinstance(fig, Figure) and isinstance(ax, Axes)
    assert tuple(fig.get_size_inches()) == (5.0, 3.0)
    assert mpl.rcParams["axes.spines.top"] is False  # the house style applied
    assert plt.get_fignums() == []


@pytest.mark.parametrize(
    ("size", "error", "pattern"),
    [
        ({"width": -1.0}, ValueError, "width must be a finite real number > 0, got -1.0"),
        ({"width": None}, TypeError, "width must be .*, got None"),
        ({"height": "3"}, TypeError, "height must be .*, got '3'"),
        ({"height": float("nan")}, ValueError, "height must be .*, got nan"),
    ],
)
def test_new_figure_checks_its_size(size, error, pattern):
    with pytest.raises(error, match=pattern):
        new_figure(**size)


def test_new_figure_shapes_its_axes_as_subplots_does():
    assert new_figure(ncols=3)[1].shape == (3,)
    assert new_figure(nrows=2, ncols=2)[1].shape == (2, 2)
    assert new_figure(nrows=2, ncols=1, squeeze=False)[1].shape == (2, 1)


def test_new_figure_returns_the_axes_it_is_given_with_their_figure():
    fig = Figure()
    ax = fig.subplots()
    assert new_figure(ax) == (fig, ax)
    row = fig.subplots(1, 2)
    got_fig, got = new_figure(list(row), ncols=2)
    assert got_fig is fig and list(got) == list(row)
    grid = Figure().subplots(2, 3)
    assert new_figure(grid, nrows=2, ncols=3)[1].shape == (2, 3)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("ax", "kwargs", "error", "match"),
    [
        ("axes", {}, TypeError, "ax must be .*, got 'axes'"),
        (None, {"ncols": 0}, ValueError, "ncols must be .*, got 0"),
        (None, {"nrows": 1.5}, TypeError, "nrows must be .*, got 1.5"),
        (
            "one",
            {"ncols": 2},
            ValueError,
            r"ax must be 2 axes \(1x2\) of one figure \(it holds 1\), got",
        ),
        ("two figures", {"ncols": 2}, ValueError, "one figure"),
    ],
)
def test_new_figure_rejects_axes_that_do_not_fit(ax, kwargs, error, match):
    if ax == "one":
        ax = Figure().subplots()
    elif ax == "two figures":
        ax = [Figure().subplots(), Figure().subplots()]
    with pytest.raises(error, match=match):
        new_figure(ax, **kwargs)


def test_use_style_sets_the_house_figure_size():
    mpl.rcParams["figure.figsize"] = (1.0, 1.0)
    use_style()
    assert tuple(mpl.rcParams["figure.figsize"]) == (6.4, 4.0)


def test_batch_axis_is_log_two_with_plain_labels():
    fig, ax = new_figure()
    ax.plot([1, 1024], [1, 2])
    batch_axis(ax)
    assert ax.get_xscale() == "log" and ax.xaxis.get_transform().base == 2
    assert ax.xaxis.get_major_formatter()(64.0, 0) == "64"
    batch_axis(ax, "y")
    assert ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="which must be .*, got 'z'"):
        batch_axis(ax, "z")


def test_mark_batch_draws_a_labelled_vertical_line():
    fig, ax = new_figure()
    mark_batch(ax, 32.0, "b*")
    (line,) = ax.get_lines()
    assert np.all(np.asarray(line.get_xdata()) == 32.0)
    assert [t.get_text() for t in ax.texts] == ["b*"]
