"""The kpca chapter's methods on a :class:`~.features.Features`: every detector fitted on the training
features (and logits, labels, last linear layer where it needs them), scored on the in-distribution test
set and each OOD set; metrics in % as the paper prints them (FPR at 95 % TPR, AUROC).

Kernel settings (paper §3, Table 5): the Gaussian's γ is the page's ``gamma`` on cosine-mapped
features; a kernel on *raw* features gets γ / mean‖z‖² (the same width relative to the data's scale —
the paper does not say which γ its raw-feature rows used). Polynomial: degree 2, c₀ = 1, γ = 1 on
cosine features (1/mean‖z‖² on raw ones). ReAct's clip is the 90th percentile of the training
activations (ReAct's own rule; the authors' 1.0 is for ImageNet ResNet50 features).
"""
from __future__ import annotations

import warnings

import numpy as np

from ... import metrics
from ...engine import Method
from ...errors import ParameterError
from ...detectors import KPCA, PCA, DeepKNN, Energy, MaxLogit, MaxSoftmax, Mahalanobis, ODIN, ReAct, ViM
from . import features
from .features import Features

BASELINES = ("msp", "maxlogit", "energy", "odin", "mahalanobis", "vim", "knn", "react")
OURS = ("pca", "cosine", "kpca_rff", "kpca_nys", "kpca_rff_react", "kpca_nys_react")
METHODS = BASELINES + OURS
#: Table 5's 14 rows: PCA, cosine, then kernel × approximation, alone and on top of the cosine map.
ABLATION = ("pca", "cosine") + tuple(f"{c}{k}_{a}" for k in ("polynomial", "laplacian", "gaussian")
                                     for c in ("", "cosine_") for a in ("rff", "nystroem"))


def kernel_gamma(kernel: str, cosine: bool, gamma: float, feats: Features) -> float:
    """γ for ``kernel``: ``gamma`` (Gaussian/Laplacian) or 1 (polynomial) on cosine features; divided by
    mean‖z‖² on raw features."""
    g = 1.0 if kernel == "polynomial" else float(gamma)
    if cosine:
        return g
    return g / float(np.mean(np.sum(np.asarray(feats.train[0], dtype=np.float64) ** 2, axis=1)))


def kpca(feats: Features, cfg: dict, kernel="gaussian", approximation="rff", cosine=True, seed: int = 0,
         grid: str | None = None, **kw) -> KPCA:
    """An unfitted :class:`~oodrepro.detectors.KPCA` with the page's γ, M/m and EVR (overridable by ``kw``),
    its random draws seeded by ``seed``. ``grid``: the page parameter that set M/m (a grid page), named in
    the error when Nyström's m exceeds the training points (elsewhere m is capped with a warning)."""
    args = dict(kernel=kernel, approximation=approximation, cosine=cosine, n_components=cfg["n_components"],
                evr=cfg["evr"], gamma=kernel_gamma(kernel, cosine, kw.pop("gamma", cfg["gamma"]), feats),
                seed=seed, clip=None, weight=feats.weight, bias=feats.bias)
    if kernel == "gaussian" and approximation == "rff":  # the page's RFF draw (other maps have one layout)
        args["rff_layout"] = cfg.get("rff_layout", "ours")
    args.update(kw)
    n_train, m = len(feats.train[0]), int(args["n_components"])
    src = getattr(feats, "source", "the features")
    if approximation == "nystroem" and m > n_train:
        if grid:  # a grid page labels its column and claims with m: capping it would mislabel them
            raise ParameterError(f"parameter {grid!r} = {m} is above the {n_train} training points of {src}: "
                                 f"Nyström takes m <= N landmarks; use {grid} <= {n_train} or more training points "
                                 "(max_train)")
        # one M / m for both maps: RFF keeps M, Nyström runs with m = N, and says so on the page
        warnings.warn(f"kpca: Nyström ran with m = {n_train} landmarks, not n_components = {m}: {src} has "
                      f"{n_train} training points", RuntimeWarning, stacklevel=2)
        args["n_components"] = n_train
    return KPCA(**args)


def ablation_detector(name: str, feats: Features, cfg: dict, seed: int = 0, grid: str | None = None):
    """Table 5's row ``name`` (``"pca"``, ``"cosine"``, ``"[cosine_]<kernel>_<rff|nystroem>"``)."""
    if name in ("pca", "cosine"):
        return PCA(evr=cfg["evr"], cosine=name == "cosine")
    *head, approx = name.split("_")
    cosine = head[0] == "cosine"
    return kpca(feats, cfg, kernel=head[-1], approximation=approx, cosine=cosine, seed=seed, grid=grid)


