"""Page text of the kpca pages computed from their result files (tables and sentences to glue)."""
from __future__ import annotations

import pandas as pd

from .common import shown_table
from .pages import LANDMARKS, common_texts
from .paper import METHOD_LABELS

#: The approximation page's columns as the table shows them.
APPROX_COLUMNS = {"InD": "reconstruction error, InD", "OoD": "reconstruction error, OoD",
                  "auroc": "average AUROC (%)", "spearman": "Spearman ρ with exact (full)"}
#: The cost page's measurements as the table shows them (×: this detector's figure over exact k-NN's).
COST_COLUMNS = {"fit_s": "fit (s)", "us_per_query": "time per query (µs)", "time_vs_knn": "× k-NN time",
                "kept_mib": "memory kept (MiB)", "memory_vs_knn": "× k-NN memory", "peak_mib": "peak memory (MiB)"}
#: The paper's Table 4 (ImageNet-1K, ResNet50) as the table shows it.
TABLE4_COLUMNS = {"accuracy": "accuracy (%)", "fpr95": "FPR95 (%)", "auroc": "AUROC (%)",
                  "time_ms": "time per query (ms)", "memory_mib": "memory (MiB)"}


def _frame(doc: dict, key: str = "rows") -> pd.DataFrame:
    return pd.DataFrame(doc.get(key, []))


def landmark_texts(doc: dict, cfg: dict) -> dict:
    s = _frame(doc, "summary")
    a = s[s["ood"] == "average"] if len(s) else s
    return {**common_texts(doc, cfg),
            "tbl_landmarks": shown_table(a, [f"nys_{h}" for h in LANDMARKS], keys=("method", "m"), across="m")
            if len(a) else "No pairing of this run has data."}


def sensitivity_texts(doc: dict, cfg: dict) -> dict:
    s = _frame(doc, "summary")
    if not len(s):
        return {**common_texts(doc, cfg), "tbl_sensitivity": "No pairing of this run has data."}
    t = shown_table(s[s["ood"] == "average"], keys=("param", "value", "method"), across="method")
    return {**common_texts(doc, cfg), "tbl_sensitivity": t}


def approx_table(r: pd.DataFrame) -> pd.DataFrame:
    """Reconstruction error (InD, OoD), AUROC and Spearman ρ with exact KPCA per approximation and size."""
    t = r.pivot_table(index=["approximation", "size"], columns="split", values="error").join(
        r.groupby(["approximation", "size"])[["auroc", "spearman"]].mean())
    t = t.round({"InD": 4, "OoD": 4, "auroc": 2, "spearman": 3}).rename(columns=APPROX_COLUMNS)
    t = t.rename(index={"exact (in_span)": "exact (in span)"})
    t.columns.name = None
    t.index.names = ["approximation", "M / m"]
    return t


def approx_texts(doc: dict, cfg: dict) -> dict:
    r = _frame(doc)
    if not len(r):
        return {**common_texts({"rows": []}, cfg), "tbl_approx": "No pairing of this run has data."}
    return {**common_texts({"rows": []}, cfg), "tbl_approx": approx_table(r)}


def cost_table(r: pd.DataFrame) -> pd.DataFrame:
    """The measured cost per (N, detector), labelled with units."""
    t = r.set_index(["n", "detector"])[list(COST_COLUMNS)]
    t = t.round({"fit_s": 3, "us_per_query": 1, "time_vs_knn": 3, "kept_mib": 2, "memory_vs_knn": 3,
                 "peak_mib": 2}).rename(columns=COST_COLUMNS)
    t.index.names = ["N (training points)", "detector"]
    return t


def table4(p: pd.DataFrame) -> pd.DataFrame:
    """The paper's Table 4, labelled with units."""
    t = p.pivot_table(index="method", columns="metric", values="value")
    t = t[[c for c in TABLE4_COLUMNS if c in t.columns]].rename(columns=TABLE4_COLUMNS,
                                                                   index=lambda m: METHOD_LABELS.get(m, m))
    t.columns.name = None
    return t


def cost_texts(doc: dict, cfg: dict) -> dict:
    return {"tbl_cost": cost_table(_frame(doc)), "tbl_table4": table4(_frame(doc, "paper_table4"))}


def motivation_texts(doc: dict, cfg: dict) -> dict:
    s = _frame(doc, "summary")
    return {**common_texts(doc, cfg),
            "tbl_motivation": shown_table(s, keys=("method", "ood"), across="ood")
            if len(s) else "No pairing of this run has data."}
