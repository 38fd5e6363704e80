r"""Mahalanobis (Lee, Lee, Lee, Shin. A Simple Unified Framework for Detecting Out-of-Distribution Samples
and Adversarial Attacks, NeurIPS 2018, Eq. 2): class means :math:`\mu_c` and the shared (tied) covariance
:math:`\Sigma = \frac1N\sum_i (z_i - \mu_{y_i})(z_i - \mu_{y_i})^\top` of the training features;
:math:`s = \min_c (z - \mu_c)^\top\Sigma^{-1}(z - \mu_c)` (one layer, no input pre-processing, no layer
ensemble). A baseline of the kpca chapter (Fang et al., Tables 1–3).
"""
from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from .base import FeatureDetector


class Mahalanobis(FeatureDetector):
    r"""Minimum Mahalanobis distance to the class means under the shared covariance (Lee, Lee, Lee, Shin.
    A Simple Unified Framework for Detecting OOD Samples and Adversarial Attacks, NeurIPS 2018, Eq. 2):
    :math:`s(z) = \min_c (z - \mu_c)^\top \Sigma^{-1} (z - \mu_c)`; needs the labels ``y``.
    :math:`\Sigma^{-1}` is the pseudo-inverse (a singular covariance is allowed)."""

    def __init__(self, layer: int = 0):
        self.layer = layer

    def fit(self, train_layers, y=None, logits=None) -> "Mahalanobis":
        z = self._train(train_layers)
        if y is None or len(y) != len(z):
            raise ParameterError("Mahalanobis needs the training labels: pass fit(train_layers, y=…), "
                                 "one per point")
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        self.means_ = np.stack([z[y == c].mean(axis=0) for c in self.classes_])
        centred = z - self.means_[np.searchsorted(self.classes_, y)]
        self.precision_ = np.linalg.pinv(centred.T @ centred / len(z), hermitian=True)
        self.whitener_ = None
        self.fitted_ = True
        return self

    def score(self, layers, logits=None) -> np.ndarray:
        """:math:`\\min_c` squared Mahalanobis distance (higher = more OOD)."""
        # (z − μ_c)ᵀP(z − μ_c) = ‖(z − μ_c)W‖² with P = WWᵀ (P is symmetric PSD): one (n, D) × (D, D)
        # product, then one (n, D) difference per class, instead of an (n, C, D) array contracted twice.
        z = self._test(layers)  # checks fitted, widths, NaN first
        if getattr(self, "whitener_", None) is None:
            s, v = np.linalg.eigh(self.precision_)
            self.whitener_ = v * np.sqrt(np.clip(s, 0.0, None))
        zw, mw = z @ self.whitener_, self.means_ @ self.whitener_
        out = np.full(len(zw), np.inf)
        for m in mw:
            out = np.minimum(out, ((zw - m) ** 2).sum(axis=1))
        return out
