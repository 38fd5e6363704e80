"""oodrepro.detectors.ncm: the nearest-class-mean detector (odm)."""
import numpy as np
import pytest

from oodrepro.experiments.odm import losses
from oodrepro.detectors import NearestClassMean, ncm
from oodrepro.errors import ParameterError


def test_nearest_class_mean_score_and_prediction():
    emb = np.array([[0, 0], [2, 0], [10, 10], [12, 10]], float)
    mu = ncm.class_means(emb, [0, 0, 1, 1])
    np.testing.assert_allclose(mu, [[1, 0], [11, 10]])
    test = np.array([[1, 1], [11, 13], [6, 5]], float)
    np.testing.assert_allclose(ncm.ncm_score(test, mu), [1, 9, 25 + 25])
    np.testing.assert_array_equal(ncm.ncm_predict(test, mu), [0, 1, 0])
    det = NearestClassMean().fit([emb], y=[0, 0, 1, 1])
    np.testing.assert_allclose(det.score([test]), [1, 9, 50])
    with pytest.raises(ParameterError, match="needs the training labels"):
        NearestClassMean().fit([emb])
    with pytest.raises(ParameterError, match=r"class\(es\) \[1\]"):
        ncm.class_means(emb, [0, 0, 2, 2])
