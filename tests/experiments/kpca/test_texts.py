"""kpca's tables as the pages show them, on hand-made summaries: labelled headers and rows (no raw column
name such as ``auroc_se``), no column of NaN only, ours ± s.e. beside the paper's value and Δ."""
import itertools

import numpy as np
import pandas as pd

from oodrepro import reference
from oodrepro.experiments.kpca import common, methods, pages, texts

CFG = {"pairings": ["mnist5k->hflip", "mnist5k->gaussian"]}


def _summary(names, oods=("hflip", "gaussian", "average"), paper=True, **keys):
    """A summary like :func:`common.summary`'s: one row per (OOD set, method[, key values]); with ``paper``
    the paper's AUROC for KPCA_nys only and no paper FPR95 at all (an all-NaN column in the summary)."""
    grid = [dict(zip(keys, vals)) for vals in itertools.product(*keys.values())]
    recs = []
    for o in oods:
        for i, m in enumerate(names):
            for g in grid:
                r = {"in_dist": "mnist5k", "ood": o, "method": m, **g, "auroc": 80.0 + i, "auroc_se": 0.5,
                     "fpr95": 40.0 - i, "n_seeds": 3, "status": "ok"}
                if paper:
                    r.update(paper_auroc=95.25 if m == "kpca_nys" else np.nan, paper_fpr95=np.nan)
                    r.update(delta_auroc=r["auroc"] - r["paper_auroc"], delta_fpr95=np.nan)
                recs.append(r)
    return pd.DataFrame(recs)


def _doc(summary):
    return {"rows": [{"in_dist": "mnist5k", "ood": "hflip", "status": "ok"}],
            "summary": summary.to_dict(orient="records")}


def test_the_checker_catches_a_raw_name_and_an_all_nan_column(readable):
    assert readable(pd.DataFrame({"auroc_se": [1.0, 2.0], "x": [np.nan, np.nan]}))
    assert readable(pd.DataFrame({"AUROC": [1.0, 2.0]}, index=pd.Index(["gaussian_rff", "PCA"], name="method")))


def test_main_table_sets_ours_beside_the_paper_and_drops_empty_columns(readable):
    t = common.shown_table(_summary(["knn", "kpca_nys"]), ["knn", "kpca_nys"])
    assert readable(t) == []
    assert list(t.columns) == ["AUROC, ours (%)", "AUROC, paper (%)", "Δ AUROC", "FPR95, ours (%)", "seeds"]
    assert list(t.index.names) == ["in-distribution", "OOD set", "method"]
    row = t.loc[("MNIST (5k sample)", "average", "KPCA_nys")]
    assert (row["AUROC, ours (%)"], row["AUROC, paper (%)"], row["Δ AUROC"]) == ("81.00 ± 0.50", "95.25", "-14.25")
    assert t.loc[("MNIST (5k sample)", "average", "KNN"), "AUROC, paper (%)"] == "—"


def test_ablation_rows_read_as_kernels(readable):
    t = pages.ablation_texts(_doc(_summary(methods.ABLATION, oods=("average",))), CFG)["tbl_ablation"]
    assert readable(t) == []
    shown = list(t.index.get_level_values("method"))
    assert shown[:3] == ["PCA", "Cosine (PCA on z/‖z‖)", "polynomial (RFF)"]
    assert "cosine + Gaussian (Nyström)" in shown and len(set(shown)) == len(methods.ABLATION)


def test_landmark_sensitivity_and_motivation_tables(readable):
    lm = texts.landmark_texts(_doc(_summary([f"nys_{h}" for h in pages.LANDMARKS], paper=False, m=[64, 256])),
                              CFG)["tbl_landmarks"]
    assert readable(lm) == [] and list(lm.columns) == ["64", "256"]
    assert list(lm.index.get_level_values("method")) == ["low-energy landmarks", "uniform landmarks",
                                                         "high-energy landmarks"]
    assert lm.iloc[0, 0] == "80.00 ± 0.50"
    s = _summary(["kpca_rff", "kpca_nys"], paper=False, param=["evr", "gamma"], value=[0.5, 2.0])
    s = s.drop(index=s[s["ood"] == "average"].index[0])  # one cell missing: it reads "—"
    sens = texts.sensitivity_texts(_doc(s), CFG)["tbl_sensitivity"]
    assert readable(sens) == [] and list(sens.columns) == ["KPCA_rff", "KPCA_nys"]
    assert list(sens.index.names) == ["in-distribution", "varied", "value"] and (sens == "—").sum().sum() == 1
    mot = texts.motivation_texts(_doc(_summary(["neg_norm", "knn_raw", "knn_cosine", "pca", "cosine"], paper=False)),
                                 CFG)["tbl_motivation"]
    assert readable(mot) == [] and list(mot.columns) == ["HFlip", "Gaussian noise", "average"]
    assert mot.index.get_level_values("method")[0] == "−‖z‖ (the norm alone)"


def test_cost_approximation_and_table4_tables(readable):
    rows = [{"n": n, "detector": d, "fit_s": 0.1, "us_per_query": 50.0, "time_vs_knn": 1.0, "kept_mib": 2.0,
             "memory_vs_knn": 1.0, "peak_mib": 4.0, "status": "ok"} for n in (1000, 4000) for d in ("kNN", "KPCA_nys")]
    got = texts.cost_texts({"rows": rows, "paper_table4": reference.table("kpca", "Table 4").to_dict("records")}, {})
    assert readable(got["tbl_cost"]) == [] and readable(got["tbl_table4"]) == []
    assert "time per query (µs)" in got["tbl_cost"].columns and "× k-NN memory" in got["tbl_cost"].columns
    assert list(got["tbl_table4"].index) == ["KNN", "KPCA_nys", "KPCA_rff"]
    assert got["tbl_table4"].loc["KNN", "memory (MiB)"] == 20480
    ap = [{"approximation": a, "size": n, "split": sp, "error": 0.3, "auroc": 80.0, "spearman": 0.9}
          for a, n in (("RFF", 16), ("Nyström", 16), ("exact (in_span)", 300)) for sp in ("InD", "OoD")]
    t = texts.approx_texts({"rows": ap}, CFG)["tbl_approx"]
    assert readable(t) == [] and "exact (in span)" in t.index.get_level_values("approximation")
