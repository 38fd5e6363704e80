import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from oodrepro import metrics


def test_auroc_hand_computed():
    # in: 0.1, 0.4 ; out: 0.35, 0.8  (higher = more OOD)
    # pairs (out > in): 0.35>0.1 yes, 0.35>0.4 no, 0.8>0.1 yes, 0.8>0.4 yes -> 3/4
    assert metrics.auroc([0.1, 0.4], [0.35, 0.8]) == pytest.approx(0.75)


def test_auroc_ties_count_half():
    assert metrics.auroc([1.0, 2.0], [2.0, 3.0]) == pytest.approx((1 + 1 + 0.5 + 1) / 4)
    assert metrics.auroc([5.0] * 4, [5.0] * 3) == pytest.approx(0.5)


def test_auroc_balanced_weighting_equals_unweighted(rng):
    a, b = rng.normal(size=37), rng.normal(0.7, 1, size=400)
    assert metrics.auroc(a, b, balanced=True) == pytest.approx(metrics.auroc(a, b, balanced=False), abs=1e-12)


def test_auroc_agrees_with_sklearn(rng):
    a, b = rng.normal(size=300), rng.normal(0.5, 1.3, size=200)
    y = np.r_[np.zeros(300), np.ones(200)]
    assert metrics.auroc(a, b) == pytest.approx(roc_auc_score(y, np.r_[a, b]))


def test_fpr95_hand_computed():
    s_in = np.arange(1, 21, dtype=float)  # 20 in-scores: t95 = 19th smallest = 19
    s_out = np.array([18.5, 19.0, 19.5, 25.0])  # <= 19: 18.5 and 19.0 (tie accepted)
    t, tpr, fpr = metrics.tpr_fpr_at(s_in, s_out)
    assert t == 19.0 and tpr == pytest.approx(0.95) and fpr == pytest.approx(0.5)
    assert metrics.tnr_at_95_tpr(s_in, s_out) == pytest.approx(0.5)
    assert metrics.detection_error(s_in, s_out) == pytest.approx(0.5 * 0.05 + 0.5 * 0.5)
    assert metrics.detection_accuracy(s_in, s_out) == pytest.approx(1 - 0.275)


def test_fpr95_perfect_separation():
    assert metrics.fpr_at_95_tpr([0, 1, 2], [10, 11]) == 0.0
    assert metrics.detection_error(np.arange(100.0), np.arange(200.0, 300)) == pytest.approx(0.025)


@pytest.mark.parametrize("seed", range(5))
def test_fpr95_matches_sklearn_roc_curve(seed):
    r = np.random.default_rng(seed)
    a = np.round(r.normal(size=int(r.integers(20, 300))), 1)  # rounding makes ties
    b = np.round(r.normal(1, 1, size=int(r.integers(20, 300))), 1)
    y = np.r_[np.ones(len(a)), np.zeros(len(b))]  # in = positive, confidence = -score
    fpr, tpr, _ = roc_curve(y, -np.r_[a, b], drop_intermediate=False)
    i = np.argmax(tpr >= 0.95)
    assert metrics.fpr_at_95_tpr(a, b) == pytest.approx(fpr[i])
    assert metrics.tpr_fpr_at(a, b)[1] == pytest.approx(tpr[i])


def test_aupr_agree_with_sklearn(rng):
    a, b = rng.normal(size=50), rng.normal(1, 1, size=80)
    assert metrics.aupr_in(a, b) == pytest.approx(
        average_precision_score(np.r_[np.ones(50), np.zeros(80)], -np.r_[a, b]))
    assert metrics.aupr_out(a, b) == pytest.approx(
        average_precision_score(np.r_[np.zeros(50), np.ones(80)], np.r_[a, b]))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_inf_scores_rejected(bad):
    with pytest.raises(ValueError, match="scores_out contains 1 NaN/inf"):
        metrics.auroc([0.1, 0.2], [0.3, bad])
    with pytest.raises(ValueError, match="scores_in"):
        metrics.fpr_at_95_tpr([bad], [0.3])


