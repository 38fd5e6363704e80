r"""ODIN (Liang, Li, Srikant. Enhancing the Reliability of Out-of-distribution Image Detection in Neural
Networks, ICLR 2018) and its input perturbation, the one implementation the package has.

Temperature scaling (Eq. 1): :math:`S_j(x; T) = \mathrm{softmax}(f(x)/T)_j`; the OOD score is
:math:`s(x) = -\max_j S_j(x; T)`, T = 1000 (a baseline of the kpca chapter, Fang et al., Tables 1–3, on
the logits alone).

Input pre-processing (Eq. 2), magnitude ε: one signed-gradient step that *increases* the confidence,

.. math:: \tilde x = x - \varepsilon\,\mathrm{sign}\bigl(-\nabla_x \log S_{\hat y}(x; T)\bigr),
   \qquad \log S_{\hat y}(x; T) = \max_j \log \mathrm{softmax}(f(x)/T)_j,

after which :math:`\tilde x` is scored. :func:`input_perturbation` takes the confidence as a callable, so
the same step serves every confidence: ODIN's (:func:`odin_confidence`; odm's ODIN baseline,
:func:`odin_dataset`) and Generalized ODIN's :math:`\max_i h_i(x)`
(:func:`oodrepro.detectors.deconf.perturb`, knn-ls's DeConf). No clipping to the input range (as in both
papers' code).
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch

from ..errors import ParameterError
from .base import LogitDetector, as_inputs, check_eps, check_int, check_positive
from .msp import max_softmax_score


def odin_score(logits, temperature: float = 1000.0) -> np.ndarray:
    """:math:`-\\max_j \\mathrm{softmax}(f / T)_j` per row (temperature scaling only)."""
    return max_softmax_score(np.asarray(logits, dtype=np.float64) / temperature)


def input_perturbation(confidence, x: torch.Tensor, eps: float) -> torch.Tensor:
    r"""ODIN's input pre-processing (Liang et al. 2018, Eq. 2) for any differentiable confidence S:
    :math:`\tilde x = x - \varepsilon\,\mathrm{sign}(-\nabla_x S(x))` for one batch ``x``.

    ``confidence`` maps a batch (N, ...) to the N confidences S(x) (a model in eval mode: the points do
    not interact, so the gradient of their sum is each point's own gradient). ε = 0 returns ``x`` itself.
    """
    eps = check_eps(eps)
    if eps == 0:
        return x
    xg = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        s = confidence(xg).sum()
        (grad,) = torch.autograd.grad(s, xg)
    return (xg - eps * torch.sign(-grad)).detach()


def odin_confidence(model, temperature: float = 1000.0):
    r"""ODIN's confidence :math:`\log S_{\hat y}(x; T) = \max_j \log\mathrm{softmax}(f(x)/T)_j` of the
    classifier ``model`` (logits ``model(x)``), as a callable on a batch for :func:`input_perturbation`."""
    def confidence(x: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(model(x) / temperature, dim=1).max(1).values
    return confidence


def perturb_array(confidence, x: np.ndarray, eps: float, batch_size: int = 512, device=None) -> np.ndarray:
    """:func:`input_perturbation` of every row of the array ``x``, ``batch_size`` rows at a time (on
    ``device``, default the CPU), back as a NumPy array; ε = 0 returns ``x`` itself."""
    eps = check_eps(eps)
    if eps == 0:
        return x
    batch_size = check_int("batch_size", batch_size, 1)
    out = []
    for i in range(0, len(x), batch_size):
        xb = torch.from_numpy(x[i:i + batch_size])
        out.append(input_perturbation(confidence, xb if device is None else xb.to(device), eps).cpu().numpy())
    return np.concatenate(out)


def odin_dataset(model, ds, temperature: float, eps: float, batch_size: int = 512):
    r"""The data set with every input replaced by ODIN's :math:`\tilde x` (Eq. 2) for the classifier ``model``
    at temperature T (:func:`perturb_array`, ``batch_size`` at a time, in eval mode); ε = 0 returns ``ds``
    itself. Scoring its logits at T is ODIN (odm's ODIN baseline, through the engine)."""
    from ..data import Dataset

    t, eps = check_positive("temperature", temperature), check_eps(eps)
    if eps == 0:
        return ds
    with eval_mode(model):
        x = perturb_array(odin_confidence(model, t), as_inputs(ds), eps, batch_size)
    return Dataset(f"{ds.name}+odin_T={t:g}_eps={eps:g}", x, ds.y, list(ds.classes), ds.note)


@contextmanager
def eval_mode(model):
    """``model`` in eval mode (BatchNorm's running statistics, no dropout) inside the block; its mode is
    restored after."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


class ODIN(LogitDetector):
    r"""ODIN (Liang, Li, Srikant, ICLR 2018): :math:`s(x) = -\max_j \mathrm{softmax}(f(\tilde x)/T)_j`
    (Eq. 1) with :math:`\tilde x = x - \varepsilon\,\mathrm{sign}(-\nabla_x \log S_{\hat y}(x; T))` (Eq. 2).

    :meth:`score` scores given logits (temperature scaling only: ε must be 0, the default, since logits
    cannot be perturbed); :meth:`score_inputs` scores inputs through ``model``, perturbing them first.

    Parameters
    ----------
    temperature : float > 0, default 1000
    eps : float >= 0, default 0 — ε of the input perturbation (:func:`input_perturbation`).
    model : torch.nn.Module or None — the classifier (``model(x)`` = logits), needed by :meth:`score_inputs`.
    """

    def __init__(self, temperature: float = 1000.0, eps: float = 0.0, model=None):
        super().__init__(temperature)
        self.eps, self.model = eps, model

    def fit(self, train_layers=None, y=None, logits=None) -> "ODIN":
        """Check the hyper-parameters; nothing to learn. Returns ``self``."""
        check_eps(self.eps)
        return super().fit(train_layers, y, logits)

    def _score(self, z):
        if check_eps(self.eps) > 0:
            raise ParameterError(f"ODIN with eps = {self.eps!r} perturbs the inputs, which logits cannot give: "
                                 "use score_inputs(x) with ODIN(model=…), or eps=0")
        return odin_score(z, float(self.temperature))

    def score_inputs(self, x, batch_size: int = 512) -> np.ndarray:
        """ODIN's OOD score of the inputs ``x`` (array (N, ...) or a Dataset): perturbed by ε through
        ``model`` (in eval mode), then :func:`odin_score` of the new logits (higher = more OOD)."""
        t = check_positive("temperature", self.temperature)
        eps = check_eps(self.eps)
        if self.model is None:
            raise ParameterError("ODIN.score_inputs needs the classifier: ODIN(model=…)")
        x, batch_size = as_inputs(x), check_int("batch_size", batch_size, 1)
        dev, confidence, logits = next(self.model.parameters()).device, odin_confidence(self.model, t), []
        with eval_mode(self.model), torch.no_grad():  # input_perturbation turns gradients on for its step
            for i in range(0, len(x), batch_size):
                xb = input_perturbation(confidence, torch.from_numpy(x[i:i + batch_size]).to(dev), eps)
                logits.append(self.model(xb).double().cpu().numpy())
        return odin_score(np.concatenate(logits), t)
