r"""Isolation Forest per layer, the "Isolation Forest" baseline of knn-ls Table 1 (Bahri et al., arXiv:2102.05131, 2021,
§4.2): 100 trees fitted on every layer's training embeddings, the per-layer OOD scores normalised and averaged
over layers (:mod:`oodrepro.detectors.per_layer`). The per-layer score (higher = more OOD):

**Isolation Forest** (Liu et al. 2008): the anomaly score :math:`s(x) = 2^{-E[h(x)] / c(\psi)}
\in (0, 1]` of the paper, i.e. ``-score_samples`` of scikit-learn's ``IsolationForest``.
"""
from __future__ import annotations

import numpy as np
from sklearn.ensemble import IsolationForest

from .base import check_int
from .per_layer import PerLayerDetector


class IsolationForestDetector(PerLayerDetector):
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
    Detection. arXiv:2102.05131 (preprint), 2021, §4.2.
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
