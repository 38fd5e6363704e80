"""oodrepro.detectors.robust_knn: Robust Deep k-NN (a knn-ls Table 1 baseline)."""
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from oodrepro.detectors import RobustKNN, conformal_p_values, cosine_neighbours, nonconformity, robust_knn
from oodrepro.errors import ParameterError


def polar(deg, r=1.0):
    a = np.deg2rad(np.asarray(deg, dtype=float))
    return np.stack([np.cos(a), np.sin(a)], axis=1) * np.asarray(r, dtype=float).reshape(-1, 1)


def test_cosine_neighbours_match_brute_force(rng):
    X, q = rng.normal(size=(300, 6)), rng.normal(size=(40, 6))
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    brute = np.argsort(-(qn @ Xn.T), axis=1)[:, :5]
    np.testing.assert_array_equal(cosine_neighbours(q, X, 5), brute)
    # cosine ignores the norm of the rows
    np.testing.assert_array_equal(cosine_neighbours(q * 7, X * rng.uniform(0.1, 9, size=(300, 1)), 5), brute)


def test_nonconformity_hand_case():
    # two layers, k = 3, C = 3: layer 1 neighbours 0,0,1; layer 2 neighbours 1,1,1
    alpha = nonconformity([np.array([[0, 0, 1]]), np.array([[1, 1, 1]])], 3)
    np.testing.assert_array_equal(alpha, [[1 + 3, 2 + 0, 3 + 3]])


def test_conformal_p_values_hand_case():
    A = np.array([1, 1, 2, 1, 3])
    np.testing.assert_allclose(conformal_p_values(np.array([[0, 1, 2, 3, 4]]), A), [[1, 1, 0.4, 0.2, 0]])


def test_robust_knn_p_values_by_hand():
    """1 layer, k = 3, explicit calibration set; points on rays, so only angles matter."""
    bank_deg = [0, 10, 20, 90, 100, 110, 200, 210, 220]
    bank_y = [0, 0, 1, 1, 1, 0, 2, 0, 1]
    bank = polar(bank_deg, [1, 5, 2, 1, 3, 1, 1, 4, 1])
    # calibration: 5° (label 0) -> nbrs 0,10,20 -> labels 0,0,1 -> α=1;  95° (1) -> 90,100,110 -> α=1;
    # 15° (1) -> 10,20,0 -> α=2;  105° (1) -> 100,110,90 -> α=1;  58° (0) -> 90,20,100 -> α=3
    cal = polar([5, 95, 15, 105, 58], [2, 1, 1, 3, 1])
    cal_y = [0, 1, 1, 1, 0]
    det = RobustKNN(k=3).fit([bank], bank_y, calibration_layers=[cal], calibration_labels=cal_y)
    np.testing.assert_array_equal(np.sort(det.calibration_), [1, 1, 1, 2, 3])
    q = polar([2, 210, 52])
    # 2° -> 0,10,20 (labels 0,0,1): α = [1,2,3];  210° -> 210,200,220 (0,2,1): α = [2,2,2];
    # 52° -> 20,90,10 (1,1,0): α = [2,1,3]
    np.testing.assert_array_equal(det.nonconformity([q]), [[1, 2, 3], [2, 2, 2], [2, 1, 3]])
    p = det.p_values([q])
    np.testing.assert_allclose(p, [[1, 0.4, 0.2], [0.4, 0.4, 0.4], [0.4, 1, 0.2]])
    np.testing.assert_allclose(det.credibility([q]), [1, 0.4, 1])
    np.testing.assert_allclose(det.score([q]), [0, 0.6, 0])
    np.testing.assert_array_equal(det.predict([q]), [0, 0, 1])


def test_robust_knn_pure_cluster_vs_mixed(rng):
    # class 0 along 0°, class 1 along 90° (± 5°), two layers (the second a scaled copy)
    deg = np.concatenate([rng.uniform(-5, 5, 200), rng.uniform(85, 95, 200)])
    y = np.repeat([0, 1], 200)
    X = polar(deg, rng.uniform(0.5, 2, 400))
    det = RobustKNN(k=20, seed=1).fit([X, 3 * X], y)
    assert len(det.calibration_) == 40 and np.all(det.calibration_ == 0)
    assert len(det.bank_labels_) == 360 and np.bincount(det.bank_labels_).tolist() == [180, 180]
    q = polar([0.0, 90.0, 45.0])
    s = det.score([q, 3 * q])
    np.testing.assert_allclose(s[:2], 0.0)  # inside a pure cluster: credibility 1
    assert s[2] == pytest.approx(1.0)  # neighbours from both classes: nonconformity above every calibration value


def test_robust_knn_holdout_is_seeded_and_stratified(rng):
    y = np.repeat([3, 7, 9], [50, 100, 30])
    bank, cal = robust_knn.stratified_holdout(np.unique(y, return_inverse=True)[1], 0.1, seed=4)
    assert [(y[cal] == c).sum() for c in (3, 7, 9)] == [5, 10, 3]
    assert len(np.intersect1d(bank, cal)) == 0 and len(bank) + len(cal) == len(y)
    bank2, cal2 = robust_knn.stratified_holdout(np.unique(y, return_inverse=True)[1], 0.1, seed=4)
    np.testing.assert_array_equal(cal, cal2)
    X = rng.normal(size=(len(y), 4))
    a, b = RobustKNN(k=5, seed=0).fit([X], y), RobustKNN(k=5, seed=0).fit([X], y)
    np.testing.assert_array_equal(a.score([X[:20]]), b.score([X[:20]]))
    np.testing.assert_array_equal(a.classes_, [3, 7, 9])
    assert set(a.predict([X[:20]])) <= {3, 7, 9}


def test_robust_knn_bad_input(rng):
    X, y = rng.normal(size=(20, 3)), np.repeat([0, 1], 10)
    with pytest.raises(ParameterError, match=r"'k' = 19 is larger than the training set allows \(18 points.*calib"):
        RobustKNN(k=19).fit([X], y)
    with pytest.raises(ParameterError, match="'k' = 0"):
        RobustKNN(k=0).fit([X], y)
    with pytest.raises(ParameterError, match="'calibration_fraction' = 1.5"):
        RobustKNN(k=2, calibration_fraction=1.5).fit([X], y)
    with pytest.raises(ParameterError, match="empty layer list"):
        RobustKNN().fit([], y)
    with pytest.raises(ValueError, match="one label per training point"):
        RobustKNN(k=2).fit([X], y[:5])
    with pytest.raises(ParameterError, match="both calibration_layers and calibration_labels"):
        RobustKNN(k=2).fit([X], y, calibration_layers=[X])
    with pytest.raises(NotFittedError):
        RobustKNN().score([X])
    det = RobustKNN(k=3).fit([X], y)
    with pytest.raises(ValueError, match="dimension 3, given dimension 4"):
        det.score([rng.normal(size=(5, 4))])
