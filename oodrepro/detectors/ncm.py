r"""odm's detector (Masana et al., BMVC 2018, §3; the authors' code): nearest class mean.

The class means :math:`\mu_c` of the training embeddings f(x) (the metric-learned embedding, the last
layer given) classify by :math:`\arg\min_c \|f(x) - \mu_c\|^2`, and the OOD score is
:math:`s(x) = \min_c \|f(x) - \mu_c\|_2^2`. The maths is in :mod:`oodrepro.losses`.
"""
from __future__ import annotations

import numpy as np
from sklearn.exceptions import NotFittedError

from ..errors import ParameterError
from ..losses import class_means, ncm_predict, ncm_score
from .base import as_layers, check_dims


class NearestClassMean:
    """Nearest-class-mean OOD score on one layer (default the last one, the embedding)."""

    def __init__(self, layer: int = -1):
        self.layer = layer

    def fit(self, train_layers, y=None, logits=None) -> "NearestClassMean":
        """Class means of layer ``layer`` of ``train_layers``; needs the training labels ``y``."""
        layers = as_layers(train_layers, "train_layers")
        if y is None:
            raise ParameterError("NearestClassMean.fit needs the training labels: pass y=…")
        self._dims = [a[:1] for a in layers]
        self.means_ = class_means(layers[self.layer], y)
        return self

    def _embedding(self, layers) -> np.ndarray:
        if not hasattr(self, "means_"):
            raise NotFittedError("NearestClassMean is not fitted yet; call fit(train_layers, y) first")
        layers = as_layers(layers)
        check_dims(self._dims, layers)
        return layers[self.layer]

    def score(self, layers, logits=None) -> np.ndarray:
        """``min_c ||f(x) − μ_c||²`` (higher = more OOD)."""
        return ncm_score(self._embedding(layers), self.means_)

    def predict(self, layers) -> np.ndarray:
        """Nearest-class-mean labels."""
        return ncm_predict(self._embedding(layers), self.means_)
