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


# --- Wide ResNet (Zagoruyko & Komodakis 2016; odm §4.2 uses WRN-28-10 with a 32-d embedding) ----------------
class _WideBlock(nn.Module):
    """Pre-activation basic block: BN-ReLU-conv3×3-BN-ReLU-conv3×3, 1×1 conv shortcut when the shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(c_in), nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(c_out), nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.short = None if (c_in == c_out and stride == 1) else nn.Conv2d(c_in, c_out, 1, stride, bias=False)

    def forward(self, x):
        o = torch.relu(self.bn1(x))
        y = self.conv2(torch.relu(self.bn2(self.conv1(o))))
        return y + (x if self.short is None else self.short(o))


class WideResNet(nn.Module):
    """WRN-``depth``-``widen`` (depth = 6n + 4): three groups of n blocks with 16k, 32k, 64k channels, global
    average pooling and a linear head (logits, or the embedding of a metric-learning loss).

    Layers exposed: the pooled 64k-d features, then the head's output."""

    def __init__(self, in_shape=(3, 32, 32), n_classes: int = 10, depth: int = 28, widen: int = 10):
        super().__init__()
        if (depth - 4) % 6:
            raise ParameterError(f"WRN depth {depth} is not accepted; use 6n + 4 (10, 16, 22, 28, …)")
        n, w = (depth - 4) // 6, [16, 16 * widen, 32 * widen, 64 * widen]
        layers = [nn.Conv2d(int(in_shape[0]), w[0], 3, 1, 1, bias=False)]
        for g in range(3):
            layers += [_WideBlock(w[g] if i == 0 else w[g + 1], w[g + 1], (1 if g == 0 else 2) if i == 0 else 1)
                       for i in range(n)]
        self.body, self.bn = nn.Sequential(*layers), nn.BatchNorm2d(w[3])
        self.head = nn.Linear(w[3], n_classes)

    def features(self, x):
        h = torch.relu(self.bn(self.body(x))).mean((2, 3))
        return [h, self.head(h)]

    def forward(self, x):
        return self.features(x)[-1]

    def n_layers(self) -> int:
        return 2


class WRN28x10(WideResNet):
    """odm's WRN-28-10 (architecture ``"wrn28_10"``; a GPU network)."""

    def __init__(self, in_shape=(3, 32, 32), n_classes: int = 10):
        super().__init__(in_shape, n_classes, depth=28, widen=10)


class WRN10x2(WideResNet):
    """A CPU-sized WRN-10-2 (architecture ``"wrn10_2"``): one block per group, widen 2 (≈ 0.3 M weights)."""

    def __init__(self, in_shape=(3, 32, 32), n_classes: int = 10):
        super().__init__(in_shape, n_classes, depth=10, widen=2)


class VGGOdm(nn.Module):
    """The odm authors' VGG for 32×32 colour images (their code, SVHN ↔ CIFAR-10): ten 3×3 convolutions
    (64, 64, 128, 128, 256, 256, 512 × 4, each BN-ReLU) with four 2×2 max-pools, global average pooling, a
    512 → 512 fully connected layer (ReLU, dropout 0.2 = keep 0.8) and a linear output (10-d embedding or
    logits). Layers exposed: the 512-d FC output, then the output."""

    def __init__(self, in_shape=(3, 32, 32), n_classes: int = 10):
        super().__init__()
        plan, c, layers = [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512], int(in_shape[0]), []
        for v in plan:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU()]
                c = v
        self.conv, self.fc, self.drop = nn.Sequential(*layers), nn.Linear(512, 512), nn.Dropout(0.2)
        self.head = nn.Linear(512, n_classes)

    def features(self, x):
        h = self.drop(torch.relu(self.fc(self.conv(x).mean((2, 3)))))
        return [h, self.head(h)]

    def forward(self, x):
        return self.features(x)[-1]

    def n_layers(self) -> int:
        return 2


ARCHITECTURES = {"mlp": MLP, "lenet5": LeNet5, "mlp_deconf": DeConfMLP, "lenet5_deconf": DeConfLeNet5,
                 "wrn28_10": WRN28x10, "wrn10_2": WRN10x2, "vgg_odm": VGGOdm}


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
