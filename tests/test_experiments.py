import numpy as np
import pandas as pd
import pytest

from oodrepro.engine import directional_claim, summarise
from oodrepro.errors import ParameterError
from oodrepro.experiments import knn_ls
from oodrepro.experiments.knn_ls import ablations as A
from oodrepro.experiments.knn_ls import theory as kt
from oodrepro.experiments.knn_ls import table1_text as T1
from oodrepro.experiments.knn_ls.paper import PAPER


def test_paper_pairings_and_grouping():
    p = knn_ls.paper_pairings()
    assert len(p) == 31 and p[0] == "mnist->emnist_digits" and "celeba->svhn" in p
    g = PAPER.group_pairings(["mnist->hflip", "fashion_mnist->mnist", "mnist->vflip", "mnist->hflip"])
    assert g == {"mnist": ["hflip", "vflip"], "fashion_mnist": ["mnist"]}
    with pytest.raises(ParameterError, match="must look like 'IN->OOD'"):
        PAPER.parse_pairing("mnist")
    with pytest.raises(ParameterError, match="OOD set 'moon' is not accepted"):
        PAPER.parse_pairing("mnist->moon")


def _rows():
    recs = []
    for seed, (a, b, c) in enumerate([(0.90, 0.80, 0.85), (0.92, 0.81, 0.86), (0.91, 0.79, 0.84)]):
        for m, v in (("knn_ls", a), ("knn", b), ("control", c)):
            recs.append({"in_dist": "mnist", "ood": "hflip", "method": m, "seed": seed, "status": "ok", "auroc": v})
    recs += [{"in_dist": "mnist", "ood": "kmnist", "method": m, "seed": None, "status": "needs data", "why": "x"}
             for m in ("knn_ls", "knn", "control")]
    return pd.DataFrame(recs)


def test_summarise_mean_se_paper_and_needs_data():
    s = summarise(_rows(), PAPER)
    r = s[(s.ood == "hflip") & (s.method == "knn_ls")].iloc[0]
    assert r["mean"] == pytest.approx(0.91) and r["se"] == pytest.approx(0.01 / np.sqrt(3))
    assert r["paper"] == 0.914 and r["delta"] == pytest.approx(0.91 - 0.914)
    n = s[s.ood == "kmnist"]
    assert len(n) == 3 and (n.status == "needs data").all() and n["mean"].isna().all()
    assert (n["paper"].notna()).all()  # the paper has the row; we lack the data


def test_directional_claims_follow_the_paper_direction():
    rows = _rows()
    c = directional_claim(rows, PAPER, "mnist", "hflip", "knn_ls", "knn", "LS helps", {}, "p")
    assert c["verdict"] == "reproduced" and "0.914 vs 0.871" in c["paper"]
    # on CIFAR10 -> SVHN the paper's Control (0.725) beats k-NN LS (0.381): the claim tests the reverse
    rows2 = rows.assign(in_dist="cifar10", ood="svhn")
    c2 = directional_claim(rows2, PAPER, "cifar10", "svhn", "knn_ls", "control", "k-NN beats Control", {}, "p")
    assert c2["claim"].startswith("[paper shows the reverse]") and c2["verdict"] == "not reproduced"
    c3 = directional_claim(rows, PAPER, "mnist", "kmnist", "knn_ls", "knn", "LS helps", {}, "p")
    assert c3["verdict"] == "needs data"


def test_directional_claim_with_one_method_missing_from_the_paper_is_our_extension():
    rows = _rows()
    rows = pd.concat([rows, rows[rows.method == "knn"].assign(method="not_in_paper", auroc=rows.auroc - 0.2)])
    c = directional_claim(rows, PAPER, "mnist", "hflip", "knn_ls", "not_in_paper", "LS helps", {}, "p")
    assert c["paper"] == "not in the paper (our extension)" and c["verdict"] == "reproduced"


