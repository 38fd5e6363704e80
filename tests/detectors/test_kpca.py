"""kpca (Fang et al.): the maps against their kernels, exact KPCA against PCA and Nyström, q, landmarks,
the "+ReAct" fusions, the streaming fit, bad parameters. Small arrays only: seconds."""
import numpy as np
import pytest
from scipy.special import logsumexp
from sklearn.kernel_approximation import Nystroem, RBFSampler
from sklearn.metrics.pairwise import pairwise_kernels

from oodrepro.detectors import kpca as K
from oodrepro.errors import ParameterError


def _data(rng, n=40, d=5):
    return rng.normal(size=(n, d)), rng.normal(size=(n, 3))


def _gram_error(det, x, metric, **kw):
    det._validate()
    det._prepare(x, None)  # the map alone: no PCA on the (M, M) covariance
    f = det._map(x)
    return np.abs(f @ f.T - pairwise_kernels(x, metric=metric, **kw)).mean()


# --- maps --------------------------------------------------------------------------------------------
def test_rbf_sampler_draws_the_readme_rff_map(rng):
    """scikit-learn's RBFSampler is sqrt(2/M) cos(Wx + b), W ~ N(0, 2γI), b ~ U[0, 2π)."""
    gamma, m = 0.7, 20000
    s = RBFSampler(gamma=gamma, n_components=m, random_state=0).fit(np.zeros((1, 3)))
    x = rng.normal(size=(4, 3))
    np.testing.assert_allclose(s.transform(x), np.sqrt(2 / m) * np.cos(x @ s.random_weights_ + s.random_offset_),
                               rtol=1e-6, atol=1e-8)
    assert abs(s.random_weights_.var() / (2 * gamma) - 1) < 0.03 and abs(s.random_weights_.mean()) < 0.02
    assert 0 <= s.random_offset_.min() and s.random_offset_.max() < 2 * np.pi
    assert abs(s.random_offset_.mean() - np.pi) < 0.05


@pytest.mark.parametrize("kernel, metric, kw", [("gaussian", "rbf", {"gamma": 0.3}),
                                                ("laplacian", "laplacian", {"gamma": 0.3}),
                                                ("polynomial", "polynomial",
                                                 {"gamma": 0.3, "degree": 2, "coef0": 1.0})])
def test_random_features_approximate_the_kernel_better_as_m_grows(rng, kernel, metric, kw):
    x, _ = _data(rng)
    errs = [_gram_error(K.KPCA(kernel=kernel, cosine=False, n_components=m, gamma=0.3), x, metric, **kw)
            for m in (32, 512, 4096)]
    assert errs[0] > errs[1] > errs[2], errs
    assert errs[2] < 0.25 * errs[0]


def test_nystroem_approximates_the_kernel_better_as_m_grows_and_is_exact_with_every_point(rng):
    x, _ = _data(rng)
    errs = [_gram_error(K.KPCA(approximation="nystroem", landmarks="uniform", cosine=False, n_components=m,
                               gamma=0.3), x, "rbf", gamma=0.3) for m in (5, 20, 40)]
    assert errs[0] > errs[1] > errs[2] and errs[2] < 1e-8, errs


def test_nystroem_map_is_a_rotation_of_scikit_learns(rng):
    x, _ = _data(rng)
    land, t = K.nystroem_map(x[:15], "gaussian", gamma=0.3)
    ours = pairwise_kernels(x, land, metric="rbf", gamma=0.3) @ t
    theirs = Nystroem(gamma=0.3, n_components=15, random_state=0).fit(x[:15]).transform(x)
    np.testing.assert_allclose(ours @ ours.T, theirs @ theirs.T, atol=1e-8)


def test_laplacian_rff_weights_are_cauchy(rng):
    w, b = K.laplacian_rff(2, 40000, gamma=0.5, seed=1)
    assert abs(np.median(np.abs(w)) / 0.5 - 1) < 0.03  # Cauchy(0, γ): median |w| = γ
    assert 0 <= b.min() and b.max() < 2 * np.pi


def test_cosine_map_is_unit_norm(rng):
    z = rng.normal(size=(6, 4)) * 10
    np.testing.assert_allclose(np.linalg.norm(K.cosine_map(z), axis=1), 1.0, rtol=1e-9)


