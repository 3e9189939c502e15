"""Workloads: a training set, a model and a loss, by name or built by the reader.

No workload downloads anything: the data are bundled with scikit-learn (digits), generated
(teacher-student, noisy quadratic) or read from a local folder (Fashion-MNIST idx files,
the CIFAR-10 python archive).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import itertools
import json
import os
import pickle
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import validation
from .problems import FunctionalModel, NoisyQuadratic, Problem, StackedMLP

__all__ = [
    "Workload",
    "workload",
    "WORKLOADS",
    "mlp",
    "resnet20",
    "read_idx",
    "digits_data",
    "DATA_ENV",
]

#: Environment variable naming the folder of the file-based data sets.
DATA_ENV = "BATCHSTEPS_DATA"
_LOSSES = ("cross_entropy", "mse", "quadratic")


def mlp(sizes: tuple[int, ...]) -> nn.Sequential:
    """A ReLU MLP ``Linear(sizes[0], sizes[1]), ReLU, ..., Linear(sizes[-2], sizes[-1])``.

    ``sizes``: the layer widths, input first and output last: at least two integers >= 1.
    Layers keep PyTorch's default ``nn.Linear`` initialisation.

    >>> mlp((64, 128, 10))
    Sequential(
      (0): Linear(in_features=64, out_features=128, bias=True)
      (1): ReLU()
      (2): Linear(in_features=128, out_features=10, bias=True)
    )
    """
    widths = validation.sequence_of("sizes", sizes, partial(validation.integer, low=1), min_size=2)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        if i:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(a, b))
    return nn.Sequential(*layers)


def _is_plain_mlp(module: nn.Module) -> bool:
    if not isinstance(module, nn.Sequential) or len(module) == 0:
        return False
    kinds = [type(m) for m in module]
    expected = [nn.Linear if i % 2 == 0 else nn.ReLU for i in range(len(kinds))]
    biased = all(m.bias is not None for m in module if isinstance(m, nn.Linear))
    return kinds == expected and kinds[-1] is nn.Linear and biased


def _model_digest(factory: Callable[[], nn.Module]) -> str:
    """BLAKE2b of a model as the factory builds it after ``torch.manual_seed(0)``: its
    ``repr`` and its parameters' and buffers' names, shapes, dtypes and values (so a change of
    layers, initialisation or loaded weights shows), on the CPU, the global random state
    restored afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        module = factory()
    digest = hashlib.blake2b(repr(module).encode(), digest_size=16)
    for name, t in itertools.chain(module.named_parameters(), module.named_buffers()):
        digest.update(repr((name, tuple(t.shape), str(t.dtype))).encode())
        digest.update(t.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True, eq=False)
