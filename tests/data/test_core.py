"""oodrepro.data.core: shifts derived from any data set."""
import numpy as np
import pytest

from oodrepro import data
from oodrepro.errors import ParameterError


def test_flips_are_mirrors():
    te = data.load("mnist5k", "test")
    h, v = data.load("mnist5k:hflip", "test"), data.load("mnist5k:vflip", "test")
    np.testing.assert_array_equal(h.x[3, 0, :, 0], te.x[3, 0, :, -1])
    np.testing.assert_array_equal(v.x[3, 0, 0, :], te.x[3, 0, -1, :])
    np.testing.assert_array_equal(data.hflip(h).x, te.x)


def test_noise_sets_seeded_and_in_range():
    g1 = data.load("mnist5k:gaussian", "test", seed=1)
    g2 = data.load("mnist5k:gaussian", "test", seed=1)
    u = data.load("mnist5k:uniform", "test", seed=2)
    assert g1.x.shape == (1000, 1, 28, 28) and np.array_equal(g1.x, g2.x)
    assert g1.x.min() == 0.0 and g1.x.max() == 1.0  # N(0.5, 1) clipped
    assert 0 <= u.x.min() and u.x.max() <= 1 and abs(u.x.mean() - 0.5) < 0.01
    assert not np.array_equal(g1.x, data.load("mnist5k:gaussian", "test", seed=3).x)


def test_class_subset_relabels():
    s = data.load("mnist5k:classes=2,6,7", "train")
    assert len(s) == 1200 and sorted(np.unique(s.y)) == [0, 1, 2] and s.classes == ["2", "6", "7"]
    with pytest.raises(ParameterError, match="classes \\[11\\] not present"):
        data.load("mnist5k:classes=2,11", "train")


def test_conform_channels_and_size():
    d = data.load("digits", "test")
    c = data.conform(d, 3, 32)
    assert c.x.shape[1:] == (3, 32, 32)
    np.testing.assert_allclose(c.x[:, 0], c.x[:, 2])
