"""The bad-input matrix: one row per hostile-but-fair input, the exception type it must raise and a
fragment of its one-line message. Every row raised nothing (or the wrong thing) before issue 12, except
where the row's comment says it is kept as a guard.

Rows call the package directly (no kernel), so the whole matrix runs in seconds.
"""
from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest

from oodrepro import cache, config, data, results
from oodrepro.errors import DataFormatError, OodreproError, ParameterError


def _bundle(tmp: Path, x, y, **more) -> Path:
    p = tmp / "bundle.npz"
    np.savez(p, x=x, y=y, **more)
    return p


IMG = np.zeros((4, 8, 8), np.uint8)
LAB = np.array([0, 1, 0, 1])


def _uint16(tmp):  # issue 12, item 6: uint16 pixels ended up as large as 125 after scaling
    return data.array_bundle(_bundle(tmp, np.full((4, 8, 8), 32000, np.uint16), LAB))


def _float_pm1(tmp):  # item 6: floats in [-1, 1] loaded as if in [0, 1]
    return data.array_bundle(_bundle(tmp, np.linspace(-1, 1, 256, dtype=np.float32).reshape(4, 8, 8), LAB))


def _nan(tmp):  # item 6
    x = np.full((4, 8, 8), 0.5, np.float32)
    x[1, 2, 3] = np.nan
    return data.array_bundle(_bundle(tmp, x, LAB))


def _float_labels(tmp):  # item 6: non-integer labels were truncated
    return data.array_bundle(_bundle(tmp, IMG, np.array([0.0, 1.5, 0.2, 1.0])))


def _label_beyond_classes(tmp):
    return data.array_bundle(_bundle(tmp, IMG, np.array([0, 1, 2, 5]), classes=np.array(["a", "b"])))


def _negative_label(tmp):
    return data.array_bundle(_bundle(tmp, IMG, np.array([0, -3, 1, 1])))


def _string_labels(tmp):
    return data.array_bundle(_bundle(tmp, IMG, np.array(["cat", "dog", "cat", "dog"])))


def _bool_pixels(tmp):
    return data.array_bundle(_bundle(tmp, np.ones((4, 8, 8), bool), LAB))


def _float_0_255(tmp):  # floats in 0..255 are not silently divided any more
    return data.array_bundle(_bundle(tmp, np.full((4, 8, 8), 200.0, np.float32), LAB))


def _int_over_255(tmp):
    return data.array_bundle(_bundle(tmp, np.full((4, 8, 8), 300, np.int64), LAB))


def _two_d_x(tmp):
    return data.array_bundle(_bundle(tmp, np.zeros((4, 64), np.uint8), LAB))


def _two_channels(tmp):
    return data.array_bundle(_bundle(tmp, np.zeros((4, 8, 8, 2), np.uint8), LAB))


def _label_count(tmp):
    return data.array_bundle(_bundle(tmp, IMG, np.array([0, 1, 0])))


def _repeated_class_names(tmp):
    return data.array_bundle(_bundle(tmp, IMG, LAB, classes=np.array(["a", "a"])))


def _complex_features(tmp):
    np.save(tmp / "f.npy", np.ones((3, 2), complex))
    return data.load_features(tmp / "f.npy")


def _overflow_features(tmp):  # finite in float64, inf in float32
    np.save(tmp / "f.npy", np.full((3, 2), 1e300))
    return data.load_features(tmp / "f.npy")


def _image_folder_channels(tmp):
    (tmp / "imgs" / "a").mkdir(parents=True)
    return data.image_folder(tmp / "imgs", channels=2)


def _cache_kind(kind):
    def f(tmp):
        return cache.clear(kind=kind, path=tmp / "cache")
    return f


def _cached_kind(tmp):
    return cache.cached("../escape", {"p": 1}, lambda: 1)


def _clear_untagged_folder(tmp):  # OODREPRO_CACHE_DIR=$HOME, then 'cache clear'
    (tmp / "home" / "Documents").mkdir(parents=True)
    (tmp / "home" / "Documents" / "thesis.tex").write_text("years of work")
    return cache.clear(path=tmp / "home")


def _unwritable_cache(tmp, monkeypatch):
    (tmp / "afile").write_text("")
    monkeypatch.setenv("OODREPRO_CACHE_DIR", str(tmp / "afile" / "cache"))
    calls = []
    try:
        return cache.cached("t", {"p": 1}, lambda: calls.append(1))
    finally:
        assert not calls, "computed before finding out that the cache is unwritable"


def _result_outside_results_dir(tmp, monkeypatch):
    monkeypatch.setenv(results.STAGE_ENV, str(tmp / "res" / ".staging-x"))
    monkeypatch.setenv(results.ROOT_ENV, str(tmp / "res"))
    return results.write(tmp / "res" / ".." / "elsewhere.json", "x/y", {}, [{"a": 1}])


# --- issue 21, class 2: paths that leave the folder the user gave -------------------------------------------
def _png(path: Path, value: int = 0, size: int = 8) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size), value, np.uint8)).save(path)
    return path


def _imgs(tmp: Path) -> Path:
    for c in ("a", "b"):
        _png(tmp / "imgs" / c / "0.png")
    return tmp / "imgs"


def _folder_symlink_loop(tmp):  # a link to an ancestor: ImageFolder walked it, multiplying images
    root = _imgs(tmp)
    (root / "a" / "loop").symlink_to(root, target_is_directory=True)
    return data.image_folder(root)


def _folder_symlink_self(tmp):
    root = _imgs(tmp)
    (root / "b" / "again").symlink_to(root / "b", target_is_directory=True)
    return data.image_folder(root)