class Workload:
    r"""A training problem: data ``X``, targets ``y``, a model factory and a loss.

    ``model`` builds one replica's ``nn.Module`` (called right after ``torch.manual_seed``
    of the replica's seed, so its default initialisation is the seed's). ``loss`` is
    ``"cross_entropy"`` (``y`` class indices; accuracy defined) or ``"mse"`` (``y`` a float
    tensor shaped like the model's output). A ReLU MLP (``nn.Sequential`` of ``Linear`` and
    ``ReLU``) runs on the engine's hand-written stacked path, any other module through
    ``torch.func``. The noisy quadratic model uses ``loss="quadratic"`` with ``curvature``
    :math:`h_i`, one-sample gradient-noise variances ``noise`` :math:`c_i` and starting point
    ``theta0`` instead of data: 1-d floating-point tensors of one shape with at least one
    entry, finite, ``curvature`` and ``noise`` :math:`\ge 0`. ``options`` (a mapping) records
    how the workload was built (its identity in a result store together with ``name``).
    With ``loss="cross_entropy"`` the class indices ``y`` must be :math:`\ge 0` and below the
    model's output size (checked when :meth:`problem` first builds the model, before any
    step; the factory is not called here); ``X`` and ``y`` must be finite (no NaN or
    infinity).
    """

    name: str
    X: torch.Tensor | None = None
    y: torch.Tensor | None = None
    model: Callable[[], nn.Module] | None = None
    loss: str = "cross_entropy"
    options: Mapping[str, Any] = field(default_factory=dict)
    curvature: torch.Tensor | None = None
    noise: torch.Tensor | None = None
    theta0: torch.Tensor | None = None
    _problems: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        validation.string("name", self.name, nonempty=True)
        validation.one_of("loss", self.loss, _LOSSES)
        validation.instance("options", self.options, Mapping, "a mapping")
        if self.loss == "quadratic":
            parts = (self.curvature, self.noise, self.theta0)
            for arg, part in zip(("curvature", "noise", "theta0"), parts, strict=True):
                what = "a floating-point torch.Tensor (loss='quadratic')"
                validation.instance(arg, part, torch.Tensor, what)
                if not part.dtype.is_floating_point:
                    raise validation.type_error(arg, part, f"{what}, not {part.dtype}")
            if len({tuple(t.shape) for t in parts}) != 1 or self.curvature.dim() != 1:
                raise ValueError(
                    f"curvature, noise and theta0 must be 1-D of one shape, got "
                    f"{[tuple(t.shape) for t in parts]}"
                )
            if self.curvature.numel() == 0:
                raise validation.value_error(
                    "curvature", self.curvature, "a 1-d tensor with at least one entry"
                )
            for arg, part in zip(("curvature", "noise", "theta0"), parts, strict=True):
                negative = arg != "theta0" and bool((part < 0).any())
                if negative or not bool(torch.isfinite(part).all()):
                    bounds = "" if arg == "theta0" else " >= 0"
                    raise validation.value_error(arg, part, f"a tensor of finite values{bounds}")
            return
        validation.instance("X", self.X, torch.Tensor, "a torch.Tensor")
        validation.instance("y", self.y, torch.Tensor, "a torch.Tensor")
        if not callable(self.model) or isinstance(self.model, nn.Module):
            raise validation.type_error(
                "model", self.model, "a function that builds a new nn.Module (e.g. lambda: Net())"
            )
        if self.X.shape[0] != self.y.shape[0] or self.X.shape[0] == 0:
            raise ValueError(
                f"X and y must have the same number (> 0) of rows, got {self.X.shape[0]} "
                f"and {self.y.shape[0]}"
            )
        if self.loss == "cross_entropy" and self.y.dtype != torch.long:
            raise TypeError(
                f"y must hold class indices (torch.long) for cross_entropy, got {self.y.dtype}"
            )
        if self.loss == "cross_entropy" and bool((self.y < 0).any()):
            raise validation.value_error(
                "y", self.y, f"class indices >= 0 for cross_entropy (smallest {int(self.y.min())})"
            )
        for arg, data in (("X", self.X), ("y", self.y)):
            if not bool(torch.isfinite(data).all()):
                raise validation.value_error(arg, data, "a tensor of finite values (no NaN, inf)")

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        # device copies and compiled functions are rebuilt on demand; the key is kept
        state["_problems"] = {k: v for k, v in self._problems.items() if k == "key"}
        return state

    @property
    def n(self) -> int | None:
        """Training-set size (``None`` for the noisy quadratic model's infinite stream)."""
        return None if self.X is None else int(self.X.shape[0])

    @property
    def classification(self) -> bool:
        """Whether accuracy is defined (cross-entropy workloads)."""
        return self.loss == "cross_entropy"

    @property
    def key(self) -> str:
        """A stable identity: name, options, loss, data shape, a digest of the data and one of
        the model's structure, as JSON.

        The digests (BLAKE2b of the tensors' bytes; of the model the factory builds after
        ``torch.manual_seed(0)``: its ``repr``, parameters and buffers) keep two workloads that
        share a name but not their data, their model's layers or its initialisation apart in
        a result store. Not seen: a change to a module's ``forward`` code or to a plain Python
        attribute its ``repr`` does not print (give such a model a new name, or record the
        choice in ``options``). Computed once per workload.
        """
        if "key" not in self._problems:
            digest = hashlib.blake2b(digest_size=16)
            for t in (self.X, self.y, self.curvature, self.noise, self.theta0):
                if t is not None:
                    digest.update(t.detach().cpu().contiguous().numpy().tobytes())
            shape = None if self.X is None else list(self.X.shape)
            record = {
                "name": self.name,
                "options": dict(self.options),
                "loss": self.loss,
                "X": shape,
                "data": digest.hexdigest(),
            }
            if self.model is not None:
                record["model"] = _model_digest(self.model)
            self._problems["key"] = json.dumps(record, sort_keys=True, default=str)
        return self._problems["key"]

    def problem(self, device: torch.device) -> Problem:
        """The batched problem on ``device`` (built once per device; data moved there once)."""
        device = torch.device(device)
        if device not in self._problems:
            if self.loss == "quadratic":
                prob: Problem = NoisyQuadratic(self.curvature, self.noise, self.theta0, device)
            elif _is_plain_mlp(self.model()):
                prob = StackedMLP(self.model, self.X, self.y, self.loss, device)
            else:
                prob = FunctionalModel(self.model, self.X, self.y, self.loss, device)
            self._problems[device] = prob
        return self._problems[device]


