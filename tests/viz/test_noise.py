"""The noise-scale figure: the measured B_simple along training against the fitted B_noise."""

import numpy as np
import pytest

from batchsteps.analysis import NoiseScaleTrace, fit_laws, noise_scale_from_norms
from batchsteps.viz.noise import plot_noise_scale


def _trace():
    est = noise_scale_from_norms([3.0, 3.2, 2.9], [1.2, 1.25, 1.1], 1, 10)
    return NoiseScaleTrace(np.array([0, 10]), (est, est))


def _tuned_fit():
    b = np.repeat(np.array([4, 8, 16, 32, 64, 128], dtype=float), 3)
    scatter = np.exp(0.05 * np.random.default_rng(0).standard_normal(b.size))
    return fit_laws(b, 100 * (1 + 16 / b) * scatter, n_boot=20)["tuned_lr"]


def test_the_figure_is_returned_draws_where_told_and_stays_out_of_pyplot(
    follows_the_figure_contract,
):
    fit = _tuned_fit()
    traces = {"w": _trace(), "v": _trace()}
    follows_the_figure_contract(plot_noise_scale, traces, {"w": fit}, ncols=2)


def test_noise_scale_figure_draws_the_trace_and_the_fitted_line():
    trace, fit = _trace(), _tuned_fit()
    (ax,) = plot_noise_scale({"w": trace}, {"w": fit}).axes
    assert any(abs(line.get_ydata()[0] - fit.critical_batch) < 1e-9 for line in ax.lines)
    (points,) = ax.containers
    np.testing.assert_allclose(points.lines[0].get_ydata(), trace.b_simple)
    assert ax.get_title() == "w"


@pytest.mark.parametrize(
    ("traces", "fitted", "error", "match"),
    [
        ({"w": 1}, {}, TypeError, r"traces\['w'\] must be a NoiseScaleTrace, got 1"),
        ("trace", {}, TypeError, "traces must be .*, got 'trace'"),
        ({}, {}, ValueError, r"traces must be a mapping .*, got \{\}"),
        ("ok", {"w": 2.0}, TypeError, r"fitted\['w'\] must be a Fit, got 2.0"),
    ],
)
def test_noise_scale_figure_rejects_bad_input(traces, fitted, error, match):
    traces = {"w": _trace()} if traces == "ok" else traces
    with pytest.raises(error, match=match):
        plot_noise_scale(traces, fitted)