def _folder_symlink_outside_dir(tmp):
    root = _imgs(tmp)
    _png(tmp / "elsewhere" / "x.png")
    (root / "c").symlink_to(tmp / "elsewhere", target_is_directory=True)
    return data.image_folder(root)


def _folder_symlink_outside_file(tmp):
    root = _imgs(tmp)
    _png(tmp / "secret.png")
    (root / "a" / "1.png").symlink_to(tmp / "secret.png")
    return data.image_folder(root)


def _folder_symlink_dotdot(tmp):  # a relative link with '..' out of the folder
    root = _imgs(tmp)
    _png(tmp / "other" / "y.png")
    os.symlink("../../other/y.png", root / "b" / "1.png")
    return data.image_folder(root)


def _folder_symlink_broken(tmp):
    root = _imgs(tmp)
    os.symlink("nowhere.png", root / "a" / "1.png")
    return data.image_folder(root)


def _folder_subdir_dotdot(tmp):
    _imgs(tmp)
    (tmp / "outer").mkdir()
    return data.image_folder(tmp / "outer", subdir="../imgs")


def _folder_subdir_absolute(tmp):
    root = _imgs(tmp)
    (tmp / "outer").mkdir()
    return data.image_folder(tmp / "outer", subdir=str(root))


def _folder_corrupt_image(tmp):  # class 5: a truncated file, named
    root = _imgs(tmp)
    (root / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n trunc")
    return data.image_folder(root)


def _tt100k(tmp: Path, frame_path: str) -> Path:
    import json

    root = tmp / "tt100k"
    _png(root / "train" / "1.png", size=64)
    _png(tmp / "outside.png", size=64)
    ann = {"types": ["pl40"], "imgs": {"1": {"path": frame_path, "id": 1, "objects": [
        {"category": "pl40", "bbox": {"xmin": 10, "ymin": 10, "xmax": 30, "ymax": 30}}]}}}
    (root / "annotations.json").write_text(json.dumps(ann))
    return root


def _tt100k_frame(frame_path):
    def f(tmp):
        from oodrepro.data import tt100k

        return tt100k.crop_signs(_tt100k(tmp, frame_path(tmp) if callable(frame_path) else frame_path))
    return f


def _tt100k_frame_symlink_out(tmp):
    from oodrepro.data import tt100k

    root = _tt100k(tmp, "train/2.png")
    (root / "train" / "2.png").symlink_to(tmp / "outside.png")
    return tt100k.crop_signs(root)


def _tt100k_corrupt_frame(tmp):
    from oodrepro.data import tt100k

    root = _tt100k(tmp, "train/1.png")
    (root / "train" / "1.png").write_bytes(b"not a png")
    return tt100k.crop_signs(root)


def _tt100k_background_dotdot(tmp):
    from oodrepro.data import tt100k

    return tt100k.background_patches(_tt100k(tmp, "train/../../outside.png"), n=1)


# --- issue 21, class 1: values accepted outside their meaning -----------------------------------------------
def _spec(spec):
    def f(tmp):
        return data.load(spec, split="test")
    return f


def _subset_twice(tmp):
    ds = data.array_bundle(_bundle(tmp, np.zeros((6, 8, 8), np.uint8), np.array([0, 1, 2, 0, 1, 2])))
    return data.core.class_subset(ds, [1, 2, 1])


def _kpca_feats(n_train: int = 40):
    from oodrepro.experiments.kpca.features import Features

    rng = np.random.default_rng(0)
    z = lambda n: np.abs(rng.normal(size=(n, 8))).astype(np.float32)  # noqa: E731
    lg = lambda n: rng.normal(size=(n, 3)).astype(np.float32)  # noqa: E731
    return Features("toy", (z(n_train), lg(n_train)), (z(10), lg(10)), {"o": (z(10), lg(10))})


def _kpca_cfg(**kw):
    return dict({"n_components": 16, "evr": 0.9, "gamma": 1.0}, **kw)


def _kpca_nys_above_n(tmp):  # Nyström's m was capped at N while the page said m
    from oodrepro.experiments.kpca import methods

    return methods.kpca(_kpca_feats(), _kpca_cfg(n_components=64), approximation="nystroem")


def _kpca_landmarks_grid_above_n(tmp):
    from oodrepro.experiments.kpca import methods

    return methods.kpca(_kpca_feats(), _kpca_cfg(n_components=2048), approximation="nystroem", grid="m_grid",
                        landmarks="uniform")


def _kpca_sensitivity_nys_above_n(tmp):
    from oodrepro.experiments.kpca import methods

    return methods.detector("kpca_nys", _kpca_feats(), _kpca_cfg(n_components=100), grid="m_grid")


def _raw_bank(values, dim, **kw):
    def f(tmp):
        from oodrepro.experiments.kpca import features

        np.asarray(values).tofile(tmp / "bank.bin")
        return features.bank_features(tmp / "bank.bin", dim=dim, **kw)
    return f


_FEATS64 = np.abs(np.random.default_rng(1).normal(size=(32, 8)))  # float64 written where float32 is assumed


def _int_features(tmp):
    np.save(tmp / "f.npy", np.array([[2 ** 30 + 1, 3], [1, 2]], np.int64))
    return data.load_features(tmp / "f.npy")


def _logits_overflow_float32(tmp):  # finite in float64, inf in float32: every score was NaN
    from oodrepro.detectors import Energy

    return Energy().score(logits=np.array([[1e39, 0.0], [0.0, 1.0]]))


def _msp_logits_overflow(tmp):
    from oodrepro.detectors import MaxSoftmax

    return MaxSoftmax().score(logits=np.array([[-1e40, 0.0], [0.0, 1.0]]))


def _embeddings_strings(tmp):
    from oodrepro.detectors.base import as_layers

    return as_layers([np.array([["a", "b"], ["c", "d"]])])


# --- issue 21, class 4: errors that name the culprit --------------------------------------------------------
def _metric(s_in, s_out=(0.1, 0.2, 0.3)):
    def f(tmp):
        from oodrepro import metrics

        return metrics.auroc(s_in, s_out)
    return f


def _param(**kw):
    def f(tmp):
        return config.resolve("knn_ls.table1", "smoke", **kw)
    return f


def _page_param(schema, profile="quick", **kw):
    def f(tmp):
        return config.resolve(schema, profile, **kw)
    return f


def _tsinghua_n_anomaly_above_frames(tmp):
    from oodrepro.experiments.odm import tsinghua

    tsinghua.load_signs(config.resolve("odm.tsinghua", "smoke", n_anomaly=1000))


def _raw_knn_k_above_n(tmp):
    from oodrepro.experiments.kpca.approx import RawKNN

    RawKNN(5).fit([np.zeros((3, 2))])


def _results_dir_unwritable(tmp):  # a notebook run (papermill) checks its results folder before computing
    from oodrepro.engine import page

    (tmp / "ro").write_text("a file where the results folder should be")
    page.execute("kpca/cost", dict(profile="smoke", results_dir=str(tmp / "ro")))


def _train_threads(value):  # a bad $OODREPRO_TRAIN_THREADS is named before any training starts
    def call(tmp, monkeypatch):
        from oodrepro import train

        monkeypatch.setenv("OODREPRO_TRAIN_THREADS", value)
        train.fit_classifier("mlp", data.load("digits", "train"), epochs=1, progress=False, use_cache=False)
    return call


def _disk_full(errno_value):  # a write fails as on a full disk / over quota / on a read-only file system
    def fail(self, *a, **k):
        raise OSError(errno_value, os.strerror(errno_value), str(self))
    return fail


def _cache_disk_full(code):
    def f(tmp, monkeypatch):
        import joblib

        monkeypatch.setattr(joblib, "dump", lambda value, path, *a, **k: _disk_full(code)(Path(path)))
        return cache.cached("t", {"p": 1}, lambda: np.zeros(3))
    return f


def _write_atomic_disk_full(code):
    def f(tmp, monkeypatch):
        monkeypatch.setattr(Path, "write_bytes", _disk_full(code))
        return cache.write_atomic(tmp / "out" / "x.json", "{}")
    return f


def _result_disk_full(tmp, monkeypatch):

    monkeypatch.setattr(Path, "write_bytes", _disk_full(errno.ENOSPC))
    return results.write(tmp / "res" / "t.json", "x/y", {}, [{"a": 1}])



def _cut(p: Path, keep: float = 0.5) -> Path:
    """``p`` cut to ``keep`` of its length, as an interrupted copy leaves it."""
    b = p.read_bytes()
    p.write_bytes(b[:int(len(b) * keep)])
    return p


def _idx(n: int, images: bool = True) -> bytes:
    if images:
        return b"\x00\x00\x08\x03" + n.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + bytes(n * 28 * 28)
    return b"\x00\x00\x08\x01" + n.to_bytes(4, "big") + bytes(n)


def _mnist_raw(tmp: Path, gz: bool) -> Path:
    import gzip

    raw = tmp / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n in (("train", 12), ("t10k", 5)):
        for kind, blob in (("images-idx3", _idx(n)), ("labels-idx1", _idx(n, images=False))):
            f = raw / f"{prefix}-{kind}-ubyte"
            f.write_bytes(gzip.compress(blob) if gz else blob)
            if gz:
                f.rename(f.with_name(f.name + ".gz"))
    return raw


def _mnist_idx_truncated(tmp):  # torchvision failed on it and it was reported as "not found"
    _cut(_mnist_raw(tmp, gz=False) / "t10k-images-idx3-ubyte")
    return data.load("mnist", "test", root=tmp)


def _mnist_gz_truncated(tmp, monkeypatch):  # the MD5s are the files' before the cut (as torchvision's are)
    import hashlib

    import torchvision.datasets as tvd

    raw = _mnist_raw(tmp, gz=True)
    monkeypatch.setattr(tvd.MNIST, "resources", [(f.name, hashlib.md5(f.read_bytes()).hexdigest())
                                                 for f in sorted(raw.iterdir())])
    _cut(raw / "t10k-images-idx3-ubyte.gz", 0.7)
    return data.load("mnist", "test", root=tmp)


def _emnist_idx_truncated(tmp):
    raw = tmp / "EMNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "emnist-digits-test-images-idx3-ubyte").write_bytes(_idx(5)[:300])
    (raw / "emnist-digits-test-labels-idx1-ubyte").write_bytes(_idx(5, images=False))
    return data.load("emnist_digits", "test", root=tmp)


def _svhn_mat_truncated(tmp):
    from scipy.io import savemat

    (tmp / "SVHN").mkdir()
    savemat(tmp / "SVHN" / "test_32x32.mat", {"X": np.zeros((32, 32, 3, 4), np.uint8), "y": np.ones((4, 1))})
    _cut(tmp / "SVHN" / "test_32x32.mat")
    return data.load("svhn", "test", root=tmp)


def _cifar10_batch_truncated(tmp):
    import pickle

    d = tmp / "cifar-10-batches-py"
    d.mkdir()
    (d / "test_batch").write_bytes(pickle.dumps({"data": np.zeros((4, 3072), np.uint8), "labels": [0, 1, 2, 3]}))
    _cut(d / "test_batch")
    return data.load("cifar10", "test", root=tmp)


def _cifar10_jpg_zip_truncated(tmp):
    import zipfile

    _png(tmp / "src" / "test" / "a" / "0.png", size=32)
    (tmp / "CIFAR10-jpg").mkdir()
    with zipfile.ZipFile(tmp / "CIFAR10-jpg" / "cifar10_test_jpg.zip", "w") as z:
        z.write(tmp / "src" / "test" / "a" / "0.png", "test/a/0.png")
    _cut(tmp / "CIFAR10-jpg" / "cifar10_test_jpg.zip")
    return data.load("cifar10", "test", root=tmp)


def _zip_member_damaged(tmp):  # the central directory is intact, a deflated member is not
    import zipfile

    _png(tmp / "src" / "a" / "0.png", value=7, size=64)
    with zipfile.ZipFile(tmp / "imgs.zip", "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.write(tmp / "src" / "a" / "0.png", "a/0.png")
    b = bytearray((tmp / "imgs.zip").read_bytes())
    for i in range(40, 60):
        b[i] ^= 0xFF
    (tmp / "imgs.zip").write_bytes(bytes(b))
    return data.image_folder(tmp / "imgs.zip")


def _npz_bundle_truncated(tmp):
    return data.array_bundle(_cut(_bundle(tmp, np.zeros((50, 8, 8), np.uint8), np.zeros(50, int))))


def _npz_compressed_member_damaged(tmp):
    p = tmp / "feats.npz"
    np.savez_compressed(p, f=np.random.default_rng(0).normal(size=(64, 8)))
    b = bytearray(p.read_bytes())
    for i in range(80, 120):
        b[i] ^= 0xFF
    p.write_bytes(bytes(b))
    return data.load_features(p)


def _npy_features_truncated(tmp):
    np.save(tmp / "f.npy", np.zeros((50, 8), np.float32))
    return data.load_features(_cut(tmp / "f.npy"))


def _npz_features_truncated(tmp):
    np.savez(tmp / "f.npz", f=np.zeros((50, 8), np.float32))
    return data.load_features(_cut(tmp / "f.npz"))



def _tt100k_cropped_truncated(tmp):
    from oodrepro.data import tt100k

    np.savez(tmp / "tt100k_cropped_train_32x32.npz", x=np.zeros((20, 32, 32, 3), np.uint8), y=np.zeros(20, int),
             classes=np.array(["pl40"]))
    _cut(tmp / "tt100k_cropped_train_32x32.npz")
    return tt100k.load_cropped(tmp, "train")


def _tt100k_background_truncated(tmp):
    import zipfile

    from oodrepro.data import tt100k

    with zipfile.ZipFile(tmp / "tt100k_background_256.zip", "w") as z:
        z.writestr("bg/train_0.jpg", bytes(2000))
    _cut(tmp / "tt100k_background_256.zip")
    return tt100k.cropped_background(tmp, 2)


def _raw_bank_truncated(tmp):
    from oodrepro.experiments.kpca import features

    np.zeros((10, 8), np.float32).tofile(tmp / "bank.bin")
    return features.bank_features(_cut(tmp / "bank.bin", 0.55), dim=8)



def _small_memory(monkeypatch, nbytes=10**6):
    from oodrepro.detectors import kpca

    monkeypatch.setattr(kpca, "available_memory", lambda: nbytes)


def _kpca_fit_m_over_memory(tmp, monkeypatch):  # numpy's MemoryError deep inside fit, naming nothing
    from oodrepro.detectors import KPCA

    _small_memory(monkeypatch)
    return KPCA(n_components=2000).fit([np.random.default_rng(0).normal(size=(50, 8))])


def _exact_kpca_n_over_memory(tmp, monkeypatch):
    from oodrepro.detectors import ExactKPCA

    _small_memory(monkeypatch, 10**5)
    return ExactKPCA().fit([np.random.default_rng(0).normal(size=(200, 8))])


def _page_param_over_memory(page, **kw):
    def f(tmp, monkeypatch):
        _small_memory(monkeypatch)
        return config.resolve(page, "smoke", **kw)
    return f


CASES = [
    # data: values outside their meaning (issue 12, item 6, and the same class elsewhere)
    ("npz-uint16", _uint16, DataFormatError, "got uint16 in [32000, 32000]"),
    ("npz-float-minus1-1", _float_pm1, DataFormatError, "float pixel values must lie in [0, 1]"),
    ("npz-nan-pixels", _nan, DataFormatError, "NaN or inf"),
    ("npz-float-labels", _float_labels, DataFormatError, "labels must be integers"),
    ("npz-label-without-class", _label_beyond_classes, DataFormatError, "label 5 has no class name"),
    ("npz-negative-label", _negative_label, DataFormatError, "labels must be >= 0"),
    ("npz-string-labels", _string_labels, DataFormatError, "labels must be integers, got dtype <U3"),
    ("npz-bool-pixels", _bool_pixels, DataFormatError, "got dtype bool"),
    ("npz-float-0-255", _float_0_255, DataFormatError, "store 0..255 images as uint8"),
    ("npz-int64-over-255", _int_over_255, DataFormatError, "got int64 in [300, 300]"),
    ("npz-2d-x", _two_d_x, DataFormatError, "x must have shape"),
    ("npz-2-channels", _two_channels, DataFormatError, "1 or 3 channels"),
    ("npz-label-count", _label_count, DataFormatError, "one label per image (4)"),
    ("npz-repeated-classes", _repeated_class_names, DataFormatError, "class names repeat"),
    ("features-complex", _complex_features, DataFormatError, "must be real numbers"),
    ("features-overflow", _overflow_features, DataFormatError, "overflow float32"),
    ("image-folder-channels", _image_folder_channels, ParameterError, "channels = 2 is not accepted"),
    # cache: paths built from user input (item 1 and its class)
    ("cache-kind-dotdot", _cache_kind(".."), OodreproError, "cache kind '..' is not accepted"),
    ("cache-kind-absolute", _cache_kind("/etc"), OodreproError, "cache kind '/etc' is not accepted"),
    ("cache-kind-nested", _cache_kind("model/../../x"), OodreproError, "is not accepted"),
    ("cache-kind-empty", _cache_kind(""), OodreproError, "cache kind '' is not accepted"),
    ("cached-kind-dotdot", _cached_kind, OodreproError, "cache kind '../escape'"),
    ("cache-clear-untagged", _clear_untagged_folder, OodreproError, "is not an oodrepro cache"),
    ("cache-unwritable", _unwritable_cache, OodreproError, "is not writable"),
    # results: a result path leaving the results folder under 'oodrepro run'
    ("result-outside-results-dir", _result_outside_results_dir, OodreproError, "is outside the results folder"),
    # list parameters: duplicates and overflow
    ("param-methods-repeat", _param(methods="knn,knn"), ParameterError, "'methods' lists 'knn' more than once"),
    ("param-seeds-repeat", _param(seeds="0,0"), ParameterError, "'seeds' lists 0 more than once"),
    ("param-pairings-repeat", _param(pairings="mnist5k->hflip,mnist5k->hflip"), ParameterError,
     "'pairings' lists 'mnist5k->hflip' more than once"),
    ("param-k-overflow", _param(k=2**40), ParameterError, "'k' = 1099511627776 is out of range"),
    ("param-seed-overflow", _param(seeds=[2**63]), ParameterError, "'seeds' = 9223372036854775808 is out of range"),
    ("param-seeds-count-overflow", _param(seeds=2**40), ParameterError, "out of range"),
    # issue 21, class 2: paths leaving the folder the user gave (image folders, annotation files)
    ("folder-symlink-loop", _folder_symlink_loop, DataFormatError, "loops back to"),
    ("folder-symlink-self", _folder_symlink_self, DataFormatError, "loops back to"),
    ("folder-symlink-outside-dir", _folder_symlink_outside_dir, DataFormatError, "leads outside the folder"),
    ("folder-symlink-outside-file", _folder_symlink_outside_file, DataFormatError, "leads outside the folder"),
    ("folder-symlink-dotdot", _folder_symlink_dotdot, DataFormatError, "leads outside the folder"),
    ("folder-symlink-broken", _folder_symlink_broken, DataFormatError, "is broken or loops"),
    ("folder-subdir-dotdot", _folder_subdir_dotdot, ParameterError, "subdir = '../imgs' is not accepted"),
    ("folder-subdir-absolute", _folder_subdir_absolute, ParameterError, "is not accepted; name a folder inside"),
    ("folder-corrupt-image", _folder_corrupt_image, DataFormatError, "broken.png: not a readable image"),
    ("tt100k-frame-dotdot", _tt100k_frame("../outside.png"), DataFormatError, "path = '../outside.png' is not accepted"),
    ("tt100k-frame-inner-dotdot", _tt100k_frame("train/../../outside.png"), DataFormatError, "without '..'"),
    ("tt100k-frame-absolute", _tt100k_frame(lambda t: str(t / "outside.png")), DataFormatError, "is not accepted"),
    ("tt100k-frame-backslash-dotdot", _tt100k_frame("..\\outside.png"), DataFormatError, "without '..'"),
    ("tt100k-frame-symlink-out", _tt100k_frame_symlink_out, DataFormatError, "outside the data set's folder"),
    ("tt100k-corrupt-frame", _tt100k_corrupt_frame, DataFormatError, "1.png: not a readable image"),
    ("tt100k-background-dotdot", _tt100k_background_dotdot, DataFormatError, "without '..'"),
    # issue 21, class 1: values accepted outside their meaning
    ("spec-class-twice", _spec("mnist5k:classes=2,2,7"), ParameterError, "names class 2 more than once"),
    ("spec-class-empty-entry", _spec("mnist5k:classes=2,,7"), ParameterError, "must list integers"),
    ("subset-class-twice", _subset_twice, ParameterError, "names class 1 more than once"),
    ("kpca-landmarks-m-above-n", _kpca_landmarks_grid_above_n, ParameterError, "'m_grid' = 2048 is above the 40"),
    ("kpca-sensitivity-m-above-n", _kpca_sensitivity_nys_above_n, ParameterError, "use m_grid <= 40"),
    ("raw-bank-float64-as-float32", _raw_bank(_FEATS64, 8), DataFormatError, "not float32 features"),
    ("raw-bank-uint8-as-float32", _raw_bank(np.arange(256, dtype=np.uint8).repeat(4), 8), DataFormatError,
     "not float32 features"),
    ("raw-bank-int32-as-float32", _raw_bank(np.arange(1, 257, dtype=np.int32), 8), DataFormatError, "below 1e-30"),
    ("raw-bank-dtype-unknown", _raw_bank(_FEATS64, 8, dtype="int8"), ParameterError, "'dtype' = 'int8' is not accepted"),
    ("raw-bank-dim-bool", _raw_bank(_FEATS64, True), ParameterError, "parameter 'dim' = True"),
    ("features-int-beyond-2-24", _int_features, DataFormatError, "lose digits in float32"),
    ("logits-overflow-float32-energy", _logits_overflow_float32, ParameterError, "overflow float32"),
    ("logits-overflow-float32-msp", _msp_logits_overflow, ParameterError, "overflow float32"),
    ("embeddings-strings", _embeddings_strings, ParameterError, "must hold real numbers, got dtype <U1"),
    # issue 21, class 4: a wrong-type score array named, not flattened or called NaN
    ("metric-2d-scores", _metric(np.zeros((4, 3))), ParameterError, "scores_in has shape (4, 3)"),
    ("metric-2d-scores-out", _metric([0.1, 0.2], np.ones((2, 2))), ParameterError, "scores_out has shape (2, 2)"),
    ("metric-string-scores", _metric(["0.1", "0.2"]), ParameterError, "scores_in must hold real numbers, got dtype <U3"),
    ("metric-object-scores", _metric(np.array([0.1, None], dtype=object)), ParameterError, "got dtype object"),
    ("metric-complex-scores", _metric(np.array([1 + 1j, 2])), ParameterError, "got dtype complex128"),
    ("metric-none-scores", _metric(None), ParameterError, "scores_in is None"),
    ("metric-scalar-scores", _metric(0.5), ParameterError, "scores_in is a single number"),
    ("metric-ragged-scores", _metric([[0.1, 0.2], [0.3]]), ParameterError, "is not an array of scores"),
    # issue 21, class 4: a full disk names the folder and what to do
    ("cache-disk-full", _cache_disk_full(errno.ENOSPC), OodreproError, "no space left on the device; free space there"),
    ("cache-quota", _cache_disk_full(errno.EDQUOT), OodreproError, "disk quota exceeded"),
    ("cache-read-only-fs", _cache_disk_full(errno.EROFS), OodreproError, "the file system is read-only; make it writable"),
    ("write-atomic-disk-full", _write_atomic_disk_full(errno.ENOSPC), OodreproError, "cannot write x.json in "),
    ("result-disk-full", _result_disk_full, OodreproError, "/res: no space left on the device"),
    # issue 21, class 4: a truncated or damaged data file is named as such, not "not found"
    ("mnist-idx-truncated", _mnist_idx_truncated, DataFormatError, "t10k-images-idx3-ubyte: truncated (1968 bytes; its idx header promises 3936"),
    ("mnist-gz-truncated", _mnist_gz_truncated, DataFormatError, "idx3-ubyte.gz: truncated (the compressed stream"),
    ("emnist-idx-truncated", _emnist_idx_truncated, DataFormatError, "emnist-digits-test-images-idx3-ubyte: truncated"),
    ("svhn-mat-truncated", _svhn_mat_truncated, DataFormatError, "test_32x32.mat: truncated or corrupt"),
    ("cifar10-batch-truncated", _cifar10_batch_truncated, DataFormatError, "test_batch: truncated or corrupt"),
    ("cifar10-jpg-zip-truncated", _cifar10_jpg_zip_truncated, DataFormatError,
     "cifar10_test_jpg.zip: truncated or corrupt zip archive"),
    ("zip-member-damaged", _zip_member_damaged, DataFormatError, "imgs.zip: truncated or corrupt zip archive"),
    ("npz-bundle-truncated", _npz_bundle_truncated, DataFormatError, "bundle.npz: truncated or corrupt .npz"),
    ("npz-compressed-damaged", _npz_compressed_member_damaged, DataFormatError, "feats.npz: truncated or corrupt"),
    ("npy-features-truncated", _npy_features_truncated, DataFormatError, "f.npy: truncated or corrupt feature file"),
    ("npz-features-truncated", _npz_features_truncated, DataFormatError, "f.npz: truncated or corrupt feature file"),
    ("tt100k-cropped-truncated", _tt100k_cropped_truncated, DataFormatError,
     "tt100k_cropped_train_32x32.npz: truncated or corrupt .npz"),
    ("tt100k-background-truncated", _tt100k_background_truncated, DataFormatError,
     "tt100k_background_256.zip: truncated or corrupt zip archive"),
    ("raw-bank-truncated", _raw_bank_truncated, DataFormatError, "rows of width 8 (truncated, or another dim"),
    # issue 21, class 4: a number of neighbours checked against the training set before any network trains, under
    # the page's own parameter name (and never quietly capped)
    ("beyond-k-above-train", _page_param("beyond.objectives", k=4000), ParameterError,
     "parameter 'k' = 4000 is larger than the training set allows"),
    ("beyond-k-above-max-train", _page_param("beyond.objectives", "smoke", k=300), ParameterError, "use k <= 299"),
    ("kpca-motivation-k-above-train", _page_param("kpca.motivation", k=5000), ParameterError,
     "parameter 'k' = 5000 is larger than the training set allows"),
    ("kpca-motivation-k-above-max-train", _page_param("kpca.motivation", k=300, max_train=200), ParameterError,
     "use k <= 200"),
    # issue 21, class 4 (audit of every page parameter that reaches a detector or the training): refused up front
    # under the page's own name, not after the networks train under a detector's argument name, nor capped quietly
    ("knn-layers-below-deepest", _page_param("knn_ls.table1", "smoke", layers=[-4]), ParameterError,
     "parameter 'layers' = -4 is out of range; accepted: >= -3 and <= 0"),
    ("knn-depths-below-deepest", _page_param("knn_ls.table2", "smoke", depths=[-7]), ParameterError,
     "parameter 'depths' = -7 is out of range"),
    ("knn-robust-k-above-bank", _page_param("knn_ls.table1", "smoke", methods=["robust_knn"], robust_k=893,
                                            calibration=0.106), ParameterError, "use robust_k <= 889"),
    ("knn-calibration-holds-out-nothing", _page_param("knn_ls.table1", "smoke", methods=["robust_knn"], max_train=20,
                                                      calibration=0.25, robust_k=1), ParameterError,
     "parameter 'calibration' = 0.25 holds out no calibration image"),
    ("knn-epochs-above-recipe", _page_param("knn_ls.table1", "smoke", epochs=20000), ParameterError,
     "parameter 'epochs': recipe field 'epochs' = 20000 is not accepted"),
    ("kpca-epochs-above-recipe", _page_param("kpca.main", "smoke", epochs=20000), ParameterError,
     "parameter 'epochs': recipe field 'epochs' = 20000"),
    ("odm-epochs-above-recipe", _page_param("odm.tsinghua", "smoke", epochs=20000), ParameterError,
     "parameter 'epochs': recipe field 'epochs' = 20000"),
    ("grid-epochs-above-recipe", _page_param("beyond.objectives", "smoke", epochs=20000), ParameterError,
     "parameter 'epochs': recipe field 'epochs' = 20000"),
    ("kpca-landmarks-m-above-train", _page_param("kpca.landmarks", "smoke", m_grid=[64, 2000]), ParameterError,
     "parameter 'm_grid' = 2000 is larger than the training set allows"),
    ("kpca-sensitivity-m-above-heldout-train", _page_param("kpca.sensitivity", "smoke", pairings=["mnist5k->heldout"],
                                                           m_grid=[900]), ParameterError, "has 800 images"),
    ("kpca-motivation-k-above-heldout-train", _page_param("kpca.motivation", "smoke", pairings=["mnist5k->heldout"],
                                                          k=900), ParameterError, "use k <= 800"),
    ("kpca-main-nystroem-m-above-train", _page_param("kpca.main", "smoke", n_components=2000,
                                                     methods=["kpca_nys", "kpca_rff"]), ParameterError,
     "parameter 'n_components' = 2000 is larger than the training set allows"),
    ("kpca-approx-size-above-n-exact", _page_param("kpca.approximation", "smoke", size_grid=[16, 64, 512], n_exact=300),
     ParameterError, "parameter 'size_grid' = 512 is above n_exact = 300"),
    ("kpca-approx-n-exact-above-train", _page_param("kpca.approximation", "smoke", n_exact=5000), ParameterError,
     "parameter 'n_exact' = 5000 is larger than the training set allows"),
    ("kpca-cost-m-above-smallest-n", _page_param("kpca.cost", "smoke", n_components=2000, n_grid=[100, 200]),
     ParameterError, "parameter 'n_components' = 2000 is above the smallest N of n_grid (100)"),
    ("kpca-heldout-of-cifar", _page_param("kpca.main", "smoke", pairings=["cifar10->heldout"]), ParameterError,
     "pairing 'cifar10->heldout': the held-out classes"),
    ("grid-nystroem-m-above-train", _page_param("beyond.objectives", "smoke", n_components=1000), ParameterError,
     "parameter 'n_components' = 1000 is larger than the training set allows"),
    ("grid-n-components-over-memory", _page_param("beyond.objectives", "smoke", n_components=251370), ParameterError,
     "parameter 'n_components': 251370 needs about"),
    ("odm-figure-dim-1", _page_param("odm.mnist", "smoke", figure_dim=1), ParameterError,
     "parameter 'figure_dim' = 1 is out of range; accepted: >= 2 and <= 3"),
    ("odm-figure-dim-4", _page_param("odm.mnist", "smoke", figure_dim=4), ParameterError,
     "parameter 'figure_dim' = 4 is out of range"),
    ("tsinghua-embedding-dim-1", _page_param("odm.tsinghua", "smoke", embedding_dim=1), ParameterError,
     "parameter 'embedding_dim' = 1 is out of range; accepted: >= 2"),
    ("odm-recipe-with-label-smoothing", _page_param("odm.mnist", "smoke", recipe="cifar_speedrun"), ParameterError,
     "parameter 'recipe' = 'cifar_speedrun' is not accepted"),
    ("theory-k-grid-runs-nowhere", _page_param("knn_ls.theory", "smoke", n_grid=[50], k_grid=[100]), ParameterError,
     "parameter 'k_grid' = 100 runs at no sample size"),
    ("theory-k-grid-above-every-n", _page_param("knn_ls.theory", "smoke", k_grid=[1, 5000], n_grid=[500]),
     ParameterError, "use k_grid values below 500"),
    ("theory-prop1-ks-above-n", _page_param("knn_ls.theory", "smoke", prop1_n=50, prop1_ks=[100]), ParameterError,
     "parameter 'prop1_ks' = 100 runs at no sample size"),
    ("kpca-cost-bank-over-memory", _page_param_over_memory("kpca.cost", n_grid=[1000, 10**9]), ParameterError,
     "parameter 'n_grid' = 1000000000 needs about"),
    ("odm-threads-absurd", _page_param("odm.mnist", "smoke", threads=10**6), ParameterError,
     "parameter 'threads' = 1000000 is out of range"),
    ("page-results-dir-not-a-folder", _results_dir_unwritable, OodreproError, "is not writable"),
    ("train-threads-zero", _train_threads("0"), ParameterError, "$OODREPRO_TRAIN_THREADS = '0' is not accepted"),
    ("train-threads-word", _train_threads("all"), ParameterError, "$OODREPRO_TRAIN_THREADS = 'all' is not accepted"),
    ("kpca-raw-knn-k-above-n", _raw_knn_k_above_n, ParameterError, "'k' = 5 is larger than the 3 training features"),
    # issue 21, class 1: more background patches asked for than the frames give (was: a smaller test set, unsaid)
    ("tsinghua-n-anomaly-above-frames", _tsinghua_n_anomaly_above_frames, ParameterError,
     "parameter 'n_anomaly' = 1000 needs 2,000 background patches"),
    # issue 21, class 4: M / N too large for memory named up front (estimate and the machine's memory)
    ("kpca-fit-m-over-memory", _kpca_fit_m_over_memory, ParameterError,
     "parameter 'n_components' = 2000 needs about 161.7 MB of memory"),
    ("exact-kpca-n-over-memory", _exact_kpca_n_over_memory, ParameterError,
     "parameter 'train_layers' = 200 needs about 1.9 MB of memory (rows; exact KPCA"),
    ("page-kpca-main-m-over-memory", _page_param_over_memory("kpca.main", n_components=4096), ParameterError,
     "parameter 'n_components': 4096 needs about 671.1 MB of memory"),
    ("page-kpca-sensitivity-m-over-memory", _page_param_over_memory("kpca.sensitivity", m_grid=[128, 4096]),
     ParameterError, "parameter 'm_grid': 4096 needs about"),
    ("page-kpca-landmarks-m-over-memory", _page_param_over_memory("kpca.landmarks", m_grid=[4096]),
     ParameterError, "parameter 'm_grid': 4096 needs"),
    ("page-kpca-approx-n-exact-over-memory", _page_param_over_memory("kpca.approximation", n_exact=4000),
     ParameterError, "parameter 'n_exact': 4000 needs about 768.0 MB"),
    ("page-kpca-cost-m-over-memory", _page_param_over_memory("kpca.cost", n_components=4096), ParameterError,
     "but this machine has 1.0 MB; use a smaller M / m"),
]


@pytest.mark.parametrize("case,call,exc,fragment", CASES, ids=[c[0] for c in CASES])
def test_bad_input(tmp_path, monkeypatch, case, call, exc, fragment):
    import inspect

    args = (tmp_path, monkeypatch) if len(inspect.signature(call).parameters) == 2 else (tmp_path,)
    with pytest.raises(exc) as ei:
        call(*args)
    msg = str(ei.value)
    assert fragment in msg, msg
    assert "\n" not in msg  # one line


def test_the_untagged_folder_survived(tmp_path):
    with pytest.raises(OodreproError):
        _clear_untagged_folder(tmp_path)
    assert (tmp_path / "home" / "Documents" / "thesis.tex").read_text() == "years of work"


@pytest.mark.parametrize("x", [np.full((4, 8, 8), 255, np.int64), np.full((4, 8, 8), 0.25, np.float64),
                               np.full((4, 8, 8, 3), 7, np.uint8)], ids=["int64-0-255", "float-0-1", "uint8-rgb"])
def test_good_bundles_still_load(tmp_path, x):
    ds = data.array_bundle(_bundle(tmp_path, x, LAB))
    assert ds.x.dtype == np.float32 and 0 <= ds.x.min() and ds.x.max() <= 1 and ds.classes == ["0", "1"]
    expect = x.max() / 255 if np.issubdtype(x.dtype, np.integer) else x.max()
    assert np.isclose(ds.x.max(), expect)


def test_integer_valued_float_labels_and_unlabelled_are_accepted(tmp_path):
    ds = data.array_bundle(_bundle(tmp_path, IMG, np.array([0.0, 1.0, -1.0, 1.0])))
    assert ds.y.tolist() == [0, 1, -1, 1]


def test_symlinks_inside_the_folder_are_still_followed(tmp_path):
    root = _imgs(tmp_path)
    (root / "a" / "1.png").symlink_to(root / "b" / "0.png")  # a link to a file inside: accepted
    ds = data.image_folder(root)
    assert len(ds.x) == 3 and ds.classes == ["a", "b"]


def test_a_constant_score_warns_in_one_line():
    from oodrepro import metrics

    with pytest.warns(RuntimeWarning, match="every score is -1 .*constant") as rec:
        assert metrics.auroc([-1.0] * 5, [-1.0] * 4) == pytest.approx(0.5)
    assert "\n" not in str(rec[0].message)


def test_raw_banks_of_the_named_type_still_load(tmp_path):
    from oodrepro.experiments.kpca import features

    _FEATS64.tofile(tmp_path / "b64.bin")
    np.testing.assert_array_equal(features.bank_features(tmp_path / "b64.bin", dim=8, dtype="float64"), _FEATS64)
    z = np.zeros((4, 8), np.float32)
    z.tofile(tmp_path / "zeros.bin")  # all-zero (dead) features are features
    assert features.bank_features(tmp_path / "zeros.bin", dim=8).shape == (4, 8)


def test_a_capped_nystroem_m_is_said_on_the_page():
    """The main and ablation pages share one M / m: Nyström runs with m = N and says so (one warning line)."""
    with pytest.warns(RuntimeWarning, match="Nyström ran with m = 40 landmarks, not n_components = 64") as rec:
        det = _kpca_nys_above_n(None)
    assert det.n_components == 40 and "\n" not in str(rec[0].message)


def test_an_m_within_the_training_set_is_kept(tmp_path):
    from oodrepro.experiments.kpca import methods

    det = methods.kpca(_kpca_feats(), _kpca_cfg(n_components=40), approximation="nystroem")
    assert det.n_components == 40


def test_a_full_disk_leaves_nothing_half_written(tmp_path, monkeypatch):
    """Cache entry and result pair: no .tmp-* left, the old result pair intact (JSON and CSV together)."""

    with pytest.raises(OodreproError, match="no space left"):
        _cache_disk_full(errno.ENOSPC)(tmp_path, monkeypatch)
    assert not [p for p in cache.root().rglob("*") if p.name.startswith(".tmp-")]
    monkeypatch.undo()
    monkeypatch.setenv("OODREPRO_CACHE_DIR", str(tmp_path / "c2"))
    res = tmp_path / "res"
    results.write(res / "t.json", "x/y", {}, [{"a": 1}])
    old = {p.name: p.read_bytes() for p in res.iterdir()}
    real = Path.write_bytes

    def json_fails(self, data):  # the CSV fits, the JSON does not
        if ".json" in self.name:
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, data)
    monkeypatch.setattr(Path, "write_bytes", json_fails)
    with pytest.raises(OodreproError, match=f"in {res}: no space left"):
        results.write(res / "t.json", "x/y", {}, [{"a": 2}])
    assert {p.name: p.read_bytes() for p in res.iterdir()} == old
