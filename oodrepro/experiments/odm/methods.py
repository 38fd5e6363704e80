r"""odm's methods on one split (in-distribution train / validation / test, seen OOD, test OOD sets):

* **CE** — a classifier trained with cross-entropy; OOD score :math:`-\max_j \mathrm{softmax}(z)_j`;
* **ODIN** (Liang et al. 2018) — the CE network with temperature T and input perturbation ε,
  :math:`\tilde x = x - \varepsilon\,\mathrm{sign}(-\nabla_x \log S_{\hat y}(x; T))`, score
  :math:`-\max_j \mathrm{softmax}(z(\tilde x)/T)_j`; T and ε picked on the **validation split** (10 % of the
  in-distribution training images against 10 % of the seen-OOD images) by the smallest FPR at 95 % TPR;
* **CC** — Lee et al.'s confidence loss with seen OOD samples (:class:`~.losses.ConfidenceLoss`;
  our stand-in for CC-AG), scored by max softmax;
* **ML** — the contrastive loss (Eq. 1) without OOD; **ODM** — with seen OOD in the batches (Eq. 2);
  both scored by the squared distance to the nearest class mean (:func:`oodrepro.detectors.ncm.ncm_score`) and
  classified by the nearest class mean.
"""
from __future__ import annotations

import numpy as np
import torch

from ... import embed, metrics, train
from ...data import Dataset
from ...detectors.msp import max_softmax_score
from ...detectors.ncm import class_means, ncm_predict, ncm_score
from ...detectors.odin import odin_confidence, perturb_array
from .losses import ConfidenceLoss, ContrastiveLoss
from ...engine.core import TRAINING, Context, ModelSpec


def split_validation(ds: Dataset, fraction: float = 0.1, seed: int = 0) -> tuple[Dataset, Dataset]:
    """A stratified hold-out: (the rest, ``fraction`` of every class) — ODIN's validation split."""
    rng = np.random.default_rng(seed)
    val = np.concatenate([rng.permutation(np.flatnonzero(ds.y == c))[:max(1, int(round(fraction * (ds.y == c).sum())))]
                          for c in np.unique(ds.y)])
    rest = np.setdiff1d(np.arange(len(ds)), val)
    return ds.subset(rest, f"{ds.name}[train]"), ds.subset(np.sort(val), f"{ds.name}[valid]")


def context(arch: str, tr: Dataset, cfg: dict, seed: int, progress: bool = False) -> Context:
    """The engine context of one odm training set and seed: its networks are ``ctx.model(loss, …)``, trained
    under the run's recipe (if named; then stored, :mod:`oodrepro.checkpoints`) or Adam at ``lr`` for ``epochs``."""
    spec = ModelSpec(lambda ds: arch, epochs={arch: None}, layers={arch: [0]}, store=True)
    return Context(tr.name, tr, None, seed, spec, {k: cfg.get(k) for k in TRAINING}, progress)


def contrastive(cfg: dict) -> ContrastiveLoss:
    """The contrastive loss of the run's parameters (margin, squared, pairs)."""
    return ContrastiveLoss(margin=cfg["margin"], squared=cfg["squared"], pairs=cfg.get("pairs", "sampled"))


def train_models(arch: str, tr: Dataset, seen: Dataset | None, cfg: dict, seed: int, dims=()) -> dict:
    """The networks of one seed: ``ce``, ``ccag`` (if seen OOD), and per embedding size d in
    ``(cfg['embedding_dim'], *dims)`` ``ml/d`` and ``odm/d`` (if seen OOD)."""
    ctx = context(arch, tr, cfg, seed)
    out = {"ce": ctx.model(train.LabelSmoothedCE(0.0), tag="ce")}
    if seen is not None:
        out["ccag"] = ctx.model(ConfidenceLoss(), ood_set=seen, tag="cc")
    for d in dict.fromkeys((cfg["embedding_dim"], *dims)):
        loss = contrastive(cfg)
        out[f"ml/{d}"] = ctx.model(loss, embedding_dim=d, tag=f"ml{d}")
        if seen is not None:
            out[f"odm/{d}"] = ctx.model(loss, ood_set=seen, embedding_dim=d, tag=f"odm{d}")
    return out


def odin_scores(model, ds: Dataset, temperature: float, eps: float) -> np.ndarray:
    r"""ODIN's OOD score ``−max softmax(z(x̃)/T)`` (higher = more OOD), :math:`\tilde x` ODIN's perturbed
    inputs (:func:`oodrepro.detectors.odin.input_perturbation`, 512 at a time; ε = 0: x itself)."""
    x = perturb_array(odin_confidence(model, temperature), ds.x, eps, batch_size=512)
    with torch.no_grad():
        z = torch.cat([model(torch.from_numpy(x[i:i + 1024])) for i in range(0, len(x), 1024)]).numpy()
    return max_softmax_score(z / temperature)


def tune_odin(model, val_in: Dataset, val_ood: Dataset, temperatures, epsilons) -> dict:
    """T and ε with the smallest FPR at 95 % TPR of ``val_in`` against ``val_ood`` (ODIN's criterion);
    returns ``{"T", "eps", "fpr95"}`` (ties: the first in grid order)."""
    best = None
    for t in temperatures:
        for e in epsilons:
            f = metrics.fpr_at_95_tpr(odin_scores(model, val_in, t, e), odin_scores(model, val_ood, t, e))
            if best is None or f < best["fpr95"]:
                best = {"T": float(t), "eps": float(e), "fpr95": float(f)}
    return best


def _last(model, ds: Dataset) -> np.ndarray:
    return embed.embed(model, ds, [0])[0]


class Scorer:
    """OOD scores and accuracy of each method on any data set, for one seed's models."""

    def __init__(self, models: dict, tr: Dataset, odin: dict | None):
        self.models, self.odin = models, odin
        self.means = {k: class_means(_last(m, tr), tr.y) for k, m in models.items() if "/" in k}

    def methods(self, d: int) -> list[str]:
        have = [k for k in ("ce", "odin", "ccag") if k in self.models or (k == "odin" and self.odin)]
        return have + [f"{k}/{d}" for k in ("ml", "odm") if f"{k}/{d}" in self.models]

    def score(self, method: str, ds: Dataset) -> np.ndarray:
        if method == "odin":
            return odin_scores(self.models["ce"], ds, self.odin["T"], self.odin["eps"])
        z = _last(self.models[method], ds)
        return ncm_score(z, self.means[method]) if "/" in method else max_softmax_score(z)

    def accuracy(self, method: str, ds: Dataset) -> float:
        z = _last(self.models["ce" if method == "odin" else method], ds)
        pred = ncm_predict(z, self.means[method]) if "/" in method else z.argmax(1)
        return float((pred == ds.y).mean())

    def embedding(self, method: str, ds: Dataset) -> np.ndarray:
        return _last(self.models["ce" if method == "odin" else method], ds)


def metric_row(s_in: np.ndarray, s_out: np.ndarray, definitions: str = "ours") -> dict:
    """The five metrics of the paper's tables (ODIN's for Tables 2–4, CC-AG's for Table 1)."""
    names = ("fpr95", "detection_error", "auroc", "aupr_in", "aupr_out") if definitions == "ours" else \
        ("tnr95", "detection_accuracy", "auroc", "aupr_in", "aupr_out")
    return metrics.evaluate(s_in, s_out, names, definitions=definitions)
