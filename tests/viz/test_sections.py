"""A chapter's measured section in one call: what it glues, on runs whose law is known."""

from __future__ import annotations

import dataclasses
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import batchsteps.experiments as ex
from batchsteps.viz import sections

SIZES = (8, 16, 32, 64, 128, 256, 512)
POLE = {"grad_norm_sq": 6.0, "loss": 3.0}  # b0 per target; b* = 2 b0
FLOOR = {"grad_norm_sq": 400.0, "loss": 150.0}


def _measured(pole: bool = True) -> ex.Measured:
    """SGD's runs following K = K_min b / (b - b0) (or, without a pole, the tuned-rate law
    K = K_min (1 + 8 b0 / b)) times 2% log-normal scatter, per target."""
    rng = np.random.default_rng(3)
    rows = []
    for measure in POLE:
        for b in SIZES:
            for seed in range(5):
                shape = b / (b - POLE[measure]) if pole else 1 + 8 * POLE[measure] / b
                k = FLOOR[measure] * shape * math.exp(0.02 * rng.normal())
                rows.append((measure, "sgd", b, seed, int(round(k)), True, "reached", 10**6))
    columns = ["measure", "optimizer", "batch_size", "seed", "steps", "reached", "reason"]
    frame = pd.DataFrame(rows, columns=[*columns, "max_steps"])
    experiment = dataclasses.replace(
        ex.experiment("digits", "book"),
        optimizers=("sgd",),
        batch_sizes=SIZES,
        targets={"grad_norm_sq": "grad_norm_sq<=0.001", "loss": "loss<=0.5"},
        n_boot=50,
    )
    tuning = ex.Tuning(pd.DataFrame(), {"sgd": 0.25}, {"sgd": 0.25}, 64, "loss<=0.5")
    return ex.Measured(experiment, tuning, frame, pd.DataFrame(), ex.Cost(0, 0, 0, 0, 0.0, 0.0))


@pytest.fixture
def glued(monkeypatch):
    found: dict[str, object] = {}
    monkeypatch.setattr(sections, "glue", lambda name, value, display: found.update({name: value}))
    return found


def test_the_section_glues_every_number_its_prose_cites_from_the_fits(glued):
    fits = sections.measured_section(_measured(), "sgd")
    keys = {k.removeprefix("sgd_measured_") for k in glued}
    assert keys == {
        "figure", "bmin", "bmax", "lr", "target", "bstar", "bstar_low", "bstar_high",
        "kmin", "loss_bstar", "loss_kmin", "law_gradient", "law_loss", "excluded", "status",
        "pole",
    }  # fmt: skip
    assert isinstance(glued["sgd_measured_figure"], Figure) and plt.get_fignums() == []
    assert (glued["sgd_measured_bmin"], glued["sgd_measured_bmax"]) == (8, 512)
    assert glued["sgd_measured_lr"] == 0.25
    assert glued["sgd_measured_target"] == "grad_norm_sq<=0.001"
    assert glued["sgd_measured_bstar"] == pytest.approx(2 * POLE["grad_norm_sq"], rel=0.1)
    assert glued["sgd_measured_bstar_low"] < glued["sgd_measured_bstar"]
    assert glued["sgd_measured_bstar"] < glued["sgd_measured_bstar_high"]
    assert glued["sgd_measured_loss_bstar"] == pytest.approx(2 * POLE["loss"], rel=0.1)
    assert glued["sgd_measured_kmin"] == pytest.approx(FLOOR["grad_norm_sq"], rel=0.05)
    assert glued["sgd_measured_loss_kmin"] == pytest.approx(FLOOR["loss"], rel=0.05)
    assert glued["sgd_measured_law_gradient"] == "constant-rate law"
    assert glued["sgd_measured_excluded"] == 0
    assert glued["sgd_measured_status"] == "35 reached, 0 out of budget, 0 diverged"
    assert glued["sgd_measured_pole"].startswith(
        "The gradient target's runs show the pole (constant-rate law"
    )
    assert fits["grad_norm_sq"]["constant_lr"].critical_batch == glued["sgd_measured_bstar"]


def test_runs_without_a_pole_say_that_b_star_is_only_the_closest_curve(glued):
    sections.measured_section(_measured(pole=False), "sgd")
    assert glued["sgd_measured_pole"].startswith(
        "The gradient target's runs do not show a pole: the tuned-rate"
    )
    assert "closest curve of the constant-rate shape" in glued["sgd_measured_pole"]


def test_a_prefix_names_the_keys(glued):
    sections.measured_section(_measured(), "sgd", prefix="mine")
    assert glued and all(k.startswith("mine_measured_") for k in glued)


@pytest.mark.parametrize(
    ("arguments", "error", "match"),
    [
        (("not measured", "sgd"), TypeError, "measured must be a Measured"),
        ((None, 3), TypeError, "measured must be a Measured"),
        (("M", 3), TypeError, "optimizer must be an optimizer that was measured: .*, got 3"),
        (("M", "adam"), ValueError, "optimizer must be .* measured: one of 'sgd', got 'adam'"),
    ],
)
def test_bad_arguments_are_clear_errors(glued, arguments, error, match):
    arguments = tuple(_measured() if a == "M" else a for a in arguments)
    with pytest.raises(error, match=match):
        sections.measured_section(*arguments)
    with pytest.raises(
        ValueError, match=r"prefix must be an identifier \(letters, digits, _\), got 'a b'"
    ):
        sections.measured_section(_measured(), "sgd", prefix="a b")
