"""oodrepro.data.tvsets: real data through torchvision, on fixtures in the real formats."""
import gzip
import hashlib
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from oodrepro import data
from oodrepro.errors import DataFormatError, DataNotFoundError


@pytest.mark.parametrize("name", sorted(data.TORCHVISION))
def test_missing_real_data_is_one_clear_error_fast(tmp_path, name):
    t0 = time.perf_counter()
    with pytest.raises(DataNotFoundError) as ei:
        data.load(name, "test", root=tmp_path)
    assert time.perf_counter() - t0 < 5
    msg = str(ei.value)
    assert name in msg and str(tmp_path) in msg and "\n" not in msg
    assert "download=True" in msg or "Download" in msg


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


def test_cifar10_falls_back_to_the_jpeg_zip(tmp_path, image_tree):
    src = tmp_path / "src"
    image_tree(src / "test", size=(32, 32))
    (tmp_path / "CIFAR10-jpg").mkdir()
    with zipfile.ZipFile(tmp_path / "CIFAR10-jpg" / "cifar10_test_jpg.zip", "w") as f:
        for p in src.rglob("*.png"):
            f.write(p, p.relative_to(src))
    ds = data.load("cifar10", "test", root=tmp_path)
    assert ds.x.shape == (6, 3, 32, 32) and ds.note == "CIFAR-10 (JPEG copy)"
