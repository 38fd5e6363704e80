"""Loaders for files a user brings: image folders (also zipped), array bundles and feature banks."""
from __future__ import annotations

import hashlib
import os
import shutil
import uuid
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .. import cache
from ..errors import DataFormatError, DataNotFoundError, ParameterError
from .core import Dataset, check_labels, check_pixels, from_uint8


def staging_dir() -> Path:
    """Where archives are unpacked: inside the cache root, never inside the user's data folder."""
    return cache.root() / "staged"


def tree_fingerprint(path: Path) -> str:
    """SHA-1 over what a folder (or a zip) holds, for cache keys of data decoded from it.

    A folder: every file below it, at any depth, as (relative path, size, modification time in ns) —
    adding, removing, renaming or rewriting an image in a class sub-folder changes it (the folder's
    own size and time do not change when a file two levels down does). A zip: the archive's member
    list with each member's CRC-32 and size, i.e. its content. Files are stat-ed, not read: a change
    that keeps a file's size *and* its nanosecond modification time (``touch -r``) is not seen.
    """
    h = hashlib.sha1()
    path = Path(path)
    if path.is_file():
        if zipfile.is_zipfile(path):
            try:
                with zipfile.ZipFile(path) as z:
                    for i in sorted(z.infolist(), key=lambda i: i.filename):
                        h.update(f"{i.filename}\0{i.CRC}\0{i.file_size}\n".encode())
                return "zip:" + h.hexdigest()
            except (zipfile.BadZipFile, OSError):
                pass
        st = path.stat()
        h.update(f"{st.st_size}\0{st.st_mtime_ns}".encode())
        return "file:" + h.hexdigest()
    seen = set()  # (device, inode) of folders walked: a symlink loop is walked once, not forever
    for dirpath, dirnames, filenames in os.walk(path, followlinks=True):
        try:
            st = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen:
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirnames.sort()
        rel = os.path.relpath(dirpath, path)
        for f in sorted(filenames):
            try:
                st = os.stat(os.path.join(dirpath, f))
            except OSError:
                continue
            h.update(f"{rel}/{f}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return "dir:" + h.hexdigest()


def check_tree(folder: Path, what: str = "image folder") -> None:
    """Refuse a folder whose symlinks leave it or loop.

    torchvision's ``ImageFolder`` follows symlinks: a link to a folder outside ``folder`` reads images from
    elsewhere, and a link to an ancestor (a loop) multiplies every image below it under new class names.
    A symlink that resolves inside ``folder`` and is not an ancestor of itself is accepted; a broken one
    is refused too (ImageFolder would fail on it with a traceback).
    """
    base = Path(folder).resolve()
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if not p.is_symlink():
                continue
            try:
                target = p.resolve(strict=True)
            except (OSError, RuntimeError):
                raise DataFormatError(f"{what} {folder}: symlink {p} is broken or loops; remove it") from None
            if not target.is_relative_to(base):
                raise DataFormatError(f"{what} {folder}: symlink {p} leads outside the folder (to {target}); "
                                      "copy the files in or remove the link") from None
            if target.is_dir() and p.parent.resolve().is_relative_to(target):
                raise DataFormatError(f"{what} {folder}: symlink {p} loops back to {target}; remove it")


def _stage_zip(path: Path) -> Path:
    """Unpack ``path`` once into the staging area (atomically) and return the folder.

    The folder's name carries the archive's content fingerprint (member names and CRCs), so an edited
    archive is unpacked afresh instead of reusing the old copy.
    """
    dest = staging_dir() / f"{path.stem}-{tree_fingerprint(path).split(':')[1][:16]}"
    if dest.is_dir():
        return dest
    tmp = dest.parent / f".tmp-{dest.name}-{uuid.uuid4().hex[:6]}"
    tmp.mkdir(parents=True)
    try:
        try:
            with zipfile.ZipFile(path) as z:
                z.extractall(tmp)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:  # cut short, or a damaged member
            raise DataFormatError(f"{path}: truncated or corrupt zip archive ({type(exc).__name__}: {exc}, "
                                  f"{path.stat().st_size} bytes); replace it with a fresh copy") from None
        try:
            os.replace(tmp, dest)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def image_folder(path, subdir: str | None = None, size: int | None = None, channels: int | None = None,
                 name: str | None = None, note: str = "") -> Dataset:
    """Images in ``<path>/<class>/<file>`` (torchvision's ``ImageFolder`` layout), or inside a ``.zip``.

    ``subdir`` selects a folder inside (``"train"`` in ``cifar10_train_jpg.zip``); ``size`` resizes to
    ``size``×``size`` and ``channels`` converts to 1 (L) or 3 (RGB). Decoded arrays are cached.
    This is how ImageNet-32, Tiny-ImageNet, LSUN, Textures and similar folders load.
    """
    from torchvision.datasets import ImageFolder

    path = Path(path)
    if not path.exists():
        raise DataNotFoundError(name or path.name, str(path),
                                "Give the path of a folder of class sub-folders of images, or of a .zip holding one")
    if channels not in (None, 1, 3):
        raise ParameterError(f"channels = {channels!r} is not accepted; use 1, 3 or None")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise ParameterError(f"size = {size!r} is not accepted; use a positive integer or None")
    if subdir is not None and (not isinstance(subdir, str) or not subdir or Path(subdir).is_absolute()
                               or ".." in Path(subdir).parts):
        raise ParameterError(f"subdir = {subdir!r} is not accepted; name a folder inside {path} (no '..', not absolute)")
    params = {"path": str(path.resolve()), "subdir": subdir, "size": size, "channels": channels}
    if path.is_dir():  # before the cache is asked: a link out or a loop is refused whatever was cached
        check_tree(path / subdir if subdir and (path / subdir).is_dir() else path)

    def build():
        base = _stage_zip(path) if path.suffix.lower() == ".zip" else path
        folder = base / subdir if subdir else base
        if folder.exists() and not folder.resolve().is_relative_to(base.resolve()):
            raise DataFormatError(f"{path}: folder {subdir!r} leads outside it")
        if not folder.is_dir():
            raise DataFormatError(f"{path}: no folder {subdir!r} inside")
        mode = {1: "L", 3: "RGB", None: "RGB"}[channels]
        check_tree(folder)
        try:
            ds = ImageFolder(str(folder))
        except (FileNotFoundError, RuntimeError) as exc:
            raise DataFormatError(f"{folder}: not an image-folder layout ({exc})") from None
        imgs = []
        for file, _ in ds.samples:
            try:
                img = ds.loader(file).convert(mode)
            except (OSError, ValueError, SyntaxError) as exc:  # PIL: truncated or not an image
                raise DataFormatError(f"{file}: not a readable image ({type(exc).__name__}: "
                                      f"{str(exc).splitlines()[0] if str(exc) else ''}); remove or replace it") from None
            if size:
                img = img.resize((size, size))
            imgs.append(np.asarray(img, dtype=np.uint8))
        try:
            x = np.stack(imgs)
        except ValueError:
            raise DataFormatError(f"{folder}: images differ in size; pass size=") from None
        return {"x": x, "y": np.array(ds.targets), "classes": list(ds.classes)}

    arr = cache.cached("images", params, build, fingerprint=tree_fingerprint(path))
    return from_uint8(name or path.stem, arr["x"], arr["y"], arr["classes"], note=note)


def array_bundle(path, name: str | None = None, note: str = "") -> Dataset:
    """An ``.npz`` holding ``x`` (images: N×H×W, N×H×W×C or N×C×H×W), ``y`` and optionally ``classes``."""
    path = Path(path)
    if not path.exists():
        raise DataNotFoundError(name or path.stem, str(path), "Give the path of an .npz with arrays x and y")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = {"x", "y"} - set(z.files)
            if missing:
                raise DataFormatError(f"{path}: array bundle lacks {sorted(missing)}; it holds {z.files}")
            x, y = z["x"], z["y"]
            classes = [str(c) for c in z["classes"]] if "classes" in z.files else None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        if isinstance(exc, DataFormatError):
            raise
        raise DataFormatError(f"{path}: truncated or corrupt .npz array bundle ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''}; {path.stat().st_size} bytes); "
                              "replace it with a fresh copy") from None
    if x.ndim not in (3, 4):
        raise DataFormatError(f"{path}: x must have shape (N, H, W), (N, H, W, C) or (N, C, H, W); got {x.shape}")
    if classes is not None and len(set(classes)) != len(classes):
        raise DataFormatError(f"{path}: class names repeat: {classes}")
    y = check_labels(str(path), y, len(x), classes)
    if classes is None:  # labels index the classes: name them 0..max
        classes = [str(c) for c in range(int(y.max()) + 1)] if len(y) and y.max() >= 0 else []
    layout = "NCHW" if x.ndim == 4 and x.shape[1] in (1, 3) and x.shape[-1] not in (1, 3) else "NHWC"
    check_pixels(str(path), x)
    return from_uint8(name or path.stem, x, y, classes, layout=layout, note=note)


def load_features(path, key: str | None = None, dim: int | None = None) -> np.ndarray:
    """A pre-extracted feature bank: ``.npy`` (one array) or ``.npz`` (``key`` picks the array).

    The result is float32 of shape (N, D); anything else raises :class:`DataFormatError` naming the file.
    """
    path = Path(path)
    if not path.exists():
        raise DataNotFoundError(path.stem, str(path), "Give the path of a .npy or .npz feature file")
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                k = key or (z.files[0] if len(z.files) == 1 else None)
                if k is None or k not in z.files:
                    raise DataFormatError(f"{path}: pass key= one of {z.files}")
                a = z[k]
        else:
            a = np.load(path, allow_pickle=False)
    except DataFormatError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataFormatError(f"{path}: truncated or corrupt feature file ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''}; {path.stat().st_size} bytes); "
                              "replace it with a fresh copy") from None
    if a.ndim != 2 or a.shape[0] == 0:
        raise DataFormatError(f"{path}: features must be a non-empty 2-D array (N, D), got shape {a.shape}")
    if dim is not None and a.shape[1] != dim:
        raise DataFormatError(f"{path}: features have dimension {a.shape[1]}, expected {dim}")
    if not np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.complexfloating):
        raise DataFormatError(f"{path}: features must be real numbers, got dtype {a.dtype}")
    if not np.isfinite(a).all():
        raise DataFormatError(f"{path}: features contain NaN or inf")
    if np.issubdtype(a.dtype, np.integer) and a.size and int(np.max(np.abs(a.astype(np.float64)))) > 2 ** 24:
        raise DataFormatError(f"{path}: integer features (dtype {a.dtype}) beyond ±2**24 lose digits in float32; "
                              "store them as float32 (rescaled) or float64")
    with np.errstate(over="ignore"):
        f = a.astype(np.float32)
    if not np.isfinite(f).all():
        raise DataFormatError(f"{path}: features overflow float32 (|value| > 3.4e38)")
    return f
