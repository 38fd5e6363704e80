r"""Detectors on a classifier's logits.

Control (Hendrycks & Gimpel 2017; knn-ls §4.2, "Control"): the maximum softmax probability
:math:`\max_j \mathrm{softmax}(z)_j` is a confidence, so the OOD score is its negative,
:math:`s(x) = -\max_j \mathrm{softmax}(z(x))_j`.
"""
from __future__ import annotations

import numpy as np

from ._validate import as_layers


def max_softmax_score(logits: np.ndarray) -> np.ndarray:
    """OOD score ``−max softmax(logits)`` per row (higher = more OOD)."""
    (z,) = as_layers([logits], "logits")
    z = z.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    return -p.max(axis=1)


class MaxSoftmax:
    """Maximum-softmax baseline ("Control"). Needs no fitting; ``fit`` exists for a uniform API.

    References
    ----------
    Hendrycks & Gimpel. A Baseline for Detecting Misclassified and Out-of-Distribution Examples in
    Neural Networks. ICLR 2017.
    """

    def fit(self, *_args, **_kw) -> "MaxSoftmax":
        return self

    def score(self, logits) -> np.ndarray:
        if isinstance(logits, (list, tuple)):
            logits = logits[-1]
        return max_softmax_score(logits)
