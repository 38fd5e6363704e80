"""The training loop (oodrepro.loop): staging, augmentation on the batch tensor, determinism, whitening."""
import numpy as np
import pytest
import torch

from oodrepro import data, loop, recipes, train
from oodrepro.experiments.kpca import nets


def test_stage_is_uint8_only_when_exact():
    x8 = (np.arange(2 * 3 * 4 * 4).reshape(2, 3, 4, 4) % 256).astype(np.float32) / 255
    t = loop.stage(x8)
    assert t.dtype == torch.uint8 and torch.equal(loop.unstage(t), torch.from_numpy(x8))
    noisy = x8 + np.float32(1e-4)
    t2 = loop.stage(noisy)
    assert t2.dtype == torch.float32 and torch.equal(loop.unstage(t2), torch.from_numpy(noisy))


def test_shift_crop_by_hand():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    gen = torch.Generator().manual_seed(3)
    d = torch.randint(0, 3, (1, 2), generator=torch.Generator().manual_seed(3))
    out = loop.shift_crop(x, 1, gen)
    pad = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect")
    dy, dx = int(d[0, 0]), int(d[0, 1])
    assert torch.equal(out, pad[:, :, dy:dy + 4, dx:dx + 4])
    # no shift (r = 0) is the identity
    assert torch.equal(loop.shift_crop(x, 0, gen), x)


def test_augmentation_is_deterministic_per_seed():
    x = torch.rand(64, 3, 8, 8)
    r = recipes.Recipe("a", flip="random", translate=2)
    def draw(seed):
        g = torch.Generator().manual_seed(seed)
        flips = torch.rand(64, generator=g) < 0.5
        return loop.augment(x, flips, r, g)
    assert torch.equal(draw(0), draw(0))
    assert not torch.equal(draw(0), draw(1))


def test_alternating_flips_invert_on_odd_epochs():
    f = loop._Flips("alternate", 100, torch.Generator().manual_seed(0))
    e0, e1, e2 = f.epoch(0, 100), f.epoch(1, 100), f.epoch(2, 100)
    assert torch.equal(e0, e2) and torch.equal(e1, ~e0) and 30 < int(e0.sum()) < 70
    assert loop._Flips("none", 10, torch.Generator()).epoch(0, 10) is None


def _tiny():
    ds = data.load("mnist5k", "train")
    return ds.subset(np.arange(256), name="mnist5k[:256]")


def test_same_seed_same_weights_and_seed_matters():
    ds = _tiny()
    r = recipes.Recipe("t", epochs=1, batch_size=64, flip="random", translate=2)
    a, b, c = (train.fit("lenet5", data.conform(ds, 1, 32), recipe=r, seed=s, progress=False, use_cache=False)
               for s in (0, 0, 1))
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_recipe_and_device_enter_the_cache_key(monkeypatch):
    ds = _tiny()
    base = recipes.Recipe("t", epochs=1, batch_size=128)
    k1 = train.fit("mlp", ds, recipe=base, progress=False, device="cpu").cache_key
    k2 = train.fit("mlp", ds, recipe=base.replace(weight_decay=1e-4), progress=False, device="cpu").cache_key
    assert k1 != k2 and train.fit("mlp", ds, recipe=base, progress=False, device="cpu").cache_key == k1
    defn = {"arch": "mlp", "recipe": base.key(), "data": "x"}
    cpu = train.model_params(defn, "code", "cpu")
    assert cpu["device"] == "cpu" and "data" not in cpu
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a CUDA machine: another key
    assert train.model_params(defn, "code", "cuda") != cpu


def test_device_parameter_one_line():
    from oodrepro.errors import ParameterError
    with pytest.raises(ParameterError, match="'device' = 'tpu'"):
        train.device_of("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ParameterError, match="no CUDA device"):
            train.device_of("cuda")
        # the fallback: auto trains on the CPU
        m = train.fit("mlp", _tiny(), epochs=1, progress=False, device="auto", use_cache=False)
        assert next(m.parameters()).device.type == "cpu"


def test_speednet_whitening_whitens_patches():
    torch.manual_seed(0)
    net = nets.SpeedNet()
    x = torch.rand(64, 3, 32, 32) * 0.5 + torch.rand(64, 3, 1, 1) * 0.5
    net.init_whitening(x, eps=0.0)
    xn = (x - net.mean) / net.std
    out = torch.nn.functional.conv2d(xn, net.whiten.weight[:12])  # the + half: one filter per eigenvector
    flat = out.permute(0, 2, 3, 1).reshape(-1, 12).double()
    cov = flat.T @ flat / len(flat)
    assert torch.allclose(cov, torch.eye(12, dtype=torch.float64), atol=1e-3)
    assert torch.equal(net.whiten.weight[12:], -net.whiten.weight[:12])


@pytest.mark.parametrize("cls, width", [(nets.SpeedNet, 256), (nets.SpeedNetWide, 384)])
def test_speednet_features_and_classifier_agree(cls, width):
    torch.manual_seed(0)
    net = cls().eval()
    x = torch.rand(5, 3, 32, 32)
    z, logits = net.features(x)
    w, b = net.classifier()
    assert z.shape == (5, width) and logits.shape == (5, 10)
    assert np.allclose(z.detach().double().numpy() @ w.T + b, logits.detach().double().numpy(), atol=1e-5)


def test_tta_levels():
    torch.manual_seed(0)
    net = nets.SpeedNet().eval()
    x = np.random.default_rng(0).random((4, 3, 32, 32), dtype=np.float32)
    p0, p1 = loop.predict(net, x, 0), loop.predict(net, x, 1)
    with torch.no_grad():
        t = torch.from_numpy(x)
        assert np.allclose(p0, net(t).numpy(), atol=1e-6)
        assert np.allclose(p1, (0.5 * net(t) + 0.5 * net(t.flip(-1))).numpy(), atol=1e-6)
    assert loop.predict(net, x, 2).shape == (4, 10)
