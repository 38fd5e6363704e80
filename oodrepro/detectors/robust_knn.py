r"""Robust Deep k-NN / DkNN (Papernot & McDaniel 2018), the "Robust k-NN" baseline of knn-ls Table 1.

For every layer :math:`\ell` the k nearest training points of :math:`g_\ell(x)` are found by cosine
similarity. For a candidate label j the *nonconformity* counts the neighbours, over all layers,
whose label is not j:

.. math::
    \alpha_j(x) = \sum_{\ell=1}^{M} \bigl|\{ z \in \Omega_\ell(x) : \mathrm{label}(z) \ne j \}\bigr|,

with :math:`\Omega_\ell(x)` the k neighbours in layer :math:`\ell`. A held-out calibration set C gives
the reference values :math:`A = \{\alpha_{y}(x') : (x', y) \in C\}` (each calibration point's own
label), and the conformal p-value of label j is the fraction of A at least as nonconforming:

.. math::
    p_j(x) = \frac{|\{a \in A : a \ge \alpha_j(x)\}|}{|A|}.

DkNN predicts :math:`\arg\max_j p_j(x)`; its *credibility* is :math:`\max_j p_j(x)`, a confidence.
The OOD score returned here is the negated confidence shifted to be non-negative,
:math:`s(x) = 1 - \max_j p_j(x)` (higher = more OOD).

knn-ls's settings (§4.2): k = 50, cosine similarity, 10 % of the training set held out for
calibration; the layers are the same embeddings the k-NN radius uses.
"""
from __future__ import annotations

import faiss
import numpy as np

from ..errors import ParameterError
from .base import as_layers, check_dims, check_fitted, check_fraction, check_k, check_widths


def l2_normalise(a: np.ndarray) -> np.ndarray:
    """Rows divided by their Euclidean norm; an all-zero row (a dead ReLU layer) stays all-zero,
    so its cosine similarity with every point is 0."""
    a = np.asarray(a, dtype=np.float32)
    n = np.linalg.norm(a, axis=1, keepdims=True)
    return np.ascontiguousarray(a / np.maximum(n, np.float32(1e-12)), dtype=np.float32)


def _cos_index(bank: np.ndarray) -> faiss.Index:
    idx = faiss.IndexFlatIP(bank.shape[1])
    idx.add(l2_normalise(bank))
    return idx


def cosine_neighbours(queries: np.ndarray, bank: np.ndarray, k: int) -> np.ndarray:
    """Indices (N, k) into ``bank`` of each query's k most cosine-similar rows, most similar first
    (exact search, faiss ``IndexFlatIP`` on L2-normalised rows)."""
    (bank,) = as_layers([bank], "bank")
    (queries,) = as_layers([queries], "queries")
    check_dims([bank], [queries])
    k = check_k(k, len(bank), loo=False)
    _, ind = _cos_index(bank).search(l2_normalise(queries), k)
    return ind


def nonconformity(neighbour_labels, n_classes: int) -> np.ndarray:
    r""":math:`\alpha_j(x)` for every query and every class j: array (N, C) of ints.

    ``neighbour_labels`` is a list (one entry per layer) of integer arrays (N, k) holding the class
    index (0 … C−1) of each neighbour.
    """
    layers = [np.asarray(a) for a in neighbour_labels]
    if not layers:
        raise ParameterError("neighbour_labels: empty layer list; pass one (N, k) label array per layer")
    n = layers[0].shape[0]
    agree = np.zeros(n * n_classes, dtype=np.int64)
    total = 0
    offset = (np.arange(n) * n_classes)[:, None]
    for lab in layers:
        if lab.ndim != 2 or lab.shape[0] != n:
            raise ValueError(f"neighbour_labels: every layer must be an (N={n}, k) array, got {lab.shape}")
        if lab.size and (lab.min() < 0 or lab.max() >= n_classes):
            raise ValueError(f"neighbour_labels: class indices must lie in 0 … {n_classes - 1}")
        agree += np.bincount((offset + lab).ravel(), minlength=n * n_classes)
        total += lab.shape[1]
    return total - agree.reshape(n, n_classes)