# --- q, PCA, exact KPCA ------------------------------------------------------------------------------
def test_q_is_the_smallest_count_reaching_the_threshold():
    lam = [1.0, 4.0, 2.0, 3.0]  # sorted 4, 3, 2, 1: cumulative 0.4, 0.7, 0.9, 1.0
    assert [K.n_components_for(lam, t) for t in (0.3, 0.4, 0.7, 0.71, 0.9, 1.0)] == [1, 1, 2, 3, 3, 4]


def test_pca_error_on_a_hand_case():
    x = np.array([[-2.0, 0.1], [2.0, 0.1], [-1.0, -0.1], [1.0, -0.1]])  # variance mostly along axis 0
    det = K.PCA(evr=0.9).fit([x])
    assert det.n_components_ == 1
    z = np.array([[0.0, 3.0], [5.0, 0.0]])
    np.testing.assert_allclose(det.score([z]), [3.0, 0.0], atol=1e-12)  # the off-axis distance, unsquared
    np.testing.assert_allclose(K.PCA(evr=1.0).fit([x]).score([z]), 0.0, atol=1e-6)


def test_exact_kpca_with_a_linear_kernel_equals_pca_in_that_feature_space(rng):
    x, _ = _data(rng, n=50)
    f = K.KPCA(cosine=False, n_components=30, gamma=0.3).fit([x])._map(x)  # RFF features as the space
    g = K.KPCA(cosine=False, n_components=30, gamma=0.3).fit([x])._map(rng.normal(size=(10, 5)))
    pca = K.PCA(evr=0.8).fit([f])
    ex = K.ExactKPCA(kernel="linear", cosine=False, evr=0.8).fit([f])
    assert ex.n_components_ == pca.n_components_
    np.testing.assert_allclose(ex.score([g]), pca.score([g]), atol=1e-8)
    np.testing.assert_allclose(ex.score([f]), pca.score([f]), atol=1e-8)


def test_nystroem_on_every_training_point_is_exact_kpcas_in_span_error(rng):
    x, _ = _data(rng, n=30)
    new = rng.normal(size=(12, 5))
    nys = K.KPCA(approximation="nystroem", landmarks="uniform", cosine=False, n_components=30, gamma=0.3,
                 evr=0.8).fit([x])
    ex = K.ExactKPCA(cosine=False, gamma=0.3, evr=0.8).fit([x])
    assert nys.n_components_ == ex.n_components_
    in_span, full = ex.reconstruction_error([new], "in_span"), ex.reconstruction_error([new], "full")
    np.testing.assert_allclose(nys.score([new]), in_span, atol=1e-8)
    kx, kk = pairwise_kernels(new, x, metric="rbf", gamma=0.3), pairwise_kernels(x, metric="rbf", gamma=0.3)
    outside = 1.0 - np.einsum("ij,ij->i", kx, np.linalg.solve(kk, kx.T).T)  # k(x,x) − k_xᵀ K⁻¹ k_x
    assert (outside > 1e-3).all()
    np.testing.assert_allclose(full ** 2 - in_span ** 2, outside, atol=1e-8)
    np.testing.assert_allclose(ex.reconstruction_error([x], "full"), ex.reconstruction_error([x], "in_span"),
                               atol=1e-6)  # on training points the two readings agree


def test_rff_tends_to_exact_kpcas_full_error(rng):
    x, _ = _data(rng, n=30)
    new = rng.normal(size=(12, 5))
    full = K.ExactKPCA(cosine=False, gamma=0.3, evr=0.8).fit([x]).score([new])
    gaps = [np.abs(K.KPCA(cosine=False, gamma=0.3, evr=0.8, n_components=m).fit([x]).score([new]) - full).mean()
            for m in (16, 1024)]
    assert gaps[1] < gaps[0]


# --- landmarks, +ReAct, streaming ------------------------------------------------------------------
def test_landmarks_lowest_and_highest_logsumexp():
    logits = np.log(np.array([[3.0, 1.0], [1.0, 1.0], [10.0, 0.5], [0.5, 0.25]]))  # logsumexp = log of row sums
    np.testing.assert_array_equal(K.select_landmarks(4, 2, "low_energy", logits), [3, 1])
    np.testing.assert_array_equal(K.select_landmarks(4, 2, "high_energy", logits), [2, 0])
    u = K.select_landmarks(4, 3, "uniform", seed=1)
    assert len(set(u)) == 3 and (u == K.select_landmarks(4, 3, "uniform", seed=1)).all()