# ---------------------------------------------------------------- built-in workloads


def digits_data() -> tuple[np.ndarray, np.ndarray]:
    """The 1797 images (8×8 pixels with values 0-16, flattened) and labels 0-9 of the digits
    data set that scikit-learn bundles, as ``sklearn.datasets.load_digits`` returns them,
    read from its file without importing scikit-learn (which would add 1.5 s to every
    process that trains on digits)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the digits data come with scikit-learn: pip install scikit-learn"
        )
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
    table = np.loadtxt(path, delimiter=",")
    return table[:, :-1], table[:, -1].astype(np.int64)


def _digits(hidden: int = 128) -> Workload:
    validation.integer("hidden", hidden, low=1)
    images, labels = digits_data()
    X = torch.tensor(images / 16.0, dtype=torch.float32)
    y = torch.tensor(labels, dtype=torch.long)
    sizes = (64, int(hidden), 10)
    return Workload("digits-mlp", X, y, partial(mlp, sizes), "cross_entropy", {"hidden": hidden})


def _teacher_student(
    n: int = 1024, dim: int = 16, hidden: int = 32, noise: float = 0.1, data_seed: int = 0
) -> Workload:
    validation.integer("n", n, low=2)
    validation.integer("dim", dim, low=1)
    validation.integer("hidden", hidden, low=1)
    validation.real("noise", noise, low=0, note="label-noise variance")
    validation.integer("data_seed", data_seed, low=0)
    gen = torch.Generator().manual_seed(int(data_seed))
    X = torch.randn((n, dim), generator=gen)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(data_seed) + 1_000_003)
        teacher = mlp((dim, hidden, 1))
    with torch.no_grad():
        clean = teacher(X)
        clean = (clean - clean.mean()) / clean.std()  # signal of unit variance
    y = clean + noise**0.5 * torch.randn(clean.shape, generator=gen)
    options = {"n": n, "dim": dim, "hidden": hidden, "noise": noise, "data_seed": data_seed}
    return Workload("teacher-student", X, y, partial(mlp, (dim, hidden, 1)), "mse", options)


def _nqm(dim: int = 100, decay: float = 1.0, theta0: float = 1.0, noise_factor: float = 1.0):
    validation.integer("dim", dim, low=1)
    validation.real("decay", decay, low=0)
    validation.real("noise_factor", noise_factor, low=0)
    validation.real("theta0", theta0)
    curvature = torch.arange(1, dim + 1, dtype=torch.float32) ** -float(decay)
    options = {"dim": dim, "decay": decay, "theta0": theta0, "noise_factor": noise_factor}
    return Workload(
        "nqm",
        loss="quadratic",
        options=options,
        curvature=curvature,
        noise=noise_factor * curvature,
        theta0=torch.full((dim,), float(theta0)),
    )


FASHION_DEFAULT = "/usr/share/datasets/fashion-mnist"
FASHION_HOW = (
    "On Debian or Ubuntu, ./install.sh installs it (package dataset-fashion-mnist, listed in "
    f"apt.txt) into {FASHION_DEFAULT}. Elsewhere, put the idx files train-images-idx3-ubyte.gz "
    "and train-labels-idx1-ubyte.gz of Fashion-MNIST (Xiao, Rasul, Vollgraf 2017; "
    "github.com/zalandoresearch/fashion-mnist, folder data/fashion) in a folder and set "
    f"{DATA_ENV} to that folder."
)
CIFAR_HOW = (
    "Unpack the CIFAR-10 python archive (cifar-10-python.tar.gz) and set "
    f"{DATA_ENV} to the folder that holds cifar-10-batches-py, or pass data_dir=."
)


def _data_dir(data_dir: str | os.PathLike | None, default: str, dataset: str, how: str) -> Path:
    """The data folder: ``data_dir``, else ``$BATCHSTEPS_DATA``, else ``default``; a missing
    one is an error naming the data set, the folders tried and how to get the data."""
    if data_dir is not None:
        validation.path("data_dir", data_dir)
    folder = Path(data_dir or os.environ.get(DATA_ENV) or default)
    if not folder.is_dir():
        source = "data_dir" if data_dir else DATA_ENV if os.environ.get(DATA_ENV) else "default"
        raise FileNotFoundError(
            f"{dataset} not found: the data folder {str(folder)!r} ({source}) does not exist. "
            + how
        )
    return folder


def _check_size(n_train: object) -> None:
    """``n_train``: ``None`` or an int >= 1 (its upper end, the data's size, is checked once
    the data are read)."""
    if n_train is not None:
        validation.integer("n_train", n_train, low=1)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one idx file (the MNIST format), gzipped or not, into a numpy array."""
    path = validation.path("path", path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{str(path)!r} is not an idx file of unsigned bytes")
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims)
    if body.size != int(np.prod(shape)):
        raise ValueError(f"{str(path)!r} holds {body.size} values, its header says {shape}")
    return body.reshape(shape)


