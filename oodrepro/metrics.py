"""OOD-detection metrics on OOD scores (higher score = more likely out-of-distribution).

Convention (all three papers): **in-distribution is the positive class** for TPR. A threshold t
declares x in-distribution when ``score(x) <= t``, so

* TPR(t) = fraction of in-distribution scores ``<= t``;
* FPR(t) = fraction of OOD scores ``<= t`` (OOD wrongly accepted as in-distribution).

**How the 95 % point is picked** ("nearest threshold at or above", no interpolation): t95 is the
smallest threshold with TPR(t) ≥ 0.95, i.e. the ⌈0.95·n_in⌉-th smallest in-distribution score.
FPR@95TPR is FPR(t95), ties with t95 counted as accepted. This is the first point of scikit-learn's
ROC curve whose TPR reaches 0.95 (tested against :func:`sklearn.metrics.roc_curve`); codes that
interpolate between ROC points give slightly smaller values on small test sets.
"""
from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

TPR_LEVEL = 0.95


def _check(scores_in, scores_out) -> tuple[np.ndarray, np.ndarray]:
    out = []
    for name, s in (("scores_in", scores_in), ("scores_out", scores_out)):
        a = np.asarray(s, dtype=np.float64).ravel()
        if a.size == 0:
            raise ValueError(f"{name} is empty: need at least one score")
        bad = ~np.isfinite(a)
        if bad.any():
            raise ValueError(f"{name} contains {int(bad.sum())} NaN/inf value(s) (first at index {int(np.argmax(bad))})")
        out.append(a)
    return out[0], out[1]


def _labels_scores(s_in, s_out):
    """Labels with in-distribution = 1 and a confidence (= −OOD score) so that higher = more in."""
    y = np.r_[np.ones(len(s_in)), np.zeros(len(s_out))]
    conf = -np.r_[s_in, s_out]
    return y, conf


def auroc(scores_in, scores_out, balanced: bool = True) -> float:
    """Area under the ROC curve, in-distribution positive.

    ``balanced=True`` weighs every sample by 1/(size of its set), as knn-ls does so that in and out
    sets count equally. (The ROC curve's axes are already per-class rates, so this weighting leaves
    AUROC unchanged up to rounding — the tests check it; we keep it to follow the paper literally.)
    AUROC = P(score_out > score_in) + ½ P(score_out = score_in).
    """
    s_in, s_out = _check(scores_in, scores_out)
    y, conf = _labels_scores(s_in, s_out)
    w = np.r_[np.full(len(s_in), 1 / len(s_in)), np.full(len(s_out), 1 / len(s_out))] if balanced else None
    return float(roc_auc_score(y, conf, sample_weight=w))


def _threshold(s_in: np.ndarray, level: float = TPR_LEVEL) -> float:
    k = math.ceil(level * len(s_in) - 1e-9)  # ⌈0.95·n⌉ without float noise (0.95·20 = 19.000000000000004)
    return float(np.sort(s_in)[max(k, 1) - 1])


def tpr_fpr_at(scores_in, scores_out, level: float = TPR_LEVEL) -> tuple[float, float, float]:
    """(threshold t95, TPR(t95), FPR(t95)) with t95 picked as in the module docstring."""
    s_in, s_out = _check(scores_in, scores_out)
    t = _threshold(s_in, level)
    return t, float(np.mean(s_in <= t)), float(np.mean(s_out <= t))


def fpr_at_95_tpr(scores_in, scores_out) -> float:
    """FPR of OOD data at 95 % TPR of in-distribution data (lower is better)."""
    return tpr_fpr_at(scores_in, scores_out)[2]


def tnr_at_95_tpr(scores_in, scores_out) -> float:
    """TNR = 1 − FPR at 95 % TPR (odm Table 1; higher is better)."""
    return 1.0 - fpr_at_95_tpr(scores_in, scores_out)


def detection_error(scores_in, scores_out) -> float:
    """Detection error at the 95 %-TPR threshold: ``0.5·(1 − TPR) + 0.5·FPR`` (odm supplement A).

    With TPR ≈ 0.95 the best possible value is about 0.025.
    """
    _, tpr, fpr = tpr_fpr_at(scores_in, scores_out)
    return 0.5 * (1.0 - tpr) + 0.5 * fpr


def detection_accuracy(scores_in, scores_out) -> float:
    """``1 − detection_error`` at the 95 %-TPR threshold (odm Table 1).

    Note: ODIN (Liang et al. 2018) defines detection accuracy as the *best* such value over all
    thresholds; odm reports it at the 95 %-TPR point, which is what this function returns.
    """
    return 1.0 - detection_error(scores_in, scores_out)


def aupr_in(scores_in, scores_out) -> float:
    """Area under the precision–recall curve with in-distribution positive (average precision)."""
    s_in, s_out = _check(scores_in, scores_out)
    y, conf = _labels_scores(s_in, s_out)
    return float(average_precision_score(y, conf))


def aupr_out(scores_in, scores_out) -> float:
    """Area under the precision–recall curve with OOD positive, ranked by the OOD score."""
    s_in, s_out = _check(scores_in, scores_out)
    y = np.r_[np.zeros(len(s_in)), np.ones(len(s_out))]
    return float(average_precision_score(y, np.r_[s_in, s_out]))


ALL = {
    "auroc": auroc,
    "aupr_in": aupr_in,
    "aupr_out": aupr_out,
    "fpr95": fpr_at_95_tpr,
    "tnr95": tnr_at_95_tpr,
    "detection_error": detection_error,
    "detection_accuracy": detection_accuracy,
}


def evaluate(scores_in, scores_out, metrics=("auroc", "aupr_in", "aupr_out", "fpr95", "detection_error")) -> dict:
    """All requested metrics as a dict (validates the inputs once)."""
    s_in, s_out = _check(scores_in, scores_out)
    unknown = [m for m in metrics if m not in ALL]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; known: {', '.join(ALL)}")
    return {m: ALL[m](s_in, s_out) for m in metrics}


def mean_se(values) -> tuple[float, float]:
    """Mean and standard error (sample std / √n; 0 for a single value) over seeds."""
    a = np.asarray(values, dtype=float)
    if a.size == 0:
        raise ValueError("mean_se needs at least one value")
    se = float(a.std(ddof=1) / math.sqrt(a.size)) if a.size > 1 else 0.0
    return float(a.mean()), se
