r"""DeConf / Generalized ODIN (Hsu, Shen, Jin, Kira, CVPR 2020), the "DeConf" baseline of knn-ls
Table 1: the cosine-similarity h-branch, ε = 0 by default.

On top of a backbone's penultimate features :math:`f(x)` the *dividend/divisor* head computes

.. math::
    h_i(x) = \frac{w_i^\top f(x)}{\|w_i\|\,\|f(x)\|}, \qquad
    g(x) = \sigma\bigl(\mathrm{BN}(w_g^\top f(x) + b_g)\bigr), \qquad
    \text{logit}_i(x) = \frac{h_i(x)}{g(x)},

and the network is trained with (label-smoothed, if asked) cross-entropy on the logits
:math:`h/g`. For detection, G-ODIN's score with the h-branch is the confidence
:math:`S(x) = \max_i h_i(x) \in [-1, 1]`; the OOD score returned here is its negation,
:math:`s(x) = -\max_i h_i(x)` (higher = more OOD).

Input pre-processing (G-ODIN §3.2, ODIN-like), magnitude ε:

.. math:: \tilde x = x - \varepsilon\,\mathrm{sign}\bigl(-\nabla_x S(x)\bigr),

which moves x to *increase* its confidence; the score is then :math:`-S(\tilde x)`. G-ODIN picks ε on
in-distribution validation data only, as the value that maximises the mean of :math:`S(\tilde x)`
(:func:`select_epsilon`). knn-ls searched ε over G-ODIN's range, found it never helped, and reports
ε = 0 (§4.2).

Models: :class:`DeConfMLP` and :class:`DeConfLeNet5` (architectures ``"mlp_deconf"`` and
``"lenet5_deconf"`` of :mod:`oodrepro.models`) replace the backbone's linear head by
:class:`DeConfHead`; ``forward`` returns :math:`h/g`, so :func:`oodrepro.train.fit_classifier` trains
them unchanged, and ``features(x)`` returns the backbone's layers with :math:`h(x)` last.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import models
from ..errors import ParameterError

#: G-ODIN's search grid for ε (Hsu et al. 2020, §4), with 0 (no perturbation) added.
EPS_GRID = (0.0, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08)


class DeConfHead(nn.Module):
    r"""The cosine dividend :math:`h(f)` and the divisor :math:`g(f)`; ``forward`` returns :math:`h/g`.

    :math:`h_i(f) = w_i^\top f / (\|w_i\| \|f\|)` (no bias; rows of W Kaiming-normal initialised as
    in public G-ODIN implementations); :math:`g(f) = \sigma(\mathrm{BN}(w_g^\top f + b_g))`.
    An all-zero feature vector (possible after ReLU) gives :math:`h = 0`.
    """

    def __init__(self, in_features: int, n_classes: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_classes, in_features))
        nn.init.kaiming_normal_(self.weight, nonlinearity="relu")
        self.g_linear = nn.Linear(in_features, 1)
        self.g_norm = nn.BatchNorm1d(1)

    def h(self, f: torch.Tensor) -> torch.Tensor:
        return F.linear(F.normalize(f, dim=1), F.normalize(self.weight, dim=1))

    def g(self, f: torch.Tensor) -> torch.Tensor:
        z = self.g_linear(f)
        if self.training and z.shape[0] == 1:  # batch statistics need > 1 sample: use the running ones
            bn = self.g_norm
            z = F.batch_norm(z, bn.running_mean, bn.running_var, bn.weight, bn.bias, training=False, eps=bn.eps)
        else:
            z = self.g_norm(z)
        return torch.sigmoid(z)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.h(f) / self.g(f)


class DeConfNet(nn.Module):
    """A backbone of :mod:`oodrepro.models` whose linear head is replaced by a :class:`DeConfHead`.

    Parameters
    ----------
    backbone : {"mlp", "lenet5"}
    in_shape, n_classes, **backbone_kw
        Passed to the backbone's constructor.
    """

    BACKBONES = {"mlp": models.MLP, "lenet5": models.LeNet5}

    def __init__(self, backbone: str = "mlp", in_shape=(1, 28, 28), n_classes: int = 10, **backbone_kw):
        super().__init__()
        if backbone not in self.BACKBONES:
            raise ParameterError(f"parameter 'backbone' = {backbone!r} is not accepted; "
                                 f"use one of {', '.join(self.BACKBONES)}")
        net = self.BACKBONES[backbone](in_shape=in_shape, n_classes=n_classes, **backbone_kw)
        width = net.head.in_features
        net.head = nn.Identity()  # the backbone's features(x) now ends with the penultimate features
        self.backbone = net
        self.deconf = DeConfHead(width, n_classes)

    def _split(self, x):
        feats = self.backbone.features(x)
        return feats[:-1], feats[-1]

    def penultimate(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`f(x)`."""
        return self._split(x)[1]

    def h(self, x: torch.Tensor) -> torch.Tensor:
        """The cosine similarities :math:`h(x)` (N, C), each in [−1, 1]."""
        return self.deconf.h(self.penultimate(x))

    def g(self, x: torch.Tensor) -> torch.Tensor:
        """The divisor :math:`g(x)` (N, 1), in (0, 1)."""
        return self.deconf.g(self.penultimate(x))

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The backbone's layer outputs (as :meth:`oodrepro.models.MLP.features` etc.) with the
        h-logits in place of the logits."""
        layers, f = self._split(x)
        return layers + [self.deconf.h(f)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Training logits :math:`h(x)/g(x)`."""
        return self.deconf(self.penultimate(x))

    def n_layers(self) -> int:
        return models.n_layers(self.backbone)