def _find(folder: Path, stem: str) -> Path:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"Fashion-MNIST not found: {str(folder / stem)!r} (or .gz) does not exist. " + FASHION_HOW
    )


def _fashion(
    data_dir: str | os.PathLike | None = None, n_train: int | None = None, hidden: int = 128
) -> Workload:
    _check_size(n_train)
    validation.integer("hidden", hidden, low=1)
    folder = _data_dir(data_dir, FASHION_DEFAULT, "Fashion-MNIST", FASHION_HOW)
    if (folder / "fashion-mnist").is_dir():
        folder = folder / "fashion-mnist"
    images = read_idx(_find(folder, "train-images-idx3-ubyte"))
    labels = read_idx(_find(folder, "train-labels-idx1-ubyte"))
    if n_train is not None:
        validation.integer("n_train", n_train, low=1, high=len(labels))
        images, labels = images[:n_train], labels[:n_train]
    X = torch.tensor(images.reshape(len(images), -1), dtype=torch.float32) / 255.0
    y = torch.tensor(labels, dtype=torch.long)
    options = {"n_train": len(labels), "hidden": hidden}
    return Workload(
        "fashion-mnist-mlp", X, y, partial(mlp, (784, hidden, 10)), "cross_entropy", options
    )


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.pad = cout - cin
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        short = x[:, :, :: self.stride, :: self.stride] if self.stride > 1 else x
        if self.pad:
            short = nn.functional.pad(short, (0, 0, 0, 0, 0, self.pad))
        return torch.relu(out + short)


def resnet20(classes: int = 10) -> nn.Module:
    """ResNet-20 for 32x32 images (He et al. 2016): 3 stages of 3 basic blocks, 16/32/64
    channels, identity shortcuts padded with zeros where the width doubles (option A);
    ``classes`` (an integer >= 1) outputs."""
    validation.integer("classes", classes, low=1)
    layers: list[nn.Module] = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
    cin = 16
    for cout, stride in ((16, 1), (32, 2), (64, 2)):
        for i in range(3):
            layers.append(_Block(cin, cout, stride if i == 0 else 1))
            cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, classes)]
    return nn.Sequential(*layers)


_CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
_CIFAR_STD = (0.2470, 0.2435, 0.2616)


