r"""Maximum softmax probability, MSP (Hendrycks & Gimpel, ICLR 2017; knn-ls §4.2, "Control"; odm's CE).

The maximum softmax probability :math:`\max_j \mathrm{softmax}(z)_j` is a confidence, so the OOD score
is its negative, :math:`s(x) = -\max_j \mathrm{softmax}(z(x))_j`.
"""
from __future__ import annotations

import numpy as np

from .base import as_layers, logits_of


def max_softmax_score(logits: np.ndarray) -> np.ndarray:
    """OOD score ``−max softmax(logits)`` per row (higher = more OOD)."""
    (z,) = as_layers([logits], "logits")
    z = z.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    return -p.max(axis=1)


class MaxSoftmax:
    r"""Maximum-softmax baseline ("Control"): :math:`s(x) = -\max_j \mathrm{softmax}(z(x))_j` (Hendrycks &
    Gimpel 2017, §2). Needs no fitting; ``fit`` exists for a uniform API.

    References
    ----------
    Hendrycks & Gimpel. A Baseline for Detecting Misclassified and Out-of-Distribution Examples in
    Neural Networks. ICLR 2017.
    """

    def fit(self, train_layers=None, y=None, logits=None) -> "MaxSoftmax":
        """Nothing to learn; returns ``self`` (the common protocol)."""
        self.fitted_ = True
        return self

    def score(self, layers=None, logits=None) -> np.ndarray:
        """``−max softmax`` of ``logits``, or of the last of ``layers`` (the logits layer) if none given."""
        return max_softmax_score(logits_of(layers, logits, "MaxSoftmax"))