class DeConfMLP(DeConfNet):
    """knn-ls's 3 × 256 MLP with a DeConf cosine head (architecture ``"mlp_deconf"``)."""

    def __init__(self, in_shape=(1, 28, 28), n_classes: int = 10, **kw):
        super().__init__("mlp", in_shape=in_shape, n_classes=n_classes, **kw)


class DeConfLeNet5(DeConfNet):
    """LeNet5 with a DeConf cosine head (architecture ``"lenet5_deconf"``)."""

    def __init__(self, in_shape=(3, 32, 32), n_classes: int = 10):
        super().__init__("lenet5", in_shape=in_shape, n_classes=n_classes)


def max_cosine_score(h_logits: np.ndarray) -> np.ndarray:
    r"""OOD score :math:`-\max_i h_i(x)` per row of the h-logits (higher = more OOD)."""
    h = np.asarray(h_logits, dtype=np.float64)
    if h.ndim != 2 or h.shape[1] == 0:
        raise ValueError(f"h_logits: need a 2-D array (N, C), got shape {h.shape}")
    return -h.max(axis=1)


def check_eps(eps) -> float:
    try:
        e = float(eps)
    except (TypeError, ValueError):
        raise ParameterError(f"parameter 'eps' must be a number >= 0, got {eps!r}") from None
    if isinstance(eps, bool) or not np.isfinite(e) or e < 0:
        raise ParameterError(f"parameter 'eps' = {eps!r} is not accepted; use a finite number >= 0")
    return e


def perturb(model: DeConfNet, x: torch.Tensor, eps: float) -> torch.Tensor:
    r""":math:`\tilde x = x - \varepsilon\,\mathrm{sign}(-\nabla_x \max_i h_i(x))` (no clipping)."""
    eps = check_eps(eps)
    if eps == 0:
        return x
    xg = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        s = model.h(xg).max(dim=1).values.sum()
        (grad,) = torch.autograd.grad(s, xg)
    return (xg - eps * torch.sign(-grad)).detach()


def _as_array(x) -> np.ndarray:
    x = getattr(x, "x", x)  # accept an oodrepro Dataset
    x = np.asarray(x, dtype=np.float32)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x: need a non-empty batch of inputs (N, ...), got shape {x.shape}")
    return x


def _max_h(model, x, eps, batch_size) -> np.ndarray:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ParameterError(f"parameter 'batch_size' = {batch_size!r} is not accepted; use an integer >= 1")
    if not hasattr(model, "h"):
        raise TypeError(f"model {type(model).__name__} has no h-branch; build it as 'mlp_deconf' or 'lenet5_deconf'")
    x = _as_array(x)
    eps = check_eps(eps)
    dev = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    try:
        for i in range(0, len(x), batch_size):
            xb = perturb(model, torch.from_numpy(x[i:i + batch_size]).to(dev), eps)
            with torch.no_grad():
                out.append(model.h(xb).max(dim=1).values.double().cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(out)


def deconf_scores(model: DeConfNet, x, eps: float = 0.0, batch_size: int = 1024) -> np.ndarray:
    r"""DeConf OOD scores :math:`-\max_i h_i(\tilde x)` for the inputs ``x`` (array (N, ...) or a
    Dataset), with :math:`\tilde x` the ε-perturbed input (:math:`\tilde x = x` when ε = 0).
    The model is evaluated in eval mode (BatchNorm's running statistics)."""
    return -_max_h(model, x, eps, batch_size)


def select_epsilon(model: DeConfNet, x_val, grid=EPS_GRID, batch_size: int = 1024) -> tuple[float, dict]:
    r"""G-ODIN's choice of ε from in-distribution validation inputs only:
    :math:`\arg\max_\varepsilon \mathrm{mean}_x \max_i h_i(\tilde x)` over ``grid``.

    Returns ``(best_eps, {eps: mean confidence})``.
    """
    grid = [check_eps(e) for e in grid]
    if not grid:
        raise ParameterError("parameter 'grid' is empty; give at least one ε")
    means = {e: float(_max_h(model, x_val, e, batch_size).mean()) for e in grid}
    return max(means, key=means.get), means
