"""The :class:`Dataset` container and shape/derivation helpers shared by every loader."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DataFormatError, ParameterError


@dataclass
class Dataset:
    """Images as arrays: ``x`` float32 of shape (N, C, H, W) in [0, 1]; ``y`` int64 (N,), -1 if unlabelled.

    ``name`` is the registry spec it was loaded from (e.g. ``"mnist5k:hflip"``); ``note`` says what a
    reader should know about the copy (``"CIFAR-10 (JPEG copy)"``).
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    classes: list = field(default_factory=list)
    note: str = ""

    def __post_init__(self):
        self.x = np.ascontiguousarray(self.x, dtype=np.float32)
        self.y = np.asarray(self.y, dtype=np.int64)
        if self.x.ndim != 4:
            raise DataFormatError(f"data set {self.name!r}: x must have shape (N, C, H, W), got {self.x.shape}")
        if len(self.x) != len(self.y):
            raise DataFormatError(f"data set {self.name!r}: {len(self.x)} images but {len(self.y)} labels")

    def __len__(self) -> int:
        return len(self.x)

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, n={len(self)}, shape={tuple(self.x.shape[1:])}, classes={len(self.classes)})"

    @property
    def shape(self) -> tuple:
        return tuple(self.x.shape[1:])

    @cached_property
    def fingerprint(self) -> str:
        """SHA-1 of the pixels and labels: part of every cache key built from this data."""
        h = hashlib.sha1()
        h.update(str(self.x.shape).encode())
        h.update(self.x.tobytes())
        h.update(self.y.tobytes())
        return h.hexdigest()

    def subset(self, index, name: str | None = None) -> "Dataset":
        index = np.asarray(index)
        return Dataset(name or self.name, self.x[index], self.y[index], list(self.classes), self.note)


def check_pixels(where: str, a: np.ndarray) -> float:
    """Check that ``a`` holds pixel values and return the divisor that maps them to [0, 1].

    Accepted: integers in 0–255 (any integer dtype; divided by 255) and finite floats in [0, 1].
    Anything else — ``uint16`` or ``int32`` values above 255, negative values, floats in [−1, 1] or
    [0, 255], NaN or inf, booleans, complex numbers, strings — raises :class:`DataFormatError` naming
    ``where`` and what was found, instead of loading as wrong data.
    """
    if a.size == 0:
        raise DataFormatError(f"{where}: no images (x has shape {a.shape})")
    if np.issubdtype(a.dtype, np.integer):
        lo, hi = int(a.min()), int(a.max())
        if lo < 0 or hi > 255:
            raise DataFormatError(f"{where}: pixel values must be integers in 0..255 or floats in [0, 1]; "
                                  f"got {a.dtype} in [{lo}, {hi}]")
        return 255.0
    if np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise DataFormatError(f"{where}: pixel values contain NaN or inf")
        lo, hi = float(a.min()), float(a.max())
        if lo < 0.0 or hi > 1.0:
            raise DataFormatError(f"{where}: float pixel values must lie in [0, 1]; got {a.dtype} in "
                                  f"[{lo:g}, {hi:g}] (store 0..255 images as uint8)")
        return 1.0
    raise DataFormatError(f"{where}: pixel values must be integers in 0..255 or floats in [0, 1]; got dtype {a.dtype}")


def check_labels(where: str, y, n: int, classes) -> np.ndarray:
    """Labels: one integer per image, ``-1`` (unlabelled) or a class index from ``0`` to ``len(classes) - 1``."""
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise DataFormatError(f"{where}: labels must be a 1-D array with one label per image ({n}), got shape {y.shape}")
    if np.issubdtype(y.dtype, np.floating):
        if not np.isfinite(y).all() or not np.all(y == np.round(y)):
            raise DataFormatError(f"{where}: labels must be integers; got non-integer {y.dtype} values")
        y = y.astype(np.int64)
    elif not np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_:
        raise DataFormatError(f"{where}: labels must be integers, got dtype {y.dtype}")
    y = y.astype(np.int64)
    if n and y.min() < -1:
        raise DataFormatError(f"{where}: labels must be >= 0 (or -1 for unlabelled), got {int(y.min())}")
    if classes is not None and len(classes) and n and y.max() >= len(classes):
        raise DataFormatError(f"{where}: label {int(y.max())} has no class name ({len(classes)} classes given); "
                              f"labels must be 0..{len(classes) - 1}")
    return y


