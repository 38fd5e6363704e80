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

Input pre-processing (G-ODIN §3.2: ODIN's Eq. 2 on this confidence,
:func:`oodrepro.detectors.odin.input_perturbation`), magnitude ε:

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

from ..errors import ParameterError
from ..models import DeConfHead, DeConfLeNet5, DeConfMLP, DeConfNet  # noqa: F401  (re-exported)
from .base import as_inputs, check_eps, check_int, logits_of
from .odin import eval_mode, input_perturbation, perturb_array

#: G-ODIN's search grid for ε (Hsu et al. 2020, §4), with 0 (no perturbation) added.
EPS_GRID = (0.0, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08)


def max_cosine_score(h_logits: np.ndarray) -> np.ndarray:
    r"""OOD score :math:`-\max_i h_i(x)` per row of the h-logits (higher = more OOD)."""
    h = np.asarray(h_logits, dtype=np.float64)
    if h.ndim != 2 or h.shape[1] == 0:
        raise ValueError(f"h_logits: need a 2-D array (N, C), got shape {h.shape}")
    return -h.max(axis=1)


def h_confidence(model: DeConfNet):
    r"""G-ODIN's confidence :math:`S(x) = \max_i h_i(x)` of a DeConf network, as a callable on a batch."""
    return lambda x: model.h(x).max(dim=1).values


def perturb(model: DeConfNet, x: torch.Tensor, eps: float) -> torch.Tensor:
    r""":math:`\tilde x = x - \varepsilon\,\mathrm{sign}(-\nabla_x \max_i h_i(x))` (no clipping): ODIN's
    step (:func:`oodrepro.detectors.odin.input_perturbation`) on the h-branch confidence."""
    return input_perturbation(h_confidence(model), x, eps)


def _max_h(model, x, eps, batch_size) -> np.ndarray:
    batch_size = check_int("batch_size", batch_size, 1)
    if not hasattr(model, "h"):
        raise TypeError(f"model {type(model).__name__} has no h-branch; build it as 'mlp_deconf' or 'lenet5_deconf'")
    x = as_inputs(x)
    eps = check_eps(eps)
    dev = next(model.parameters()).device
    out = []
    with eval_mode(model):
        for i in range(0, len(x), batch_size):
            xb = perturb(model, torch.from_numpy(x[i:i + batch_size]).to(dev), eps)
            with torch.no_grad():
                out.append(model.h(xb).max(dim=1).values.double().cpu().numpy())
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


class DeConf:
    r"""DeConf's OOD score in the detectors' common protocol: :math:`s(x) = -\max_i h_i(x)`.

    It scores the h-logits, which a DeConf network (:class:`oodrepro.models.DeConfNet`) returns as the
    last entry of ``features(x)`` — so :func:`oodrepro.embed.embed` at depth 0 gives them, cached like any
    other embedding. Nothing is learned: ``fit`` returns ``self``. The input perturbation (ε > 0)
    changes the *inputs*, so it is applied before embedding (:func:`perturb_dataset`).
    """

    def fit(self, train_layers=None, y=None, logits=None) -> "DeConf":
        self.fitted_ = True
        return self

    def score(self, layers=None, logits=None) -> np.ndarray:
        """:math:`-\\max_i h_i(x)` from ``logits`` (the h-logits), or from the last of ``layers``."""
        return max_cosine_score(logits_of(layers, logits, "DeConf"))


def perturb_dataset(model: DeConfNet, ds, eps: float, batch_size: int = 1024):
    r"""The data set with every input replaced by :math:`\tilde x = x - \varepsilon\,\mathrm{sign}(-\nabla_x
    \max_i h_i(x))` (:func:`perturb`, in eval mode, on the CPU); ε = 0 returns ``ds`` itself."""
    from ..data import Dataset

    eps = check_eps(eps)
    if eps == 0:
        return ds
    with eval_mode(model):
        x = perturb_array(h_confidence(model), as_inputs(ds), eps, batch_size)
    return Dataset(f"{ds.name}+deconf_eps={eps:g}", x, ds.y, list(ds.classes), ds.note)
