"""Figures of the kpca pages, drawn from a page's result file (``P.rows`` / ``P.frame(...)``)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from .common import SHOWN_LABELS
from .paper import PAPER


def _avg(s: pd.DataFrame) -> pd.DataFrame:
    return s[(s["ood"] == "average") & (s["status"] == "ok")] if "status" in s else s[s["ood"] == "average"]


def auroc_bars(summary: pd.DataFrame, order, paper_col: str = "paper_auroc"):
    """Average AUROC per method (bars, ± s.e.), the paper's value as ×, one panel per training set."""
    s = _avg(summary)
    ins = list(dict.fromkeys(s["in_dist"]))
    fig, axes = plt.subplots(1, len(ins), figsize=(6.5 * len(ins), 0.32 * len(order) + 1.2), squeeze=False)
    for ax, in_name in zip(axes[0], ins):
        g = s[s["in_dist"] == in_name].set_index("method").reindex([m for m in order if m in set(s["method"])])
        y = range(len(g))
        ax.barh(y, g["auroc"], xerr=g["auroc_se"], color="#4c72b0", alpha=0.8, label="ours")
        if paper_col in g:
            ax.plot(g[paper_col], y, "x", color="#c44e52", ms=8, label="paper (its own data)")
        ax.set_yticks(list(y), [SHOWN_LABELS.get(m, m) for m in g.index])  # the tables' row labels
        ax.axvline(50, ls=":", c="grey")
        ax.set_xlabel("average AUROC (%)")
        ax.set_title(PAPER.label(in_name))
        ax.invert_yaxis()
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def approx_curves(rows: pd.DataFrame):
    """Fig. 6: mean reconstruction error of RFF / Nyström as M, m grow (InD and OoD), exact KPCA as lines;
    AUROC and Spearman ρ with exact KPCA."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    approx = rows[~rows["approximation"].str.startswith("exact")]
    exact = rows[rows["approximation"].str.startswith("exact")]
    sns.lineplot(approx, x="size", y="error", hue="approximation", style="split", marker="o", ax=axes[0])
    for (name, split), g in exact.groupby(["approximation", "split"]):
        axes[0].axhline(g["error"].mean(), ls="--" if "full" in name else ":", c="k" if split == "InD" else "grey",
                        lw=1, label=f"{name}, {split}")
    axes[0].legend(fontsize=7)
    axes[0].set(xscale="log", xlabel="M (RFF) / m (Nyström)", ylabel="mean error", title="reconstruction error")
    sns.lineplot(approx[approx["split"] == "InD"], x="size", y="auroc", hue="approximation", marker="o", ax=axes[1])
    axes[1].axhline(exact[exact["approximation"] == "exact (full)"]["auroc"].mean(), ls="--", c="k", label="exact")
    axes[1].set(xscale="log", xlabel="M / m", ylabel="average AUROC (%)", title="detection")
    sns.lineplot(approx[approx["split"] == "InD"], x="size", y="spearman", hue="approximation", marker="o", ax=axes[2])
    axes[2].set(xscale="log", xlabel="M / m", ylabel="Spearman ρ with exact (full)", title="agreement")
    fig.tight_layout()
    return fig


def grid_curves(summary: pd.DataFrame, x: str, hue: str = "method", facet: str | None = None):
    """Average AUROC against ``x`` (one line per ``hue``; one panel per ``facet`` value)."""
    s = _avg(summary)
    panels = list(dict.fromkeys(s[facet])) if facet else [None]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.6), squeeze=False)
    for ax, p in zip(axes[0], panels):
        g = s if p is None else s[s[facet] == p]
        sns.lineplot(g, x=x, y="auroc", hue=hue, style="in_dist", marker="o", ax=ax)
        ax.set(ylabel="average AUROC (%)", title=p or "", xlabel=p or x)
        if p in ("M / m",) or x == "m":
            ax.set_xscale("log")
    fig.tight_layout()
    return fig


def cost_curves(rows: pd.DataFrame):
    """Table 4 as curves: per-query time and kept memory against N (log–log)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    sns.lineplot(rows, x="n", y="us_per_query", hue="detector", marker="o", ax=axes[0])
    axes[0].set(xscale="log", yscale="log", xlabel="N training features", ylabel="µs per query")
    sns.lineplot(rows, x="n", y="kept_mib", hue="detector", marker="o", ax=axes[1])
    axes[1].set(xscale="log", yscale="log", xlabel="N training features", ylabel="MiB kept for scoring")
    fig.tight_layout()
    return fig


def norm_hist(norms: pd.DataFrame):
    """Feature norms ‖z‖ of in-distribution test points and of each OOD set."""
    ins = list(dict.fromkeys(norms["in_dist"]))
    fig, axes = plt.subplots(1, len(ins), figsize=(6.5 * len(ins), 3.6), squeeze=False)
    for ax, in_name in zip(axes[0], ins):
        g = norms[norms["in_dist"] == in_name].copy()
        g["set"] = g["set"].map(lambda v: PAPER.labels.get(v, v))
        sns.kdeplot(g, x="norm", hue="set", common_norm=False, ax=ax)
        ax.set(xlabel="‖z‖ (penultimate features)", title=PAPER.label(in_name))
    fig.tight_layout()
    return fig