def test_react_fusions_follow_the_authors_formulas(rng):
    x, _ = _data(rng, n=40)
    x = np.abs(x)  # post-ReLU activations
    w, b = rng.normal(size=(3, 5)), rng.normal(size=3)
    new = (np.abs(rng.normal(size=(6, 5))) * 2).astype(np.float32).astype(np.float64)  # score reads float32
    s = logsumexp(np.minimum(new, 1.0) @ w.T + b, axis=1)
    for approx, fused in (("rff", lambda e: -(1 - e) * s), ("nystroem", lambda e: -s / e)):
        kw = {"approximation": approx, "n_components": 20, "gamma": 0.5, "weight": w, "bias": b}
        det = K.KPCA(fusion="react", **kw).fit([x])
        e = det.reconstruction_error([new])
        plain = K.KPCA(**kw).fit([np.minimum(x, 1.0)], logits=np.minimum(x, 1.0) @ w.T + b)
        np.testing.assert_allclose(e, plain.reconstruction_error([np.minimum(new, 1.0)]), atol=1e-12)
        np.testing.assert_allclose(det.score([new]), fused(e), rtol=1e-12)
    assert set(det.landmark_index_) == set(np.argsort(logsumexp(np.minimum(x, 1.0) @ w.T + b, axis=1))[:20])
    det = K.KPCA(fusion="react", clip=None, weight=w, bias=b, n_components=16).fit([x])
    assert det.clip_ == pytest.approx(np.percentile(x, 90))


@pytest.mark.parametrize("make", [lambda: K.PCA(evr=0.95, cosine=True),
                                  lambda: K.KPCA(n_components=64, gamma=0.5, evr=0.9),
                                  lambda: K.KPCA(approximation="nystroem", n_components=25, evr=0.9)])
def test_streaming_a_memmap_in_chunks_equals_the_in_memory_fit(rng, tmp_path, make):
    x, logits = _data(rng, n=103)
    mm = np.memmap(tmp_path / "bank.f32", dtype=np.float32, mode="w+", shape=x.shape)
    mm[:] = x
    mm.flush()
    bank = np.memmap(tmp_path / "bank.f32", dtype=np.float32, mode="r", shape=x.shape)
    a, b = make(), make()
    a.chunk_size, b.chunk_size = None, 7
    a.fit([x.astype(np.float32)], logits=logits)
    b.fit([bank], logits=logits)
    assert a.n_components_ == b.n_components_
    np.testing.assert_allclose(b.mean_, a.mean_, atol=1e-10)
    np.testing.assert_allclose(b.components_ @ b.components_.T, a.components_ @ a.components_.T, atol=1e-10)
    np.testing.assert_allclose(b.score([x]), a.score([x]), atol=1e-10)


# --- the authors' RFF draw ------------------------------------------------------------------------------
Z4 = np.array([[0.3, -0.2], [1.0, 0.5], [-0.4, 0.8], [0.1, 0.1]])


def test_authors_rff_layout_draws_the_authors_seed_0_features():
    # their main.py (after setup_seed(0), i.e. np.random.seed(0)), transcribed with d = 2, M = 3, γ = ½:
    gamma, M = 0.5, 3
    state = np.random.get_state()
    np.random.seed(0)
    w = np.sqrt(2 * gamma) * np.random.normal(size=(M, 2))
    u = 2 * np.pi * np.random.rand(M)
    np.random.set_state(state)
    theirs = np.sqrt(2 / M) * np.cos(Z4.dot(w.T) + u[np.newaxis, :])
    det = K.KPCA(cosine=False, gamma=gamma, n_components=M, evr=0.9, rff_layout="authors").fit([Z4])
    np.testing.assert_array_equal(det._map(Z4), theirs)
    # by hand: seed 0's normals are 1.7641, 0.4002, 0.9787, 2.2409, 1.8676, −0.9773 and √(2γ) = 1, so their
    # W's rows are (1.7641, 0.4002), (0.9787, 2.2409), (1.8676, −0.9773); b = 2π·(the next three uniforms,
    # 0.4376, 0.8918, 0.9637) = (2.7494, 5.6032, 6.0549). For x = (1, 0) feature j is √(2/3)·cos(W_j1 + b_j):
    # 0.8165·cos(1.7641 + 2.7494) = −0.1613, 0.8165·cos(0.9787 + 5.6032) = 0.7803, 0.8165·cos(1.8676 + 6.0549)
    # = −0.0558. Ours reads the same normals along its (D, M) rows, so x = (1, 0) meets 1.7641, 0.4002, 0.9787:
    # −0.1613, 0.8165·cos(0.4002 + 5.6032) = 0.7847, 0.8165·cos(0.9787 + 6.0549) = 0.5972.
    b = 2 * np.pi * np.array([0.4375872112626925, 0.8917730007820798, 0.9636627605010293])
    np.testing.assert_allclose(det._map(np.array([[1.0, 0.0]]))[0],
                               np.sqrt(2 / 3) * np.cos(np.array([1.764052345967664, 0.9787379841057392,
                                                                 1.8675579901499675]) + b), rtol=1e-12)
    ours = K.KPCA(cosine=False, gamma=gamma, n_components=M, evr=0.9).fit([Z4])
    np.testing.assert_allclose(ours._map(np.array([[1.0, 0.0]]))[0],
                               np.sqrt(2 / 3) * np.cos(np.array([1.764052345967664, 0.4001572083672233,
                                                                 0.9787379841057392]) + b), rtol=1e-12)


