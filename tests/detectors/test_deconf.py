"""oodrepro.detectors.deconf: DeConf (a knn-ls Table 1 baseline)."""
import numpy as np
import pytest
import torch

from oodrepro import data, detectors, embed, models, train
from oodrepro.detectors import DeConfMLP, deconf, deconf_scores, max_cosine_score, select_epsilon
from oodrepro.errors import ParameterError


def test_deconf_head_hand_values():
    head = deconf.DeConfHead(2, 2)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1.0, 0.0], [1.0, 1.0]]))
        head.g_linear.weight.zero_()
        head.g_linear.bias.zero_()
    head.eval()  # BN with running mean 0, var 1: g = sigmoid(0 / sqrt(1 + eps)) = 0.5
    f = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    h = head.h(f)
    np.testing.assert_allclose(h.detach().numpy(), [[0.6, 7 / (5 * np.sqrt(2))], [0.0, 0.0]], rtol=1e-6)
    np.testing.assert_allclose(head.g(f).detach().numpy(), 0.5)
    np.testing.assert_allclose(head(f).detach().numpy(), 2 * h.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(max_cosine_score(h.detach().numpy()), [-7 / (5 * np.sqrt(2)), 0.0], rtol=1e-6)
    head.train()  # a batch of one in training mode falls back on the running statistics
    assert head(f[:1]).shape == (1, 2)


def test_deconf_model_layers_and_cosine_range():
    torch.manual_seed(0)
    net = models.build("mlp_deconf", (1, 8, 8), 10)
    assert isinstance(net, DeConfMLP) and models.n_layers(net) == 4
    x = torch.randn(16, 1, 8, 8) * 3
    with torch.no_grad():
        feats, h = net.features(x), net.h(x)
    assert [f.shape[1] for f in feats] == [256, 256, 256, 10]
    torch.testing.assert_close(feats[-1], h)
    assert float(h.abs().max()) <= 1 + 1e-6
    f = feats[-2]
    w = net.deconf.weight
    by_hand = (f @ w.T) / (f.norm(dim=1, keepdim=True) * w.norm(dim=1)[None, :]).clamp_min(1e-12)
    torch.testing.assert_close(h, by_hand, rtol=1e-5, atol=1e-6)
    net.eval()
    with torch.no_grad():
        torch.testing.assert_close(net(x), h / net.g(x))
    le = models.build("lenet5_deconf", (3, 32, 32), 10)
    assert [t.shape[1] for t in le.features(torch.zeros(2, 3, 32, 32))] == [400, 120, 84, 10]
    assert models.n_layers(le) == 4


def test_deconf_trains_and_scores():
    tr, te = data.load("digits", "train"), data.load("digits", "test")
    net = train.fit_classifier("mlp_deconf", tr, alpha=0.0, epochs=2, seed=0, progress=False)
    h = embed.embed(net, te, [0])[0]
    assert (h.argmax(1) == te.y).mean() > 0.5
    s0 = deconf_scores(net, te.x, eps=0.0, batch_size=100)
    np.testing.assert_allclose(s0, -h.max(1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(deconf_scores(net, te), s0)  # a Dataset works too
    s1 = deconf_scores(net, te.x, eps=0.005)
    assert np.isfinite(s1).all() and np.all(np.abs(s1) <= 1 + 1e-6)
    assert s1.mean() < s0.mean()  # the perturbation raises the confidence max h
    best, means = select_epsilon(net, te.x[:100], grid=(0.0, 0.005))
    assert best in (0.0, 0.005) and set(means) == {0.0, 0.005}
    assert not net.training  # left as it was
    with pytest.raises(ParameterError, match="'eps' = -0.1"):
        deconf_scores(net, te.x, eps=-0.1)
    with pytest.raises(ParameterError, match="'batch_size' = 0"):
        deconf_scores(net, te.x, batch_size=0)
    with pytest.raises(TypeError, match="no h-branch"):
        deconf_scores(models.build("mlp", (1, 8, 8), 10), te.x)
    with pytest.raises(ParameterError, match="'backbone' = 'vgg'"):
        deconf.DeConfNet("vgg")


def test_deconf_detector_equals_the_score_on_raw_inputs():
    ds = data.load("digits", "train")
    net = train.fit_classifier("mlp_deconf", ds, alpha=0.0, epochs=1, seed=0, progress=False)
    from oodrepro import embed

    h = embed.embed(net, ds, [0], batch_size=1024)
    np.testing.assert_array_equal(detectors.DeConf().fit().score(h), detectors.deconf_scores(net, ds))
    pert = detectors.perturb_dataset(net, ds, 0.01)
    np.testing.assert_allclose(detectors.DeConf().score(embed.embed(net, pert, [0])),
                               detectors.deconf_scores(net, ds, eps=0.01), rtol=1e-6)
