"""kpca's approximation page: the norm and raw k-NN scores."""
import numpy as np
import pytest

from oodrepro.experiments.kpca import approx


def test_norm_and_raw_knn_scores():
    z = np.array([[3.0, 4.0], [1.0, 0.0]])
    assert np.allclose(approx.NormScore().fit([z]).score([z]), [-5.0, -1.0])
    d = approx.RawKNN(1).fit([np.array([[0.0, 0.0], [10.0, 0.0]])]).score([np.array([[1.0, 0.0]])])
    assert d[0] == pytest.approx(1.0)