def test_empty_rejected():
    with pytest.raises(ValueError, match="scores_in is empty"):
        metrics.evaluate([], [1.0])
    with pytest.raises(ValueError, match="unknown metric"):
        metrics.evaluate([1.0], [2.0], metrics=("auroc", "nope"))


def test_mean_se():
    m, se = metrics.mean_se([1.0, 2.0, 3.0])
    assert m == 2.0 and se == pytest.approx(1.0 / np.sqrt(3))
    assert metrics.mean_se([0.7]) == (0.7, 0.0)


# confidences c = −score: in {1/3, 1}, out {0, 1/3} (one tie, at 1/3, which no grid threshold hits)
S_IN, S_OUT = np.array([-1 / 3, -1.0]), np.array([0.0, -1 / 3])


def test_authors_auroc_counts_ties_zero():
    # P(c_in > c_out) = 3/4 (the tie counts 0); ours counts it ½: 3.5/4
    assert metrics.authors_auroc(S_IN, S_OUT) == pytest.approx(0.75, abs=1e-9)
    assert metrics.auroc(S_IN, S_OUT) == pytest.approx(0.875)


def test_authors_detection_accuracy_is_at_the_best_threshold():
    # every threshold: ½(P(c_in < δ) + P(c_out > δ)) = ¼ at best → 0.75
    assert metrics.authors_detection_accuracy(S_IN, S_OUT) == pytest.approx(0.75)


def test_authors_aupr_hand_values_and_class_balance():
    # AUPR-in: δ ≤ 1/3: recall 1 (no area); δ ∈ (1/3, 1): recall ½, precision 1 → (1 − ½)·1, plus the
    # final recall·precision = ½ → 1.0. AUPR-out mirrors it.
    assert metrics.authors_aupr_in(S_IN, S_OUT) == pytest.approx(1.0)
    assert metrics.authors_aupr_out(S_IN, S_OUT) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    s_in, s_out = rng.normal(0, 1, 200), rng.normal(1, 1, 500)
    big = np.tile(s_out, 10)  # the same OOD distribution, ten times as many
    assert metrics.authors_aupr_in(s_in, big, 20000) == pytest.approx(metrics.authors_aupr_in(s_in, s_out, 20000), abs=1e-9)
    assert abs(metrics.aupr_in(s_in, big) - metrics.aupr_in(s_in, s_out)) > 0.1  # average precision is not balanced


def test_authors_tnr_averages_the_tpr_band():
    c_in = np.arange(1, 21) / 10  # 0.1 … 2.0: TPR = 0.95 exactly for δ in (0.1, 0.2]
    c_out = np.array([0.0, 0.15, 0.5])  # FPR 2/3 on (0.1, 0.15), 1/3 on [0.15, 0.2]: mean ½
    assert metrics.authors_tnr_at_95_tpr(-c_in, -c_out) == pytest.approx(0.5, abs=2e-3)
    assert metrics.tnr_at_95_tpr(-c_in, -c_out) == pytest.approx(2 / 3)  # ours: the threshold at 0.2


def test_authors_metrics_agree_with_ours_without_ties():
    rng = np.random.default_rng(3)
    s_in, s_out = rng.normal(0, 1, 300), rng.normal(1.5, 1, 300)
    assert metrics.authors_auroc(s_in, s_out) == pytest.approx(metrics.auroc(s_in, s_out), abs=2e-3)
    ev = metrics.evaluate(s_in, s_out, tuple(metrics.AUTHORS), definitions="authors")
    assert set(ev) == set(metrics.AUTHORS) and all(0 <= v <= 1 for v in ev.values())
    with pytest.raises(ValueError, match="unknown metric definitions 'paper'"):
        metrics.evaluate(s_in, s_out, definitions="paper")