def _cifar(data_dir: str | os.PathLike | None = None, n_train: int | None = None) -> Workload:
    _check_size(n_train)
    folder = _data_dir(data_dir, "cifar-10-batches-py", "CIFAR-10", CIFAR_HOW)
    if (folder / "cifar-10-batches-py").is_dir():
        folder = folder / "cifar-10-batches-py"
    images, labels = [], []
    for i in range(1, 6):
        path = folder / f"data_batch_{i}"
        if not path.is_file():
            raise FileNotFoundError(
                f"CIFAR-10 not found: {str(path)!r} does not exist. " + CIFAR_HOW
            )
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")  # the data set's own format
        images.append(np.asarray(batch[b"data"], dtype=np.uint8))
        labels.extend(batch[b"labels"])
    data = np.concatenate(images).reshape(-1, 3, 32, 32)
    target = np.asarray(labels)
    if n_train is not None:
        validation.integer("n_train", n_train, low=1, high=len(target))
        data, target = data[:n_train], target[:n_train]
    X = torch.tensor(data, dtype=torch.float32) / 255.0
    mean = torch.tensor(_CIFAR_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(_CIFAR_STD).view(1, 3, 1, 1)
    X = (X - mean) / std
    y = torch.tensor(target, dtype=torch.long)
    return Workload("cifar10-resnet20", X, y, resnet20, "cross_entropy", {"n_train": len(target)})


#: The named workloads: name -> a function of the workload's options returning its
#: :class:`Workload` (:func:`workload` calls it).
WORKLOADS: dict[str, Callable[..., Workload]] = {
    "digits-mlp": _digits,
    "teacher-student": _teacher_student,
    "nqm": _nqm,
    "fashion-mnist-mlp": _fashion,
    "cifar10-resnet20": _cifar,
}

_CACHE: dict[str, Workload] = {}


def workload(name: str | Workload, **options: Any) -> Workload:
    r"""The built-in workload ``name`` (one of :data:`WORKLOADS`) with its ``options``.

    - ``"digits-mlp"`` (``hidden=128``): scikit-learn's 1797 digits, pixels / 16, MLP 64-128-10;
    - ``"teacher-student"`` (``n=1024, dim=16, hidden=32, noise=0.1, data_seed=0``): Gaussian
      inputs, targets from a random teacher MLP (``dim``-``hidden``-1, output standardised to
      unit variance) plus label noise of variance ``noise`` (the gradient-noise knob); the
      student has the teacher's shape; mean squared error;
    - ``"nqm"`` (``dim=100, decay=1.0, theta0=1.0, noise_factor=1.0``): the noisy quadratic of
      :func:`batchsteps.theory.nqm.noisy_quadratic`: :math:`h_i = i^{-\mathrm{decay}}`,
      one-sample noise variances :math:`c_i = \mathrm{noise\_factor}\, h_i`, every coordinate
      starting at ``theta0``;
    - ``"fashion-mnist-mlp"`` (``data_dir, n_train, hidden=128``): the training idx files
      (gzipped or not) from ``data_dir``, else ``$BATCHSTEPS_DATA`` (or its ``fashion-mnist``
      sub-folder), else ``/usr/share/datasets/fashion-mnist``; pixels / 255, MLP 784-128-10;
    - ``"cifar10-resnet20"`` (``data_dir, n_train``): the five training batches of the
      CIFAR-10 python archive (``cifar-10-batches-py``, in ``data_dir`` or
      ``$BATCHSTEPS_DATA``), channels standardised, ResNet-20 (batch norm on batch statistics).

    Sizes (``hidden``, ``dim``, ``n_train``) are integers >= 1 (``n`` >= 2: the teacher's
    output is standardised over the samples), ``data_seed`` an integer >= 0, ``noise``,
    ``decay`` and ``noise_factor`` finite reals >= 0, ``theta0`` a finite real, ``data_dir`` a
    path; a wrong type is a ``TypeError``, a wrong value a ``ValueError``, both naming the
    option. A :class:`Workload` passes through unchanged. Built workloads are cached by their
    options.

    >>> workload("digits-mlp").n
    1797
    """
    if isinstance(name, Workload):
        if options:
            raise TypeError(f"options {sorted(options)} cannot apply to an already built Workload")
        return name
    validation.one_of("workload", name, WORKLOADS, "a Workload or a name")
    key = hashlib.sha256(
        json.dumps([name, options], sort_keys=True, default=str).encode()
    ).hexdigest()
    if key not in _CACHE:
        try:
            _CACHE[key] = WORKLOADS[name](**options)
        except TypeError as err:
            if "unexpected keyword" in str(err):
                raise TypeError(f"workload {name!r}: {err}") from None
            raise
    return _CACHE[key]