def conformal_p_values(alpha: np.ndarray, calibration: np.ndarray) -> np.ndarray:
    r""":math:`p_j(x) = |\{a \in A : a \ge \alpha_j(x)\}| / |A|` element-wise, A = ``calibration``."""
    a = np.sort(np.asarray(calibration, dtype=np.float64).ravel())
    if a.size == 0:
        raise ParameterError("calibration: no calibration nonconformities; the calibration set is empty")
    alpha = np.asarray(alpha, dtype=np.float64)
    return (a.size - np.searchsorted(a, alpha, side="left")) / a.size


def credibility_score(p_values: np.ndarray) -> np.ndarray:
    """The OOD score ``1 − max_j p_j(x)`` per row (higher = more OOD)."""
    return 1.0 - np.asarray(p_values).max(axis=1)


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split: returns sorted (bank, calibration) index arrays; each class gives
    ``round(fraction · n_class)`` points to the calibration set."""
    rng = np.random.default_rng(seed)
    cal = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        cal.append(rng.permutation(members)[: int(round(fraction * len(members)))])
    cal = np.sort(np.concatenate(cal))
    bank = np.setdiff1d(np.arange(len(labels)), cal)
    return bank, cal


class RobustKNN:
    r"""Deep k-NN credibility (Papernot & McDaniel 2018) as an OOD score: :math:`1 - \max_j p_j(x)`.

    Nonconformity :math:`\alpha_j(x) = \sum_\ell |\{z \in \Omega_\ell(x): \mathrm{label}(z) \ne j\}|`
    over the k cosine nearest neighbours :math:`\Omega_\ell(x)` in each layer;
    :math:`p_j(x) = |\{a \in A: a \ge \alpha_j(x)\}| / |A|` against the calibration nonconformities
    A (computed with each calibration point's true label). The credibility :math:`\max_j p_j(x)` is
    a confidence, so the score is its complement (higher = more OOD, in [0, 1]).

    Parameters
    ----------
    k : int, default 50
        Neighbours per layer (knn-ls §4.2). Must not exceed the size of the neighbour bank.
    calibration_fraction : float, default 0.1
        Share of the training set held out (stratified by label, seeded) as the calibration set
        when ``fit`` is not given one. Those points are *not* in the neighbour bank.
    seed : int, default 0
        Seed of the calibration hold-out.

    Attributes
    ----------
    classes_ : ndarray (C,)
        The distinct training labels; column j of :meth:`p_values` refers to ``classes_[j]``.
    calibration_ : ndarray (n_cal,)
        The calibration nonconformities A.
    bank_labels_ : ndarray (n_bank,)
        Class index of each neighbour-bank point.

    Notes
    -----
    Cosine similarity: rows are L2-normalised and searched exactly with faiss ``IndexFlatIP``. An
    all-zero embedding (possible after ReLU) stays zero and has similarity 0 with everything.
    Ties in similarity are broken by faiss (by index).

    References
    ----------
    Papernot, McDaniel. Deep k-Nearest Neighbors: Towards Confident, Interpretable and Robust Deep
    Learning. arXiv:1803.04765, 2018.
    Bahri, Jiang, Tay, Metzler. Label Smoothed Embedding Hypothesis for Out-of-Distribution
    Detection. Preprint, arXiv:2102.05131, 2021, §4.2.
    """

    def __init__(self, k: int = 50, calibration_fraction: float = 0.1, seed: int = 0):
        self.k = k
        self.calibration_fraction = calibration_fraction
        self.seed = seed

    def fit(self, train_layers, y=None, logits=None, calibration_layers=None,
            calibration_labels=None) -> "RobustKNN":
        """Build the neighbour bank and the calibration nonconformities from the training embeddings and
        their labels ``y`` (required; ``logits`` unused).

        With ``calibration_layers``/``calibration_labels`` the whole training set is the bank and the
        given set calibrates; otherwise ``calibration_fraction`` of the training set is held out.
        """
        train_layers = as_layers(train_layers, "train_layers")
        if y is None:
            raise ParameterError("RobustKNN.fit needs the training labels: fit(train_layers, y)")
        labels = np.asarray(y)
        if labels.ndim != 1 or len(labels) != len(train_layers[0]):
            raise ValueError(f"labels: need one label per training point ({len(train_layers[0])}), "
                             f"got shape {labels.shape}")
        if (calibration_layers is None) != (calibration_labels is None):
            raise ParameterError("pass both calibration_layers and calibration_labels, or neither")
        self.classes_, y = np.unique(labels, return_inverse=True)  # y: class indices from here on
        if calibration_layers is None:
            f = self.calibration_fraction
            check_fraction("calibration_fraction", f)
            bank_idx, cal_idx = stratified_holdout(y, float(f), self.seed)
            if len(cal_idx) == 0 or len(bank_idx) == 0:
                raise ParameterError(f"parameter 'calibration_fraction' = {f!r} leaves {len(cal_idx)} calibration "
                                     f"and {len(bank_idx)} bank points out of {len(y)}; both must be non-empty")
            bank = [a[bank_idx] for a in train_layers]
            cal = [a[cal_idx] for a in train_layers]
            bank_y, cal_y = y[bank_idx], y[cal_idx]
        else:
            cal = as_layers(calibration_layers, "calibration_layers")
            check_dims(train_layers, cal)
            cal_labels = np.asarray(calibration_labels)
            if cal_labels.ndim != 1 or len(cal_labels) != len(cal[0]):
                raise ValueError(f"calibration_labels: need one label per calibration point ({len(cal[0])}), "
                                 f"got shape {cal_labels.shape}")
            unknown = np.setdiff1d(cal_labels, self.classes_)
            if unknown.size:
                raise ValueError(f"calibration_labels: labels {unknown.tolist()} do not occur in the training labels")
            bank, bank_y, cal_y = train_layers, y, np.searchsorted(self.classes_, cal_labels)
        try:
            self.k_ = check_k(self.k, len(bank_y), loo=False)
        except ParameterError as e:
            raise ParameterError(f"{e} (the neighbour bank is the training set minus the calibration set)") from None
        self.dims_ = [a.shape[1] for a in bank]
        self.indexes_ = [_cos_index(a) for a in bank]
        self.bank_labels_ = bank_y
        alpha_cal = self._alpha(cal)
        self.calibration_ = alpha_cal[np.arange(len(cal_y)), cal_y]
        return self

    def _alpha(self, layers) -> np.ndarray:
        neigh = [self.bank_labels_[ix.search(l2_normalise(a), self.k_)[1]] for ix, a in zip(self.indexes_, layers)]
        return nonconformity(neigh, len(self.classes_))

    def _layers(self, layers):
        check_fitted(self, "calibration_", "fit(train_layers, labels)")
        return check_widths(layers, self.dims_)

    def nonconformity(self, layers) -> np.ndarray:
        r""":math:`\alpha_j(x)`, array (N, C)."""
        return self._alpha(self._layers(layers))

    def p_values(self, layers) -> np.ndarray:
        """:math:`p_j(x)`, array (N, C); column j is class ``classes_[j]``."""
        return conformal_p_values(self.nonconformity(layers), self.calibration_)

    def predict(self, layers) -> np.ndarray:
        """DkNN's prediction ``classes_[argmax_j p_j(x)]``."""
        return self.classes_[self.p_values(layers).argmax(axis=1)]

    def credibility(self, layers) -> np.ndarray:
        r""":math:`\max_j p_j(x)` (a confidence: higher = more in-distribution)."""
        return self.p_values(layers).max(axis=1)

    def score(self, layers, logits=None) -> np.ndarray:
        r"""OOD score :math:`1 - \max_j p_j(x)` (higher = more OOD)."""
        return credibility_score(self.p_values(layers))
