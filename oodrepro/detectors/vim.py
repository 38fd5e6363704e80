r"""ViM, Virtual-logit Matching (Wang, Li, Feng, Zhang. ViM: Out-Of-Distribution with Virtual-logit Matching,
CVPR 2022, §3): origin :math:`o = -W^{+}b`, principal space = the top-D' eigenvectors of the covariance of
:math:`z - o`; residual :math:`x^{P^\perp}`; :math:`\alpha = \mathrm{mean}\max_j f_j / \mathrm{mean}\|x^{P^\perp}\|`
on the training set; :math:`s = \alpha\|x^{P^\perp}\| - \log\sum_j e^{f_j}`. A baseline of the kpca chapter
(Fang et al., Tables 1–3).
"""
from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from ..errors import ParameterError
from .base import FeatureDetector, check_int


class ViM(FeatureDetector):
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
