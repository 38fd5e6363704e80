"""knn-ls Table 1: seven methods over pairings and seeds — the runner, its claims and the page's text.

Paper-faithful choices and our reading of what the paper leaves open are in the docstrings of
:mod:`oodrepro.experiments.knn_ls.methods`.
"""
from __future__ import annotations

import pandas as pd
from ... import config, metrics, report
from ...config import Param, Schema
from ...engine import contexts, directional_claim, method_scores, needs_rows, summarise
from .methods import table1_column
from .paper import (MODELS, PAPER, PAPER_PROFILE, QUICK, SMOKE, METHOD_ORDER, check_neighbours, common_params,
                    pairings_param, paper_pairings, test_accuracy)

QUICK_PAIRINGS = ["mnist5k->hflip", "mnist5k->vflip", "mnist5k->digits28", "mnist5k->gaussian", "mnist5k->uniform"]
_T1 = dict(methods=list(METHOD_ORDER), baseline_alpha=0.0, calibration=0.1, deconf_eps=0.0, normalise="rank")

TABLE1 = config.register(Schema(
    name="knn_ls.table1",
    params=[
        pairings_param(),
        Param("methods", "strs", "columns of Table 1", choices=METHOD_ORDER, min_len=1),
        *common_params(),
        Param("baseline_alpha", "float", "label smoothing of the model the baselines use (paper: unstated; "
              "we use 0)", low=0, high=1, high_open=True),
        Param("robust_k", "int", "Robust Deep k-NN neighbours (paper: 50)", low=1),
        Param("calibration", "float", "Robust Deep k-NN calibration fraction of the training set (paper: 0.1)",
              low=0.01, high=0.5),
        Param("deconf_eps", "float", "DeConf input-perturbation magnitude (paper: 0)", low=0, high=1),
        Param("normalise", "str", "per-layer normalisation of SVM / Isolation Forest scores before averaging",
              choices=("rank", "zscore", "train_mean")),
        Param("svm_max_fit", "int", "one-class SVM fitted on at most this many training points", low=50),
    ],
    derived=check_neighbours,
    profiles={
        "smoke": dict(SMOKE, pairings=["mnist5k->hflip", "mnist5k->vflip", "mnist5k->gaussian"], robust_k=10,
                      svm_max_fit=500, **_T1),
        "quick": dict(QUICK, pairings=QUICK_PAIRINGS, robust_k=50, svm_max_fit=5000, **_T1),
        "paper": dict(PAPER_PROFILE, pairings=paper_pairings(), robust_k=50, svm_max_fit=5000, **_T1),
    },
))
NORMALISATIONS = ("rank", "zscore", "train_mean")
#: The normalisations as the spread table names them (oodrepro.detectors.per_layer).
NORMALISATION_LABELS = {"rank": "rank (training CDF)", "zscore": "z-score", "train_mean": "÷ training mean"}


def run_table1(cfg: dict, progress: bool = True) -> pd.DataFrame:
    """knn-ls Table 1 for ``cfg``: one row per (in-distribution set, OOD set, method, seed) with AUROC,
    AUPR-In, AUPR-Out, FPR@95TPR and the classifier's test accuracy; missing data → "needs data" rows."""
    recs, seen_missing = [], set()
    for in_name, oods, ctx, sets, missing in contexts(PAPER, MODELS, cfg, progress):
        for o, why in missing.items():
            if (in_name, o) not in seen_missing:
                recs += needs_rows(in_name, [o], why, cfg["methods"])
                seen_missing.add((in_name, o))
        if ctx is None:
            continue
        mine = []
        for m in cfg["methods"]:
            method, hyper = table1_column(m, cfg)
            s_in = method_scores(ctx, method, ctx.in_test, hyper)
            for o, ds in sets.items():
                mine.append({"in_dist": in_name, "ood": o, "method": m, "seed": ctx.seed, "status": "ok",
                             **metrics.evaluate(s_in, method_scores(ctx, method, ds, hyper))})
        acc = {a: test_accuracy(ctx, a) for a in {0.0, cfg["alpha"]}}
        for r in mine:
            r["test_acc"] = acc[cfg["alpha"]] if r["method"] == "knn_ls" else acc[0.0]
        recs += mine
    return pd.DataFrame(recs)


