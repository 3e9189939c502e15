"""The measurements in words: the theory's ratios judged, the runs at the left end."""

import pandas as pd
import pytest

import batchsteps.experiments as ex


def test_theory_check_words_the_comparison_from_the_verdicts_and_the_ratios(synthetic):
    measured = synthetic({"sgd": (1000.0, 3.0), "momentum": (300.0, 12.0)})
    fits = ex.fit_optimizers(measured, "loss")
    table = ex.comparison(measured, fits)
    text = ex.theory_check(table, ex.verdicts(measured, fits))
    crit = table.loc["momentum", "critical_ratio"]
    low, high = table.loc["momentum", ["theory_critical_low", "theory_critical_ratio"]]
    assert crit < low  # 0.024 / 0.003 = 8 against the band 10 to 100 (same rates, beta = 0.9)
    assert text.startswith(f"the measured ratio of b*, {crit:.3g}, is in the predicted direction")
    band = f"the band the proof allows ({low:.3g} to {high:.3g})"
    assert f"{low / crit:.2g} times below {band}" in text
    steps = table.loc["momentum", "steps_ratio"]
    factor = table.loc["momentum", "theory_steps_ratio"] / steps
    said = f"{factor:.2g} times smaller" if factor >= 1 else f"{1 / factor:.2g} times larger"
    assert f"the measured ratio of K_min, {steps:.3g}" in text and f"{said} than predicted" in text
    # inside the band, and above it
    for ratio, words in ((30.0, f"inside {band}"), (300.0, f"{300 / high:.2g} times above {band}")):
        moved = table.copy()
        moved.loc["momentum", "critical_ratio"] = ratio
        assert words in ex.theory_check(moved, ex.verdicts(measured, fits))
    # where SGD shows no pole, the b* comparison is not made
    tuned = synthetic({"sgd": (1000.0, 8.0), "momentum": (300.0, 12.0)}, tuned=("sgd",))
    tuned_fits = ex.fit_optimizers(tuned, "loss")
    text = ex.theory_check(ex.comparison(tuned, tuned_fits), ex.verdicts(tuned, tuned_fits))
    assert text.startswith(f"for b* the comparison is {ex.NOT_SUPPORTED} (for SGD:")
    with pytest.raises(ValueError, match="optimizer must be .*, got 'adam'"):
        ex.theory_check(table, ex.verdicts(measured, fits), "adam")


def test_left_end_counts_how_the_runs_at_the_smallest_batch_ended(synthetic):
    measured = synthetic({"sgd": (1000.0, 3.0), "momentum": (300.0, 2.5)}, max_steps=5000)
    table = ex.left_end(measured).set_index("optimizer")
    # sgd: b = 2 is below its pole, every run needs more than the budget; momentum's K(2) is
    # infinite too (b0 = 2.5); both miss at b = 2
    assert table.loc["sgd", "reached"] == 0 and table.loc["sgd", "out of budget"] == 6
    text = ex.left_end_summary(measured)
    assert text.startswith("at b = 2, 2 of the 2 measured curves have no run reaching the target")
    assert "2 because every run there ran out of the step budget" in text


def test_present_and_summary_put_the_numbers_into_words(synthetic):
    measured = synthetic({"sgd": (1000.0, 3.0), "momentum": (300.0, 12.0)})
    fits = ex.fit_optimizers(measured, "loss")
    shown = ex.present(ex.comparison(measured, fits))
    assert shown.loc["momentum", "b* / SGD's: theory"] == "10 to 100"  # the proof's band
    assert shown.loc["sgd", "b* [95% interval]"].count("[") == 1
    verdict = ex.verdicts(measured, fits).assign(target="loss")
    sentences = ex.summary(verdict)
    assert sentences["2b: fewer steps than SGD"] == "holds for momentum (loss)"
    with pytest.raises(
        ValueError, match="verdicts_table must have the column.*, lacks 'optimizer'"
    ):
        ex.summary(pd.DataFrame({"claim": []}))
    with pytest.raises(TypeError, match="verdicts_table must be what verdicts"):
        ex.summary([])
    with pytest.raises(ValueError, match="table must have the column.*critical_batch"):
        ex.present(pd.DataFrame())


def test_verdict_changes_names_each_change_and_rejects_bad_tables():
    before = pd.DataFrame(
        {
            "claim": ["1: a critical batch exists", "2a: larger critical batch than SGD"],
            "optimizer": ["sgd", "momentum"],
            "verdict": ["undecided", "holds"],
            "target": ["loss target", "loss target"],
        }
    )
    assert ex.verdict_changes(before, before) == "none of the 2 verdicts changes"
    after = before.assign(verdict=["holds", "holds"])
    assert ex.verdict_changes(before, after) == (
        "1 of the 2 verdicts change: claim 1 for SGD (loss target): *undecided* becomes *holds*"
    )
    with pytest.raises(TypeError, match="before"):
        ex.verdict_changes([1], after)
    with pytest.raises(ValueError, match="verdict"):
        ex.verdict_changes(before.drop(columns="verdict"), after)
