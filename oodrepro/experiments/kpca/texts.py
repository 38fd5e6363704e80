"""Page text of the kpca pages computed from their result files (tables and sentences to glue)."""
from __future__ import annotations

import pandas as pd

from .pages import _common_texts
from .paper import PAPER


def _frame(doc: dict, key: str = "rows") -> pd.DataFrame:
    return pd.DataFrame(doc.get(key, []))


def _avg_pivot(s: pd.DataFrame, cols) -> pd.DataFrame:
    a = s[s["ood"] == "average"].copy()
    a["in_dist"] = a["in_dist"].map(PAPER.label)
    return a.pivot_table(index=["in_dist", "method"], columns=cols, values="auroc").round(2)


def landmark_texts(doc: dict, cfg: dict) -> dict:
    s = _frame(doc, "summary")
    return {**_common_texts(doc, cfg),
            "tbl_landmarks": _avg_pivot(s, "m") if len(s) else "No pairing of this run has data."}


def sensitivity_texts(doc: dict, cfg: dict) -> dict:
    s = _frame(doc, "summary")
    if not len(s):
        return {**_common_texts(doc, cfg), "tbl_sensitivity": "No pairing of this run has data."}
    a = s[s["ood"] == "average"].copy()
    a["in_dist"] = a["in_dist"].map(PAPER.label)
    t = a.pivot_table(index=["in_dist", "param", "value"], columns="method", values="auroc").round(2)
    return {**_common_texts(doc, cfg), "tbl_sensitivity": t}


def approx_texts(doc: dict, cfg: dict) -> dict:
    r = _frame(doc)
    if not len(r):
        return {**_common_texts({"rows": []}, cfg), "tbl_approx": "No pairing of this run has data."}
    t = r.pivot_table(index=["approximation", "size"], columns="split", values="error").join(
        r.groupby(["approximation", "size"])[["auroc", "spearman"]].mean())
    return {**_common_texts({"rows": []}, cfg), "tbl_approx": t.round(4)}


def cost_texts(doc: dict, cfg: dict) -> dict:
    r = _frame(doc)
    t = r.set_index(["n", "detector"])[["fit_s", "us_per_query", "time_vs_knn", "kept_mib", "memory_vs_knn",
                                         "peak_mib"]].round(4)
    p = _frame(doc, "paper_table4").pivot_table(index="method", columns="metric", values="value")
    return {"tbl_cost": t, "tbl_table4": p}


def motivation_texts(doc: dict, cfg: dict) -> dict:
    s = _frame(doc, "summary")
    return {**_common_texts(doc, cfg),
            "tbl_motivation": (s.assign(in_dist=s["in_dist"].map(PAPER.label))
                               .pivot_table(index=["in_dist", "method"], columns="ood", values="auroc").round(2)
                               if len(s) else "No pairing of this run has data.")}