def table1_claims(rows: pd.DataFrame, cfg: dict, page: str) -> list[dict]:
    """The claims of Table 1 this run can test: label smoothing helps k-NN; k-NN (LS) beats each baseline."""
    claims = []
    methods = set(cfg["methods"])
    for in_name, oods in PAPER.group_pairings(cfg["pairings"]).items():
        for ood in oods:
            if {"knn_ls", "knn"} <= methods:
                claims.append(directional_claim(rows, PAPER, in_name, ood, "knn_ls", "knn",
                                                f"Label smoothing (α = {cfg['alpha']}) improves the k-NN score",
                                                cfg, page))
            for b in ("control", "svm", "iforest"):
                if {"knn_ls", b} <= methods:
                    claims.append(directional_claim(rows, PAPER, in_name, ood, "knn_ls", b,
                                                    f"k-NN (LS) beats {PAPER.method_label(b)}", cfg, page))
    return claims


def normalisation_spread(cfg: dict, progress: bool = False) -> pd.DataFrame:
    """AUROC of SVM and Isolation Forest under every per-layer normalisation (cached scores)."""
    recs = []
    for in_name, oods, ctx, sets, _ in contexts(PAPER, MODELS, cfg, progress):
        if ctx is None:
            continue
        for m in ("svm", "iforest"):
            if m not in cfg["methods"]:
                continue
            for norm in NORMALISATIONS:
                method, hyper = table1_column(m, dict(cfg, normalise=norm))
                s_in = method_scores(ctx, method, ctx.in_test, hyper)
                for o, ds in sets.items():
                    recs.append({"in_dist": in_name, "ood": o, "method": m, "normalise": norm, "seed": ctx.seed,
                                 "auroc": metrics.auroc(s_in, method_scores(ctx, method, ds, hyper))})
    return pd.DataFrame(recs)


def _by_normalisation(spread: pd.DataFrame) -> pd.DataFrame:
    """Seed-mean AUROC per cell (rows) and normalisation (columns)."""
    return spread.groupby(["in_dist", "ood", "method", "normalise"], sort=False)["auroc"].mean().unstack("normalise")


def spread_table(spread: pd.DataFrame) -> pd.DataFrame:
    """AUROC per normalisation (mean over seeds) and the spread max − min, per cell."""
    t = _by_normalisation(spread)
    t["spread"] = t.max(axis=1) - t.min(axis=1)
    t = t.rename(index=lambda v: PAPER.labels.get(v, PAPER.method_labels.get(v, v)))
    t.index.names = [report.KEY_NAMES[k] for k in t.index.names]
    t = t.rename(columns={**NORMALISATION_LABELS, "spread": "spread (max − min)"})
    t.columns.name = "per-layer normalisation"
    return t.round(3)


def spread_max(spread: pd.DataFrame) -> float:
    """The largest spread, over the cells of :func:`spread_table`, of the seed-mean AUROC across the
    normalisations (the table's ``spread`` column; unrounded)."""
    t = _by_normalisation(spread)
    return float((t.max(axis=1) - t.min(axis=1)).max())


def methods_run(cfg: dict) -> list[str]:
    """The run's methods in the paper's column order."""
    return [m for m in METHOD_ORDER if m in cfg["methods"]]


def run_page(cfg: dict) -> dict:
    """Everything the Table 1 page's result file holds."""
    rows = run_table1(cfg)
    extra = {"summary": summarise(rows, PAPER).to_dict(orient="records")}
    if {"svm", "iforest"} & set(cfg["methods"]):
        extra["normalisation_spread"] = normalisation_spread(cfg).to_dict(orient="records")
    return {"rows": rows, "claims": table1_claims(rows, cfg, page="knn_ls/table1"), "extra": extra}
