"""ResNets for 32×32 colour images (the kpca paper's CIFAR-10 backbone, Fang et al. App. B.2), built on
torchvision's ``BasicBlock`` and registered in :data:`oodrepro.models.ARCHITECTURES` when this chapter is
imported, so that :func:`oodrepro.train.fit` trains and caches them like every other model.

* ``resnet18`` — the paper's: torchvision's ResNet18 with the CIFAR stem (3×3 convolution, stride 1, no
  max-pool), widths 64–512, 2 blocks per stage, 512-d penultimate features (KNN [12]'s checkpoints);
* ``resnet_small`` — the same design at a size a 2-core CPU trains in minutes: widths 16–128, one block
  per stage, 128-d penultimate features.

``features(x)`` returns ``[pooled penultimate features (post-ReLU), logits]`` (depth −1 and 0).
"""
from __future__ import annotations

from torch import nn
from torchvision.models.resnet import BasicBlock

from ... import models, train


class CifarResNet(nn.Module):
    """ResNet with a CIFAR stem; ``widths`` per stage, ``blocks`` per stage, global average pooling."""

    def __init__(self, in_shape=(3, 32, 32), n_classes: int = 10, widths=(64, 128, 256, 512), blocks=(2, 2, 2, 2)):
        super().__init__()
        c = int(in_shape[0])
        self.stem = nn.Sequential(nn.Conv2d(c, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU())
        stages, prev = [], widths[0]
        for i, (w, n) in enumerate(zip(widths, blocks)):
            stride = 1 if i == 0 else 2
            down = None if stride == 1 and prev == w else nn.Sequential(
                nn.Conv2d(prev, w, 1, stride, bias=False), nn.BatchNorm2d(w))
            layers = [BasicBlock(prev, w, stride, down)] + [BasicBlock(w, w) for _ in range(n - 1)]
            stages.append(nn.Sequential(*layers))
            prev = w
        self.stages = nn.Sequential(*stages)
        self.head = nn.Linear(prev, n_classes)

    def n_layers(self) -> int:
        return 2

    def features(self, x):
        h = self.stages(self.stem(x)).mean(dim=(2, 3))
        return [h, self.head(h)]

    def forward(self, x):
        return self.features(x)[-1]


class ResNet18(CifarResNet):
    def __init__(self, in_shape=(3, 32, 32), n_classes: int = 10):
        super().__init__(in_shape, n_classes)


class ResNetSmall(CifarResNet):
    def __init__(self, in_shape=(3, 32, 32), n_classes: int = 10):
        super().__init__(in_shape, n_classes, widths=(16, 32, 64, 128), blocks=(1, 1, 1, 1))


ARCHS = {"resnet18": ResNet18, "resnet_small": ResNetSmall}
for _name, _cls in ARCHS.items():
    models.ARCHITECTURES.setdefault(_name, _cls)


class CrossEntropy(train.LabelSmoothedCE):
    """Plain cross-entropy (α = 0). A class of this module, so that a trained model's cache key holds
    this module's code (the architectures above) through the loss's fingerprint."""

    def __init__(self):
        super().__init__(0.0)
