import gzip
import hashlib
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from oodrepro import data
from oodrepro.errors import DataFormatError, DataNotFoundError, ParameterError


def test_mnist5k_fixed_stratified_split():
    tr, te = data.load("mnist5k", "train"), data.load("mnist5k", "test")
    assert tr.x.shape == (4000, 1, 28, 28) and te.x.shape == (1000, 1, 28, 28)
    assert np.bincount(tr.y).tolist() == [400] * 10 and np.bincount(te.y).tolist() == [100] * 10
    assert tr.x.dtype == np.float32 and 0.0 <= tr.x.min() and tr.x.max() <= 1.0
    assert data.load("mnist5k", "test").fingerprint == te.fingerprint  # fixed split
    # train and test are disjoint (no identical image in both)
    h_tr = {hashlib.sha1(r.tobytes()).hexdigest() for r in tr.x}
    assert not any(hashlib.sha1(r.tobytes()).hexdigest() in h_tr for r in te.x)


def test_digits_and_resized_digits():
    d = data.load("digits", "all")
    assert d.x.shape == (1797, 1, 8, 8) and d.x.max() == 1.0
    d28 = data.load("digits28", "test")
    assert d28.x.shape[1:] == (1, 28, 28) and 0 <= d28.x.min() and d28.x.max() <= 1


def test_flips_are_mirrors():
    te = data.load("mnist5k", "test")
    h, v = data.load("mnist5k:hflip", "test"), data.load("mnist5k:vflip", "test")
    np.testing.assert_array_equal(h.x[3, 0, :, 0], te.x[3, 0, :, -1])
    np.testing.assert_array_equal(v.x[3, 0, 0, :], te.x[3, 0, -1, :])
    np.testing.assert_array_equal(data.hflip(h).x, te.x)


def test_noise_sets_seeded_and_in_range():
    g1 = data.load("mnist5k:gaussian", "test", seed=1)
    g2 = data.load("mnist5k:gaussian", "test", seed=1)
    u = data.load("mnist5k:uniform", "test", seed=2)
    assert g1.x.shape == (1000, 1, 28, 28) and np.array_equal(g1.x, g2.x)
    assert g1.x.min() == 0.0 and g1.x.max() == 1.0  # N(0.5, 1) clipped
    assert 0 <= u.x.min() and u.x.max() <= 1 and abs(u.x.mean() - 0.5) < 0.01
    assert not np.array_equal(g1.x, data.load("mnist5k:gaussian", "test", seed=3).x)


def test_class_subset_relabels():
    s = data.load("mnist5k:classes=2,6,7", "train")
    assert len(s) == 1200 and sorted(np.unique(s.y)) == [0, 1, 2] and s.classes == ["2", "6", "7"]
    with pytest.raises(ParameterError, match="classes \\[11\\] not present"):
        data.load("mnist5k:classes=2,11", "train")


def test_conform_channels_and_size():
    d = data.load("digits", "test")
    c = data.conform(d, 3, 32)
    assert c.x.shape[1:] == (3, 32, 32)
    np.testing.assert_allclose(c.x[:, 0], c.x[:, 2])


def test_unknown_names_are_clear():
    with pytest.raises(ParameterError, match="unknown data set 'mnsit'; known: .*mnist5k"):
        data.load("mnsit")
    with pytest.raises(ParameterError, match="unknown shift 'rot90'"):
        data.load("mnist5k:rot90")
    with pytest.raises(ParameterError, match="split 'val'"):
        data.load("mnist5k", "val")


@pytest.mark.parametrize("name", sorted(data.TORCHVISION))
def test_missing_real_data_is_one_clear_error_fast(tmp_path, name):
    t0 = time.perf_counter()
    with pytest.raises(DataNotFoundError) as ei:
        data.load(name, "test", root=tmp_path)
    assert time.perf_counter() - t0 < 5
    msg = str(ei.value)
    assert name in msg and str(tmp_path) in msg and "\n" not in msg
    assert "download=True" in msg or "Download" in msg


def test_missing_root_names_the_variable():
    with pytest.raises(DataNotFoundError, match="OODREPRO_DATA_ROOT"):
        data.load("mnist", "train")


# --- fixtures in the real formats -------------------------------------------------------------
def _idx_images(a: np.ndarray) -> bytes:
    n, h, w = a.shape
    return b"\x00\x00\x08\x03" + n.to_bytes(4, "big") + h.to_bytes(4, "big") + w.to_bytes(4, "big") + a.tobytes()


def _idx_labels(y: np.ndarray) -> bytes:
    return b"\x00\x00\x08\x01" + len(y).to_bytes(4, "big") + y.astype(np.uint8).tobytes()


def _write_mnist(root: Path, folder: str, compressed: bool):
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    r = np.random.default_rng(0)
    files = {}
    for prefix, n in (("train", 12), ("t10k", 5)):
        imgs = r.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        files[f"{prefix}-images-idx3-ubyte"] = _idx_images(imgs)
        files[f"{prefix}-labels-idx1-ubyte"] = _idx_labels(np.arange(n) % 10)
    md5s = {}
    for name, blob in files.items():
        if compressed:
            p = raw / (name + ".gz")
            p.write_bytes(gzip.compress(blob))
            md5s[name + ".gz"] = hashlib.md5(p.read_bytes()).hexdigest()
        else:
            (raw / name).write_bytes(blob)
    return md5s


