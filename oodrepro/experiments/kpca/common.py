"""What every kpca page shares: the loop over (in-distribution set, seed) with its features, *needs
data* rows, the summary with the paper's value beside ours, and threshold claims."""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from ... import results
from ...engine import Paper, directional_claim, method_scores, needs_rows, summarise
from . import features, methods
from .paper import LABELS, METHOD_LABELS, PAPER, data_note

#: BLAS threads the pages use. Measured on this project's shared 2-core machine (load ~12): with two
#: OpenBLAS threads a PCA fit on 4,000 × 256 features took 3.97 s, with one 0.11 s (the threads spin
#: while the other is descheduled); one thread costs at most ~2× on an idle machine.
BLAS_THREADS = 1


def blas_limited(run):
    """Run a page's runner with :data:`BLAS_THREADS` BLAS threads (threadpoolctl), with the in-memory
    features memo of :func:`~.features.network_features` emptied before and after."""
    @functools.wraps(run)
    def wrapped(cfg: dict) -> dict:
        with features.MEMO.scope(), threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
            return run(cfg)
    return wrapped


#: ImageNet tables (1–6) of the paper: every in-distribution set of ours stands for the ImageNet block there.
PAPER_IMAGENET = Paper("kpca", LABELS, METHOD_LABELS, {"mnist5k": "imagenet", "cifar10": "imagenet"},
                       PAPER.in_sets, PAPER.ood_sets, data_note)


def feature_runs(cfg: dict):
    """Yield ``(in_name, seed, Features or None, {ood: why missing})`` per in-distribution set and seed
    (:func:`oodrepro.engine.contexts`; a missing in-distribution set gives one item with None)."""
    for in_name, _, ctx, sets, missing in features.run_contexts(cfg):
        if ctx is None:
            yield in_name, cfg["seeds"][0], None, missing
            continue
        yield in_name, ctx.seed, features.context_features(ctx, sets, missing, cfg), missing


def run_methods(cfg: dict, names, make=None, grid: str | None = None, **cols) -> pd.DataFrame:
    """Rows of ``names`` (each detector ``make(name, parts, hyper, seed, grid)``, default
    :func:`methods.detector`) scored by the engine (:func:`oodrepro.engine.method_scores`, cached) over the
    run's contexts; missing data → *needs data* rows (once per pairing and method). ``grid``: the page
    parameter that set ``cfg["n_components"]`` (named in errors)."""
    recs, seen, method = [], set(), methods.as_method(make)
    for in_name, _, ctx, sets, missing in features.run_contexts(cfg):
        for o, why in missing.items():
            if (in_name, o) not in seen:
                recs += needs_rows(in_name, [o], why, list(names), **cols)
                seen.add((in_name, o))
        if ctx is None:
            continue
        test_set = features.in_test(ctx, (*sets, *missing))
        for name in names:
            h = methods.hyper(name, cfg, grid)
            s_in = method_scores(ctx, method, test_set, h)
            recs += methods.rows_of(name, s_in, {o: method_scores(ctx, method, ds, h) for o, ds in sets.items()},
                                    in_name, ctx.seed, **cols)
    return pd.DataFrame(recs)


def summary(rows: pd.DataFrame, paper: Paper, table: str | None, by=("in_dist", "ood", "method")) -> pd.DataFrame:
    """Mean ± s.e. over seeds of AUROC and FPR95 (%) per group, the paper's values and Δ = ours − paper
    (the paper's value is looked up for our ``"average"`` row: its average over *its* OOD sets)."""
    by = list(by)
    ok = rows[rows["status"] == "ok"] if len(rows) else rows
    if not len(ok):
        return pd.DataFrame(columns=by + ["auroc", "auroc_se", "fpr95", "n_seeds", "status"])
    s = {m: summarise(ok, paper, m, by, paper_table=table, paper_keys=(), lookup_metric=True)
         for m in ("auroc", "fpr95")}
    out = s["auroc"][by].assign(auroc=s["auroc"]["mean"], auroc_se=s["auroc"]["se"], fpr95=s["fpr95"]["mean"],
                                n_seeds=s["auroc"]["n_seeds"])
    if table:
        for m in ("auroc", "fpr95"):
            out[f"paper_{m}"], out[f"delta_{m}"] = s[m]["paper"], s[m]["delta"]
    return out


def versus(rows, paper: Paper, cfg, page, a, b, text, table, ood="average") -> list[dict]:
    """Directional claims "a beats b in AUROC" per in-distribution set (on the average over OOD sets). The
    paper's values stand beside ours where ``table`` has both methods; otherwise the claim is our extension."""
    out = []
    for in_name in PAPER.group_pairings(cfg["pairings"]):
        both = table and all(paper.lookup(table, in_dist=in_name, ood=ood, method=m, metric="auroc") is not None
                             for m in (a, b))
        out.append(directional_claim(rows, paper, in_name, ood, a, b, text, cfg, page, metric="auroc",
                                     paper_table=table if both else None, paper_keys={"metric": "auroc"}))
    return out


