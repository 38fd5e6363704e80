"""oodrepro.data.files: image folders (plain and zipped), array bundles, feature banks; edited data is seen."""
import zipfile

import numpy as np
import pytest

from oodrepro import data
from oodrepro.errors import DataFormatError, DataNotFoundError


def test_image_folder_plain_and_zipped(tmp_path, image_tree):
    image_tree(tmp_path / "imgs" / "test")
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
