"""The four knn-ls Table 1 baselines: Robust Deep k-NN, one-class SVM, Isolation Forest, DeConf."""
import numpy as np
import pytest
import torch
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import NotFittedError
from sklearn.svm import OneClassSVM

from oodrepro import data, embed, models, train
from oodrepro.detectors import (NORMALISATIONS, DeConfMLP, IsolationForestDetector, OneClassSVMDetector, RobustKNN,
                                conformal_p_values, cosine_neighbours, deconf_scores, max_cosine_score,
                                nonconformity, normalise_scores, select_epsilon)
from oodrepro.detectors import deconf, one_class_svm, per_layer, robust_knn
from oodrepro.errors import ParameterError


def polar(deg, r=1.0):
    a = np.deg2rad(np.asarray(deg, dtype=float))
    return np.stack([np.cos(a), np.sin(a)], axis=1) * np.asarray(r, dtype=float).reshape(-1, 1)


# ---------------------------------------------------------------- Robust Deep k-NN

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


# ---------------------------------------------------------------- one-class SVM / Isolation Forest

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
    np.testing.assert_allclose(one_class_svm.rbf_kernel_sum(q, svm.support_vectors_, a, g), svm.score_samples(q),
                               rtol=1e-6)
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


# ---------------------------------------------------------------- DeConf

def test_deconf_head_hand_values():
    head = deconf.DeConfHead(2, 2)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1.0, 0.0], [1.0, 1.0]]))
        head.g_linear.weight.zero_()
        head.g_linear.bias.zero_()
    head.eval()  # BN with running mean 0, var 1: g = sigmoid(0 / sqrt(1 + eps)) = 0.5
    f = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    h = head.h(f)
    np.testing.assert_allclose(h.detach().numpy(), [[0.6, 7 / (5 * np.sqrt(2))], [0.0, 0.0]], rtol=1e-6)
    np.testing.assert_allclose(head.g(f).detach().numpy(), 0.5)
    np.testing.assert_allclose(head(f).detach().numpy(), 2 * h.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(max_cosine_score(h.detach().numpy()), [-7 / (5 * np.sqrt(2)), 0.0], rtol=1e-6)
    head.train()  # a batch of one in training mode falls back on the running statistics
    assert head(f[:1]).shape == (1, 2)


def test_deconf_model_layers_and_cosine_range():
    torch.manual_seed(0)
    net = models.build("mlp_deconf", (1, 8, 8), 10)
    assert isinstance(net, DeConfMLP) and models.n_layers(net) == 4
    x = torch.randn(16, 1, 8, 8) * 3
    with torch.no_grad():
        feats, h = net.features(x), net.h(x)
    assert [f.shape[1] for f in feats] == [256, 256, 256, 10]
    torch.testing.assert_close(feats[-1], h)
    assert float(h.abs().max()) <= 1 + 1e-6
    f = feats[-2]
    w = net.deconf.weight
    by_hand = (f @ w.T) / (f.norm(dim=1, keepdim=True) * w.norm(dim=1)[None, :]).clamp_min(1e-12)
    torch.testing.assert_close(h, by_hand, rtol=1e-5, atol=1e-6)
    net.eval()
    with torch.no_grad():
        torch.testing.assert_close(net(x), h / net.g(x))
    le = models.build("lenet5_deconf", (3, 32, 32), 10)
    assert [t.shape[1] for t in le.features(torch.zeros(2, 3, 32, 32))] == [400, 120, 84, 10]
    assert models.n_layers(le) == 4


def test_deconf_trains_and_scores():
    tr, te = data.load("digits", "train"), data.load("digits", "test")
    net = train.fit_classifier("mlp_deconf", tr, alpha=0.0, epochs=2, seed=0, progress=False)
    h = embed.embed(net, te, [0])[0]
    assert (h.argmax(1) == te.y).mean() > 0.5
    s0 = deconf_scores(net, te.x, eps=0.0, batch_size=100)
    np.testing.assert_allclose(s0, -h.max(1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(deconf_scores(net, te), s0)  # a Dataset works too
    s1 = deconf_scores(net, te.x, eps=0.005)
    assert np.isfinite(s1).all() and np.all(np.abs(s1) <= 1 + 1e-6)
    assert s1.mean() < s0.mean()  # the perturbation raises the confidence max h
    best, means = select_epsilon(net, te.x[:100], grid=(0.0, 0.005))
    assert best in (0.0, 0.005) and set(means) == {0.0, 0.005}
    assert not net.training  # left as it was
    with pytest.raises(ParameterError, match="'eps' = -0.1"):
        deconf_scores(net, te.x, eps=-0.1)
    with pytest.raises(ParameterError, match="'batch_size' = 0"):
        deconf_scores(net, te.x, batch_size=0)
    with pytest.raises(TypeError, match="no h-branch"):
        deconf_scores(models.build("mlp", (1, 8, 8), 10), te.x)
    with pytest.raises(ParameterError, match="'backbone' = 'vgg'"):
        deconf.DeConfNet("vgg")
