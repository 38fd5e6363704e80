"""oodrepro.data.embedded: the data sets shipped with the package."""
import hashlib

import numpy as np

from oodrepro import data


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
