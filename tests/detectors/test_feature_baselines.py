"""The kpca chapter's baselines on logits and features: each on a hand-checkable case, and against
pytorch-ood 0.4.0 (an independent implementation) where it is installed."""
import numpy as np
import pytest
from scipy.special import logsumexp

from oodrepro.detectors import DeepKNN, Energy, Mahalanobis, MaxLogit, ODIN, ReAct, ViM
from oodrepro.errors import ParameterError

LOGITS = np.array([[2.0, 0.0, 0.0], [1.0, 1.0, 1.0]])


def test_logit_scores_on_a_hand_case():
    np.testing.assert_allclose(MaxLogit().score(logits=LOGITS), [-2.0, -1.0])
    np.testing.assert_allclose(Energy().score(logits=LOGITS), [-np.log(np.e ** 2 + 2), -(1 + np.log(3))])
    np.testing.assert_allclose(Energy(temperature=2.0).score(logits=LOGITS),
                               [-2 * np.log(np.e + 2), -2 * (0.5 + np.log(3))])
    t = 1000.0
    np.testing.assert_allclose(ODIN().score(logits=LOGITS), [-np.exp(2 / t) / (np.exp(2 / t) + 2), -1 / 3])
    with pytest.raises(ParameterError, match="'temperature' = 0"):
        Energy(temperature=0).fit()


def test_mahalanobis_on_a_hand_case():
    z = np.array([[-1.0, 0.0], [1.0, 0.0], [9.0, -2.0], [11.0, 2.0]])  # class means (0,0), (10,0)
    det = Mahalanobis().fit([z], y=[0, 0, 1, 1])
    np.testing.assert_allclose(det.means_, [[0, 0], [10, 0]])
    np.testing.assert_allclose(np.linalg.inv(det.precision_), [[1.0, 1.0], [1.0, 2.0]])  # shared, 1/N
    pts = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 1.0]])
    prec = np.linalg.inv([[1.0, 1.0], [1.0, 2.0]])
    want = [0.0, prec[1, 1], prec[1, 1]]
    np.testing.assert_allclose(det.score([pts]), want, atol=1e-9)
    with pytest.raises(ParameterError, match="needs the training labels"):
        Mahalanobis().fit([z])


def test_mahalanobis_whitened_score_equals_the_direct_quadratic_form():
    # score() whitens once (P = WWᵀ) instead of forming (n, C, D) differences; it must equal the direct
    # quadratic form, also far from the origin
    rng = np.random.default_rng(0)
    z = rng.normal(size=(300, 12)) * rng.uniform(0.1, 3.0, 12) + 500.0
    y = rng.integers(0, 5, 300)
    det = Mahalanobis().fit([z], y=y)
    q = (rng.normal(size=(40, 12)) * 2 + 500.0).astype(np.float32)  # layers are float32, as stored
    diff = q.astype(np.float64)[:, None, :] - det.means_[None]
    want = np.einsum("ncd,de,nce->nc", diff, det.precision_, diff).min(axis=1)
    np.testing.assert_allclose(det.score([q]), want, rtol=1e-9, atol=1e-9)


def test_deep_knn_is_the_kth_distance_between_normalised_features():
    z = np.array([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0]])
    det = DeepKNN(k=2).fit([z])
    q = np.array([[5.0, 5.0]])  # normalised (1,1)/√2: distances to (1,0), (0,1) are equal
    np.testing.assert_allclose(det.score([q]), [np.sqrt(2 - np.sqrt(2))], rtol=1e-6)
    with pytest.raises(ParameterError, match="'k' = 4 is larger"):
        DeepKNN(k=4).fit([z])


def test_react_clips_at_the_training_percentile_then_takes_the_energy(rng):
    z = np.abs(rng.normal(size=(50, 4)))
    w, b = rng.normal(size=(3, 4)), rng.normal(size=3)
    det = ReAct(weight=w, bias=b).fit([z])
    assert det.clip_ == pytest.approx(np.percentile(z, 90))
    q = np.array([[0.1, 5.0, 0.2, 7.0]], dtype=np.float32).astype(float)
    np.testing.assert_allclose(det.score([q]), -logsumexp(np.minimum(q, det.clip_) @ w.T + b, axis=1))
    assert ReAct(weight=w, bias=b, clip=1.0).fit([z]).clip_ == 1.0
    with pytest.raises(ParameterError, match="needs the last linear layer"):
        ReAct().fit([z])


def test_vim_by_hand(rng):
    z = (rng.normal(size=(80, 6)) @ np.diag([3, 2, 1, 0.5, 0.2, 0.1])).astype(np.float32).astype(float)
    w, b = rng.normal(size=(4, 6)), rng.normal(size=4)
    det = ViM(weight=w, bias=b, dim=3).fit([z])
    o = -np.linalg.pinv(w) @ b
    lam, vec = np.linalg.eigh((z - o).T @ (z - o) / len(z))  # about the origin o, not the mean
    ns = vec[:, :3]
    alpha = (z @ w.T + b).max(1).mean() / np.linalg.norm((z - o) @ ns, axis=1).mean()
    q = rng.normal(size=(5, 6)).astype(np.float32).astype(float)
    want = alpha * np.linalg.norm((q - o) @ ns, axis=1) - logsumexp(q @ w.T + b, axis=1)
    np.testing.assert_allclose(det.score([q]), want, rtol=1e-8)
    with pytest.raises(ParameterError, match="'dim' = 6"):
        ViM(weight=w, bias=b, dim=6).fit([z])


# --- against pytorch-ood 0.4.0 -------------------------------------------------------------------------
def test_scores_match_pytorch_ood(rng):
    pod = pytest.importorskip("pytorch_ood.detector")
    import torch

    z = (rng.normal(size=(60, 6)) + np.repeat(np.eye(3, 6) * 3, 20, axis=0)).astype(np.float32)
    y = np.repeat(np.arange(3), 20)
    w, b = rng.normal(size=(3, 6)).astype(np.float32), rng.normal(size=3).astype(np.float32)
    q = rng.normal(size=(7, 6)).astype(np.float32)
    lg = torch.tensor(q @ w.T + b)
    np.testing.assert_allclose(Energy().score(logits=lg.numpy()), pod.EnergyBased.score(lg).numpy(), rtol=1e-5)
    np.testing.assert_allclose(MaxLogit().score(logits=lg.numpy()), pod.MaxLogit.score(lg).numpy(), rtol=1e-5)
    tz, ty, tq = torch.tensor(z), torch.tensor(y), torch.tensor(q)
    theirs = pod.Mahalanobis(None).fit_features(tz, ty).predict_features(tq).numpy()
    ratio = Mahalanobis().fit([z], y=y).score([q]) / theirs  # theirs: Σ not divided by N, a factor ½
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-4)  # a constant factor: the same ranking
    theirs = pod.KNN(None, k=5).fit_features(tz, ty).predict_features(tq).numpy()
    np.testing.assert_allclose(DeepKNN(k=5).fit([z]).score([q]), theirs, rtol=1e-4)
    theirs = pod.ViM(None, d=3, w=torch.tensor(w), b=torch.tensor(b)).fit_features(tz, ty).predict_features(tq)
    np.testing.assert_allclose(ViM(weight=w, bias=b, dim=3).fit([z]).score([q]), theirs.numpy(), rtol=1e-3, atol=1e-4)
