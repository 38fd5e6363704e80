r"""odm's detector (Masana et al., BMVC 2018, §3; the authors' code): nearest class mean.

The class means :math:`\mu_c = \frac{1}{|S_c|}\sum_{i \in S_c} f(x_i)` of the training embeddings f(x) (the
metric-learned embedding, the last layer given) classify by :math:`\hat c(x) = \arg\min_c \|f(x) - \mu_c\|^2`,
and the OOD score is :math:`s(x) = \min_c \|f(x) - \mu_c\|_2^2`. The maths is in the pure functions
:func:`class_means`, :func:`squared_distances`, :func:`ncm_predict` and :func:`ncm_score`, which the odm
chapter (:mod:`oodrepro.experiments.odm.methods`) and the classroom assignment use directly.
"""
from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from .base import as_layers, check_fitted, check_widths


def _as2d(name: str, a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or len(a) == 0:
        raise ParameterError(f"{name} must be a non-empty 2-d array (N, D), got shape {a.shape}")
    return a


def class_means(embeddings, y) -> np.ndarray:
    r"""The class means :math:`\mu_c = \frac{1}{|S_c|}\sum_{i \in S_c} f(x_i)` of the training
    embeddings, one row per class 0 … max(y) (odm §3; the authors use the whole training set)."""
    e = _as2d("embeddings", embeddings)
    y = np.asarray(y).astype(int).ravel()
    if len(y) != len(e) or (y < 0).any():
        raise ParameterError(f"labels y must be {len(e)} integers >= 0 (one per embedding)")
    counts = np.bincount(y)
    if (counts == 0).any():
        raise ParameterError(f"class(es) {np.flatnonzero(counts == 0).tolist()} have no training embedding")
    sums = np.zeros((len(counts), e.shape[1]))
    np.add.at(sums, y, e)
    return sums / counts[:, None]


def squared_distances(embeddings, means) -> np.ndarray:
    r""":math:`\|f(x) - \mu_c\|^2` for every point and class, shape (N, C)."""
    e, mu = _as2d("embeddings", embeddings), _as2d("means", means)
    if e.shape[1] != mu.shape[1]:
        raise ParameterError(f"embeddings have {e.shape[1]} dimensions but the class means {mu.shape[1]}")
    d = (e * e).sum(1)[:, None] - 2 * e @ mu.T + (mu * mu).sum(1)[None, :]
    return np.maximum(d, 0.0)


def ncm_predict(embeddings, means) -> np.ndarray:
    r"""Nearest-class-mean classification :math:`\hat c(x) = \arg\min_c \|f(x) - \mu_c\|^2`."""
    return squared_distances(embeddings, means).argmin(1)


def ncm_score(embeddings, means) -> np.ndarray:
    r"""odm's OOD score (authors' code): :math:`s(x) = \min_c \|f(x) - \mu_c\|_2^2`, the squared
    distance to the nearest class mean of the training embeddings (higher = more OOD)."""
    return squared_distances(embeddings, means).min(1)


class NearestClassMean:
    r"""Nearest-class-mean OOD score on one layer (default the last one, the embedding): odm's
    :math:`s(x) = \min_c \|f(x) - \mu_c\|_2^2` with the class means :math:`\mu_c` of the training embeddings
    (Masana et al., BMVC 2018, §3); :meth:`predict` classifies by the nearest mean. Needs the labels ``y``.

    Attributes
    ----------
    means_ : ndarray (C, D) — the class means, row c for class c.
    """

    def __init__(self, layer: int = -1):
        self.layer = layer

    def fit(self, train_layers, y=None, logits=None) -> "NearestClassMean":
        """Class means of layer ``layer`` of ``train_layers``; needs the training labels ``y``."""
        layers = as_layers(train_layers, "train_layers")
        if y is None:
            raise ParameterError("NearestClassMean.fit needs the training labels: pass y=…")
        self.dims_ = [a.shape[1] for a in layers]
        self.means_ = class_means(layers[self.layer], y)
        return self

    def _embedding(self, layers) -> np.ndarray:
        check_fitted(self, "means_", "fit(train_layers, y)")
        return check_widths(layers, self.dims_)[self.layer]

    def score(self, layers, logits=None) -> np.ndarray:
        """``min_c ||f(x) − μ_c||²`` (higher = more OOD)."""
        return ncm_score(self._embedding(layers), self.means_)

    def predict(self, layers) -> np.ndarray:
        """Nearest-class-mean labels."""
        return ncm_predict(self._embedding(layers), self.means_)
