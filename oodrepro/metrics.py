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


# --- The authors' definitions (odm; the CC-AG / ODIN lineage of evaluation code) --------------------
#: Number of thresholds of the authors' grid (``calculate_metrics_B``: precision 200,000).
AUTHORS_THRESHOLDS = 200_000
#: TPR band over which the authors average the FPR for "TNR at 95 % TPR".
AUTHORS_TPR_BAND = (0.94, 0.96)


def _authors_grid(scores_in, scores_out, n_thresholds: int = AUTHORS_THRESHOLDS, descending: bool = False):
    """Confidences ``c = −score`` (in-distribution high) sorted, and the authors' threshold grid
    ``δ = np.arange(start, end, gap)`` with ``gap = (end − start)/n`` over all confidences (descending:
    ``np.arange(end, start, −gap)``). Their ``1 − s/max(s)`` normalisation is affine, so it moves the
    grid with the scores and changes no value."""
    s_in, s_out = _check(scores_in, scores_out)
    x, y = np.sort(-s_in), np.sort(-s_out)
    start, end = min(x[0], y[0]), max(x[-1], y[-1])
    if end == start:
        return x, y, np.array([start])
    gap = (end - start) / n_thresholds
    return x, y, (np.arange(end, start, -gap) if descending else np.arange(start, end, gap))


def _frac(sorted_a: np.ndarray, d: np.ndarray, op: str) -> np.ndarray:
    """Fraction of ``sorted_a`` that is ``op`` each threshold (op in ``>=``, ``>``, ``<``)."""
    n = len(sorted_a)
    if op == ">=":
        return (n - np.searchsorted(sorted_a, d, "left")) / n
    if op == ">":
        return (n - np.searchsorted(sorted_a, d, "right")) / n
    return np.searchsorted(sorted_a, d, "left") / n


def _rect_area(xs: np.ndarray, ys: np.ndarray) -> float:
    """The authors' rectangle sum ``Σ_k (x_{k−1} − x_k)·y_k`` (x_{−1} = 1) plus ``x_last·y_last``."""
    if len(xs) == 0:
        return 0.0
    prev = np.r_[1.0, xs[:-1]]
    return float(((prev - xs) * ys).sum() + xs[-1] * ys[-1])


def authors_tnr_at_95_tpr(scores_in, scores_out, n_thresholds: int = AUTHORS_THRESHOLDS) -> float:
    r"""odm's TNR at 95 % TPR as the authors computed it: ``1 − mean FPR(δ)`` over the grid thresholds
    δ whose ``TPR(δ) = P(c_in ≥ δ)`` lies in [0.94, 0.96], with ``FPR(δ) = P(c_out > δ)`` and
    confidence c = −score. If no grid threshold has its TPR in the band (a test set so small that TPR
    jumps over it — the authors' code would divide by zero) this returns :func:`tnr_at_95_tpr`."""
    x, y, d = _authors_grid(scores_in, scores_out, n_thresholds)
    tpr = _frac(x, d, ">=")
    band = (tpr >= AUTHORS_TPR_BAND[0]) & (tpr <= AUTHORS_TPR_BAND[1])
    if not band.any():
        return tnr_at_95_tpr(-x, -y)
    return float(1.0 - _frac(y, d[band], ">").mean())


def authors_detection_accuracy(scores_in, scores_out, n_thresholds: int = AUTHORS_THRESHOLDS) -> float:
    r"""Detection accuracy at the *best* grid threshold (the authors' code, as ODIN):
    :math:`1 - \min_\delta 	frac12\,[P(c_{in} < \delta) + P(c_{out} > \delta)]`."""
    x, y, d = _authors_grid(scores_in, scores_out, n_thresholds)
    err = 0.5 * (_frac(x, d, "<") + _frac(y, d, ">"))
    return float(1.0 - min(1.0, err.min()))


