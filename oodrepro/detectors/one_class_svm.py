r"""One-class SVM per layer, the "SVM" baseline of knn-ls Table 1 (Bahri et al., arXiv:2102.05131, 2021, §4.2): fitted on
every layer's training embeddings, its per-layer OOD scores normalised and averaged over layers
(:mod:`oodrepro.detectors.per_layer`). The per-layer score (higher = more OOD, :math:`\ge 0`):

**One-class SVM** (Schölkopf et al. 2001), RBF kernel :math:`K(x, z) = e^{-\gamma\|x - z\|^2}`,
dual coefficients :math:`a_i` on the support vectors :math:`z_i`, :math:`A = \sum_i a_i`. For a
kernel with :math:`K(x, x) = 1` the one-class SVM is the SVDD (Tax & Duin 2004), and the score is
the squared RKHS distance to its centre :math:`c = \sum_i a_i \phi(z_i) / A`:

.. math:: s(x) = \|\phi(x) - c\|^2 = 1 - \frac{2}{A}\sum_i a_i K(x, z_i)
          + \frac{1}{A^2}\sum_{i,j} a_i a_j K(z_i, z_j),

a decreasing affine function of scikit-learn's ``score_samples`` (so it ranks exactly as the
SVM's decision function; only ``"train_mean"`` depends on the choice).
"""
from __future__ import annotations

import numpy as np
from sklearn.svm import OneClassSVM

from ..errors import ParameterError
from .base import as_layers, check_fraction, check_int
from .per_layer import PerLayerDetector


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


class OneClassSVMDetector(PerLayerDetector):
    r"""One-class SVM (RBF) per layer, scores normalised and averaged over layers (knn-ls's "SVM").

    Per-layer score: squared RKHS distance to the SVDD centre,
    :math:`s(x) = 1 - \frac2A\sum_i a_i K(x, z_i) + \frac1{A^2}\sum_{ij} a_i a_j K(z_i, z_j)`
    (higher = more OOD); aggregate :math:`\frac1M\sum_\ell N_\ell(s_\ell(x))` with :math:`N_\ell`
    chosen by ``normalise`` (see :mod:`oodrepro.detectors.per_layer`).

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
    Detection. arXiv:2102.05131 (preprint), 2021, §4.2.
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
