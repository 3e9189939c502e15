"""Part III figures: what each draws, and bad inputs named."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import batchsteps as bs  # noqa: E402
from batchsteps.analysis import NoiseScaleTrace, fit_laws, noise_scale_from_norms  # noqa: E402
from batchsteps.analysis.nqm_check import EngineCheck  # noqa: E402
from batchsteps.viz import part3  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _bounds():
    values = {"L": 1.0, "sigma": 2.0, "Delta": 1.0, "epsilon": 0.5}
    constant = bs.theory.bound("sgd").subs(alpha=0.5, **values)
    tuned = bs.theory.tuned_bound("sgd").subs(**values)
    return constant, tuned


def test_regimes_draw_both_laws_and_mark_the_pole_of_the_constant_rate():
    constant, tuned = _bounds()
    fig = part3.plot_regimes(constant, tuned, [1, 1024])
    (ax,) = fig.axes
    labels = ax.get_legend_handles_labels()[1]
    assert any("constant rate" in t for t in labels) and any("tuned" in t for t in labels)
    assert any(f"{constant.critical_batch:.3g}" in t for t in labels)
    tuned_line = ax.lines[1].get_ydata()
    const_line = ax.lines[0].get_ydata()
    assert np.all(np.asarray(tuned_line)[-len(const_line) :] <= np.asarray(const_line) + 1e-9)


def test_regimes_reject_non_bounds_and_bad_batch_sizes():
    constant, tuned = _bounds()
    with pytest.raises(TypeError, match="constant="):
        part3.plot_regimes(3, tuned, [1, 8])
    with pytest.raises(ValueError, match="batch_sizes"):
        part3.plot_regimes(constant, tuned, [0, 8])


def _fits():
    b = np.repeat(np.array([4, 8, 16, 32, 64, 128], dtype=float), 3)
    scatter = np.exp(0.05 * np.random.default_rng(0).standard_normal(b.size))
    return fit_laws(b, 100 * (1 + 16 / b) * scatter, n_boot=20)


def test_fit_panels_one_panel_per_data_set_with_both_laws():
    fig = part3.plot_fit_panels({"A": _fits(), "B": _fits()})
    assert [ax.get_title() for ax in fig.axes] == ["A", "B"]
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert any("constant-rate law" in t for t in labels)
    assert any("tuned-rate law" in t for t in labels)


def test_fit_panels_reject_bad_input():
    with pytest.raises(TypeError, match="fits="):
        part3.plot_fit_panels({})
    with pytest.raises(TypeError, match=r"fits\['A'\]"):
        part3.plot_fit_panels({"A": {"tuned_lr": 1}})


def _check():
    k, nb = 21, 2
    exact = np.linspace(1, 0.1, k)[:, None] * np.ones(nb)
    stderr = np.full((k, nb), 0.01)
    stderr[0] = 0
    z = np.zeros((k, nb))
    return EngineCheck("sgd", np.array([1, 8]), 0.5, 0.0, exact, exact, stderr, z, 10, 0.1)


def test_engine_check_has_the_curves_and_the_z_panel():
    fig = part3.plot_engine_check({"SGD": _check(), "momentum": _check()}, every=5)
    assert len(fig.axes) == 4
    assert fig.axes[0].get_title() == "SGD"
    assert fig.axes[1].get_ylabel() == "$z_k$" or fig.axes[2].get_ylabel() == "$z_k$"


def test_engine_check_rejects_what_is_not_a_check():
    with pytest.raises(TypeError, match=r"checks\['x'\]"):
        part3.plot_engine_check({"x": 1})


def test_noise_scale_figure_draws_the_trace_and_the_fitted_line():
    est = noise_scale_from_norms([3.0, 3.2, 2.9], [1.2, 1.25, 1.1], 1, 10)
    trace = NoiseScaleTrace(np.array([0, 10]), (est, est))
    fits = _fits()
    fig = part3.plot_noise_scale({"w": trace}, {"w": fits["tuned_lr"]})
    (ax,) = fig.axes
    assert any(abs(line.get_ydata()[0] - fits["tuned_lr"].critical_batch) < 1e-9
               for line in ax.lines)  # fmt: skip
    with pytest.raises(TypeError, match=r"traces\['w'\]"):
        part3.plot_noise_scale({"w": 1}, {"w": fits["tuned_lr"]})


def test_rate_tuning_circles_the_chosen_rate():
    runs = pd.DataFrame(
        {
            "batch_size": [4, 4, 8, 8],
            "lr": [0.1, 0.2, 0.1, 0.2],
            "steps": [100, 80, 60, -1],
            "reached": [True, True, True, False],
        }
    )
    tuned = runs.iloc[[1, 2]]
    fig = part3.plot_rate_tuning(runs, tuned)
    (ax,) = fig.axes
    assert ax.get_xlabel().startswith("learning rate")
    with pytest.raises(TypeError, match="runs=list"):
        part3.plot_rate_tuning([], tuned)
