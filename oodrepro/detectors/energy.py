r"""Energy score (Liu, Wang, Owens, Li. Energy-based Out-of-distribution Detection, NeurIPS 2020, Eq. 5):
:math:`s(x) = E(x; f) = -T\log\sum_j e^{f_j(x)/T}`, T = 1. Low energy = in-distribution, so the energy is
already an OOD score. A baseline of the kpca chapter (Fang et al., Tables 1–3); its confidence
:math:`\mathrm{logsumexp}_j f_j` (:func:`energy_confidence`) also picks KPCA's Nyström landmarks.
"""
from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from .base import LogitDetector


def energy_confidence(logits: np.ndarray) -> np.ndarray:
    r""":math:`\mathrm{logsumexp}_j f_j(x)` (T = 1): minus the energy :math:`E(x) = -\mathrm{logsumexp}`,
    high for confident points."""
    return logsumexp(np.asarray(logits, dtype=np.float64), axis=1)


def energy_score(logits, temperature: float = 1.0) -> np.ndarray:
    """:math:`E = -T\\,\\mathrm{logsumexp}(f / T)` per row."""
    return -temperature * energy_confidence(np.asarray(logits, dtype=np.float64) / temperature)


class Energy(LogitDetector):
    """Energy score :math:`-T\\log\\sum_j e^{f_j/T}` (Liu, Wang, Owens, Li. Energy-based OOD Detection,
    NeurIPS 2020, Eq. 5); default T = 1."""

    def _score(self, z):
        return energy_score(z, float(self.temperature))
