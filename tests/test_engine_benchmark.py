"""benchmarks/engine.py's torch.func ensemble computes the plain loop's steps; its FLOP model."""

import pytest
import torch

import batchsteps.train as bt
import scripts
from batchsteps.train.problems import init_modules
from batchsteps.train.sampling import CHUNK, draw_indices


@pytest.fixture(scope="module")
def bench():
    return scripts.load("engine")


def _plain(wl: bt.Workload, seed: int, batch: int, steps: int, lr: float, beta: float):
    """One seed with nn.Module + torch.optim.SGD(momentum), the engine's batches."""
    (model,) = init_modules(wl.model, [seed])
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=beta)
    for k in range(steps):
        idx = draw_indices(seed, k // CHUNK, wl.n, batch)[k % CHUNK]
        loss = torch.nn.functional.cross_entropy(model(wl.X[idx]), wl.y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return dict(model.named_parameters())


def test_the_vmap_ensemble_takes_the_plain_loops_steps(bench):
    wl = bt.workload("digits-mlp")
    seeds, steps = [0, 3, 7], CHUNK + 6  # past a chunk boundary of the sampler
    ensemble = bench.vmap_ensemble(wl, seeds, 16, steps, lr=0.05, beta=0.9)
    for r, seed in enumerate(seeds):
        plain = _plain(wl, seed, 16, steps, 0.05, 0.9)
        for name, value in plain.items():
            torch.testing.assert_close(ensemble[name][r], value.detach(), rtol=1e-4, atol=1e-5)


def test_the_benchmarks_own_check_passes_and_its_flop_model_is_stated(bench):
    assert bench.check_same_steps(bt.workload("digits-mlp"), 20) < 1e-3
    # 64-128-10 at batch 32: forward 2*32*(64*128 + 128*10), weight gradients as much, the
    # output layer's input gradient 2*32*128*10, momentum 4 FLOPs on 9610 parameters
    assert bench.mlp_step_flops((64, 128, 10), 32) == 2 * 606_208 + 81_920 + 38_440
