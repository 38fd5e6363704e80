"""kpca's shared runner and claim rules, on hand-made rows."""
import pandas as pd
import pytest

from oodrepro import config
from oodrepro.experiments.kpca import common


def _cfg(**kw):
    return config.resolve("kpca.main", profile="smoke", **kw)


def test_missing_data_becomes_needs_data_rows(tmp_path):
    cfg = _cfg(pairings=["cifar10->svhn", "mnist5k->lsun"], data_root=str(tmp_path), methods=["msp", "knn"],
               epochs=1, max_train=200)
    rows = common.run_methods(cfg, ["msp", "knn"])
    nd = rows[rows["status"] == "needs data"]
    assert set(nd["ood"]) == {"svhn", "lsun"} and nd["why"].str.len().min() > 10
    assert "cifar10" in " ".join(nd["why"]).lower() or "lsun" in " ".join(nd["why"]).lower()


def _rows(a_vals, b_vals, a="kpca_nys", b="knn"):
    recs = []
    for s, (va, vb) in enumerate(zip(a_vals, b_vals)):
        recs += [{"in_dist": "mnist5k", "ood": "average", "method": a, "seed": s, "status": "ok", "auroc": va,
                  "fpr95": 10.0},
                 {"in_dist": "mnist5k", "ood": "average", "method": b, "seed": s, "status": "ok", "auroc": vb,
                  "fpr95": 20.0}]
    return pd.DataFrame(recs)


def test_versus_claims_follow_the_paired_rule_and_show_table7():
    cfg = {"pairings": ["mnist5k->hflip"]}
    up = common.versus(_rows([90, 91, 92], [80, 80.5, 81]), common.PAPER, cfg, "p", "kpca_nys", "knn", "t", "Table 7")
    down = common.versus(_rows([70, 71, 72], [80, 80.5, 81]), common.PAPER, cfg, "p", "kpca_nys", "knn", "t", "Table 7")
    assert up[0]["verdict"] == "reproduced" and down[0]["verdict"] == "not reproduced"
    assert "95.250" in up[0]["paper"] and "94.150" in up[0]["paper"]  # Table 7 AUROC: KPCA_nys vs KNN


def test_summary_puts_the_paper_average_beside_ours():
    s = common.summary(_rows([90, 92], [80, 82]), common.PAPER, "Table 7").set_index("method")
    assert s.loc["kpca_nys", "auroc"] == 91 and s.loc["kpca_nys", "paper_auroc"] == 95.25
    assert s.loc["knn", "delta_fpr95"] == pytest.approx(20 - 30.77)


def test_threshold_claim_and_needs_data():
    c = common.threshold_claim("x", "t", "p", 0.5, lambda v: v < 1, "0.5", "rule", "page")
    assert c["verdict"] == "reproduced"
    c = common.threshold_claim("x", "t", "p", 2.0, lambda v: v < 1, "2", "rule", "page")
    assert c["verdict"] == "not reproduced"
    assert common.threshold_claim("x", "t", "p", None, lambda v: v < 1, "", "rule", "page")["verdict"] == "needs data"


def test_versus_with_a_method_the_paper_lacks_is_our_extension():
    cfg = {"pairings": ["mnist5k->hflip"]}
    c = common.versus(_rows([90, 91, 92], [80, 80.5, 81], a="kpca_rff", b="cosine"), common.PAPER, cfg, "p",
                      "kpca_rff", "cosine", "t", "Table 7")[0]
    assert c["verdict"] == "reproduced" and "our extension" in c["paper"]
