r"""Classical outlier detectors fitted per layer: the "SVM" and "Isolation Forest" baselines of knn-ls
Table 1 (Bahri et al., ICML 2021, §4.2).

Each is fitted on every layer's training embeddings :math:`g_\ell(X_{in})` separately; the per-layer
OOD scores :math:`s_\ell(x)` are normalised and averaged over the M layers, "in the same way" as the
k-NN radius:

.. math:: \hat T(x) = \frac1M \sum_{\ell=1}^{M} N_\ell\bigl(s_\ell(x)\bigr).

**The paper does not say what** :math:`N_\ell` **is.** Three normalisations are implemented, each
computed from the scores of the training points passed to ``fit``, :math:`S_\ell = \{s_\ell(x) : x
\in X_{in}\}`:

``"train_mean"`` (default)
    :math:`N_\ell(s) = s / \mathrm{mean}(S_\ell)` — knn-ls's own rule (its radius is divided by the
    mean leave-one-out radius of the training set). Dividing by a mean is only meaningful for a
    non-negative score whose zero means "at the centre of the data", like a radius; a signed
    decision function (scikit-learn's is 0 on the learned boundary and changes sign) can have a mean
    near 0 or below it, which blows up or flips a layer. Each method therefore reports a canonical
    non-negative outlier magnitude as :math:`s_\ell` (below), and this rule is the exact analogue of
    :math:`r_k / \hat Q`. Chosen as default because it is the aggregation the paper describes.
``"zscore"``
    :math:`N_\ell(s) = (s - \mathrm{mean}(S_\ell)) / \mathrm{std}(S_\ell)` (population std).
``"rank"``
    :math:`N_\ell(s) = |\{t \in S_\ell : t \le s\}| / |S_\ell|`, the training empirical CDF (rank
    averaging). Invariant to any increasing transform of a layer's score; saturates at 1 beyond the
    largest training score, so far-away points tie within a layer.

Per-layer scores (higher = more OOD, both :math:`\ge 0`):

- **One-class SVM** (Schölkopf et al. 2001), RBF kernel :math:`K(x, z) = e^{-\gamma\|x - z\|^2}`,
  dual coefficients :math:`a_i` on the support vectors :math:`z_i`, :math:`A = \sum_i a_i`. For a
  kernel with :math:`K(x, x) = 1` the one-class SVM is the SVDD (Tax & Duin 2004), and the score is
  the squared RKHS distance to its centre :math:`c = \sum_i a_i \phi(z_i) / A`:

  .. math:: s(x) = \|\phi(x) - c\|^2 = 1 - \frac{2}{A}\sum_i a_i K(x, z_i)
            + \frac{1}{A^2}\sum_{i,j} a_i a_j K(z_i, z_j),

  a decreasing affine function of scikit-learn's ``score_samples`` (so it ranks exactly as the
  SVM's decision function; only ``"train_mean"`` depends on the choice).
- **Isolation Forest** (Liu et al. 2008): the anomaly score :math:`s(x) = 2^{-E[h(x)] / c(\psi)}
  \in (0, 1]` of the paper, i.e. ``-score_samples`` of scikit-learn's ``IsolationForest``.
"""
from __future__ import annotations

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import NotFittedError
from sklearn.svm import OneClassSVM

from ..errors import ParameterError
from .base import as_layers, check_dims, check_fraction, check_int

NORMALISATIONS = ("train_mean", "zscore", "rank")


def check_normalise(normalise) -> str:
    if normalise not in NORMALISATIONS:
        raise ParameterError(f"parameter 'normalise' = {normalise!r} is not accepted; "
                             f"use one of {', '.join(map(repr, NORMALISATIONS))}")
    return normalise


def normalise_scores(scores: np.ndarray, train_scores: np.ndarray, normalise: str = "train_mean") -> np.ndarray:
    """One layer's normalisation :math:`N(s)` (see the module docstring) of ``scores`` given the
    training scores ``train_scores``."""
    check_normalise(normalise)
    s = np.asarray(scores, dtype=np.float64)
    t = np.asarray(train_scores, dtype=np.float64).ravel()
    if t.size == 0:
        raise ValueError("train_scores: empty")
    if normalise == "train_mean":
        if t.min() < 0:
            raise ValueError("normalise='train_mean' needs non-negative scores (it divides by their mean); "
                             f"the smallest training score is {t.min():g}")
        m = t.mean()
        if m <= 0:
            raise ValueError("normalise='train_mean': the training scores are all 0")
        return s / m
    if normalise == "zscore":
        sd = t.std()
        if sd <= 0:
            raise ValueError("normalise='zscore': the training scores are constant (std 0)")
        return (s - t.mean()) / sd
    return np.searchsorted(np.sort(t), s, side="right") / t.size


