r"""The k-NN radius score of knn-ls (Bahri et al., arXiv:2102.05131, §2).

k-NN radius (Definition 1): :math:`r_k(x; X) = \inf\{r > 0 : |X \cap B(x, r)| \ge k\}`, Euclidean,
i.e. the distance from x to its k-th nearest point of X.

Per layer i with embedding map :math:`g_i` and the leave-one-out normaliser

.. math::
    \hat T_i(x) = \frac{r_k(g_i(x); g_i(X_{in}))}{\hat Q_i}, \qquad
    \hat Q_i = \frac{1}{|X_{in}|}\sum_{x \in X_{in}} r_{k+1}(g_i(x); g_i(X_{in}))

(the point itself is its own first neighbour, so :math:`r_{k+1}` on the full set equals
:math:`r_k` on the set without it), and the score averages over the M layers:
:math:`\hat T(x) = \frac1M \sum_i \hat T_i(x)`. Higher = more OOD. Defaults: k = 1.

Neighbours come from faiss's exact ``IndexFlatL2`` (squared distances; we take the square root).
"""
from __future__ import annotations

import faiss
import numpy as np

from .base import as_layers, check_dims, check_fitted, check_k, check_widths


def flat_l2_index(bank: np.ndarray) -> faiss.Index:
    """An exact faiss ``IndexFlatL2`` holding the rows of ``bank`` (float32)."""
    idx = faiss.IndexFlatL2(bank.shape[1])
    idx.add(np.ascontiguousarray(bank, dtype=np.float32))
    return idx


def kth_distance(index: faiss.Index, queries: np.ndarray, k: int) -> np.ndarray:
    """Euclidean distance (float64) from each query to its k-th nearest row of ``index``."""
    d2, _ = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    return np.sqrt(np.maximum(d2[:, k - 1], 0.0)).astype(np.float64)


def knn_radius(queries: np.ndarray, bank: np.ndarray, k: int = 1) -> np.ndarray:
    """:math:`r_k(q; X)` for every row q of ``queries`` with X = ``bank`` (exact, Euclidean)."""
    (bank,) = as_layers([bank], "bank")
    (queries,) = as_layers([queries], "queries")
    check_dims([bank], [queries])
    k = check_k(k, len(bank), loo=False)
    return kth_distance(flat_l2_index(bank), queries, k)


def loo_normaliser(bank: np.ndarray, k: int = 1) -> float:
    r""":math:`\hat Q = \mathrm{mean}_{x \in X}\, r_{k+1}(x; X)`, the leave-one-out mean k-NN radius."""
    (bank,) = as_layers([bank], "bank")
    k = check_k(k, len(bank), loo=True)
    return float(kth_distance(flat_l2_index(bank), bank, k + 1).mean())


class KNNRadius:
    r"""knn-ls's OOD score :math:`\hat T(x) = \frac1M\sum_i r_k(g_i(x); g_i(X_{in})) / \hat Q_i`.

    Parameters
    ----------
    k : int, default 1
        Which neighbour's distance to use (1 ≤ k < training-set size).

    Attributes
    ----------
    q_ : ndarray (M,)
        The leave-one-out normalisers :math:`\hat Q_i`, one per layer.

    References
    ----------
    Bahri, Jiang, Tay, Metzler. Label Smoothed Embedding Hypothesis for Out-of-Distribution
    Detection. Preprint, arXiv:2102.05131, 2021, Section 2.
    """

    def __init__(self, k: int = 1):
        self.k = k

    def fit(self, train_layers, y=None, logits=None) -> "KNNRadius":
        """Index each layer of the training embeddings and compute the normalisers (``y``, ``logits``:
        unused, accepted for the common protocol)."""
        train_layers = as_layers(train_layers, "train_layers")
        self.k_ = check_k(self.k, len(train_layers[0]), loo=True)
        self.dims_ = [a.shape[1] for a in train_layers]
        self.indexes_ = [flat_l2_index(a) for a in train_layers]
        self.q_ = np.array([kth_distance(ix, a, self.k_ + 1).mean() for ix, a in zip(self.indexes_, train_layers)])
        if np.any(self.q_ <= 0):
            bad = int(np.argmax(self.q_ <= 0))
            raise ValueError(f"layer {bad}: leave-one-out normaliser is 0 (more than k duplicate training points)")
        return self

    def radii(self, layers) -> np.ndarray:
        """:math:`r_k(g_i(x); g_i(X_{in}))` for each layer, not normalised: array (M, N)."""
        check_fitted(self, "q_")
        layers = check_widths(layers, self.dims_)
        return np.stack([kth_distance(ix, a, self.k_) for ix, a in zip(self.indexes_, layers)])

    def score_layers(self, layers) -> np.ndarray:
        """:math:`\\hat T_i(x)` for each layer: array (M, N)."""
        return self.radii(layers) / self.q_[:, None]

    def score(self, layers, logits=None) -> np.ndarray:
        """:math:`\\hat T(x)`, the mean over layers (higher = more OOD)."""
        return self.score_layers(layers).mean(axis=0)
