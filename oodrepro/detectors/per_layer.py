r"""Per-layer detectors, normalised and averaged over layers: the shared part of the "SVM" and "Isolation
Forest" baselines of knn-ls Table 1 (Bahri et al., arXiv:2102.05131, 2021, §4.2; :mod:`oodrepro.detectors.one_class_svm`,
:mod:`oodrepro.detectors.isolation_forest`).

Each detector is fitted on every layer's training embeddings :math:`g_\ell(X_{in})` separately; the per-layer
OOD scores :math:`s_\ell(x)` are normalised and averaged over the M layers, "in the same way" as the
k-NN radius:

.. math:: \hat T(x) = \frac1M \sum_{\ell=1}^{M} N_\ell\bigl(s_\ell(x)\bigr).

**The paper does not say what** :math:`N_\ell` **is.** Three normalisations are implemented, each
computed from the scores of the training points passed to ``fit``, :math:`S_\ell = \{s_\ell(x) : x
\in X_{in}\}`:

``"train_mean"`` (default)
    :math:`N_\ell(s) = s / \mathrm{mean}(S_\ell)` — knn-ls's own rule (its radius is divided by the
    mean leave-one-out radius of the training set). Dividing by a mean is only meaningful for a
    non-negative score whose zero means "at the centre of the data", like a radius; a signed
    decision function (scikit-learn's is 0 on the learned boundary and changes sign) can have a mean
    near 0 or below it, which blows up or flips a layer. Each method therefore reports a canonical
    non-negative outlier magnitude as :math:`s_\ell` (see its module), and this rule is the exact analogue of
    :math:`r_k / \hat Q`. Chosen as default because it is the aggregation the paper describes.
``"zscore"``
    :math:`N_\ell(s) = (s - \mathrm{mean}(S_\ell)) / \mathrm{std}(S_\ell)` (population std).
``"rank"``
    :math:`N_\ell(s) = |\{t \in S_\ell : t \le s\}| / |S_\ell|`, the training empirical CDF (rank
    averaging). Invariant to any increasing transform of a layer's score; saturates at 1 beyond the
    largest training score, so far-away points tie within a layer.
"""
from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from .base import as_layers, check_fitted, check_widths

NORMALISATIONS = ("train_mean", "zscore", "rank")


def check_normalise(normalise) -> str:
    """``normalise`` if it is one of :data:`NORMALISATIONS`, else ParameterError."""
    if normalise not in NORMALISATIONS:
        raise ParameterError(f"parameter 'normalise' = {normalise!r} is not accepted; "
                             f"use one of {', '.join(map(repr, NORMALISATIONS))}")
    return normalise


def normalise_scores(scores: np.ndarray, train_scores: np.ndarray, normalise: str = "train_mean") -> np.ndarray:
    """One layer's normalisation :math:`N(s)` (see the module docstring) of ``scores`` given the
    training scores ``train_scores``."""
    check_normalise(normalise)
    s = np.asarray(scores, dtype=np.float64)
    t = np.asarray(train_scores, dtype=np.float64).ravel()
    if t.size == 0:
        raise ValueError("train_scores: empty")
    if normalise == "train_mean":
        if t.min() < 0:
            raise ValueError("normalise='train_mean' needs non-negative scores (it divides by their mean); "
                             f"the smallest training score is {t.min():g}")
        m = t.mean()
        if m <= 0:
            raise ValueError("normalise='train_mean': the training scores are all 0")
        return s / m
    if normalise == "zscore":
        sd = t.std()
        if sd <= 0:
            raise ValueError("normalise='zscore': the training scores are constant (std 0)")
        return (s - t.mean()) / sd
    return np.searchsorted(np.sort(t), s, side="right") / t.size


def aggregate(layer_scores, train_layer_scores, normalise: str = "train_mean") -> np.ndarray:
    r""":math:`\hat T = \frac1M \sum_\ell N_\ell(s_\ell)`: the mean over layers of the normalised
    per-layer scores. ``layer_scores``: (M, N); ``train_layer_scores``: M arrays of training scores."""
    layer_scores = np.atleast_2d(np.asarray(layer_scores, dtype=np.float64))
    if len(layer_scores) != len(train_layer_scores):
        raise ValueError(f"{len(layer_scores)} layers of scores but {len(train_layer_scores)} of training scores")
    return np.mean([normalise_scores(s, t, normalise) for s, t in zip(layer_scores, train_layer_scores)], axis=0)


class PerLayerDetector:
    """Shared machinery: fit one estimator per layer, keep the training scores, normalise, average."""

    def __init__(self, normalise: str = "train_mean", seed: int = 0):
        self.normalise = normalise
        self.seed = seed

    def _fit_layer(self, x: np.ndarray):  # pragma: no cover - abstract
        raise NotImplementedError

    def _score_layer(self, state, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _validate(self):
        check_normalise(self.normalise)

    def fit(self, train_layers, y=None, logits=None):
        """Fit one estimator per layer on ``train_layers`` (list of (n, D_ℓ) arrays) and score the
        training points for the normalisation (``y``, ``logits``: unused). Returns ``self``."""
        self._validate()
        train_layers = as_layers(train_layers, "train_layers")
        self.dims_ = [a.shape[1] for a in train_layers]
        self.estimators_ = [self._fit_layer(a) for a in train_layers]
        self.train_scores_ = [self._score_layer(e, a) for e, a in zip(self.estimators_, train_layers)]
        return self

    def score_layers(self, layers) -> np.ndarray:
        """Raw per-layer OOD scores :math:`s_\\ell(x)` before normalisation: array (M, N)."""
        check_fitted(self, "train_scores_")
        layers = check_widths(layers, self.dims_)
        return np.stack([self._score_layer(e, a) for e, a in zip(self.estimators_, layers)])

    def normalised_layers(self, layers, normalise: str | None = None) -> np.ndarray:
        """:math:`N_\\ell(s_\\ell(x))`, array (M, N); ``normalise`` defaults to the constructor's."""
        norm = check_normalise(self.normalise if normalise is None else normalise)
        raw = self.score_layers(layers)
        return np.stack([normalise_scores(s, t, norm) for s, t in zip(raw, self.train_scores_)])

    def score(self, layers, logits=None) -> np.ndarray:
        """The aggregate OOD score: mean over layers of the normalised layer scores (higher = more OOD)."""
        return self.normalised_layers(layers).mean(axis=0)

    def score_all(self, layers, logits=None) -> dict[str, np.ndarray]:
        """The aggregate score under every normalisation, ``{name: (N,)}``, from one scoring pass
        (to report the spread the choice causes)."""
        check_fitted(self, "train_scores_")
        raw = self.score_layers(layers)
        return {n: aggregate(raw, self.train_scores_, n) for n in NORMALISATIONS}
