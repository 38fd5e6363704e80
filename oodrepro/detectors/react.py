r"""ReAct (Sun, Guo, Li. ReAct: Out-of-distribution Detection With Rectified Activations, NeurIPS 2021,
Eq. 3–4): clip the penultimate features at c, :math:`\bar z = \min(z, c)`, c = the p-th percentile
(p = 90) of the training activations, then take the energy of the last linear layer,
:math:`s = -\log\sum_j e^{(W\bar z + b)_j}`. A baseline of the kpca chapter (Fang et al., Tables 1–3);
its confidence (:func:`react_energy`) is also the "+ReAct" fusion of :class:`oodrepro.detectors.kpca.KPCA`.
"""
from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from .base import FeatureDetector, check_positive
from .energy import energy_confidence


def react_energy(features: np.ndarray, weight: np.ndarray, bias: np.ndarray, clip: float) -> np.ndarray:
    r"""ReAct's confidence (Sun et al. 2021, Eq. 3–4): :math:`S(z) = \mathrm{logsumexp}(W \bar z + b)`
    with :math:`\bar z = \min(z, c)` (the last linear layer on the clipped features)."""
    z = np.minimum(np.asarray(features, dtype=np.float64), clip)
    return energy_confidence(z @ np.asarray(weight, dtype=np.float64).T + np.asarray(bias, dtype=np.float64))


def react_score(features, weight, bias, clip: float) -> np.ndarray:
    """:math:`-\\mathrm{logsumexp}(W\\min(z, c) + b)` per row."""
    return -react_energy(features, weight, bias, clip)


class ReAct(FeatureDetector):
    r"""ReAct (Sun, Guo, Li. ReAct: Out-of-distribution Detection With Rectified Activations, NeurIPS
    2021, Eq. 3–4): clip the features at c, then the energy of the last linear layer:
    :math:`s = -\log\sum_j e^{(W\min(z, c) + b)_j}`.

    Parameters
    ----------
    weight, bias : arrays (C, D), (C,) — the last linear layer.
    percentile : float in (0, 100), default 90 — c = this percentile of the training activations.
    clip : float > 0 or None, default None — a fixed c instead of the percentile.
    layer : int, default 0
    """

    def __init__(self, weight=None, bias=None, percentile: float = 90.0, clip: float | None = None, layer: int = 0):
        self.weight, self.bias, self.percentile, self.clip, self.layer = weight, bias, percentile, clip, layer

    def fit(self, train_layers, y=None, logits=None) -> "ReAct":
        z = self._train(train_layers)
        self.weight_, self.bias_ = self._linear(z.shape[1])
        if self.clip is not None:
            self.clip_ = check_positive("clip", self.clip)
        else:
            if not (isinstance(self.percentile, (int, float)) and 0 < self.percentile < 100):
                raise ParameterError(f"parameter 'percentile' = {self.percentile!r} is not accepted; "
                                     "use 0 < percentile < 100")
            self.clip_ = float(np.percentile(z, self.percentile))
        self.fitted_ = True
        return self

    def score(self, layers, logits=None) -> np.ndarray:
        """Energy of the clipped features (higher = more OOD)."""
        return react_score(self._test(layers), self.weight_, self.bias_, self.clip_)
