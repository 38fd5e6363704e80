"""The classifiers of the papers, each exposing its intermediate layers.

Every model's ``features(x)`` returns the list of layer outputs from the first hidden layer to the
logits; :func:`layer_index` maps knn-ls's *depth* (0 = logits, −1 = the layer before, …) to a position
in that list.
"""
from __future__ import annotations

import torch
from torch import nn

from .errors import ParameterError


class MLP(nn.Module):
    """knn-ls's network for MNIST / Fashion-MNIST: ``depth`` × ``width`` ReLU layers and a linear head.

    Defaults 3 × 256 (knn-ls §4.1). Layers exposed: the post-ReLU output of each hidden layer, then
    the logits.
    """

    def __init__(self, in_shape=(1, 28, 28), n_classes: int = 10, width: int = 256, depth: int = 3):
        super().__init__()
        d_in = 1
        for s in in_shape:
            d_in *= int(s)
        dims = [d_in] + [width] * depth
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.head = nn.Linear(dims[-1], n_classes)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = x.flatten(1)
        out = []
        for lin in self.hidden:
            h = torch.relu(lin(h))
            out.append(h)
        out.append(self.head(h))
        return out

    def forward(self, x):
        return self.features(x)[-1]


class LeNet5(nn.Module):
    """LeNet5 (LeCun et al. 1998) for 32×32 inputs: conv 6@5×5 → pool → conv 16@5×5 → pool →
    dense 120 → dense 84 → logits, ReLU activations.

    Layers exposed (knn-ls: "4 dense layers incl. the logits"): the flattened 400-d convolutional
    output that feeds the first dense layer, the 120-d and 84-d dense outputs, and the logits.
    """

    def __init__(self, in_shape=(3, 32, 32), n_classes: int = 10):
        super().__init__()
        c = int(in_shape[0])
        self.conv = nn.Sequential(
            nn.Conv2d(c, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        )
        side = ((int(in_shape[1]) - 4) // 2 - 4) // 2
        self.fc1 = nn.Linear(16 * side * side, 120)
        self.fc2 = nn.Linear(120, 84)
        self.head = nn.Linear(84, n_classes)

    def features(self, x):
        h0 = self.conv(x).flatten(1)
        h1 = torch.relu(self.fc1(h0))
        h2 = torch.relu(self.fc2(h1))
        return [h0, h1, h2, self.head(h2)]

    def forward(self, x):
        return self.features(x)[-1]


def _deconf(name: str):
    """Constructor of a DeConf model (:mod:`oodrepro.detectors.deconf`), imported on first use because
    that module builds on this one."""
    def make(in_shape, n_classes: int) -> nn.Module:
        from .detectors import deconf
        return getattr(deconf, name)(in_shape=in_shape, n_classes=n_classes)
    make.__name__ = name
    return make


ARCHITECTURES = {"mlp": MLP, "lenet5": LeNet5,
                 "mlp_deconf": _deconf("DeConfMLP"), "lenet5_deconf": _deconf("DeConfLeNet5")}


def build(arch: str, in_shape, n_classes: int) -> nn.Module:
    if arch not in ARCHITECTURES:
        raise ParameterError(f"parameter 'arch' = {arch!r} is not accepted; use one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch](in_shape=tuple(in_shape), n_classes=n_classes)


def n_layers(model: nn.Module) -> int:
    if callable(getattr(model, "n_layers", None)):  # models that report their own count (DeConf)
        return int(model.n_layers())
    if isinstance(model, MLP):
        return len(model.hidden) + 1
    if isinstance(model, LeNet5):
        return 4
    raise TypeError(f"unknown model type {type(model).__name__}")


def layer_index(depth: int, total: int) -> int:
    """Position in ``features(x)`` of knn-ls's depth (0 = logits, −1 = the layer before logits, …)."""
    if not isinstance(depth, int) or depth > 0 or depth < -(total - 1):
        raise ParameterError(f"layer depth {depth!r} is not accepted; use 0 (logits) down to {-(total - 1)}")
    return total - 1 + depth
