"""benchmarks/loss_bound.py: its two alternative bounds decide like the full loss, and it runs."""

import pytest
import torch

import batchsteps.train as bt
import scripts


@pytest.fixture(scope="module")
def bench():
    return scripts.load("loss_bound")


@pytest.mark.parametrize("way", ["sort_blocks", "topk_blocks"])
def test_the_alternatives_give_the_loss_below_the_threshold_and_exceed_it_above(bench, way):
    problem = bt.workload("digits-mlp").problem(torch.device("cpu"))
    params = problem.init(list(range(6)))
    for p in params[:2]:
        p.mul_(torch.linspace(0.2, 3.0, 6).view(6, 1, 1))
    loss = problem.measure(params, "loss")
    for threshold in (float(loss.median()), 0.15 * float(loss.min())):
        below = loss <= threshold
        scores = torch.zeros(6, problem.n)
        for _ in range(2):  # no scores yet, then the scores the first call left
            value = getattr(bench, way)(problem, params, threshold, scores)
            torch.testing.assert_close(value[below], loss[below])
            assert (value[~below] > threshold).all()


@pytest.mark.slow  # a fresh interpreter and three short engine runs: about 4 s
def test_the_quick_run_prints_one_row_a_way_with_the_same_steps():
    out = scripts.run("loss_bound", "--quick")
    rows = [line for line in out.splitlines() if line.startswith("| ") and "True" in line]
    assert [row.split("|")[1].strip() for row in rows] == ["sort", "topk", "planned"], out
