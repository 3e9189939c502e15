"""A least-squares problem whose gradient noise is known in closed form (shared by the tests of
train.gradients and of experiments.measurements)."""

from __future__ import annotations

import torch
from torch import nn


def regression(n=512, dim=6, label_noise=0.7, offset=0.3, seed=0):
    """Linear least squares y = x.w + noise, a model placed at w + offset * z."""
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, dim, generator=gen, dtype=torch.float64)
    w = torch.randn(dim, 1, generator=gen, dtype=torch.float64)
    y = X @ w + label_noise * torch.randn(n, 1, generator=gen, dtype=torch.float64)
    model = nn.Linear(dim, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_((w + offset * torch.randn(dim, 1, generator=gen, dtype=X.dtype)).T)
    return model, X, y