def aggregate(layer_scores, train_layer_scores, normalise: str = "train_mean") -> np.ndarray:
    r""":math:`\hat T = \frac1M \sum_\ell N_\ell(s_\ell)`: the mean over layers of the normalised
    per-layer scores. ``layer_scores``: (M, N); ``train_layer_scores``: M arrays of training scores."""
    layer_scores = np.atleast_2d(np.asarray(layer_scores, dtype=np.float64))
    if len(layer_scores) != len(train_layer_scores):
        raise ValueError(f"{len(layer_scores)} layers of scores but {len(train_layer_scores)} of training scores")
    return np.mean([normalise_scores(s, t, normalise) for s, t in zip(layer_scores, train_layer_scores)], axis=0)


def rbf_gamma(x: np.ndarray, gamma="scale") -> float:
    """scikit-learn's ``gamma``: "scale" = 1 / (D · Var(x)) (1 when the variance is 0), "auto" = 1 / D,
    or a positive number."""
    if isinstance(gamma, str):
        if gamma == "scale":
            v = float(np.asarray(x, dtype=np.float64).var())
            return 1.0 / (x.shape[1] * v) if v > 0 else 1.0
        if gamma == "auto":
            return 1.0 / x.shape[1]
    elif not isinstance(gamma, bool) and isinstance(gamma, (int, float, np.floating)) and gamma > 0:
        return float(gamma)
    raise ParameterError(f"parameter 'gamma' = {gamma!r} is not accepted; use 'scale', 'auto' or a number > 0")


def rbf_kernel_sum(x: np.ndarray, centres: np.ndarray, coef: np.ndarray, gamma: float,
                   chunk: int = 2048) -> np.ndarray:
    r""":math:`f(x) = \sum_i a_i e^{-\gamma \|x - z_i\|^2}` for every row x (float64, in chunks)."""
    z = np.asarray(centres, dtype=np.float64)
    a = np.asarray(coef, dtype=np.float64).ravel()
    zz = (z * z).sum(1)
    out = np.empty(len(x))
    for i in range(0, len(x), chunk):
        xb = np.asarray(x[i:i + chunk], dtype=np.float64)
        d2 = np.maximum((xb * xb).sum(1)[:, None] + zz[None, :] - 2.0 * xb @ z.T, 0.0)
        out[i:i + chunk] = np.exp(-gamma * d2) @ a
    return out


def svdd_centre_sq_norm(support_vectors: np.ndarray, dual_coef: np.ndarray, gamma: float) -> float:
    r""":math:`\|c\|^2 = \sum_{i,j} a_i a_j K(z_i, z_j) / A^2`."""
    a = np.asarray(dual_coef, dtype=np.float64).ravel()
    return float(rbf_kernel_sum(support_vectors, support_vectors, a, gamma) @ a) / a.sum() ** 2


def svdd_sq_distance(x: np.ndarray, support_vectors: np.ndarray, dual_coef: np.ndarray, gamma: float,
                     centre_sq_norm: float | None = None) -> np.ndarray:
    r"""Squared RKHS distance :math:`\|\phi(x) - c\|^2` to the centre of a one-class SVM with an RBF
    kernel (formula in the module docstring); non-negative (clipped at 0 against rounding).
    ``centre_sq_norm`` (:func:`svdd_centre_sq_norm`) may be passed to skip recomputing it."""
    a = np.asarray(dual_coef, dtype=np.float64).ravel()
    big_a = a.sum()
    cc = svdd_centre_sq_norm(support_vectors, a, gamma) if centre_sq_norm is None else centre_sq_norm
    return np.maximum(1.0 - 2.0 * rbf_kernel_sum(x, support_vectors, a, gamma) / big_a + cc, 0.0)


