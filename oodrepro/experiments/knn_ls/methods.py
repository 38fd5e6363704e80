"""knn-ls's methods as :class:`~oodrepro.engine.Method` specs: which model, inputs, layers and detector.

The paper does not say which model its baselines use; they use the model trained with label
smoothing ``baseline_alpha`` (default 0), a parameter of Table 1. Every hyper-parameter is typed in the
chapter's schema and passed explicitly.
"""
from __future__ import annotations

from ...detectors import DeConf, IsolationForestDetector, KNNRadius, MaxSoftmax, OneClassSVMDetector, RobustKNN
from ...detectors.deconf import perturb_dataset
from ...engine import Method
from .paper import ls_model


def _ls(ctx, h):
    return ls_model(ctx, h["alpha"])


def _baseline(ctx, h):
    return ls_model(ctx, h["baseline_alpha"])


def _logits(ctx, h):
    return [0]


def _chosen_layers(ctx, h):
    return h["layers"] or ctx.layers


def _normalised(det, layers, h):
    return det.score_all(layers)[h["normalise"]]


#: k-NN radius score T̂ (knn-ls §2) on the α-smoothed model: k, α and the aggregated layers.
KNN = Method("knn", KNNRadius, ("alpha", "k", "layers"), model=_ls, layers=_chosen_layers,
             build=lambda ctx, h: KNNRadius(k=h["k"]))
#: The raw 1-NN radius of one layer (knn-ls Figure 1), not normalised.
RADIUS = Method("radius1", KNNRadius, ("alpha", "depth"), model=_ls, layers=lambda ctx, h: [h["depth"]],
                build=lambda ctx, h: KNNRadius(k=1), score=lambda det, layers, h: det.radii(layers)[0])
#: Control: the maximum softmax probability (negated) of the baseline model's logits.
CONTROL = Method("control", MaxSoftmax, ("baseline_alpha",), model=_baseline, layers=_logits,
                 build=lambda ctx, h: MaxSoftmax())
#: DeConf: its own network (backbone + cosine h-head) trained with plain cross-entropy; ε perturbs the inputs.
DECONF = Method("deconf", DeConf, ("deconf_eps",), model=lambda ctx, h: ls_model(ctx, 0.0, "deconf"),
                layers=_logits, build=lambda ctx, h: DeConf(), batch_size=1024,
                inputs=lambda ctx, h, model, ds: perturb_dataset(model, ds, h["deconf_eps"]))
#: Robust Deep k-NN (Papernot & McDaniel 2018): cosine k-NN label agreement, conformal credibility.
ROBUST = Method("robust_knn", RobustKNN, ("baseline_alpha", "robust_k", "calibration", "layers"), model=_baseline,
                layers=_chosen_layers, build=lambda ctx, h: RobustKNN(k=h["robust_k"], calibration_fraction=h["calibration"],
                                                                      seed=ctx.seed))
#: One-class SVM per layer; one fit serves every normalisation.
SVM = Method("svm", OneClassSVMDetector, ("baseline_alpha", "svm_max_fit", "normalise", "layers"), model=_baseline,
             layers=_chosen_layers, build=lambda ctx, h: OneClassSVMDetector(max_fit=h["svm_max_fit"], seed=ctx.seed),
             score=_normalised, score_only=("normalise",))
#: Isolation Forest per layer (100 trees); one fit serves every normalisation.
IFOREST = Method("iforest", IsolationForestDetector, ("baseline_alpha", "normalise", "layers"), model=_baseline,
                 layers=_chosen_layers, build=lambda ctx, h: IsolationForestDetector(n_estimators=100, seed=ctx.seed),
                 score=_normalised, score_only=("normalise",))


def table1_column(name: str, cfg: dict) -> tuple[Method, dict]:
    """Table 1's column ``name`` as (method, hyper-parameters from ``cfg``): ``knn_ls`` is the k-NN score
    on the α-smoothed model, ``knn`` the same on α = 0."""
    if name in ("knn_ls", "knn"):
        return KNN, {"alpha": cfg["alpha"] if name == "knn_ls" else 0.0, "k": cfg["k"], "layers": cfg["layers"]}
    method = {"control": CONTROL, "deconf": DECONF, "robust_knn": ROBUST, "svm": SVM, "iforest": IFOREST}[name]
    return method, {p: cfg[p] for p in method.params}
