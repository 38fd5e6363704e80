r"""MaxLogit (Hendrycks et al. Scaling Out-of-Distribution Detection for Real-World Settings, ICML 2022):
the largest logit is a confidence, so the OOD score is its negative, :math:`s(x) = -\max_j f_j(x)`.
A baseline of the kpca chapter (Fang et al., Tables 1–3).
"""
from __future__ import annotations

import numpy as np

from .base import LogitDetector


def max_logit_score(logits) -> np.ndarray:
    """:math:`-\\max_j f_j` per row."""
    return -np.asarray(logits, dtype=np.float64).max(axis=1)


class MaxLogit(LogitDetector):
    """MaxLogit: :math:`-\\max_j f_j(x)` (Hendrycks et al., Scaling OOD Detection to Real-World
    Settings, ICML 2022). ``temperature`` is unused."""

    def _score(self, z):
        return max_logit_score(z)
