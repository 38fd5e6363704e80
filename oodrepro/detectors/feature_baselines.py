r"""Baselines of the kpca chapter (Fang et al., Tables 1–3) on logits and penultimate features.

Every score is an OOD score (higher = more OOD); where a paper scores a confidence, it is negated here.

- MaxLogit (Hendrycks et al., ICML 2022): :math:`s = -\max_j f_j(x)`.
- Energy (Liu et al., NeurIPS 2020, Eq. 5): :math:`s = E(x) = -T\log\sum_j e^{f_j(x)/T}`, T = 1.
- ODIN, logit part (Liang et al., ICLR 2018, Eq. 1): :math:`s = -\max_j \mathrm{softmax}(f(x)/T)_j`,
  T = 1000. ODIN's input perturbation needs the network and its gradient, not features or logits:
  it is *not* done here (perturb the inputs first, e.g. with ``deconf.perturb_dataset``, and score
  the new logits).
- Mahalanobis (Lee et al., NeurIPS 2018, Eq. 2): class means :math:`\mu_c` and the shared (tied)
  covariance :math:`\Sigma = \frac1N\sum_i (z_i - \mu_{y_i})(z_i - \mu_{y_i})^\top` of the training
  features; :math:`s = \min_c (z - \mu_c)^\top\Sigma^{-1}(z - \mu_c)` (one layer, no input
  pre-processing, no layer ensemble).
- ViM (Wang et al., CVPR 2022, §3): origin :math:`o = -W^{+}b`, principal space = the top-D' eigenvectors
  of the covariance of :math:`z - o`; residual :math:`x^{P^\perp}`; :math:`\alpha = \mathrm{mean}\max_j
  f_j / \mathrm{mean}\|x^{P^\perp}\|` on the training set; :math:`s = \alpha\|x^{P^\perp}\| -
  \log\sum_j e^{f_j}`.
- k-NN (Sun et al., ICML 2022, §3): :math:`s = \|\hat z - \hat z_{(k)}\|_2` with :math:`\hat z = z/\|z\|`,
  the distance to the k-th nearest L2-normalised training feature (faiss ``IndexFlatL2``, exact).
- ReAct (Sun et al., NeurIPS 2021, Eq. 3–4): :math:`\bar z = \min(z, c)`, c = the p-th percentile
  (p = 90) of the training activations; :math:`s = -\log\sum_j e^{(W\bar z + b)_j}` (energy).

All hand-written in NumPy / faiss on arrays: each formula is short, and ``tests/test_feature_baselines.py``
checks them against pytorch-ood 0.4.0 where it is installed.
"""
from __future__ import annotations

import numpy as np
from scipy.special import logsumexp
from sklearn.exceptions import NotFittedError

from ..errors import ParameterError
from .base import as_layers, check_dims, check_int, check_k, logits_of
from .msp import max_softmax_score
from .base import check_positive
from .kpca import cosine_map, energy_confidence, react_energy
from .knn import _index, _kth


def max_logit_score(logits) -> np.ndarray:
    """:math:`-\\max_j f_j` per row."""
    return -np.asarray(logits, dtype=np.float64).max(axis=1)


def energy_score(logits, temperature: float = 1.0) -> np.ndarray:
    """:math:`E = -T\\,\\mathrm{logsumexp}(f / T)` per row."""
    return -temperature * energy_confidence(np.asarray(logits, dtype=np.float64) / temperature)


def odin_score(logits, temperature: float = 1000.0) -> np.ndarray:
    """:math:`-\\max_j \\mathrm{softmax}(f / T)_j` per row (temperature scaling only)."""
    return max_softmax_score(np.asarray(logits, dtype=np.float64) / temperature)


def react_score(features, weight, bias, clip: float) -> np.ndarray:
    """:math:`-\\mathrm{logsumexp}(W\\min(z, c) + b)` per row."""
    return -react_energy(features, weight, bias, clip)


class _LogitScore:
    """A score of the logits alone: nothing to learn (``fit`` exists for the common protocol)."""

    def __init__(self, temperature: float = 1.0):
        self.temperature = temperature

    def fit(self, train_layers=None, y=None, logits=None):
        check_positive("temperature", self.temperature)
        self.fitted_ = True
        return self

    def _score(self, z):  # pragma: no cover - abstract
        raise NotImplementedError

    def score(self, layers=None, logits=None) -> np.ndarray:
        """OOD score of ``logits`` (or of the last of ``layers``)."""
        check_positive("temperature", self.temperature)
        return self._score(logits_of(layers, logits, type(self).__name__).astype(np.float64))


