"""oodrepro.detectors.classical: one-class SVM and Isolation Forest per layer, and the normalisations
(knn-ls Table 1 baselines)."""
import numpy as np
import pytest
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import NotFittedError
from sklearn.svm import OneClassSVM

from oodrepro.detectors import NORMALISATIONS, IsolationForestDetector, OneClassSVMDetector, normalise_scores
from oodrepro.detectors import one_class_svm, per_layer
from oodrepro.errors import ParameterError


def test_normalise_scores_hand_values():
    t = np.array([1.0, 2.0, 3.0, 4.0])  # mean 2.5, population std sqrt(1.25)
    np.testing.assert_allclose(normalise_scores([2.5, 5.0], t, "train_mean"), [1.0, 2.0])
    np.testing.assert_allclose(normalise_scores([2.5, 5.0], t, "zscore"), [0.0, 2.5 / np.sqrt(1.25)])
    np.testing.assert_allclose(normalise_scores([0.0, 2.0, 2.5, 10.0], t, "rank"), [0.0, 0.5, 0.5, 1.0])
    with pytest.raises(ValueError, match="non-negative"):
        normalise_scores([1.0], [-1.0, 2.0], "train_mean")
    with pytest.raises(ValueError, match="constant"):
        normalise_scores([1.0], [2.0, 2.0], "zscore")
    with pytest.raises(ParameterError, match="'normalise' = 'max'"):
        normalise_scores([1.0], t, "max")


def test_aggregate_is_mean_of_normalised_layers():
    raw = np.array([[1.0, 4.0], [10.0, 30.0]])
    train_s = [np.array([1.0, 3.0]), np.array([10.0, 30.0])]  # means 2 and 20
    np.testing.assert_allclose(per_layer.aggregate(raw, train_s, "train_mean"), [(0.5 + 0.5) / 2, (2 + 1.5) / 2])


def test_svdd_distance_agrees_with_sklearn(rng):
    X, q = rng.normal(size=(300, 5)), rng.normal(size=(50, 5)) * 2
    svm = OneClassSVM(kernel="rbf", gamma="scale", nu=0.1).fit(X)
    g = one_class_svm.rbf_gamma(X, "scale")
    a = svm.dual_coef_.ravel()
    np.testing.assert_allclose(one_class_svm.rbf_kernel_sum(q, svm.support_vectors_, a, g), svm.score_samples(q), rtol=1e-6)
    d2 = one_class_svm.svdd_sq_distance(q, svm.support_vectors_, a, g)
    # brute force: ||φ(x) - c||² with c = Σ a_i φ(z_i) / A, K(x, x) = 1
    K = lambda u, v: np.exp(-g * ((u[:, None, :] - v[None, :, :]) ** 2).sum(-1))  # noqa: E731
    zz = svm.support_vectors_
    brute = 1 - 2 * K(q, zz) @ a / a.sum() + a @ K(zz, zz) @ a / a.sum() ** 2
    np.testing.assert_allclose(d2, brute, rtol=1e-9)
    assert np.all(d2 >= 0)
    # it ranks exactly as the SVM's decision function (reversed)
    np.testing.assert_array_equal(np.argsort(d2), np.argsort(-svm.decision_function(q)))


@pytest.mark.parametrize("normalise", NORMALISATIONS)
@pytest.mark.parametrize("make", [lambda n: OneClassSVMDetector(normalise=n),
                                  lambda n: IsolationForestDetector(n_estimators=50, normalise=n)])
def test_far_points_score_higher(rng, make, normalise):
    tr = [rng.normal(size=(400, 4)), rng.normal(size=(400, 3)) * 10]
    det = make(normalise).fit(tr)
    q = [np.array([[0.0] * 4, [8.0] * 4]), np.array([[0.0] * 3, [80.0] * 3])]
    s = det.score(q)
    assert s[1] > s[0]
    np.testing.assert_allclose(s, det.normalised_layers(q).mean(axis=0))


def test_score_all_and_layers_consistent(rng):
    tr = [rng.normal(size=(200, 4)), rng.exponential(size=(200, 2))]
    te = [rng.normal(size=(30, 4)) * 1.5, rng.exponential(size=(30, 2))]
    det = IsolationForestDetector(n_estimators=30, normalise="zscore", seed=3).fit(tr)
    allv = det.score_all(te)
    assert set(allv) == set(NORMALISATIONS)
    np.testing.assert_allclose(allv["zscore"], det.score(te))
    raw = det.score_layers(te)
    for n in NORMALISATIONS:
        per = [normalise_scores(raw[i], det.train_scores_[i], n) for i in range(2)]
        np.testing.assert_allclose(allv[n], np.mean(per, axis=0))
        np.testing.assert_allclose(det.normalised_layers(te, n), np.stack(per))
    # the layer score is the Isolation Forest anomaly score of scikit-learn with the same seed
    ref = IsolationForest(n_estimators=30, random_state=3).fit(tr[0])
    np.testing.assert_allclose(raw[0], -ref.score_samples(te[0]))
    assert np.all((raw > 0) & (raw <= 1))
    # rank normalisation: training scores map into (0, 1]
    assert np.all((allv["rank"] >= 0) & (allv["rank"] <= 1))


def test_ocsvm_max_fit_subsample_is_seeded(rng):
    tr = [rng.normal(size=(500, 3))]
    a = OneClassSVMDetector(max_fit=100, seed=2).fit(tr)
    b = OneClassSVMDetector(max_fit=100, seed=2).fit(tr)
    assert len(a.fit_index_) == 100 and len(np.unique(a.fit_index_)) == 100
    np.testing.assert_array_equal(a.fit_index_, b.fit_index_)
    assert len(a.train_scores_[0]) == 500  # normalisation uses every training point
    assert len(OneClassSVMDetector(max_fit=None).fit(tr).fit_index_) == 500
    np.testing.assert_allclose(a.estimators_[0]["gamma"], 1 / (3 * tr[0][a.fit_index_].var()), rtol=1e-5)


@pytest.mark.parametrize("kw, msg", [({"nu": 0}, "'nu' = 0 .* 0 < nu <= 1"), ({"nu": 1.5}, "'nu' = 1.5"),
                                     ({"normalise": "mean"}, "'normalise' = 'mean'"),
                                     ({"max_fit": 1}, "'max_fit' = 1"), ({"gamma": -1.0}, "'gamma' = -1.0")])
def test_ocsvm_bad_parameters(rng, kw, msg):
    with pytest.raises(ParameterError, match=msg):
        OneClassSVMDetector(**kw).fit([rng.normal(size=(20, 2))])


def test_classical_bad_input(rng):
    X = rng.normal(size=(30, 2))
    for det in (OneClassSVMDetector(), IsolationForestDetector(n_estimators=5)):
        with pytest.raises(ParameterError, match="empty layer list"):
            det.fit([])
        with pytest.raises(NotFittedError):
            det.score([X])
        with pytest.raises(NotFittedError):
            det.score_all([X])
        det.fit([X])
        with pytest.raises(ValueError, match="fitted on 1 layer"):
            det.score([X, X])
    with pytest.raises(ParameterError, match="'n_estimators' = 0"):
        IsolationForestDetector(n_estimators=0).fit([X])
    with pytest.raises(ParameterError, match="'normalise' = 'none'"):
        IsolationForestDetector(normalise="none").fit([X])
    det = IsolationForestDetector(n_estimators=5).fit([X])
    with pytest.raises(ParameterError, match="'normalise' = 'x'"):
        det.normalised_layers([X], "x")