def test_default_rff_layout_is_unchanged():
    # values computed before rff_layout existed (scikit-learn's RBFSampler, seed 0)
    det = K.KPCA(cosine=False, gamma=0.5, n_components=3, evr=0.9).fit([Z4])
    np.testing.assert_allclose(det._map(Z4[:2]), [[-0.7772991336059286, 0.4858521822989514, 0.7888936493307348],
                                                  [0.6503726707809352, 0.6480547742004471, 0.7886780831243818]],
                               rtol=1e-12)
    np.testing.assert_allclose(det.score([Z4]), [0.12539253962141877, 0.003017633695841, 0.00128429421252526,
                                                 0.1236591899484455], rtol=1e-9)
    assert det.rff_layout == "ours"


@pytest.mark.parametrize("kw, match", [
    (dict(rff_layout="theirs"), "parameter 'rff_layout' = 'theirs' is not accepted; use one of 'ours', 'authors'"),
    (dict(rff_layout="authors", kernel="laplacian"), "'rff_layout' = 'authors' is not accepted with kernel='laplacian'"),
    (dict(rff_layout="authors", approximation="nystroem", landmarks="uniform", n_components=3), "'rff_layout'"),
])
def test_bad_rff_layout_names_the_parameter(kw, match):
    with pytest.raises(ParameterError, match=match):
        K.KPCA(cosine=False, **kw).fit([Z4])


# --- bad parameters ----------------------------------------------------------------------------------
@pytest.mark.parametrize("det, match", [
    (K.KPCA(gamma=0), "'gamma' = 0"), (K.KPCA(gamma=-1.0), "'gamma'"),
    (K.KPCA(evr=0.0), "'evr' = 0.0"), (K.PCA(evr=1.5), "'evr' = 1.5"),
    (K.KPCA(n_components=0), "'n_components' = 0"),
    (K.KPCA(approximation="nystroem", n_components=100), "'n_components' = 100 is larger than the training set"),
    (K.KPCA(kernel="sigmoid"), "'kernel' = 'sigmoid'"), (K.KPCA(landmarks="random"), "'landmarks'"),
    (K.KPCA(fusion="react"), "fusion='react' needs the last linear layer"),
    (K.KPCA(fusion="react", weight=np.ones((3, 4)), bias=np.ones(3)), "'weight', 'bias'"),
    (K.ExactKPCA(reading="both"), "'reading' = 'both'"), (K.PCA(layer=2), "'layer' = 2"),
])
def test_bad_parameters_name_the_parameter(rng, det, match):
    x, logits = _data(rng)
    with pytest.raises(ParameterError, match=match):
        det.fit([x], logits=logits)


def test_bad_data_is_refused(rng):
    x, _ = _data(rng)
    bad = x.copy()
    bad[3, 2] = np.nan
    for det in (K.PCA(), K.KPCA(n_components=8), K.ExactKPCA()):
        with pytest.raises(ValueError, match="NaN or inf"):
            det.fit([bad])
        det.fit([x])
        with pytest.raises(ValueError, match="NaN or inf"):
            det.score([bad])
        with pytest.raises(ValueError, match="fitted on dimension 5, given dimension 4"):
            det.score([x[:, :4]])
    with pytest.raises(ParameterError, match="needs the training logits"):
        K.KPCA(approximation="nystroem", n_components=8).fit([x])