class MaxLogit(_LogitScore):
    """MaxLogit: :math:`-\\max_j f_j(x)` (Hendrycks et al., Scaling OOD Detection to Real-World
    Settings, ICML 2022). ``temperature`` is unused."""

    def _score(self, z):
        return max_logit_score(z)


class Energy(_LogitScore):
    """Energy score :math:`-T\\log\\sum_j e^{f_j/T}` (Liu, Wang, Owens, Li. Energy-based OOD Detection,
    NeurIPS 2020, Eq. 5); default T = 1."""

    def _score(self, z):
        return energy_score(z, float(self.temperature))


class ODIN(_LogitScore):
    """ODIN's temperature-scaled softmax, :math:`-\\max_j \\mathrm{softmax}(f/T)_j`, T = 1000 (Liang, Li,
    Srikant, ICLR 2018, Eq. 1). The input perturbation (Eq. 2) needs the model: not done here."""

    def __init__(self, temperature: float = 1000.0):
        super().__init__(temperature)

    def _score(self, z):
        return odin_score(z, float(self.temperature))


class _FeatureDetector:
    """Shared: one feature layer (``layer``), checked widths, NotFittedError before ``fit``."""

    def _train(self, train_layers):
        layers = as_layers(train_layers, "train_layers")
        check_int("layer", self.layer, 0)
        if self.layer >= len(layers):
            raise ParameterError(f"parameter 'layer' = {self.layer} is not accepted: only {len(layers)} layer(s) given")
        self.dims_ = [a.shape[1] for a in layers]
        return layers[self.layer].astype(np.float64)

    def _test(self, layers):
        if not hasattr(self, "fitted_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit(train_layers) first")
        layers = as_layers(layers, "layers")
        check_dims([np.empty((1, d)) for d in self.dims_], layers)
        return layers[self.layer].astype(np.float64)

    def _linear(self, d: int):
        w = np.asarray(self.weight, dtype=np.float64) if self.weight is not None else None
        b = np.asarray(self.bias, dtype=np.float64).ravel() if self.bias is not None else None
        if w is None or b is None or w.ndim != 2 or w.shape[1] != d or b.shape != w.shape[:1]:
            raise ParameterError(f"{type(self).__name__} needs the last linear layer: parameters 'weight' (C, {d}) "
                                 f"and 'bias' (C,), got {None if w is None else w.shape}, "
                                 f"{None if b is None else b.shape}")
        return w, b


class Mahalanobis(_FeatureDetector):
    r"""Minimum Mahalanobis distance to the class means under the shared covariance (Lee, Lee, Lee, Shin.
    A Simple Unified Framework for Detecting OOD Samples and Adversarial Attacks, NeurIPS 2018, Eq. 2):
    :math:`s(z) = \min_c (z - \mu_c)^\top \Sigma^{-1} (z - \mu_c)`; needs the labels ``y``.
    :math:`\Sigma^{-1}` is the pseudo-inverse (a singular covariance is allowed)."""

    def __init__(self, layer: int = 0):
        self.layer = layer

    def fit(self, train_layers, y=None, logits=None) -> "Mahalanobis":
        z = self._train(train_layers)
        if y is None or len(y) != len(z):
            raise ParameterError("Mahalanobis needs the training labels: pass fit(train_layers, y=…), "
                                 "one per point")
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        self.means_ = np.stack([z[y == c].mean(axis=0) for c in self.classes_])
        centred = z - self.means_[np.searchsorted(self.classes_, y)]
        self.precision_ = np.linalg.pinv(centred.T @ centred / len(z), hermitian=True)
        self.whitener_ = None
        self.fitted_ = True
        return self

    def score(self, layers, logits=None) -> np.ndarray:
        """:math:`\\min_c` squared Mahalanobis distance (higher = more OOD)."""
        # (z − μ_c)ᵀP(z − μ_c) = ‖(z − μ_c)W‖² with P = WWᵀ (P is symmetric PSD): one (n, D) × (D, D)
        # product, then one (n, D) difference per class, instead of an (n, C, D) array contracted twice.
        z = self._test(layers)  # checks fitted, widths, NaN first
        if getattr(self, "whitener_", None) is None:
            s, v = np.linalg.eigh(self.precision_)
            self.whitener_ = v * np.sqrt(np.clip(s, 0.0, None))
        zw, mw = z @ self.whitener_, self.means_ @ self.whitener_
        out = np.full(len(zw), np.inf)
        for m in mw:
            out = np.minimum(out, ((zw - m) ** 2).sum(axis=1))
        return out