def test_figure_claim_rules_on_hand_made_curves():
    rows = pd.DataFrame([{"in_dist": "mnist5k", "ood": "hflip", "alpha": a, "seed": s, "status": "ok",
                          "auroc": v + 0.001 * s}
                         for s in range(3) for a, v in ((0.0, 0.80), (0.01, 0.85), (0.1, 0.90), (0.5, 0.82))])
    cl = A.figure3_claims(rows, {"max_train": None}, "p")
    assert [c["verdict"] for c in cl] == ["reproduced", "reproduced"]
    rows_k = pd.DataFrame([{"in_dist": "mnist5k", "ood": "hflip", "alpha": 0.0, "k": k, "seed": s, "status": "ok",
                            "auroc": 0.9 - 0.001 * k + 0.0001 * s} for s in range(3) for k in (1, 10, 100)])
    cl = A.figure2_claims(rows_k, {"max_train": None}, "p")
    assert cl[0]["verdict"] == "reproduced"          # decreasing with k
    assert cl[1]["verdict"] == "not reproduced"      # but by 0.099 > 0.02: not small


def test_table1_claims_pick_the_columns_that_ran():
    rows = _rows()
    cfg = {"pairings": ["mnist->hflip", "mnist->kmnist"], "methods": ["knn_ls", "knn", "control"], "alpha": 0.1}
    cl = knn_ls.table1_claims(rows, cfg, "p")
    assert [c["id"] for c in cl] == ["knn_ls-vs-knn-mnist-hflip", "knn_ls-vs-control-mnist-hflip",
                                     "knn_ls-vs-knn-mnist-kmnist", "knn_ls-vs-control-mnist-kmnist"]
    assert [c["verdict"] for c in cl] == ["reproduced", "reproduced", "needs data", "needs data"]
    assert all(c["page"] == "p" for c in cl) and "α = 0.1" in cl[0]["claim"]
    assert knn_ls.table1_claims(rows, dict(cfg, methods=["knn"]), "p") == []


def test_table1_sentences_and_inversion_check_on_a_hand_made_summary():
    s = summarise(_rows(), PAPER)
    assert "MNIST → HFlip" in T1.row_sentences(s, ["knn_ls", "knn"])
    assert "(paper 0.914, Δ -0.004)" in T1.row_sentences(s, ["knn_ls"])
    gap = T1.gap_sentence(s)
    assert gap.startswith("Across the 3 cells") and "the largest gap is MNIST → HFlip" in gap
    assert T1.extension_sentence(s) == ""  # every cell of this run has a paper value
    assert T1.below_chance_sentence(s) == ""
    chk = T1.inversion_check(s.assign(method="iforest").iloc[:1])
    r = chk.loc["Isolation Forest"]
    paper = s.iloc[0]["paper"]
    assert r["cells"] == 1 and r["mean |ours − paper|"] == pytest.approx(abs(0.91 - paper), abs=1e-3)
    c = T1.paper_column_correlation()
    assert c.shape == (7, 7) and (np.diag(c) == 1).all()


def test_spread_max_and_table():
    spread = pd.DataFrame([{"in_dist": "mnist5k", "ood": "hflip", "method": "svm", "normalise": n, "seed": s,
                            "auroc": v + 0.01 * s}
                           for s in range(2) for n, v in (("rank", 0.5), ("zscore", 0.6), ("train_mean", 0.4))])
    assert knn_ls.spread_max(spread) == pytest.approx(0.2)
    t = knn_ls.spread_table(spread)
    assert t.loc[("MNIST (5k sample)", "HFlip", "SVM"), "spread"] == pytest.approx(0.2)


