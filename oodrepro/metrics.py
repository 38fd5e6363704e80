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
import warnings

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from .errors import ParameterError

TPR_LEVEL = 0.95


def _as_scores(name: str, s) -> np.ndarray:
    """One score per point: a 1-D array of real numbers (an (N, 1) or (1, N) array is read as N scores).

    A 2-D (N, K) array is refused, not flattened into N·K "points"; strings, objects, complex numbers and
    None are refused by their type, not reported as NaN. Each refusal is one
    :class:`~oodrepro.errors.ParameterError` line naming the argument."""
    if s is None:
        raise ParameterError(f"{name} is None; pass a 1-D array of scores, one per point")
    try:
        a = np.asarray(s)
    except (ValueError, TypeError) as exc:  # ragged lists
        raise ParameterError(f"{name} is not an array of scores ({type(exc).__name__}: ragged or mixed); "
                             "pass a 1-D array of real numbers") from None
    if a.dtype == object or a.dtype.kind in "USVMmc" or not (a.dtype.kind in "biuf"):
        raise ParameterError(f"{name} must hold real numbers, got dtype {a.dtype}; pass a 1-D float array")
    if a.ndim == 0:
        raise ParameterError(f"{name} is a single number ({a.item()!r}); pass a 1-D array of scores, one per point")
    if sum(d != 1 for d in a.shape) > 1:
        raise ParameterError(f"{name} has shape {a.shape}; pass a 1-D array of scores, one per point (a 2-D array "
                             "is not flattened)")
    a = a.astype(np.float64).ravel()
    if a.size == 0:
        raise ParameterError(f"{name} is empty: need at least one score")
    bad = ~np.isfinite(a)
    if bad.any():
        raise ParameterError(f"{name} contains {int(bad.sum())} NaN/inf value(s) (first at index {int(np.argmax(bad))})")
    return a


def _check(scores_in, scores_out) -> tuple[np.ndarray, np.ndarray]:
    a, b = _as_scores("scores_in", scores_in), _as_scores("scores_out", scores_out)
    if a.min() == a.max() == b.min() == b.max() and len(a) + len(b) > 2:
        warnings.warn(f"oodrepro.metrics: every score is {float(a[0]):g} ({len(a)} in, {len(b)} out): the detector's score is "
                      "constant here (saturated softmax? features too large?), so AUROC 0.5 and FPR 1 say nothing "
                      "about it", RuntimeWarning, stacklevel=3)
    return a, b


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
# odm's ``calculate_metrics_B`` (``OoD_Mining/src/utils/utils_main.py``), transcribed exactly: it takes a
# confidence y (in-distribution high) of the combined in + OOD set — for odm's squared distances s,
# ``y = 1 − s / max(s)`` — and walks ``np.arange(start, end, gap)``, ``gap = (end − start) / 200000``, over
# [min y, max y) with TPR(δ) = P(y_in ≥ δ), FPR(δ) = P(y_out > δ). Which tied scores land exactly on a grid
# point depends on y's floating-point values, so the grid is built on y itself, not on −s. Sums run in the
# loop's order (left to right), so the values agree with the loop to the last bit.
#: Number of thresholds of the authors' grid (``calculate_metrics_B``: precision 200,000).
AUTHORS_THRESHOLDS = 200_000
#: TPR band over which the authors average the FPR for "TNR at 95 % TPR".
AUTHORS_TPR_BAND = (0.94, 0.96)


def authors_confidence(scores_in, scores_out) -> tuple[np.ndarray, np.ndarray]:
    """The confidences the authors' evaluation sees: ``y = 1 − s / max(s)`` over the combined set (odm's
    ``basic_baseline``), split back into (in, out). Their scores are squared distances (max > 0); when
    ``max(s) ≤ 0`` that normalisation is undefined (max 0) or reverses the order, so y = −s is used
    instead — for our ``−max softmax`` scores that is the softmax confidence, what the CC-AG / ODIN code
    passes to the same loop."""
    s_in, s_out = _check(scores_in, scores_out)
    s = np.concatenate([s_in, s_out])
    top = np.max(s)
    y = 1.0 - s / top if top > 0 else -s
    return y[:len(s_in)], y[len(s_in):]


def _authors_grid(scores_in, scores_out, n_thresholds: int = AUTHORS_THRESHOLDS, descending: bool = False):
    """Sorted confidences (:func:`authors_confidence`) and the authors' threshold grid
    ``np.arange(start, end, gap)``, ``gap = (end − start)/n`` over all confidences (descending:
    ``np.arange(end, start, −gap)``). All confidences equal (where the authors' ``np.arange`` fails on a
    zero step): the single threshold ``start``."""
    yi, yo = authors_confidence(scores_in, scores_out)
    x, y = np.sort(yi), np.sort(yo)
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


