r"""knn-ls's k-NN radius score for several k at once (the sweep of Figure 2).

:math:`\hat T^{(k)}(x) = \frac1M\sum_i r_k(g_i(x); g_i(X_{in})) / \hat Q_i^{(k)}` with
:math:`\hat Q_i^{(k)} = \mathrm{mean}_{x \in X_{in}}\, r_{k+1}(g_i(x); g_i(X_{in}))` — exactly
:class:`~oodrepro.detectors.knn.KNNRadius` with ``k`` (Bahri et al., arXiv:2102.05131, §2, Definition 1),
for every k of a grid from **one** neighbour search per layer: the training set against itself at
:math:`\max k + 1` neighbours (the leave-one-out normalisers) and each scored set at :math:`\max k`.

The k-th column of a search for K ≥ k neighbours holds the same float32 squared distance as a search for k
(the distances do not depend on K; only which of several equal ones comes first may), so every score equals
``KNNRadius(k)``'s; the test-suite checks it. On the paper profile of Figure 2 (60,000 training points,
seven values of k) the per-k searches repeated the 60,000 × 60,000 search seven times per layer and model.
"""
from __future__ import annotations

import hashlib

import numpy as np

from ..errors import ParameterError
from .base import as_layers, check_fitted, check_k, check_widths
from .knn import flat_l2_index


def _distances(index, queries: np.ndarray, k: int) -> np.ndarray:
    """Euclidean distances (float64) from each query to its 1st … k-th nearest row of ``index``: (N, k)."""
    d2, _ = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    return np.sqrt(np.maximum(d2, 0.0)).astype(np.float64)


class KNNRadiusGrid:
    r"""The k-NN radius score :math:`\hat T^{(k)}` for every k in ``k_grid``, one search per layer.

    Parameters
    ----------
    k_grid : sequence of int
        The numbers of neighbours (each ≥ 1 and below the training-set size).

    Attributes
    ----------
    q_ : dict int → ndarray (M,)
        The leave-one-out normalisers :math:`\hat Q_i^{(k)}` per k, one per layer.

    ``score(layers, k=None)`` gives :math:`\hat T^{(k)}` (``k`` defaults to the grid's first value); the
    neighbour distances of the last :data:`KEEP` scored sets are kept, so scoring one of them for the next k
    searches nothing.
    """

    #: How many scored sets' neighbour distances are kept (a page scores the in-distribution test set and a few
    #: OOD sets for each k in turn).
    KEEP = 8

    def __init__(self, k_grid=(1,)):
        self.k_grid = k_grid

    def _ks(self, n_train: int) -> list[int]:
        ks = list(self.k_grid) if isinstance(self.k_grid, (list, tuple)) else None
        if not ks:
            raise ParameterError(f"parameter 'k_grid' = {self.k_grid!r} is not accepted; use a non-empty list of "
                                 "integers >= 1")
        return [check_k(k, n_train, loo=True) for k in ks]

    def fit(self, train_layers, y=None, logits=None) -> "KNNRadiusGrid":
        """Index each layer and compute the normalisers of every k from one leave-one-out search."""
        train_layers = as_layers(train_layers, "train_layers")
        self.ks_ = self._ks(len(train_layers[0]))
        kmax = max(self.ks_)
        self.dims_ = [a.shape[1] for a in train_layers]
        self.indexes_ = [flat_l2_index(a) for a in train_layers]
        loo = [_distances(ix, a, kmax + 1) for ix, a in zip(self.indexes_, train_layers)]
        self.q_ = {k: np.array([d[:, k].mean() for d in loo]) for k in self.ks_}
        for k, q in self.q_.items():
            if np.any(q <= 0):
                raise ValueError(f"layer {int(np.argmax(q <= 0))}: leave-one-out normaliser is 0 for k = {k} (more "
                                 "than k duplicate training points)")
        self._seen = {}
        return self

    def _k(self, k) -> int:
        k = self.ks_[0] if k is None else k
        if k not in self.ks_:
            raise ParameterError(f"parameter 'k' = {k!r} is not in the fitted k_grid {self.ks_}")
        return int(k)

    def radii(self, layers, k=None) -> np.ndarray:
        """:math:`r_k(g_i(x); g_i(X_{in}))` for each layer, not normalised: array (M, N)."""
        check_fitted(self, "q_")
        k = self._k(k)
        layers = check_widths(layers, self.dims_)
        digest = hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() + str(a.shape).encode()
                                         for a in layers)).hexdigest()
        if digest not in self._seen:
            while len(self._seen) >= self.KEEP:
                self._seen.pop(next(iter(self._seen)))
            self._seen[digest] = [_distances(ix, a, max(self.ks_)) for ix, a in zip(self.indexes_, layers)]
        return np.stack([d[:, k - 1] for d in self._seen[digest]])

    def score(self, layers, logits=None, k=None) -> np.ndarray:
        r""":math:`\hat T^{(k)}(x)`, the mean over layers of the normalised radii (higher = more OOD)."""
        check_fitted(self, "q_")
        k = self._k(k)
        return (self.radii(layers, k) / self.q_[k][:, None]).mean(axis=0)
