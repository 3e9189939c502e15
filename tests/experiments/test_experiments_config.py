"""The book's experiments configured per scale: workloads, grids, budgets."""

import numpy as np
import pytest

import batchsteps.experiments as ex


def test_scale_defaults_to_book_and_reads_the_environment(monkeypatch):
    monkeypatch.delenv(ex.SCALE_ENV, raising=False)
    assert ex.current_scale() == "book"
    monkeypatch.setenv(ex.SCALE_ENV, " Full ")
    assert ex.current_scale() == "full"
    assert ex.experiment("digits").scale == "full"
    assert ex.current_scale("book") == "book"  # an explicit value wins over the environment


def test_unknown_scale_names_where_it_came_from(monkeypatch):
    monkeypatch.setenv(ex.SCALE_ENV, "huge")
    with pytest.raises(
        ValueError, match=r"\$BATCHSTEPS_SCALE must be one of 'book', 'full', got 'huge'"
    ):
        ex.current_scale()
    with pytest.raises(ValueError, match=r"scale must be .*, got 'tiny'"):
        ex.current_scale("tiny")
    with pytest.raises(TypeError, match="scale must be .*, got 3"):
        ex.current_scale(3)


def test_book_scale_sweeps_two_to_1024_to_both_targets():
    exp = ex.experiment("digits", "book")
    assert exp.batch_sizes == tuple(2**k for k in range(1, 11))
    assert set(exp.targets) == {"grad_norm_sq", "loss"}
    assert {"sgd", "momentum", "adam"} <= set(exp.optimizers)
    assert len(exp.seeds) >= 5 and exp.workers >= 1


def test_full_scale_is_larger_in_every_direction():
    book, full = ex.experiment("digits", "book"), ex.experiment("digits", "full")
    assert len(full.seeds) > len(book.seeds)
    assert min(full.batch_sizes) <= min(book.batch_sizes)
    assert max(full.batch_sizes) > max(book.batch_sizes)
    assert set(full.optimizers) > set(book.optimizers)
    assert full.skip_after is None and full.max_steps > book.max_steps
    fashion = ex.experiment("fashion", "full")
    assert fashion.workload_options == {}  # the whole training set
    assert ex.experiment("cifar", "full").workload == "cifar10-resnet20"


def test_every_grid_is_a_factor_two_ladder():
    for name in ex.EXPERIMENTS[:2]:
        exp = ex.experiment(name, "book")
        for o in exp.optimizers:
            grid = np.array(exp.lr_grid[o])
            np.testing.assert_allclose(grid[1:] / grid[:-1], 2.0)


def test_bad_experiment_names_and_cifar_at_book_scale():
    with pytest.raises(ValueError, match="name must be .*, got 'mnist'"):
        ex.experiment("mnist", "book")
    with pytest.raises(
        ValueError, match="scale must be 'full' for the cifar experiment .*, got 'book'"
    ):
        ex.experiment("cifar", "book")


def test_configuration_table_has_one_column_per_scale():
    table = ex.experiment("digits", "book").table()
    assert list(table.columns) == ["book"]
    assert table.loc["seeds per cell", "book"] == 5
