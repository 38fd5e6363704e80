"""oodrepro.data.files: image folders (plain and zipped), array bundles, feature banks; edited data is seen."""
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

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
    with pytest.raises(DataFormatError, match="broken.zip: truncated or corrupt zip archive"):
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
    with pytest.raises(DataFormatError, match="d.npz: truncated or corrupt .npz"):
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


def _tree(base: Path, n=2):
    r = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (base / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray(r.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(base / cls / f"{i}.png")


def _keep_top_stamp(base: Path):
    st = base.stat()
    return lambda: os.utime(base, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_item4_image_added_in_a_class_folder_is_seen(tmp_path):
    base = tmp_path / "imgs"
    _tree(base)
    assert len(data.image_folder(base)) == 4
    restore = _keep_top_stamp(base)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(base / "cat" / "new.png")
    restore()  # the top folder's size and time do not change when a file below it does
    ds = data.image_folder(base)
    assert len(ds) == 5 and ds.y.tolist() == [0, 0, 0, 1, 1]


def test_item4_image_changed_in_place_is_seen(tmp_path):
    base = tmp_path / "imgs"
    _tree(base)
    before = data.image_folder(base).x.copy()
    restore = _keep_top_stamp(base)
    f = base / "dog" / "1.png"
    st = f.stat()
    Image.fromarray(np.full((8, 8, 3), 255, np.uint8)).save(f)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1))  # same second, a later nanosecond
    restore()
    after = data.image_folder(base).x
    assert not np.array_equal(before, after) and after[3].min() == 1.0


def test_item4_edited_zip_is_unpacked_afresh(tmp_path):
    import zipfile

    z = tmp_path / "imgs.zip"

    def pack(value: int):  # uncompressed BMPs, stored: the archive's size does not depend on the pixels
        with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_STORED) as f:
            for cls in ("cat", "dog"):
                for i in range(2):
                    img = Image.fromarray(np.full((8, 8, 3), value if (cls, i) == ("dog", 1) else 0, np.uint8))
                    tmp = tmp_path / "x.bmp"
                    img.save(tmp)
                    f.write(tmp, f"{cls}/{i}.bmp")

    pack(0)
    st = z.stat()
    assert data.image_folder(z).x.max() == 0.0
    pack(255)
    os.utime(z, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same time stamp, other pixels
    assert z.stat().st_size == st.st_size
    assert data.image_folder(z).x.max() == 1.0


def test_tree_fingerprint_survives_a_symlink_loop(tmp_path):
    from oodrepro.data.files import tree_fingerprint

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f.png").write_bytes(b"1")
    os.symlink(tmp_path, tmp_path / "a" / "loop")
    assert tree_fingerprint(tmp_path).startswith("dir:")
