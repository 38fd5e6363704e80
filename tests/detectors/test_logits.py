"""oodrepro.detectors.logits: the maximum-softmax score."""
import numpy as np
import pytest

from oodrepro.detectors import MaxSoftmax, max_softmax_score


def test_max_softmax():
    logits = np.array([[10.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    s = max_softmax_score(logits)
    assert s[0] == pytest.approx(-1 / (1 + 2 * np.exp(-10)))
    assert s[1] == pytest.approx(-1 / 3)
    np.testing.assert_allclose(MaxSoftmax().fit().score([np.zeros((1, 2)), logits]), s)
