"""Real benchmark data sets through torchvision, read from ``OODREPRO_DATA_ROOT`` (never downloaded
unless the caller passes ``download=True``).

Every loader first checks, in microseconds, that the files torchvision needs are on disk; when they
are not, it raises :class:`~oodrepro.errors.DataNotFoundError` naming the data set, the path it looked
at and how to obtain the files — it never tries the network on its own.

MNIST-style sets whose ``raw/`` folder holds only the official ``.gz`` files (as ``../shared/data``
does, read-only) are verified against torchvision's MD5s and unpacked into the cache's staging area,
not into the data folder. Decoded arrays are cached, so the second load is fast.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import uuid
from pathlib import Path

import numpy as np

from .. import cache
from ..errors import DataFormatError, DataNotFoundError, OodreproError
from .core import Dataset, from_uint8
from .files import image_folder, staging_dir, tree_fingerprint

HOW = ("Obtain it on a machine with network with oodrepro.data.load({name!r}, split, download=True) "
       "(torchvision's downloader) and copy the folder over, or point OODREPRO_DATA_ROOT at a copy")


def _how(name: str) -> str:
    return HOW.format(name=name)


def _split_bool(split: str) -> bool:
    return split == "train"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _bad_file(folder: Path, entries) -> Path | None:
    """The first of ``entries`` ((file name, md5), torchvision's lists) under ``folder`` that is present and
    fails its MD5 (truncated or damaged), else ``None``."""
    from torchvision.datasets.utils import check_integrity

    for fname, md5 in entries:
        f = folder / fname
        if f.is_file() and not check_integrity(str(f), md5):
            return f
    return None


def _unreadable(name: str, where: Path, exc: BaseException, download: bool, culprit: Path | None = None):
    """The error for torchvision failing on files that are there: :class:`DataFormatError` naming the file
    (``culprit``, when a checksum found it) or the folder, saying truncated or corrupt — not "not found".
    Only a failed download of files that are not there is :class:`DataNotFoundError`."""
    if isinstance(exc, OodreproError):  # already one line naming its culprit (a corrupt image, a full cache)
        return exc
    if culprit is not None:
        return DataFormatError(f"{culprit}: truncated or corrupt (fails torchvision's MD5 check; "
                               f"{culprit.stat().st_size} bytes); replace it with a fresh copy")
    if where.exists():
        return DataFormatError(f"{where}: {name!r} is there but torchvision could not read it, a file is truncated "
                               f"or corrupt ({_first_line(exc)}); replace it with a fresh copy")
    return DataNotFoundError(name, str(where), f"torchvision failed ({type(exc).__name__}). " + _how(name))


_IDX_TYPES = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}


def check_idx(path: Path) -> None:
    """Refuse an idx file (MNIST's format) that is shorter than its header promises, or has no idx header."""
    import struct

    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(4)
        if len(head) < 4 or head[:2] != b"\0\0" or head[2] not in _IDX_TYPES or not 1 <= head[3] <= 4:
            raise DataFormatError(f"{path}: not an idx file (truncated or corrupt: {size} bytes, no idx header); "
                                  "replace it with a fresh copy")
        dims = f.read(4 * head[3])
    if len(dims) < 4 * head[3]:
        raise DataFormatError(f"{path}: truncated ({size} bytes, the idx header is cut); replace it with a fresh copy")
    expected = 4 + 4 * head[3] + int(np.prod(struct.unpack(f">{head[3]}I", dims), dtype=np.int64)) * _IDX_TYPES[head[2]]
    if size < expected:
        raise DataFormatError(f"{path}: truncated ({size} bytes; its idx header promises {expected}); "
                              "replace it with a fresh copy")


def _gz_fault(src: Path) -> str:
    """Why a .gz failed its MD5: 'truncated' when its stream ends early, else 'corrupt or another version'."""
    try:
        with gzip.open(src, "rb") as f:
            while f.read(1 << 20):
                pass
    except EOFError:
        return "truncated (the compressed stream ends early)"
    except (OSError, ValueError) as exc:
        return f"corrupt ({_first_line(exc)})"
    return "corrupt or another version"


# --- MNIST family -----------------------------------------------------------------------------
def _stage_mnist_raw(cls, root: Path) -> Path:
    """Return a root where ``<cls>/raw`` holds the uncompressed idx files, staging them if needed."""
    from torchvision.datasets.utils import check_integrity

    raw = root / cls.__name__ / "raw"
    names = [os.path.basename(url) for url, _ in cls.resources]
    if all((raw / n[:-3]).is_file() for n in names):
        for n in names:
            check_idx(raw / n[:-3])
        return root
    missing = [n for n in names if not (raw / n).is_file() and not (raw / n[:-3]).is_file()]
    if missing:
        raise FileNotFoundError(raw / missing[0])
    # named by the raw folder's path *and* its files (names, sizes, times): replaced files are staged afresh
    tag = hashlib.sha1(f"{raw.resolve()}\0{tree_fingerprint(raw)}".encode()).hexdigest()[:10]
    dest_root = staging_dir() / f"tv-{cls.__name__}-{tag}"
    dest = dest_root / cls.__name__ / "raw"
    if all((dest / n[:-3]).is_file() for n in names):
        return dest_root
    dest.mkdir(parents=True, exist_ok=True)
    for (url, md5), n in zip(cls.resources, names):
        src = raw / n
        if (raw / n[:-3]).is_file():
            src_u = raw / n[:-3]
            check_idx(src_u)
            tmp = dest / f".tmp-{uuid.uuid4().hex[:6]}"
            shutil.copyfile(src_u, tmp)
            os.replace(tmp, dest / n[:-3])
            continue
        if not check_integrity(str(src), md5):
            raise DataFormatError(f"{src}: {_gz_fault(src)}, fails torchvision's MD5 check for {cls.__name__}; "
                                  "replace it with a fresh copy")
        tmp = dest / f".tmp-{uuid.uuid4().hex[:6]}"
        try:
            with gzip.open(src, "rb") as fi, open(tmp, "wb") as fo:
                shutil.copyfileobj(fi, fo)
            os.replace(tmp, dest / n[:-3])
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return dest_root


def _mnist_like(name: str, cls_name: str, root: Path, split: str, download: bool) -> Dataset:
    import torchvision.datasets as tvd

    cls = getattr(tvd, cls_name)
    raw = root / cls_name / "raw"
    try:
        use_root = _stage_mnist_raw(cls, root)
    except FileNotFoundError:
        if not download:
            files = ", ".join(os.path.basename(u) for u, _ in cls.resources)
            raise DataNotFoundError(name, f"{raw}/ with {files}", _how(name)) from None
        use_root = root
    try:
        ds = cls(str(use_root), train=_split_bool(split), download=download)
    except Exception as exc:  # a failed download (no network) or unreadable files
        raise _unreadable(name, raw, exc, download) from None
    return from_uint8(name, ds.data.numpy(), ds.targets.numpy(), ds.classes)


def mnist(split, root, download=False):
    """MNIST (LeCun et al. 1998): 60,000 train / 10,000 test, 28×28 grey. ``<root>/MNIST/raw/``."""
    return _mnist_like("mnist", "MNIST", root, split, download)


def fashion_mnist(split, root, download=False):
    """Fashion-MNIST (Xiao et al. 2017): 60,000 / 10,000, 28×28 grey. ``<root>/FashionMNIST/raw/``."""
    return _mnist_like("fashion_mnist", "FashionMNIST", root, split, download)


def kmnist(split, root, download=False):
    """Kuzushiji-MNIST (Clanuwat et al. 2018): 60,000 / 10,000, 28×28 grey. ``<root>/KMNIST/raw/``."""
    return _mnist_like("kmnist", "KMNIST", root, split, download)


def emnist_digits(split, root, download=False):
    """EMNIST digits (Cohen et al. 2017): 240,000 / 40,000, 28×28 grey, transposed to MNIST's orientation.

    ``<root>/EMNIST/raw/emnist-digits-{train,test}-{images-idx3,labels-idx1}-ubyte``.
    """
    import torchvision.datasets as tvd

    raw = root / "EMNIST" / "raw"
    files = [raw / f"emnist-digits-{split}-images-idx3-ubyte", raw / f"emnist-digits-{split}-labels-idx1-ubyte"]
    if not all(f.is_file() for f in files) and not download:
        raise DataNotFoundError("emnist_digits", str(files[0]), _how("emnist_digits"))
    try:
        ds = tvd.EMNIST(str(root), split="digits", train=_split_bool(split), download=download)
    except Exception as exc:
        for f in files:
            if f.is_file():
                check_idx(f)
        raise _unreadable("emnist_digits", raw, exc, download) from None
    return from_uint8("emnist_digits", ds.data.numpy().transpose(0, 2, 1), ds.targets.numpy(), ds.classes)


# --- colour sets ------------------------------------------------------------------------------
def svhn(split, root, download=False):
    """SVHN cropped digits (Netzer et al. 2011), 32×32 colour. ``<root>/SVHN/{train,test}_32x32.mat``."""
    import torchvision.datasets as tvd

    f = root / "SVHN" / f"{split}_32x32.mat"
    if not f.is_file() and not download:
        raise DataNotFoundError("svhn", str(f), _how("svhn"))
    try:
        ds = tvd.SVHN(str(root / "SVHN"), split=split, download=download)
    except Exception as exc:
        md5 = tvd.SVHN.split_list.get(split, [None, None, None])[2]
        raise _unreadable("svhn", f, exc, download, _bad_file(f.parent, [(f.name, md5)]) if md5 else None) from None
    return from_uint8("svhn", ds.data, ds.labels, [str(i) for i in range(10)], layout="NCHW")


def cifar10(split, root, download=False):
    """CIFAR-10 (Krizhevsky 2009), 32×32 colour: ``<root>/cifar-10-batches-py/`` (torchvision), or else
    the JPEG copy ``<root>/CIFAR10-jpg/cifar10_{split}_jpg.zip`` (labelled "CIFAR-10 (JPEG copy)")."""
    import torchvision.datasets as tvd

    batches = root / "cifar-10-batches-py"
    jpg = root / "CIFAR10-jpg" / f"cifar10_{split}_jpg.zip"
    if batches.is_dir() or download:
        return _cifar_batches(tvd.CIFAR10, "cifar10", root, batches, split, download)
    if jpg.is_file():
        ds = image_folder(jpg, subdir=split, channels=3, name="cifar10", note="CIFAR-10 (JPEG copy)")
        return ds
    raise DataNotFoundError("cifar10", f"{batches}/ (or {jpg})", _how("cifar10"))


def _cifar_batches(cls, name: str, root: Path, folder: Path, split: str, download: bool) -> Dataset:
    """CIFAR-10/100 from torchvision's pickled batches under ``folder``; a damaged batch file is named."""
    try:
        ds = cls(str(root), train=_split_bool(split), download=download)
    except Exception as exc:
        entries = cls.train_list + cls.test_list + [[cls.meta["filename"], cls.meta["md5"]]]
        raise _unreadable(name, folder, exc, download, _bad_file(folder, entries)) from None
    return from_uint8(name, ds.data, ds.targets, ds.classes)


def cifar100(split, root, download=False):
    """CIFAR-100 (Krizhevsky 2009), 32×32 colour, 100 fine classes. ``<root>/cifar-100-python/``."""
    import torchvision.datasets as tvd

    d = root / "cifar-100-python"
    if not d.is_dir() and not download:
        raise DataNotFoundError("cifar100", str(d), _how("cifar100"))
    return _cifar_batches(tvd.CIFAR100, "cifar100", root, d, split, download)


def _pil_to_arrays(ds, size: int, mode: str, label) -> dict:
    from .._progress import tqdm

    xs, ys = [], []
    for i in tqdm(range(len(ds)), desc="decoding images", leave=False, mininterval=2):
        img, t = ds[i]
        xs.append(np.asarray(img.convert(mode).resize((size, size)), dtype=np.uint8))
        ys.append(label(t))
    return {"x": np.stack(xs), "y": np.array(ys)}


def celeba(split, root, download=False):
    """CelebA (Liu et al. 2015), label = attribute "Smiling"; centre-cropped to 178×178, resized to 32×32.

    ``<root>/celeba/img_align_celeba/`` plus ``list_attr_celeba.txt`` and ``list_eval_partition.txt``.
    ``split`` is ``train``, ``valid`` or ``test`` (CelebA's own partition).
    """
    import torchvision.datasets as tvd
    import torchvision.transforms as T

    d = root / "celeba" / "img_align_celeba"
    if not d.is_dir() and not download:
        raise DataNotFoundError("celeba", str(d), _how("celeba"))

    def build():
        ds = tvd.CelebA(str(root), split=split, target_type="attr", transform=T.CenterCrop(178), download=download)
        smiling = ds.attr_names.index("Smiling")
        return _pil_to_arrays(ds, 32, "RGB", lambda t: int(t[smiling]))

    try:
        arr = cache.cached("images", {"tv": "celeba", "split": split, "root": str(root.resolve())}, build,
                           fingerprint=tree_fingerprint(root / "celeba"))
    except Exception as exc:
        raise _unreadable("celeba", d, exc, download) from None
    return from_uint8("celeba", arr["x"], arr["y"], ["not smiling", "smiling"])


def omniglot(split, root, download=False):
    """Omniglot (Lake et al. 2015) at 32×32, grey ink on white; ``train`` = background set,
    ``test`` = evaluation set. ``<root>/omniglot-py/images_{background,evaluation}/``."""
    import torchvision.datasets as tvd

    sub = "images_background" if split == "train" else "images_evaluation"
    d = root / "omniglot-py" / sub
    if not d.is_dir() and not download:
        raise DataNotFoundError("omniglot", str(d), _how("omniglot"))

    def build():
        ds = tvd.Omniglot(str(root), background=split == "train", download=download)
        return _pil_to_arrays(ds, 32, "L", int)

    try:
        arr = cache.cached("images", {"tv": "omniglot", "split": split, "root": str(root.resolve())}, build,
                           fingerprint=tree_fingerprint(d))
    except Exception as exc:
        raise _unreadable("omniglot", d, exc, download) from None
    return from_uint8("omniglot", arr["x"], arr["y"], [str(c) for c in np.unique(arr["y"])])


def gtsrb(split, root, download=False):
    """GTSRB German traffic signs (Stallkamp et al. 2012), resized to 32×32 colour.
    ``<root>/gtsrb/GTSRB/Training/`` and ``<root>/gtsrb/GTSRB/Final_Test/Images/``."""
    import torchvision.datasets as tvd

    d = root / "gtsrb" / "GTSRB" / ("Training" if split == "train" else "Final_Test/Images")
    if not d.is_dir() and not download:
        raise DataNotFoundError("gtsrb", str(d), _how("gtsrb"))

    def build():
        ds = tvd.GTSRB(str(root), split=split, download=download)
        return _pil_to_arrays(ds, 32, "RGB", int)

    try:
        arr = cache.cached("images", {"tv": "gtsrb", "split": split, "root": str(root.resolve())}, build,
                           fingerprint=tree_fingerprint(root / "gtsrb"))
    except Exception as exc:
        raise _unreadable("gtsrb", d, exc, download) from None
    return from_uint8("gtsrb", arr["x"], arr["y"], [str(i) for i in range(43)])


def imagenet32(split, root, download=False):
    """ImageNet at 32×32 (Chrabaszcz et al. 2017), the paper's "ImageNet" OOD set (validation split).

    Not downloadable through torchvision. Accepted layouts: an image folder
    ``<root>/imagenet32/{train,val}/<class>/<image>`` or an array bundle
    ``<root>/imagenet32/{train,val}.npz`` holding ``x`` (N×32×32×3 uint8) and ``y``.
    ``split="test"`` reads the validation split.
    """
    from .files import array_bundle

    sub = "train" if split == "train" else "val"
    folder, bundle = root / "imagenet32" / sub, root / "imagenet32" / f"{sub}.npz"
    if bundle.is_file():
        return array_bundle(bundle, name="imagenet32")
    if folder.is_dir():
        return image_folder(folder, size=32, channels=3, name="imagenet32")
    raise DataNotFoundError("imagenet32", f"{folder}/ or {bundle}",
                            "Download 'Imagenet32' from image-net.org (downsampled ImageNet) and save it as an "
                            "image folder or an .npz with arrays x and y")