def authors_auroc(scores_in, scores_out, n_thresholds: int = AUTHORS_THRESHOLDS) -> float:
    r"""AUROC as the authors' rectangle sum over the grid: ``Σ (FPR_{k−1} − FPR_k)·TPR_k + FPR·TPR``
    at the last threshold, TPR = P(c_in ≥ δ), FPR = P(c_out > δ). Between the extremes a tie between an
    in- and an OOD score counts 0 (not ½ as in :func:`auroc`): it is P(c_in > c_out)."""
    x, y, d = _authors_grid(scores_in, scores_out, n_thresholds)
    return _rect_area(_frac(y, d, ">"), _frac(x, d, ">="))


def authors_aupr_in(scores_in, scores_out, n_thresholds: int = AUTHORS_THRESHOLDS) -> float:
    r"""AUPR-in as the authors computed it, with *class-balanced* precision from rates:
    recall = TPR(δ) = P(c_in ≥ δ), precision = TPR / (TPR + P(c_out ≥ δ)); rectangle sum over the
    grid (thresholds where both rates are 0 skipped). Independent of the in/out set sizes, unlike
    :func:`aupr_in` (average precision)."""
    x, y, d = _authors_grid(scores_in, scores_out, n_thresholds)
    tp, fp = _frac(x, d, ">="), _frac(y, d, ">=")
    keep = tp + fp > 0
    tp, fp = tp[keep], fp[keep]
    return _rect_area(tp, tp / (tp + fp))


def authors_aupr_out(scores_in, scores_out, n_thresholds: int = AUTHORS_THRESHOLDS) -> float:
    r"""AUPR-out as the authors computed it: thresholds from the top down, recall = P(c_out < δ),
    precision = recall / (recall + P(c_in < δ)) (class-balanced), stopping where both rates reach 0."""
    x, y, d = _authors_grid(scores_in, scores_out, n_thresholds, descending=True)
    tp, fp = _frac(y, d, "<"), _frac(x, d, "<")
    zero = np.flatnonzero(tp + fp == 0)
    if len(zero):
        tp, fp = tp[:zero[0]], fp[:zero[0]]
    return _rect_area(tp, tp / (tp + fp))


#: The authors' metric set (odm tables), by the same names as :data:`ALL`'s.
AUTHORS = {
    "auroc": authors_auroc,
    "aupr_in": authors_aupr_in,
    "aupr_out": authors_aupr_out,
    "tnr95": authors_tnr_at_95_tpr,
    "detection_accuracy": authors_detection_accuracy,
}
#: Metric sets by name: ``"ours"`` (:data:`ALL`) and ``"authors"`` (:data:`AUTHORS`).
DEFINITIONS = {"ours": ALL, "authors": AUTHORS}


def evaluate(scores_in, scores_out, metrics=("auroc", "aupr_in", "aupr_out", "fpr95", "detection_error"),
             definitions: str = "ours") -> dict:
    """All requested metrics as a dict (validates the inputs once); ``definitions`` picks the metric set
    (``"ours"`` or ``"authors"``, see :data:`DEFINITIONS`)."""
    if definitions not in DEFINITIONS:
        raise ValueError(f"unknown metric definitions {definitions!r}; known: {', '.join(DEFINITIONS)}")
    table = DEFINITIONS[definitions]
    s_in, s_out = _check(scores_in, scores_out)
    unknown = [m for m in metrics if m not in table]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown} for the {definitions!r} definitions; known: {', '.join(table)}")
    return {m: table[m](s_in, s_out) for m in metrics}


def mean_se(values) -> tuple[float, float]:
    """Mean and standard error (sample std / √n; 0 for a single value) over seeds."""
    a = np.asarray(values, dtype=float)
    if a.size == 0:
        raise ValueError("mean_se needs at least one value")
    se = float(a.std(ddof=1) / math.sqrt(a.size)) if a.size > 1 else 0.0
    return float(a.mean()), se
