"""odm Table 1's metrics as the authors computed them (their ``calculate_metrics_B``): our
:data:`oodrepro.metrics.AUTHORS` against an independent transcription of their loop."""
import numpy as np
import pytest

from oodrepro import metrics


# --- the authors' calculate_metrics_B, transcribed independently --------------------------------------
def calculate_metrics_b(y_score, y_true, precision=200000):
    """odm's ``calculate_metrics_B`` (OoD_Mining, utils_main.py) loop by loop; only the per-threshold
    counts are vectorised (a threshold × sample comparison). Returns (TNR, detection accuracy, AUROC,
    AUPR-in, AUPR-out) as fractions (they print them × 100)."""
    X1, Y1 = y_score[np.where(y_true == 1)[0]], y_score[np.where(y_true == 0)[0]]
    end = np.max([np.max(X1), np.max(Y1)])
    start = np.min([np.min(X1), np.min(Y1)])
    gap = (end - start) / precision
    up, down = np.arange(start, end, gap), np.arange(end, start, -gap)

    def rate(a, op, deltas):
        return [float(v) for v in op(a[None, :], deltas[:, None]).sum(1) / float(len(a))]

    x_ge, y_gt, y_ge, x_lt = (rate(X1, np.greater_equal, up), rate(Y1, np.greater, up),
                              rate(Y1, np.greater_equal, up), rate(X1, np.less, up))
    total, fpr = 0.0, 0.0  # TPR95
    for tpr, error2 in zip(x_ge, y_gt):
        if tpr <= 0.96 and tpr >= 0.94:
            fpr += error2
            total += 1
    fpr_base = 1 if total == 0 else fpr / total
    auroc, fpr_temp = 0.0, 1.0  # AUROC: no term after the loop
    for tpr, fpr in zip(x_ge, y_gt):
        auroc += (-fpr + fpr_temp) * tpr
        fpr_temp = fpr
    aupr_in, recall_temp = 0.0, 1.0  # AUPR-in
    for tp, fp in zip(x_ge, y_ge):
        if tp + fp == 0:
            continue
        precision_, recall = tp / (tp + fp), tp
        aupr_in += (recall_temp - recall) * precision_
        recall_temp = recall
    aupr_in += recall * precision_
    aupr_out, recall_temp = 0.0, 1.0  # AUPR-out, from the top down
    for fp, tp in zip(rate(X1, np.less, down), rate(Y1, np.less, down)):
        if tp + fp == 0:
            break
        precision_, recall = tp / (tp + fp), tp
        aupr_out += (recall_temp - recall) * precision_
        recall_temp = recall
    aupr_out += recall * precision_
    error_base = 1.0  # detection error
    for tpr, error2 in zip(x_lt, y_gt):
        error_base = np.minimum(error_base, (tpr + error2) / 2.0)
    return 1 - fpr_base, 1 - error_base, auroc, aupr_in, aupr_out


def reference_b(s_in, s_out):
    """odm's ``basic_baseline``: y = 1 − s / max(s) over in + out, labels in = 1, then the metrics."""
    y_score = np.concatenate([s_in, s_out])
    y_score = 1.0 - y_score / np.max(y_score)
    y_true = np.array(len(s_in) * [1] + len(s_out) * [0]).astype(int)
    return dict(zip(("tnr95", "detection_accuracy", "auroc", "aupr_in", "aupr_out"), calculate_metrics_b(y_score, y_true)))


def _ours(s_in, s_out):
    return metrics.evaluate(s_in, s_out, tuple(metrics.AUTHORS), definitions="authors")


def test_authors_metrics_equal_calculate_metrics_b_on_distances():
    rng = np.random.default_rng(7)  # squared distances, as odm's scores: no ties, TPR band well populated
    s_in, s_out = rng.chisquare(4, 70), 1.8 * rng.chisquare(4, 90)
    ours, ref = _ours(s_in, s_out), reference_b(s_in, s_out)
    assert 0.5 < ref["auroc"] < 0.99 and 0 < ref["tnr95"] < 1
    for k in ref:
        assert ours[k] == pytest.approx(ref[k], abs=1e-12), k