def from_uint8(name: str, images: np.ndarray, labels, classes, layout: str = "NHWC", note: str = "") -> Dataset:
    """Build a :class:`Dataset` from images in ``NHW``, ``NHWC`` or ``NCHW`` layout.

    Pixels must be integers in 0–255 or floats in [0, 1] and labels integers that index ``classes``
    (see :func:`check_pixels`, :func:`check_labels`); anything else raises :class:`DataFormatError`.
    """
    a = np.asarray(images)
    if a.ndim not in (3, 4):
        raise DataFormatError(f"{name}: images must have shape (N, H, W), (N, H, W, C) or (N, C, H, W); got {a.shape}")
    scale = check_pixels(name, a)
    y = check_labels(name, labels, len(a), classes)
    if a.ndim == 3:
        a = a[:, None, :, :]
    elif layout == "NHWC":
        a = a.transpose(0, 3, 1, 2)
    if a.shape[1] not in (1, 3):
        raise DataFormatError(f"{name}: images must have 1 or 3 channels, got shape {a.shape} after layout {layout}")
    return Dataset(name, a.astype(np.float32) / scale, y, list(classes), note)


def conform(ds: Dataset, channels: int, size: int) -> Dataset:
    """Resize to ``size``×``size`` (bilinear, antialiased) and match the channel count.

    Grey → colour repeats the channel; colour → grey takes the ITU-R 601 luma. Used to feed an OOD
    set to a model trained on another shape (e.g. scikit-learn's 8×8 digits to an MNIST model).
    """
    x = torch.from_numpy(ds.x)
    c = x.shape[1]
    if c != channels:
        if c == 1:
            x = x.repeat(1, channels, 1, 1)
        elif channels == 1 and c == 3:
            w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
            x = (x * w).sum(1, keepdim=True)
        else:
            raise ParameterError(f"cannot convert {c} channels to {channels}")
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        x = x.clamp(0, 1)
    return Dataset(ds.name, x.numpy(), ds.y, ds.classes, ds.note)


# --- derived OOD sets -------------------------------------------------------------------------
def hflip(ds: Dataset) -> Dataset:
    """Mirror left–right (knn-ls Table 1, row "HFlip")."""
    return Dataset(f"{ds.name}:hflip", ds.x[..., ::-1], ds.y, ds.classes, ds.note)


def vflip(ds: Dataset) -> Dataset:
    """Mirror upside-down (knn-ls Table 1, row "VFlip")."""
    return Dataset(f"{ds.name}:vflip", ds.x[..., ::-1, :], ds.y, ds.classes, ds.note)


def gaussian_noise(ds: Dataset, seed: int = 0, mean: float = 0.5, std: float = 1.0) -> Dataset:
    """Images of N(mean, std²) pixels clipped to [0, 1], as many and as shaped as ``ds``.

    The defaults N(0.5, 1) clipped to [0, 1] follow the odm authors' code.
    """
    rng = np.random.default_rng(seed)
    x = np.clip(rng.normal(mean, std, size=ds.x.shape), 0.0, 1.0)
    return Dataset(f"{ds.name}:gaussian", x, np.full(len(ds), -1), [], "synthetic")


def uniform_noise(ds: Dataset, seed: int = 0) -> Dataset:
    """Images of U[0, 1] pixels, as many and as shaped as ``ds``."""
    rng = np.random.default_rng(seed)
    return Dataset(f"{ds.name}:uniform", rng.uniform(0, 1, size=ds.x.shape), np.full(len(ds), -1), [], "synthetic")


def class_subset(ds: Dataset, classes, relabel: bool = True) -> Dataset:
    """Keep the images whose label is in ``classes`` (odm's 2/6/7 in-distribution split).

    With ``relabel`` the kept classes are renumbered 0..len(classes)-1 in the order given.
    """
    classes = [int(c) for c in classes]
    twice = sorted({c for c in classes if classes.count(c) > 1})
    if twice:  # relabelling would give one class two labels, and the subset would read as len(classes) classes
        raise ParameterError(f"class subset {classes} of {ds.name!r} names class {twice[0]} more than once; "
                             "list each class once, e.g. 'classes=2,6,7'")
    present = set(np.unique(ds.y).tolist())
    missing = [c for c in classes if c not in present]
    if missing or not classes:
        raise ParameterError(f"class subset {classes} of {ds.name!r}: classes {missing} not present; "
                             f"labels present: {sorted(present)}")
    keep = np.isin(ds.y, classes)
    y = ds.y[keep]
    names = list(ds.classes) if ds.classes else [str(c) for c in range(max(present) + 1)]
    if relabel:
        lut = {c: i for i, c in enumerate(classes)}
        y = np.array([lut[int(v)] for v in y], dtype=np.int64)
        names = [names[c] for c in classes]
    tag = ",".join(map(str, classes))
    return Dataset(f"{ds.name}:classes={tag}", ds.x[keep], y, names, ds.note)
