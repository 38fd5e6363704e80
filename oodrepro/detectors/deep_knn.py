r"""Deep k-NN (Sun, Ming, Zhu, Li. Out-of-Distribution Detection with Deep Nearest Neighbors, ICML 2022, §3):
:math:`s = \|\hat z - \hat z_{(k)}\|_2` with :math:`\hat z = z/\|z\|`, the distance to the k-th nearest
L2-normalised training feature (faiss ``IndexFlatL2``, exact). A baseline of the kpca chapter (Fang et al.,
Tables 1–3); knn-ls's k-NN radius (:mod:`oodrepro.detectors.knn`) is the same distance on unnormalised
embeddings, averaged over layers.
"""
from __future__ import annotations

import numpy as np

from .base import FeatureDetector, check_k
from .knn import flat_l2_index, kth_distance
from .kpca import cosine_map


class DeepKNN(FeatureDetector):
    r"""k-NN on L2-normalised features (Sun, Ming, Zhu, Li. Out-of-Distribution Detection with Deep
    Nearest Neighbors, ICML 2022, §3): :math:`s(z) = \|\hat z - \hat z_{(k)}\|_2`, :math:`\hat z =
    z/\|z\|`, the distance to the k-th nearest normalised training feature (exact, faiss
    ``IndexFlatL2``). Default k = 50 (their CIFAR-10 setting; 1000 on ImageNet at 100 % of the data)."""

    def __init__(self, k: int = 50, layer: int = 0):
        self.k, self.layer = k, layer

    def fit(self, train_layers, y=None, logits=None) -> "DeepKNN":
        z = cosine_map(self._train(train_layers))
        self.k_ = check_k(self.k, len(z), loo=False)
        self.index_ = flat_l2_index(z.astype(np.float32))
        self.fitted_ = True
        return self

    def score(self, layers, logits=None) -> np.ndarray:
        """k-th neighbour distance of the normalised feature (higher = more OOD)."""
        z = cosine_map(self._test(layers)).astype(np.float32)
        return kth_distance(self.index_, z, self.k_)