def test_table2_claims_on_hand_made_layers():
    rows = pd.DataFrame([{"in_dist": "fashion_mnist", "ood": "mnist", "method": m, "depth": d, "seed": s,
                          "status": "ok", "auroc": v + 0.001 * s}
                         for s in range(3) for d in (0, -1, -2)
                         for m, v in (("knn", 0.9), ("knn_ls", 0.95 if d == -1 else 0.93))])
    summary = A.summarise_table2(rows)
    cl = A.table2_claims(rows, summary, {"max_train": None}, "p")
    assert [c["verdict"] for c in cl] == ["reproduced", "reproduced"]
    assert "LS better (> 2 s.e.) on 3 of 3 layers" in cl[0]["ours"]
    assert "best depth -1" in cl[1]["ours"]


def test_figure1_claims_and_ratio_table():
    med = pd.DataFrame([{"in_dist": "mnist5k", "ood": "hflip", "alpha": a, "panel": p, "set": st, "seed": s,
                         "status": "ok", "median": (1.0 if a == 0 else (0.5 if st == "in" else 0.8)) + 0.01 * s}
                        for s in range(3) for a in (0.0, 0.1) for p in ("depth 0", "depth -1") for st in ("in", "out")])
    cl = A.figure1_claims(med, {"alpha": 0.1, "max_train": None}, "p")
    assert [c["verdict"] for c in cl] == ["reproduced", "reproduced"]
    t = A.radius_ratio_table(med, 0.1)
    assert t.iloc[0]["in: median LS / median no-LS"] < t.iloc[0]["out: median LS / median no-LS"] < 1


def test_theory_claims_are_one_function_per_statement():
    t1 = pd.DataFrame([{"k_label": "k = ⌈k_min⌉", "n": 1000, "k": 500, "p_all_out": 1.0, "p_cut": 1.0,
                        "lam_over_fmax": 2.0, "fmax_above_max": 0.5, "lam": 2.0, "fpr": 0.5, "fpr_bound": 3.0,
                        "p_fpr": 1.0}])
    cfg = {"density": "bump", "d": 1, "delta": 0.1, "seeds": list(range(20))}  # tolerance 0.13
    assert kt.claim_t1_recall(t1, cfg)["verdict"] == "reproduced"
    assert kt.claim_t1_cut(t1, cfg)["verdict"] == "inconclusive"   # λ ≥ max f: vacuous
    assert kt.claim_cor1(t1, cfg)["verdict"] == "inconclusive"     # bound ≥ 1: vacuous
    assert kt.claim_t1_recall(t1.assign(p_all_out=0.5), cfg)["verdict"] == "not reproduced"
    assert kt.claim_t1_recall(t1.iloc[:0], cfg)["verdict"] == "inconclusive"


@pytest.mark.parametrize("schema,kw,match", [
    ("knn_ls.table1", {"k": 4000}, "parameter 'k' = 4000 is larger than the training set allows"),
    ("knn_ls.table1", {"max_train": 100, "k": 100}, "use k <= 99"),
    ("knn_ls.table1", {"max_train": 100, "robust_k": 95}, "parameter 'robust_k' = 95"),
    ("knn_ls.figure2", {"max_train": 50, "k_grid": "1,5,60"}, "parameter 'k_grid' = 60"),
])
def test_neighbour_counts_are_checked_against_the_training_set_before_training(schema, kw, match):
    from oodrepro import config

    with pytest.raises(ParameterError, match=match):
        config.resolve(schema, "quick", **kw)
    assert config.resolve("knn_ls.table1", "quick", max_train=100, k=99, methods="knn_ls,knn")["k"] == 99


def test_below_chance_sentence_takes_the_paper_values_from_the_reference():
    s = summarise(_rows(), PAPER)
    low = summarise(_rows().assign(method="svm", auroc=0.3), PAPER)
    text = T1.below_chance_sentence(low[low.ood == "hflip"])
    paper = PAPER.lookup("Table 1", in_dist="mnist", ood="hflip", method="svm")
    assert f"({paper:.3f} to {paper:.3f})" in text and "SVM on MNIST → HFlip (0.300)" in text
    assert T1.below_chance_sentence(s) == ""