def threshold_claim(claim_id: str, text: str, paper: str, value: float | None, ok, shown: str, rule: str,
                    page: str) -> dict:
    """A claim decided by a stated rule on one measured value (``ok(value)`` → bool)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return results.claim(claim_id, text, paper, "", "needs data", why=rule, page=page)
    return results.claim(claim_id, text, paper, shown, "reproduced" if ok(value) else "not reproduced",
                         why=rule, page=page)


#: The summary's columns as the pages show them (ours ± s.e. beside the paper's value and Δ).
SHOWN_COLUMNS = {"auroc": "AUROC, ours (%)", "paper_auroc": "AUROC, paper (%)", "delta_auroc": "Δ AUROC",
                 "fpr95": "FPR95, ours (%)", "paper_fpr95": "FPR95, paper (%)", "delta_fpr95": "Δ FPR95",
                 "n_seeds": "seeds"}
_KERNELS = {"polynomial": "polynomial", "laplacian": "Laplacian", "gaussian": "Gaussian"}
#: Row labels of the tables: :data:`METHOD_LABELS` and the names only a table shows (Table 5's kernel rows,
#: Fig. 7's landmark rules, the motivation's scores). Kept apart from METHOD_LABELS, whose labels the claims
#: write into the result files.
SHOWN_LABELS = {**METHOD_LABELS,
                **{m: ("cosine + " if m.startswith("cosine_") else "") + _KERNELS[m.split("_")[-2]]
                   + (" (Nyström)" if m.endswith("_nystroem") else " (RFF)") for m in methods.ABLATION[2:]},
                "nys_low_energy": "low-energy landmarks", "nys_uniform": "uniform landmarks",
                "nys_high_energy": "high-energy landmarks", "neg_norm": "−‖z‖ (the norm alone)",
                "knn_raw": "KNN distance on z", "knn_cosine": "KNN distance on z/‖z‖"}
#: The summary's key columns as the tables name them, and how the values of the others read.
KEY_NAMES = {"in_dist": "in-distribution", "ood": "OOD set", "method": "method", "m": "landmarks m",
             "param": "varied", "value": "value"}
PARAM_LABELS = {"evr": "explained-variance threshold", "gamma": "kernel width γ", "M / m": "M (RFF) / m (Nyström)"}


def shown_table(summ: pd.DataFrame, order=None, labels=SHOWN_LABELS, keys=("ood", "method"),
                across: str | None = None) -> pd.DataFrame:
    """The summary as the page shows it: rows (in-distribution set, ``keys``) labelled; AUROC as
    "mean ± s.e." with, where the summary has them, the paper's value and Δ beside ours; columns that hold
    no value at all left out; methods in ``order`` (like the paper).

    ``across``: one of ``keys`` whose values become the columns (landmarks m, the method, the OOD set),
    each cell then the AUROC "mean ± s.e.", "—" where the run has none."""
    t = summ.copy()
    if order is not None:
        t["_o"] = t["method"].map({m: i for i, m in enumerate(order)})
        t = t.sort_values(["in_dist", *[k for k in keys if k != "method"], "_o"]).drop(columns="_o")

    def fmt(col, v, se=None):
        if pd.isna(v):
            return "—"
        if col == "n_seeds":
            return f"{int(v)}"
        if se is not None and pd.notna(se) and se > 0:
            return f"{v:.2f} ± {se:.2f}"
        return f"{v:+.2f}" if col.startswith("delta") else f"{v:.2f}"

    def label(col, v):
        if col in ("in_dist", "ood"):
            return PAPER.label(v)
        if col in ("m", "value"):
            return f"{v:g}"
        return (labels if col == "method" else PARAM_LABELS).get(v, v)

    se = t["auroc_se"] if "auroc_se" in t else [None] * len(t)
    rows = ["in_dist", *[k for k in keys if k != across]]
    if across is not None:
        t["_cell"] = [fmt("auroc", v, s) for v, s in zip(t["auroc"], se)]
        cols = [label(across, v) for v in dict.fromkeys(t[across])]
        for k in (*rows, across):
            t[k] = [label(k, v) for v in t[k]]
        w = t.pivot_table(index=rows, columns=across, values="_cell", aggfunc="first", sort=False)
        w = w.reindex(columns=cols).fillna("—")
        w = w.loc[:, [c for c in w.columns if (w[c] != "—").any()]]
        w.index.names = [KEY_NAMES[k] for k in rows]
        w.columns.name = f"AUROC, ours (%), by {KEY_NAMES[across]}"
        return w
    keep = [c for c in SHOWN_COLUMNS if c in t and not t[c].isna().all()]
    for c in keep:
        t[c] = [fmt(c, v, s) for v, s in zip(t[c], se if c == "auroc" else [None] * len(t))]
    for k in rows:
        t[k] = [label(k, v) for v in t[k]]
    t = t.set_index(rows)[keep].rename(columns=SHOWN_COLUMNS)
    t.index.names = [KEY_NAMES[k] for k in rows]
    return t


def data_sentence(rows: pd.DataFrame, cfg: dict) -> str:
    """Which data the run used and which pairings read *needs data*."""
    parts = [f"{PAPER.label(i)}{data_note(i, cfg)}" for i in PAPER.group_pairings(cfg["pairings"])]
    if len(rows) and (rows["status"] == "needs data").any():
        nd = rows[rows["status"] == "needs data"]
        parts.append("needs data: " + ", ".join(sorted({PAPER.label(o) for o in nd["ood"]}))
                     + f" ({nd['why'].iloc[0]})")
    return "; ".join(parts) + "."