class _PerLayer:
    """Shared machinery: fit one estimator per layer, keep the training scores, normalise, average."""

    def __init__(self, normalise: str = "train_mean", seed: int = 0):
        self.normalise = normalise
        self.seed = seed

    def _fit_layer(self, x: np.ndarray):  # pragma: no cover - abstract
        raise NotImplementedError

    def _score_layer(self, state, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _validate(self):
        check_normalise(self.normalise)

    def fit(self, train_layers, y=None, logits=None):
        """Fit one estimator per layer on ``train_layers`` (list of (n, D_ℓ) arrays) and score the
        training points for the normalisation (``y``, ``logits``: unused). Returns ``self``."""
        self._validate()
        train_layers = as_layers(train_layers, "train_layers")
        self.dims_ = [a.shape[1] for a in train_layers]
        self.estimators_ = [self._fit_layer(a) for a in train_layers]
        self.train_scores_ = [self._score_layer(e, a) for e, a in zip(self.estimators_, train_layers)]
        return self

    def _check_fitted(self):
        if not hasattr(self, "train_scores_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit(train_layers) first")

    def score_layers(self, layers) -> np.ndarray:
        """Raw per-layer OOD scores :math:`s_\\ell(x)` before normalisation: array (M, N)."""
        self._check_fitted()
        layers = as_layers(layers, "layers")
        check_dims([np.empty((1, d)) for d in self.dims_], layers)
        return np.stack([self._score_layer(e, a) for e, a in zip(self.estimators_, layers)])

    def normalised_layers(self, layers, normalise: str | None = None) -> np.ndarray:
        """:math:`N_\\ell(s_\\ell(x))`, array (M, N); ``normalise`` defaults to the constructor's."""
        norm = check_normalise(self.normalise if normalise is None else normalise)
        raw = self.score_layers(layers)
        return np.stack([normalise_scores(s, t, norm) for s, t in zip(raw, self.train_scores_)])

    def score(self, layers, logits=None) -> np.ndarray:
        """The aggregate OOD score: mean over layers of the normalised layer scores (higher = more OOD)."""
        return self.normalised_layers(layers).mean(axis=0)

    def score_all(self, layers, logits=None) -> dict[str, np.ndarray]:
        """The aggregate score under every normalisation, ``{name: (N,)}``, from one scoring pass
        (to report the spread the choice causes)."""
        self._check_fitted()
        raw = self.score_layers(layers)
        return {n: aggregate(raw, self.train_scores_, n) for n in NORMALISATIONS}


class OneClassSVMDetector(_PerLayer):
    r"""One-class SVM (RBF) per layer, scores normalised and averaged over layers (knn-ls's "SVM").

    Per-layer score: squared RKHS distance to the SVDD centre,
    :math:`s(x) = 1 - \frac2A\sum_i a_i K(x, z_i) + \frac1{A^2}\sum_{ij} a_i a_j K(z_i, z_j)`
    (higher = more OOD); aggregate :math:`\frac1M\sum_\ell N_\ell(s_\ell(x))` with :math:`N_\ell`
    chosen by ``normalise`` (see :mod:`oodrepro.detectors.classical`).

    Parameters
    ----------
    nu : float in (0, 1], default 0.1
        Upper bound on the fraction of training errors / lower bound on the fraction of support
        vectors (scikit-learn's ``nu``; the paper does not give it).
    gamma : "scale", "auto" or float > 0, default "scale"
        RBF width; "scale" = 1 / (D · Var) on the points the SVM is fitted on.
    max_fit : int or None, default 5000
        Fitting is O(n²)–O(n³) in time and O(n²) in kernel evaluations, so the SVM of each layer is
        fitted on a seeded uniform random subsample (not stratified) of at most ``max_fit`` training
        points (the same points for every layer); ``None`` fits on all. The normalisation statistics
        use *all* training points passed to ``fit``.
    normalise : {"train_mean", "zscore", "rank"}, default "train_mean"
    seed : int, default 0
        Seed of the subsample.

    Attributes
    ----------
    estimators_ : list of dict
        Per layer: ``svm`` (the fitted ``sklearn.svm.OneClassSVM``), ``gamma`` (the numeric γ),
        ``cc`` (:math:`\|c\|^2`).
    fit_index_ : ndarray
        Indices of the training points the SVMs were fitted on.
    train_scores_ : list of ndarray
        Per layer, the scores of all training points.

    References
    ----------
    Schölkopf, Platt, Shawe-Taylor, Smola, Williamson. Estimating the Support of a High-Dimensional
    Distribution. Neural Computation 13(7), 2001.
    Tax, Duin. Support Vector Data Description. Machine Learning 54, 2004.
    Bahri, Jiang, Tay, Metzler. Label Smoothed Embedding Hypothesis for Out-of-Distribution
    Detection. ICML 2021, §4.2.
    """

    def __init__(self, nu: float = 0.1, gamma="scale", max_fit: int | None = 5000,
                 normalise: str = "train_mean", seed: int = 0):
        super().__init__(normalise, seed)
        self.nu, self.gamma, self.max_fit = nu, gamma, max_fit

    def _validate(self):
        super()._validate()
        check_fraction("nu", self.nu, high_inclusive=True)
        check_int("max_fit", self.max_fit, 2, allow_none=True)
        rbf_gamma(np.ones((1, 1)), self.gamma)  # validates gamma

    def fit(self, train_layers, y=None, logits=None) -> "OneClassSVMDetector":
        train_layers = as_layers(train_layers, "train_layers")
        n = len(train_layers[0])
        self._validate()
        rng = np.random.default_rng(self.seed)
        if self.max_fit is None or n <= self.max_fit:
            self.fit_index_ = np.arange(n)
        else:
            self.fit_index_ = np.sort(rng.choice(n, size=int(self.max_fit), replace=False))
        return super().fit(train_layers)

    def _fit_layer(self, x):
        sub = np.asarray(x[self.fit_index_], dtype=np.float64)
        g = rbf_gamma(sub, self.gamma)
        svm = OneClassSVM(kernel="rbf", gamma=g, nu=float(self.nu)).fit(sub)
        return {"svm": svm, "gamma": g, "cc": svdd_centre_sq_norm(svm.support_vectors_, svm.dual_coef_, g)}

    def _score_layer(self, state, x):
        svm = state["svm"]
        return svdd_sq_distance(x, svm.support_vectors_, svm.dual_coef_, state["gamma"], state["cc"])


class IsolationForestDetector(_PerLayer):
    r"""Isolation Forest per layer, scores normalised and averaged over layers (knn-ls's
    "Isolation Forest", 100 trees).

    Per-layer score: Liu et al.'s anomaly score :math:`s(x) = 2^{-E[h(x)]/c(\psi)} \in (0, 1]`
    (scikit-learn's ``-score_samples``; higher = more OOD); aggregate
    :math:`\frac1M\sum_\ell N_\ell(s_\ell(x))`, :math:`N_\ell` chosen by ``normalise``.

    Parameters
    ----------
    n_estimators : int, default 100
    max_samples : "auto", int or float, default "auto"
        Sub-sample size ψ per tree (scikit-learn; "auto" = min(256, n)).
    normalise : {"train_mean", "zscore", "rank"}, default "train_mean"
    seed : int, default 0
        ``random_state`` of every layer's forest.
    n_jobs : int or None, default None
        Passed to scikit-learn.

    Attributes
    ----------
    estimators_ : list of sklearn.ensemble.IsolationForest
    train_scores_ : list of ndarray
        Per layer, the (in-sample) scores of the training points.

    References
    ----------
    Liu, Ting, Zhou. Isolation Forest. ICDM 2008.
    Bahri, Jiang, Tay, Metzler. Label Smoothed Embedding Hypothesis for Out-of-Distribution
    Detection. ICML 2021, §4.2.
    """

    def __init__(self, n_estimators: int = 100, max_samples="auto", normalise: str = "train_mean",
                 seed: int = 0, n_jobs: int | None = None):
        super().__init__(normalise, seed)
        self.n_estimators, self.max_samples, self.n_jobs = n_estimators, max_samples, n_jobs

    def _validate(self):
        super()._validate()
        check_int("n_estimators", self.n_estimators, 1)

    def fit(self, train_layers, y=None, logits=None) -> "IsolationForestDetector":
        return super().fit(train_layers)

    def _fit_layer(self, x):
        return IsolationForest(n_estimators=int(self.n_estimators), max_samples=self.max_samples,
                               random_state=self.seed, n_jobs=self.n_jobs).fit(x)

    def _score_layer(self, forest, x):
        return -forest.score_samples(x).astype(np.float64)
