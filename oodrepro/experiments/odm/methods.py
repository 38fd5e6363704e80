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

Each score is an engine :class:`~oodrepro.engine.Method` (:data:`MSP`, :data:`NCM`, :data:`ODIN_METHOD`) of a
network of the seed's :class:`~oodrepro.engine.Context`, named by the network's cache key, and cached on disk.
"""
from __future__ import annotations

import numpy as np
import torch

from ... import metrics, train
from ...data import Dataset
from ...detectors import MaxSoftmax, NearestClassMean, ODIN
from ...detectors.msp import max_softmax_score
from ...detectors.ncm import class_means, ncm_predict
from ...detectors.odin import odin_dataset
from ...engine.core import Context, Method, ModelSpec, contexts, method_scores
from .losses import ActiveContrastiveLoss, AuthorsPairsLoss, ConfidenceLoss, ContrastiveLoss


def split_validation(ds: Dataset, fraction: float = 0.1, seed: int = 0) -> tuple[Dataset, Dataset]:
    """A stratified hold-out: (the rest, ``fraction`` of every class) — ODIN's validation split."""
    rng = np.random.default_rng(seed)
    val = np.concatenate([rng.permutation(np.flatnonzero(ds.y == c))[:max(1, int(round(fraction * (ds.y == c).sum())))]
                          for c in np.unique(ds.y)])
    rest = np.setdiff1d(np.arange(len(ds)), val)
    return ds.subset(rest, f"{ds.name}[train]"), ds.subset(np.sort(val), f"{ds.name}[valid]")


def seed_contexts(arch: str, tr: Dataset, test_in: Dataset | None, oods: dict, cfg: dict, progress: bool = False):
    """The engine's :func:`~oodrepro.engine.contexts` over ``cfg["seeds"]`` for one odm training set: yields
    ``(context, {ood: data set})``. Its networks are ``ctx.model(loss, …)``, trained under the run's recipe (if
    named) or Adam at ``lr`` for ``epochs``; on the paper profile they are stored in :mod:`oodrepro.checkpoints`
    (other profiles read stored networks but never add one); the OOD sets are the page's own (``oods``,
    loaded once: the same for every seed)."""
    spec = ModelSpec(lambda ds: arch, epochs={arch: None}, layers={arch: [0]}, store=True)
    for _, _, ctx, sets, _ in contexts(None, spec, cfg, progress, groups={tr.name: list(oods)},
                                       in_loader=lambda name, c: (tr, test_in), ood_loader=lambda o, *a: oods[o]):
        yield ctx, sets


def context(arch: str, tr: Dataset, cfg: dict, seed: int, progress: bool = False) -> Context:
    """The engine context of one odm training set and seed (:func:`seed_contexts`)."""
    return next(seed_contexts(arch, tr, None, {}, dict(cfg, seeds=[seed]), progress))[0]


def contrastive(cfg: dict) -> ContrastiveLoss:
    """The contrastive loss of the run's parameters (margin, squared, pairs, hinge_mean)."""
    if cfg.get("pairs") == "authors":
        return AuthorsPairsLoss(margin=cfg["margin"], squared=cfg["squared"])
    cls = ActiveContrastiveLoss if cfg.get("hinge_mean", "all") == "active" else ContrastiveLoss
    return cls(margin=cfg["margin"], squared=cfg["squared"], pairs=cfg.get("pairs", "sampled"))


def embedding_recipe(cfg: dict):
    """The recipe of the ML and ODM networks: the run's (:func:`oodrepro.train.resolve_recipe`) for ``ml_steps``
    optimiser steps, named ``<recipe>-<steps>steps``; None (the context's own) when ``ml_steps`` is not set."""
    if not cfg.get("ml_steps"):
        return None
    base = train.resolve_recipe(cfg.get("recipe"), cfg.get("epochs"), cfg.get("batch_size"), cfg.get("lr"))
    return base.replace(steps=int(cfg["ml_steps"]), name=f"{base.name}-{int(cfg['ml_steps'])}steps")


def train_models(ctx: Context, seen: Dataset | None, cfg: dict, dims=()) -> dict:
    """The networks of one context: ``ce``, ``ccag`` (if seen OOD), and per embedding size d in
    ``(cfg['embedding_dim'], *dims)`` ``ml/d`` and ``odm/d`` (if seen OOD)."""
    out = {"ce": ctx.model(train.LabelSmoothedCE(0.0), tag="ce")}
    if seen is not None:
        out["ccag"] = ctx.model(ConfidenceLoss(), ood_set=seen, tag="cc")
    rec = embedding_recipe(cfg)
    for d in dict.fromkeys((cfg["embedding_dim"], *dims)):
        loss = contrastive(cfg)
        out[f"ml/{d}"] = ctx.model(loss, embedding_dim=d, tag=f"ml{d}", recipe=rec)
        if seen is not None:
            out[f"odm/{d}"] = ctx.model(loss, ood_set=seen, embedding_dim=d, tag=f"odm{d}", recipe=rec)
    return out


