import numpy as np
import pytest
import torch

from oodrepro import cache, data, embed, models, train
from oodrepro.errors import ParameterError


def test_smooth_targets_hand_values():
    t = train.smooth_targets(torch.tensor([2, 0]), 4, 0.1)
    np.testing.assert_allclose(t.numpy(), [[0.025, 0.025, 0.925, 0.025], [0.925, 0.025, 0.025, 0.025]], atol=1e-7)
    np.testing.assert_allclose(t.sum(1).numpy(), 1.0, atol=1e-7)
    np.testing.assert_array_equal(train.smooth_targets(torch.tensor([1]), 3, 0.0).numpy(), [[0, 1, 0]])


def test_soft_cross_entropy_equals_torch_label_smoothing():
    g = torch.Generator().manual_seed(0)
    z, y = torch.randn(16, 10, generator=g), torch.randint(0, 10, (16,), generator=g)
    ours = train.soft_cross_entropy(z, train.smooth_targets(y, 10, 0.1))
    ref = torch.nn.functional.cross_entropy(z, y, label_smoothing=0.1)
    assert float(ours) == pytest.approx(float(ref), rel=1e-6)


@pytest.mark.parametrize("alpha", [1.0, 1.5, -0.01, "x"])
def test_alpha_out_of_range(alpha):
    with pytest.raises(ParameterError, match="'alpha'"):
        train.smooth_targets(torch.tensor([0]), 2, alpha)


def test_layer_depths():
    assert models.layer_index(0, 4) == 3 and models.layer_index(-2, 4) == 1
    with pytest.raises(ParameterError, match="layer depth -4 is not accepted; use 0 \\(logits\\) down to -3"):
        models.layer_index(-4, 4)
    net = models.LeNet5((3, 32, 32), 10)
    assert [f.shape[1] for f in net.features(torch.zeros(2, 3, 32, 32))] == [400, 120, 84, 10]
    mlp = models.MLP((1, 28, 28), 10)
    assert [f.shape[1] for f in mlp.features(torch.zeros(2, 1, 28, 28))] == [256, 256, 256, 10]


def test_fit_is_seeded_cached_and_learns():
    ds = data.load("digits", "train")
    m1 = train.fit_classifier("mlp", ds, alpha=0.1, epochs=3, seed=0, progress=False)
    hits = cache.CacheStats.hits
    m2 = train.fit_classifier("mlp", ds, alpha=0.1, epochs=3, seed=0, progress=False)
    assert cache.CacheStats.hits == hits + 1 and m1.cache_key == m2.cache_key
    m3 = train.fit_classifier("mlp", ds, alpha=0.1, epochs=3, seed=0, progress=False, use_cache=False)
    for a, b in zip(m1.state_dict().values(), m3.state_dict().values()):
        torch.testing.assert_close(a, b)  # same seed, same weights
    te = data.load("digits", "test")
    logits = embed.embed(m1, te, [0])[0]
    assert (logits.argmax(1) == te.y).mean() > 0.8
    e = embed.embed(m1, te, [0, -1, -2])
    assert [a.shape for a in e] == [(len(te), 10), (len(te), 256), (len(te), 256)]
    with pytest.raises(ParameterError, match="'epochs' = 0"):
        train.fit_classifier("mlp", ds, epochs=0)
    with pytest.raises(ParameterError, match="'arch' = 'vgg'"):
        train.fit_classifier("vgg", ds, epochs=1, progress=False)
