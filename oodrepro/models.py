"""The classifiers of the papers, each exposing its intermediate layers.

Every model's ``features(x)`` returns the list of layer outputs from the first hidden layer to the
logits; :func:`layer_index` maps knn-ls's *depth* (0 = logits, −1 = the layer before, …) to a position
in that list.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
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


# --- DeConf / Generalized ODIN networks (Hsu et al., CVPR 2020; knn-ls's "DeConf" baseline) ----------
# The scores and the input perturbation are in :mod:`oodrepro.detectors.deconf`.
class DeConfHead(nn.Module):
    r"""The cosine dividend :math:`h(f)` and the divisor :math:`g(f)`; ``forward`` returns :math:`h/g`.

    :math:`h_i(f) = w_i^\top f / (\|w_i\| \|f\|)` (no bias; rows of W Kaiming-normal initialised as
    in public G-ODIN implementations); :math:`g(f) = \sigma(\mathrm{BN}(w_g^\top f + b_g))`.
    An all-zero feature vector (possible after ReLU) gives :math:`h = 0`.
    """

    def __init__(self, in_features: int, n_classes: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_classes, in_features))
        nn.init.kaiming_normal_(self.weight, nonlinearity="relu")
        self.g_linear = nn.Linear(in_features, 1)
        self.g_norm = nn.BatchNorm1d(1)

    def h(self, f: torch.Tensor) -> torch.Tensor:
        return F.linear(F.normalize(f, dim=1), F.normalize(self.weight, dim=1))

    def g(self, f: torch.Tensor) -> torch.Tensor:
        z = self.g_linear(f)
        if self.training and z.shape[0] == 1:  # batch statistics need > 1 sample: use the running ones
            bn = self.g_norm
            z = F.batch_norm(z, bn.running_mean, bn.running_var, bn.weight, bn.bias, training=False, eps=bn.eps)
        else:
            z = self.g_norm(z)
        return torch.sigmoid(z)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.h(f) / self.g(f)


class DeConfNet(nn.Module):
    """A backbone of this module whose linear head is replaced by a :class:`DeConfHead`.

    Parameters
    ----------
    backbone : {"mlp", "lenet5"}
    in_shape, n_classes, **backbone_kw
        Passed to the backbone's constructor.
    """

    BACKBONES = {"mlp": MLP, "lenet5": LeNet5}

    def __init__(self, backbone: str = "mlp", in_shape=(1, 28, 28), n_classes: int = 10, **backbone_kw):
        super().__init__()
        if backbone not in self.BACKBONES:
            raise ParameterError(f"parameter 'backbone' = {backbone!r} is not accepted; "
                                 f"use one of {', '.join(self.BACKBONES)}")
        net = self.BACKBONES[backbone](in_shape=in_shape, n_classes=n_classes, **backbone_kw)
        width = net.head.in_features
        net.head = nn.Identity()  # the backbone's features(x) now ends with the penultimate features
        self.backbone = net
        self.deconf = DeConfHead(width, n_classes)

    def _split(self, x):
        feats = self.backbone.features(x)
        return feats[:-1], feats[-1]

    def penultimate(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`f(x)`."""
        return self._split(x)[1]

    def h(self, x: torch.Tensor) -> torch.Tensor:
        """The cosine similarities :math:`h(x)` (N, C), each in [−1, 1]."""
        return self.deconf.h(self.penultimate(x))

    def g(self, x: torch.Tensor) -> torch.Tensor:
        """The divisor :math:`g(x)` (N, 1), in (0, 1)."""
        return self.deconf.g(self.penultimate(x))

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The backbone's layer outputs (as :meth:`oodrepro.models.MLP.features` etc.) with the
        h-logits in place of the logits."""
        layers, f = self._split(x)
        return layers + [self.deconf.h(f)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Training logits :math:`h(x)/g(x)`."""
        return self.deconf(self.penultimate(x))

    def n_layers(self) -> int:
        return n_layers(self.backbone)


class DeConfMLP(DeConfNet):
    """knn-ls's 3 × 256 MLP with a DeConf cosine head (architecture ``"mlp_deconf"``)."""

    def __init__(self, in_shape=(1, 28, 28), n_classes: int = 10, **kw):
        super().__init__("mlp", in_shape=in_shape, n_classes=n_classes, **kw)


class DeConfLeNet5(DeConfNet):
    """LeNet5 with a DeConf cosine head (architecture ``"lenet5_deconf"``)."""

    def __init__(self, in_shape=(3, 32, 32), n_classes: int = 10):
        super().__init__("lenet5", in_shape=in_shape, n_classes=n_classes)


ARCHITECTURES = {"mlp": MLP, "lenet5": LeNet5, "mlp_deconf": DeConfMLP, "lenet5_deconf": DeConfLeNet5}


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
