r"""ODIN (Liang, Li, Srikant. Enhancing the Reliability of Out-of-distribution Image Detection in Neural
Networks, ICLR 2018): temperature scaling (Eq. 1), :math:`S_j(x; T) = \mathrm{softmax}(f(x)/T)_j`, and the OOD
score :math:`s(x) = -\max_j S_j(x; T)`, T = 1000. A baseline of the kpca chapter (Fang et al., Tables 1–3,
on the logits alone).
"""
from __future__ import annotations

import numpy as np

from .base import LogitDetector
from .msp import max_softmax_score


def odin_score(logits, temperature: float = 1000.0) -> np.ndarray:
    """:math:`-\\max_j \\mathrm{softmax}(f / T)_j` per row (temperature scaling only)."""
    return max_softmax_score(np.asarray(logits, dtype=np.float64) / temperature)


class ODIN(LogitDetector):
    """ODIN's temperature-scaled softmax, :math:`-\\max_j \\mathrm{softmax}(f/T)_j`, T = 1000 (Liang, Li,
    Srikant, ICLR 2018, Eq. 1). The input perturbation (Eq. 2) needs the model: not done here."""

    def __init__(self, temperature: float = 1000.0):
        super().__init__(temperature)

    def _score(self, z):
        return odin_score(z, float(self.temperature))
