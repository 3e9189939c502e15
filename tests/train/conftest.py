import pytest
import torch

import batchsteps.train as bt

# the CI machine has two cores shared with other jobs: one thread per test process
torch.set_num_threads(1)


def _wild_factory():
    """An MLP whose initial weights are multiplied by 1e6 for about half the seeds."""
    model = bt.mlp((16, 32, 1))
    if torch.rand(()) < 0.5:
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(1e6)
    return model


@pytest.fixture
def wild() -> bt.Workload:
    """The teacher-student data with a model that diverges for about half the seeds."""
    base = bt.workload("teacher-student")
    return bt.Workload("wild-teacher", base.X, base.y, _wild_factory, "mse")