def test_authors_metrics_on_negative_scores_use_the_confidence_minus_s():
    # −max-softmax-like scores (max ≤ 0): 1 − s/max(s) would reverse the order; the loop is fed y = −s
    rng = np.random.default_rng(8)
    s_in, s_out = -rng.uniform(0.5, 1.0, 60), -rng.uniform(0.3, 0.9, 80)
    ref = calculate_metrics_b(np.r_[-s_in, -s_out], np.r_[np.ones(60), np.zeros(80)])
    ours = _ours(s_in, s_out)
    for k, v in zip(("tnr95", "detection_accuracy", "auroc", "aupr_in", "aupr_out"), ref):
        assert ours[k] == pytest.approx(v, abs=1e-12), k


def test_authors_tnr_is_zero_when_no_threshold_has_tpr_in_the_band():
    # ten distinct in-distribution scores: TPR(δ) ∈ {0.0, 0.1, …, 0.9, 1.0}, never in [0.94, 0.96], so their
    # code's corner case counts FPR = 1 → TNR 0 (we used to fall back to our own TNR: 1.0 here).
    s_in, s_out = np.arange(10.0), np.array([20.0, 30.0])
    assert metrics.authors_tnr_at_95_tpr(s_in, s_out) == 0.0
    assert reference_b(s_in, s_out)["tnr95"] == 0.0
    assert metrics.tnr_at_95_tpr(s_in, s_out) == 1.0  # ours: perfectly separated


def test_authors_auroc_has_no_term_after_the_loop():
    # y = 1 − s/1: in = ten at y = 1; out = 99 at y = 1, one at y = 0. Grid δ_k = k/200000, k < 200000.
    # δ_0 = 0: TPR = 1, FPR = P(y_out > 0) = 0.99 → (1 − 0.99)·1 = 0.01; every later δ: TPR 1, FPR 0.99 → 0.
    # AUROC = 0.01. The old final FPR·TPR at the last threshold added 0.99·1 → 1.0.
    s_in, s_out = np.zeros(10), np.r_[np.zeros(99), 1.0]
    assert metrics.authors_auroc(s_in, s_out) == pytest.approx(0.01, abs=1e-12)
    assert reference_b(s_in, s_out)["auroc"] == pytest.approx(0.01, abs=1e-12)


def test_authors_grid_is_on_one_minus_s_over_max_s_with_ties():
    # s_in = {0, 1}, s_out = {1, 2} → y = 1 − s/2: in {1, ½}, out {½, 0}; one in/out tie at y = ½.
    # The grid np.arange(0, 1, 1/200000) holds ½ exactly (k = 100000); the grid on −s (from −2 by 1e-5)
    # misses −1. On y: δ = 0: (1 − ½)·1 = ½; δ = ½: TPR = P(y_in ≥ ½) = 1, FPR = P(y_out > ½) = 0 →
    # (½ − 0)·1 = ½; AUROC = 1.0 (the tie counts 1). On −s the FPR drops only at the first δ > −1, where
    # TPR = ½: ½ + ½·½ = 0.75 (what we computed before).
    assert 0.5 in np.arange(0.0, 1.0, 1 / 200000) and -1.0 not in np.arange(-2.0, 0.0, 2 / 200000)
    s_in, s_out = np.array([0.0, 1.0]), np.array([1.0, 2.0])
    assert metrics.authors_auroc(s_in, s_out) == 1.0
    assert reference_b(s_in, s_out)["auroc"] == 1.0
    rng = np.random.default_rng(0)  # many ties: integer scores; every metric as their loop
    s_in, s_out = rng.integers(0, 10, 60).astype(float), rng.integers(3, 13, 90).astype(float)
    ours, ref = _ours(s_in, s_out), reference_b(s_in, s_out)
    for k in ref:
        assert ours[k] == pytest.approx(ref[k], abs=1e-12), k
    assert ours["auroc"] == pytest.approx(0.7675925925925926, abs=1e-12)  # the −s grid gave 0.7364814814814815