def detector(name: str, feats: Features, cfg: dict, seed: int = 0, grid: str | None = None):
    """The unfitted detector of method ``name`` (:data:`METHODS` or :data:`ABLATION`); ``seed`` and ``grid``
    as for :func:`kpca`."""
    w, b = feats.weight, feats.bias
    simple = {"msp": MaxSoftmax, "maxlogit": MaxLogit, "energy": Energy, "odin": ODIN}
    if name in simple:
        return simple[name]()
    if name == "mahalanobis":
        return Mahalanobis()
    if name == "vim":
        return ViM(weight=w, bias=b)
    if name == "knn":
        return DeepKNN(k=min(50, len(feats.train[0]) - 1))
    if name == "react":
        return ReAct(weight=w, bias=b)
    if name.startswith("kpca_"):
        approx = "rff" if "_rff" in name else "nystroem"
        return kpca(feats, cfg, approximation=approx, fusion="react" if name.endswith("react") else None, seed=seed,
                    grid=grid)
    return ablation_detector(name, feats, cfg, seed, grid)


LOGIT_METHODS = ("msp", "maxlogit", "energy", "odin")


class OnFeatures:
    """A kpca detector as the engine fits and scores it (:class:`oodrepro.engine.Method`): the engine's
    embeddings are ``[z, logits]``; the detector is fitted on ``[z]`` with the labels and logits, and a logit
    method (:data:`LOGIT_METHODS`) scores the logits, the others ``[z]`` (also :func:`scores`' dispatch). Features
    without logits (``[z]`` alone: a metric-learned embedding) are fitted with ``logits=None``."""

    def __init__(self, det, name: str):
        self.det, self.name = det, name

    def fit(self, layers, y=None):
        self.det.fit([layers[0]], y=y, logits=layers[1] if len(layers) > 1 else None)
        return self

    def score(self, layers) -> np.ndarray:
        if self.name in LOGIT_METHODS:
            return self.det.score(None, logits=layers[1])
        return self.det.score([layers[0]])


def scores(det, name: str, feats: Features) -> tuple[np.ndarray, dict]:
    """Fit ``det`` on the in-memory training features and score the test set and every OOD set
    (:class:`OnFeatures` on ``(z, logits)`` pairs: the engine's path without a context)."""
    on = OnFeatures(det, name).fit(list(feats.train), y=feats.y_train)
    return on.score(list(feats.test)), {o: on.score(list(p)) for o, p in feats.ood.items()}


#: What a kpca detector reads from the page's parameters (the score cache key holds them).
HYPER = ("method", "gamma", "n_components", "evr", "rff_layout", "k", "grid")


def hyper(name: str, cfg: dict, grid: str | None = None) -> dict:
    """The hyper-parameters of method ``name`` under the page's parameters ``cfg`` (see :data:`HYPER`)."""
    return {"method": name, "gamma": cfg.get("gamma"), "n_components": cfg.get("n_components"),
            "evr": cfg.get("evr"), "rff_layout": cfg.get("rff_layout", "ours"), "k": cfg.get("k"), "grid": grid}


def as_method(make=None) -> Method:
    """kpca's detectors as one engine :class:`~oodrepro.engine.Method` on the context's classifier: features
    ``[z, logits]`` (the layer before the logits, and the logits), the detector ``make(name, parts, hyper,
    seed, grid)`` (default :func:`detector`) with ``parts`` the network's training features and last linear
    layer (:func:`.features.network_parts`). ``make``'s source enters the score's cache key."""
    make = make or detector
    return Method(f"kpca:{make.__name__}", OnFeatures, HYPER, model=features.network,
                  build=lambda ctx, h: OnFeatures(make(h["method"], features.network_parts(ctx), h, ctx.seed,
                                                       h["grid"]), h["method"]),
                  layers=lambda ctx, h: [-1, 0], batch_size=512, functions=(make,))


def evaluate(s_in: np.ndarray, s_out: np.ndarray) -> dict:
    """FPR at 95 % TPR and AUROC, in %, as the paper prints them."""
    m = metrics.evaluate(s_in, s_out, ("auroc", "fpr95"))
    return {"auroc": 100 * m["auroc"], "fpr95": 100 * m["fpr95"]}


def rows_of(name: str, s_in: np.ndarray, s_out: dict, in_name: str, seed: int, **cols) -> list[dict]:
    """One row per OOD set (and one ``"average"`` row over them) of method ``name``'s scores."""
    rows = [{"in_dist": in_name, "ood": o, "method": name, "seed": seed, "status": "ok", **cols,
             **evaluate(s_in, s)} for o, s in s_out.items()]
    if rows:
        rows.append({**rows[0], "ood": "average", "auroc": float(np.mean([r["auroc"] for r in rows])),
                     "fpr95": float(np.mean([r["fpr95"] for r in rows]))})
    return rows


def method_rows(name: str, feats: Features, cfg: dict, in_name: str, seed: int, det=None, **cols) -> list[dict]:
    """:func:`rows_of` for method ``name`` fitted and scored on ``feats`` (features held in memory: a subsample,
    a feature bank)."""
    s_in, s_out = scores(det if det is not None else detector(name, feats, cfg, seed), name, feats)
    return rows_of(name, s_in, s_out, in_name, seed, **cols)
