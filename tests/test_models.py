"""oodrepro.models: architectures and their layers."""
import pytest
import torch

from oodrepro import models
from oodrepro.errors import ParameterError


def test_layer_depths():
    assert models.layer_index(0, 4) == 3 and models.layer_index(-2, 4) == 1
    with pytest.raises(ParameterError, match="layer depth -4 is not accepted; use 0 \\(logits\\) down to -3"):
        models.layer_index(-4, 4)
    net = models.LeNet5((3, 32, 32), 10)
    assert [f.shape[1] for f in net.features(torch.zeros(2, 3, 32, 32))] == [400, 120, 84, 10]
    mlp = models.MLP((1, 28, 28), 10)
    assert [f.shape[1] for f in mlp.features(torch.zeros(2, 1, 28, 28))] == [256, 256, 256, 10]


def test_odm_architectures_expose_embedding_and_features():
    from oodrepro import models

    for arch, width in (("wrn10_2", 128), ("vgg_odm", 512)):
        m = models.build(arch, (3, 32, 32), 32)
        assert [tuple(f.shape) for f in m.features(torch.zeros(2, 3, 32, 32))] == [(2, width), (2, 32)]
        assert models.n_layers(m) == 2
    with pytest.raises(ParameterError, match="WRN depth 12"):
        models.WideResNet(depth=12)