# --- the methods, as the engine scores them (cached on disk) -----------------------------------------------
def _network(ctx: Context, h: dict):
    return ctx.trained(h["network"])


def _last(ctx: Context, h: dict) -> list[int]:
    return [0]


#: CE (and CC): the negated maximum softmax probability of the network's logits.
MSP = Method("odm_msp", MaxSoftmax, ("network",), model=_network, layers=_last, build=lambda ctx, h: MaxSoftmax())
#: ML and ODM: the squared distance to the nearest class mean of the training embeddings.
NCM = Method("odm_ncm", NearestClassMean, ("network",), model=_network, layers=_last,
             build=lambda ctx, h: NearestClassMean())
#: ODIN on the CE network: inputs perturbed at (T, ε) (:func:`oodrepro.detectors.odin.odin_dataset`), then
#: the negated maximum softmax of the logits / T.
ODIN_METHOD = Method("odm_odin", ODIN, ("network", "T", "eps"), model=_network, layers=_last,
                     build=lambda ctx, h: MaxSoftmax(), batch_size=1024,
                     inputs=lambda ctx, h, model, ds: odin_dataset(model, ds, h["T"], h["eps"]),
                     score=lambda det, layers, h: max_softmax_score(layers[0] / h["T"]))


def odin_scores(ctx: Context, model, ds: Dataset, temperature: float, eps: float) -> np.ndarray:
    r"""ODIN's OOD score ``−max softmax(z(x̃)/T)`` (higher = more OOD) of ``model``, a network of ``ctx``
    (:data:`ODIN_METHOD`, cached)."""
    return method_scores(ctx, ODIN_METHOD, ds, {"network": model.cache_key, "T": float(temperature),
                                                 "eps": float(eps)})


def tune_odin(ctx: Context, model, val_in: Dataset, val_ood: Dataset, temperatures, epsilons) -> dict:
    """T and ε with the smallest FPR at 95 % TPR of ``val_in`` against ``val_ood`` (ODIN's criterion);
    returns ``{"T", "eps", "fpr95"}`` (ties: the first in grid order)."""
    best = None
    for t in temperatures:
        for e in epsilons:
            f = metrics.fpr_at_95_tpr(odin_scores(ctx, model, val_in, t, e), odin_scores(ctx, model, val_ood, t, e))
            if best is None or f < best["fpr95"]:
                best = {"T": float(t), "eps": float(e), "fpr95": float(f)}
    return best


class Scorer:
    """OOD scores (the engine's :func:`~oodrepro.engine.method_scores`: :data:`MSP`, :data:`NCM`,
    :data:`ODIN_METHOD`), accuracy and embeddings of each method on any data set, for one context's networks."""

    def __init__(self, ctx: Context, models: dict, odin: dict | None):
        self.ctx, self.models, self.odin = ctx, models, odin
        tr = ctx.train_set
        self.means = {k: class_means(self.embedding(k, tr), tr.y) for k in models if "/" in k}

    def methods(self, d: int) -> list[str]:
        have = [k for k in ("ce", "odin", "ccag") if k in self.models or (k == "odin" and self.odin)]
        return have + [f"{k}/{d}" for k in ("ml", "odm") if f"{k}/{d}" in self.models]

    def score(self, method: str, ds: Dataset) -> np.ndarray:
        if method == "odin":
            return odin_scores(self.ctx, self.models["ce"], ds, self.odin["T"], self.odin["eps"])
        return method_scores(self.ctx, NCM if "/" in method else MSP, ds, {"network": self.models[method].cache_key})

    def accuracy(self, method: str, ds: Dataset) -> float:
        z = self.embedding(method, ds)
        pred = ncm_predict(z, self.means[method]) if "/" in method else z.argmax(1)
        return float((pred == ds.y).mean())

    def embedding(self, method: str, ds: Dataset) -> np.ndarray:
        return self.ctx.emb(self.models["ce" if method == "odin" else method], ds, [0])[0]


def metric_row(s_in: np.ndarray, s_out: np.ndarray, definitions: str = "ours") -> dict:
    """The five metrics of the paper's tables (ODIN's for Tables 2–4, CC-AG's for Table 1)."""
    names = ("fpr95", "detection_error", "auroc", "aupr_in", "aupr_out") if definitions == "ours" else \
        ("tnr95", "detection_accuracy", "auroc", "aupr_in", "aupr_out")
    return metrics.evaluate(s_in, s_out, names, definitions=definitions)