def test_mnist_from_uncompressed_idx(tmp_path):
    _write_mnist(tmp_path, "MNIST", compressed=False)
    tr = data.load("mnist", "train", root=tmp_path)
    te = data.load("mnist", "test", root=tmp_path)
    assert tr.x.shape == (12, 1, 28, 28) and te.x.shape == (5, 1, 28, 28)
    assert te.y.tolist() == [0, 1, 2, 3, 4]


def test_mnist_from_readonly_gz_is_staged_not_written(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    md5s = _write_mnist(tmp_path, "FashionMNIST", compressed=True)
    monkeypatch.setattr(tvd.FashionMNIST, "resources", [(n, md5s[n]) for n in sorted(md5s)])
    raw = tmp_path / "FashionMNIST" / "raw"
    for p in raw.iterdir():
        p.chmod(0o444)
    raw.chmod(0o555)
    try:
        ds = data.load("fashion_mnist", "test", root=tmp_path)
        assert ds.x.shape == (5, 1, 28, 28)
        assert sorted(p.name for p in raw.iterdir()) == sorted(md5s)  # nothing written beside them
    finally:
        raw.chmod(0o755)


def test_mnist_gz_with_wrong_md5_is_rejected(tmp_path):
    _write_mnist(tmp_path, "MNIST", compressed=True)  # our fake files do not have the official md5s
    with pytest.raises(DataFormatError, match="fails torchvision's MD5 check"):
        data.load("mnist", "test", root=tmp_path)


def _write_image_tree(base: Path, n=3, size=(10, 12)):
    r = np.random.default_rng(1)
    for cls in ("cat", "dog"):
        (base / cls).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(r.integers(0, 255, size=(*size, 3), dtype=np.uint8)).save(base / cls / f"{i}.png")


def test_image_folder_plain_and_zipped(tmp_path):
    _write_image_tree(tmp_path / "imgs" / "test")
    ds = data.image_folder(tmp_path / "imgs" / "test", size=8)
    assert ds.x.shape == (6, 3, 8, 8) and ds.classes == ["cat", "dog"] and ds.y.tolist() == [0, 0, 0, 1, 1, 1]
    z = tmp_path / "imgs.zip"
    with zipfile.ZipFile(z, "w") as f:
        for p in (tmp_path / "imgs").rglob("*.png"):
            f.write(p, p.relative_to(tmp_path / "imgs"))
    dz = data.image_folder(z, subdir="test", size=8)
    np.testing.assert_array_equal(dz.x, ds.x)
    with pytest.raises(DataFormatError, match="images differ in size|no folder"):
        data.image_folder(z, subdir="nope")


def test_cifar10_falls_back_to_the_jpeg_zip(tmp_path):
    src = tmp_path / "src"
    _write_image_tree(src / "test", size=(32, 32))
    (tmp_path / "CIFAR10-jpg").mkdir()
    with zipfile.ZipFile(tmp_path / "CIFAR10-jpg" / "cifar10_test_jpg.zip", "w") as f:
        for p in src.rglob("*.png"):
            f.write(p, p.relative_to(src))
    ds = data.load("cifar10", "test", root=tmp_path)
    assert ds.x.shape == (6, 3, 32, 32) and ds.note == "CIFAR-10 (JPEG copy)"


def test_broken_zip_is_a_clear_error(tmp_path):
    z = tmp_path / "broken.zip"
    z.write_bytes(b"not a zip")
    with pytest.raises(DataFormatError, match="broken.zip is not a readable zip"):
        data.image_folder(z)


def test_array_bundle(tmp_path):
    r = np.random.default_rng(0)
    p = tmp_path / "b.npz"
    np.savez(p, x=r.integers(0, 255, (4, 32, 32, 3), dtype=np.uint8), y=np.array([0, 1, 1, 0], np.int16),
             classes=np.array(["a", "b"]))
    ds = data.array_bundle(p)
    assert ds.x.shape == (4, 3, 32, 32) and ds.classes == ["a", "b"] and ds.y.dtype == np.int64
    np.savez(tmp_path / "c.npz", x=np.zeros((2, 8, 8)))
    with pytest.raises(DataFormatError, match="lacks \\['y'\\]"):
        data.array_bundle(tmp_path / "c.npz")
    (tmp_path / "d.npz").write_bytes(b"garbage")
    with pytest.raises(DataFormatError, match="d.npz: not a readable .npz"):
        data.array_bundle(tmp_path / "d.npz")


def test_feature_banks(tmp_path):
    np.save(tmp_path / "f.npy", np.ones((5, 3)))
    assert data.load_features(tmp_path / "f.npy").shape == (5, 3)
    np.savez(tmp_path / "g.npz", train=np.ones((5, 3)), test=np.ones((2, 3)))
    assert data.load_features(tmp_path / "g.npz", key="test").shape == (2, 3)
    with pytest.raises(DataFormatError, match="pass key="):
        data.load_features(tmp_path / "g.npz")
    np.save(tmp_path / "h.npy", np.ones((5, 3, 2)))
    with pytest.raises(DataFormatError, match=r"h.npy: features must be a non-empty 2-D array \(N, D\), got shape \(5, 3, 2\)"):
        data.load_features(tmp_path / "h.npy")
    with pytest.raises(DataFormatError, match="dimension 3, expected 4"):
        data.load_features(tmp_path / "f.npy", dim=4)
    with pytest.raises(DataNotFoundError, match="missing.npy"):
        data.load_features(tmp_path / "missing.npy")
