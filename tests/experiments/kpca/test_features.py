"""kpca's feature sources: network, torchvision backbone, feature banks."""
import numpy as np
import pytest
from PIL import Image

from oodrepro import config, train
from oodrepro.detectors import KPCA
from oodrepro.errors import DataFormatError, DataNotFoundError, ParameterError
from oodrepro.experiments.kpca import common, features


def _cfg(**kw):
    return config.resolve("kpca.main", profile="smoke", **kw)


def test_network_features_shapes_head_and_heldout(quick_feats):
    f, _ = quick_feats
    z, logits = f.train
    assert z.shape[1] == 84 and logits.shape[1] == 8 and len(z) == len(f.y_train)
    assert not np.isin(f.y_train, features.HELDOUT).any()  # trained without 8, 9
    np.testing.assert_allclose(z @ f.weight.T + f.bias, logits, atol=1e-3)  # the head is the last linear layer
    assert set(f.ood) == {"hflip", "gaussian", "heldout"} and f.ood["hflip"][0].shape[1] == 84


def _folder(tmp_path, n=3, size=40):
    rng = np.random.default_rng(0)
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(tmp_path / c / f"{i}.png")
    return tmp_path


@pytest.mark.parametrize("backbone, size, width", [("resnet50", 64, 2048), ("mobilenet_v2", 64, 1280),
                                                   ("vit_b_16", 224, 768)])
def test_torchvision_backbones_offline_random_weights(tmp_path, backbone, size, width):
    z, logits, w, b = features.torchvision_features(_folder(tmp_path), backbone, pretrained=False, size=size)
    assert z.shape == (6, width) and logits.shape == (6, 1000) and w.shape == (1000, width)
    np.testing.assert_allclose(z.astype(np.float64) @ w.T + b, logits, rtol=1e-3, atol=1e-3)


def test_unknown_backbone_names_the_parameter(tmp_path):
    with pytest.raises(ParameterError, match="backbone"):
        features.torchvision_features(_folder(tmp_path), "vgg", pretrained=False)


def test_feature_banks_npy_npz_and_raw_memmap(tmp_path, rng):
    a = rng.normal(size=(50, 8)).astype(np.float32)
    np.save(tmp_path / "f.npy", a)
    np.savez(tmp_path / "f.npz", feats=a)
    a.tofile(tmp_path / "f.bin")
    np.testing.assert_array_equal(features.bank_features(tmp_path / "f.npy"), a)
    np.testing.assert_array_equal(features.bank_features(tmp_path / "f.npz"), a)
    raw = features.bank_features(tmp_path / "f.bin", dim=8)
    assert isinstance(raw, np.memmap) and raw.shape == (50, 8)
    np.testing.assert_array_equal(raw, a)
    # the streaming fit reads the memmap in chunks and equals the in-memory fit
    e1 = KPCA(n_components=64, chunk_size=7).fit([raw]).reconstruction_error([a[:5]])
    e2 = KPCA(n_components=64, chunk_size=None).fit([a]).reconstruction_error([a[:5]])
    np.testing.assert_allclose(e1, e2, rtol=1e-9)
    with pytest.raises(ParameterError, match="dim"):
        features.bank_features(tmp_path / "f.bin")
    with pytest.raises(DataFormatError, match="width 7"):
        features.bank_features(tmp_path / "f.bin", dim=7)
    with pytest.raises(DataNotFoundError):
        features.bank_features(tmp_path / "nope.bin", dim=8)


def test_the_mnist_mlp_is_the_knn_ls_chapters_cached_model():
    """mnist_arch="mlp" trains exactly knn-ls's no-smoothing model: one cache entry serves both chapters."""
    from oodrepro.engine import Context
    from oodrepro.experiments.knn_ls.paper import MODELS, ls_model

    cfg = config.resolve("kpca.main", profile="smoke", epochs=1, max_train=200, n_components=128)
    _, _, ctx, _, _ = next(features.run_contexts(dict(cfg, pairings=["mnist5k->hflip"], seeds=[0])))
    model = ctx.model(train.LabelSmoothedCE(0.0))
    training = {"epochs": 1, "batch_size": cfg["batch_size"], "lr": cfg["lr"], "device": "cpu"}
    other = Context("mnist5k", ctx.train_set, ctx.in_test, 0, MODELS, training, progress=False)
    assert ls_model(other, 0.0).cache_key == model.cache_key


def test_features_are_read_once_per_page_and_forgotten_after_it(monkeypatch):
    calls = []
    monkeypatch.setattr(features, "_context_features", lambda *a: calls.append(a) or object())

    def page(cfg):
        a = features.network_features("mnist5k", ["hflip"], dict(cfg, evr=0.5), 0)
        b = features.network_features("mnist5k", ["hflip"], dict(cfg, evr=0.9, gamma=4.0), 0)  # grid keys only
        c = features.network_features("mnist5k", ["hflip"], dict(cfg, epochs=3), 0)  # another network
        return a, b, c

    a, b, c = common.blas_limited(page)(_cfg())
    assert a is b and c is not a and len(calls) == 2
    assert not len(features.MEMO)  # a later page (new data under the data root) reads afresh
