import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from oodrepro.detectors import KNNRadius, knn_radius, loo_normaliser
from oodrepro.errors import ParameterError


def brute_radius(q, X, k):
    d = np.sqrt(((q[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    return np.sort(d, axis=1)[:, k - 1]


@pytest.mark.parametrize("k", [1, 3])
def test_knn_radius_matches_brute_force(rng, k):
    X, q = rng.normal(size=(200, 7)), rng.normal(size=(50, 7))
    np.testing.assert_allclose(knn_radius(q, X, k), brute_radius(q, X, k), rtol=1e-4, atol=1e-5)


def test_knn_radius_hand_case():
    X = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    q = np.array([[0.0, 0.0], [3.0, 4.0]])
    np.testing.assert_allclose(knn_radius(q, X, 1), [0.0, 3.0], atol=1e-6)
    np.testing.assert_allclose(knn_radius(q, X, 2), [3.0, 4.0], atol=1e-6)


@pytest.mark.parametrize("k", [1, 3])
def test_loo_normaliser_matches_its_definition(rng, k):
    X = rng.normal(size=(60, 4))
    by_def = np.mean([brute_radius(X[i:i + 1], np.delete(X, i, axis=0), k)[0] for i in range(len(X))])
    assert loo_normaliser(X, k) == pytest.approx(by_def, rel=1e-4)


def test_loo_normaliser_hand_case():
    X = np.array([[0.0], [1.0], [3.0]])  # leave-one-out 1-NN: 1, 1, 2 -> mean 4/3
    assert loo_normaliser(X, 1) == pytest.approx(4 / 3)


def test_score_is_mean_of_normalised_layer_radii(rng):
    tr = [rng.normal(size=(100, 5)), rng.normal(size=(100, 3)) * 10]
    te = [rng.normal(size=(20, 5)), rng.normal(size=(20, 3)) * 10]
    det = KNNRadius(k=2).fit(tr)
    per = [brute_radius(te[i], tr[i], 2) / loo_normaliser(tr[i], 2) for i in range(2)]
    np.testing.assert_allclose(det.score_layers(te), np.stack(per), rtol=1e-4)
    np.testing.assert_allclose(det.score(te), np.mean(per, axis=0), rtol=1e-4)
    # normalisation makes the score scale-free per layer
    det2 = KNNRadius(k=2).fit([tr[0], tr[1] / 10])
    np.testing.assert_allclose(det2.score([te[0], te[1] / 10]), det.score(te), rtol=1e-4)


def test_far_points_score_higher(rng):
    tr = rng.normal(size=(300, 2))
    det = KNNRadius().fit([tr])
    s = det.score([np.array([[0.0, 0.0], [20.0, 20.0]])])
    assert s[1] > 10 * s[0]


def test_knn_bad_input(rng):
    X = rng.normal(size=(10, 3))
    with pytest.raises(ParameterError, match="'k' = 0"):
        KNNRadius(k=0).fit([X])
    with pytest.raises(ParameterError, match="larger than the training set"):
        KNNRadius(k=10).fit([X])
    with pytest.raises(ParameterError, match="empty layer list"):
        KNNRadius().fit([])
    with pytest.raises(NotFittedError):
        KNNRadius().score([X])
    det = KNNRadius().fit([X])
    with pytest.raises(ValueError, match="dimension 3, given dimension 4"):
        det.score([rng.normal(size=(5, 4))])
    with pytest.raises(ValueError, match="fitted on 1 layer"):
        det.score([X, X])
    with pytest.raises(ValueError, match=r"2-D array \(N, D\), got shape \(10,\)"):
        det.score([X[:, 0]])
    with pytest.raises(ValueError, match="NaN or inf"):
        det.score([np.full((2, 3), np.nan)])


# --- KNNRadiusGrid: every k of a grid from one search ----------------------------------------
from oodrepro.detectors.knn_grid import KNNRadiusGrid  # noqa: E402


def test_grid_equals_one_detector_per_k_bit_for_bit(rng):
    tr = [rng.normal(size=(400, 6)).astype(np.float32), rng.normal(size=(400, 3)).astype(np.float32) * 5]
    tr[0][10:15] = tr[0][0]  # duplicates: ties among the neighbours
    te = [rng.normal(size=(120, 6)), rng.normal(size=(120, 3)) * 5]
    ks = [1, 2, 5, 10, 20]
    grid = KNNRadiusGrid(ks).fit(tr)
    for k in ks:
        one = KNNRadius(k).fit(tr)
        np.testing.assert_array_equal(grid.q_[k], one.q_)
        np.testing.assert_array_equal(grid.score(te, k=k), one.score(te))
        np.testing.assert_array_equal(grid.radii(te, k), one.radii(te))


def test_grid_hand_case():
    X = [np.array([[0.0], [1.0], [3.0]])]  # leave-one-out radii: k=1 -> 1, 1, 2; k=2 -> 3, 2, 3
    g = KNNRadiusGrid([1, 2]).fit(X)
    assert g.q_[1][0] == pytest.approx(4 / 3) and g.q_[2][0] == pytest.approx(8 / 3)
    np.testing.assert_allclose(g.score([np.array([[5.0]])], k=2), [4.0 / (8 / 3)])
    np.testing.assert_allclose(g.score([np.array([[5.0]])]), [2.0 / (4 / 3)])  # k defaults to the grid's first


def test_grid_keeps_the_distances_of_recent_sets(rng):
    tr = [rng.normal(size=(50, 2))]
    g = KNNRadiusGrid([1, 3]).fit(tr)
    a, b = [rng.normal(size=(7, 2))], [rng.normal(size=(9, 2))]
    g.score(a, k=1), g.score(b, k=1)
    assert len(g._seen) == 2
    g.score(a, k=3), g.score(b, k=3)
    assert len(g._seen) == 2  # no new search for the second k
    for _ in range(KNNRadiusGrid.KEEP + 2):
        g.score([rng.normal(size=(3, 2))])
    assert len(g._seen) == KNNRadiusGrid.KEEP


@pytest.mark.parametrize("grid, k, match", [([], None, "k_grid"), ("1,2", None, "k_grid"), ([0, 2], None, "'k'"),
                                            ([1, 60], None, "larger than"), ([1, 2], 3, "not in the fitted k_grid")])
def test_grid_bad_input_names_the_parameter(rng, grid, k, match):
    tr = [rng.normal(size=(50, 2))]
    with pytest.raises(ParameterError, match=match):
        KNNRadiusGrid(grid).fit(tr).score(tr, k=k)


def test_grid_scores_before_fit():
    with pytest.raises(NotFittedError):
        KNNRadiusGrid([1]).score([np.zeros((2, 2))])