class ViM(_FeatureDetector):
    r"""Virtual-logit Matching (Wang, Li, Feng, Zhang. ViM: Out-Of-Distribution with Virtual-logit
    Matching, CVPR 2022, §3): :math:`s = \alpha\|x^{P^\perp}\| - \log\sum_j e^{f_j}` (the negative of
    the paper's :math:`-E + \text{vlogit}` confidence), formulas in the module docstring.

    Parameters
    ----------
    weight, bias : arrays (C, D), (C,) — the last linear layer; logits are :math:`Wz + b`.
    dim : int or None, default None
        D', the principal dimension; None = the paper's rule (1000 if D ≥ 1536, 512 if D ≥ 768, else D/2).
    layer : int, default 0
    """

    def __init__(self, weight=None, bias=None, dim: int | None = None, layer: int = 0):
        self.weight, self.bias, self.dim, self.layer = weight, bias, dim, layer

    def fit(self, train_layers, y=None, logits=None) -> "ViM":
        z = self._train(train_layers)
        d = z.shape[1]
        self.weight_, self.bias_ = self._linear(d)
        dim = check_int("dim", self.dim, 1, allow_none=True)
        self.dim_ = dim if dim is not None else (1000 if d >= 1536 else 512 if d >= 768 else d // 2)
        if self.dim_ >= d:
            raise ParameterError(f"parameter 'dim' = {self.dim_} is not accepted; use 1 <= dim < {d} (the width)")
        self.origin_ = -np.linalg.pinv(self.weight_) @ self.bias_
        c = z - self.origin_
        lam, vec = np.linalg.eigh(c.T @ c / len(c))
        self.null_space_ = vec[:, :d - self.dim_]  # eigh is ascending: the D − D' smallest
        max_logit = (z @ self.weight_.T + self.bias_).max(axis=1).mean()
        self.alpha_ = max_logit / np.linalg.norm(c @ self.null_space_, axis=1).mean()
        self.fitted_ = True
        return self

    def score(self, layers, logits=None) -> np.ndarray:
        """:math:`\\alpha\\|x^{P^\\perp}\\| - \\mathrm{logsumexp}(Wz + b)` (higher = more OOD)."""
        z = self._test(layers)
        vlogit = self.alpha_ * np.linalg.norm((z - self.origin_) @ self.null_space_, axis=1)
        return vlogit - logsumexp(z @ self.weight_.T + self.bias_, axis=1)


class DeepKNN(_FeatureDetector):
    r"""k-NN on L2-normalised features (Sun, Ming, Zhu, Li. Out-of-Distribution Detection with Deep
    Nearest Neighbors, ICML 2022, §3): :math:`s(z) = \|\hat z - \hat z_{(k)}\|_2`, :math:`\hat z =
    z/\|z\|`, the distance to the k-th nearest normalised training feature (exact, faiss
    ``IndexFlatL2``). Default k = 50 (their CIFAR-10 setting; 1000 on ImageNet at 100 % of the data)."""

    def __init__(self, k: int = 50, layer: int = 0):
        self.k, self.layer = k, layer

    def fit(self, train_layers, y=None, logits=None) -> "DeepKNN":
        z = cosine_map(self._train(train_layers))
        self.k_ = check_k(self.k, len(z), loo=False)
        self.index_ = _index(z.astype(np.float32))
        self.fitted_ = True
        return self

    def score(self, layers, logits=None) -> np.ndarray:
        """k-th neighbour distance of the normalised feature (higher = more OOD)."""
        z = cosine_map(self._test(layers)).astype(np.float32)
        return _kth(self.index_, z, self.k_)


class ReAct(_FeatureDetector):
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