def _loop_sum(terms: np.ndarray) -> float:
    """``Σ terms`` added left to right, as the authors' ``+=`` loop does (``np.sum`` adds pairwise)."""
    return float(np.cumsum(terms)[-1]) if len(terms) else 0.0


def _rect_area(xs: np.ndarray, ys: np.ndarray, final_term: bool) -> float:
    """The authors' rectangle sum ``Σ_k (x_{k−1} − x_k)·y_k`` (x_{−1} = 1), plus ``x_last·y_last`` after
    the loop where their code adds it (the AUPRs; not the AUROC)."""
    if len(xs) == 0:
        return 0.0
    area = _loop_sum((np.r_[1.0, xs[:-1]] - xs) * ys)
    return area + float(xs[-1] * ys[-1]) if final_term else area


def authors_tnr_at_95_tpr(scores_in, scores_out, n_thresholds: int = AUTHORS_THRESHOLDS) -> float:
    r"""odm's TNR at 95 % TPR as the authors computed it: ``1 − mean FPR(δ)`` over the grid thresholds
    δ whose ``TPR(δ) = P(y_in ≥ δ)`` lies in [0.94, 0.96], with ``FPR(δ) = P(y_out > δ)`` and y the
    confidence of :func:`authors_confidence`. If no grid threshold has its TPR in the band (a test set so
    small, or so tied, that TPR jumps over it) the FPR counts as 1, as in their code ("corner case"),
    so the TNR is 0."""
    x, y, d = _authors_grid(scores_in, scores_out, n_thresholds)
    tpr = _frac(x, d, ">=")
    band = (tpr >= AUTHORS_TPR_BAND[0]) & (tpr <= AUTHORS_TPR_BAND[1])
    total = int(band.sum())
    if total == 0:
        return 0.0
    return float(1.0 - _loop_sum(_frac(y, d[band], ">")) / total)


def authors_detection_accuracy(scores_in, scores_out, n_thresholds: int = AUTHORS_THRESHOLDS) -> float:
    r"""Detection accuracy at the *best* grid threshold (the authors' code, as ODIN):
    :math:`1 - \min(1, \min_\delta \tfrac12\,[P(y_{in} < \delta) + P(y_{out} > \delta)])`."""
    x, y, d = _authors_grid(scores_in, scores_out, n_thresholds)
    err = (_frac(x, d, "<") + _frac(y, d, ">")) / 2.0
    return float(1.0 - min(1.0, err.min()))


def authors_auroc(scores_in, scores_out, n_thresholds: int = AUTHORS_THRESHOLDS) -> float:
    r"""AUROC as the authors' rectangle sum over the grid: ``Σ_k (FPR_{k−1} − FPR_k)·TPR_k`` with
    FPR_{−1} = 1, TPR = P(y_in ≥ δ), FPR = P(y_out > δ), and nothing added after the last threshold.
    A tie between an in- and an OOD score counts 1 if a grid point falls exactly on it and 0 otherwise
    (:func:`auroc` counts it ½); OOD scores tied at the top confidence never leave the FPR, so their
    pairs count 0."""
    x, y, d = _authors_grid(scores_in, scores_out, n_thresholds)
    return _rect_area(_frac(y, d, ">"), _frac(x, d, ">="), final_term=False)


def authors_aupr_in(scores_in, scores_out, n_thresholds: int = AUTHORS_THRESHOLDS) -> float:
    r"""AUPR-in as the authors computed it, with *class-balanced* precision from rates:
    recall = TPR(δ) = P(y_in ≥ δ), precision = TPR / (TPR + P(y_out ≥ δ)); rectangle sum over the
    grid (thresholds where both rates are 0 skipped) plus the last recall·precision. Independent of the
    in/out set sizes, unlike :func:`aupr_in` (average precision)."""
    x, y, d = _authors_grid(scores_in, scores_out, n_thresholds)
    tp, fp = _frac(x, d, ">="), _frac(y, d, ">=")
    keep = tp + fp > 0
    tp, fp = tp[keep], fp[keep]
    return _rect_area(tp, tp / (tp + fp), final_term=True)


def authors_aupr_out(scores_in, scores_out, n_thresholds: int = AUTHORS_THRESHOLDS) -> float:
    r"""AUPR-out as the authors computed it: thresholds from the top down, recall = P(y_out < δ),
    precision = recall / (recall + P(y_in < δ)) (class-balanced), stopping where both rates reach 0;
    plus the last recall·precision."""
    x, y, d = _authors_grid(scores_in, scores_out, n_thresholds, descending=True)
    tp, fp = _frac(y, d, "<"), _frac(x, d, "<")
    zero = np.flatnonzero(tp + fp == 0)
    if len(zero):
        tp, fp = tp[:zero[0]], fp[:zero[0]]
    return _rect_area(tp, tp / (tp + fp), final_term=True)


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
