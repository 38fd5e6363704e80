"""Tables and figures for the book pages: ours beside the paper's, captions-ready.

Every page builds its displays here so that two pages never format the same table twice.
"""
from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from .reference import METHOD_LABELS


def best_within_2se(summary: pd.DataFrame, group: str = "ood") -> pd.Series:
    """True for entries within two standard errors of the best mean of their row (the paper's bolding)."""
    flags = pd.Series(False, index=summary.index)
    for _, g in summary[summary["status"] == "ok"].groupby(group):
        i = g["mean"].idxmax()
        flags.loc[g.index] = g["mean"] >= g.loc[i, "mean"] - 2 * g.loc[i, "se"]
    return flags


def ours_vs_paper(summary: pd.DataFrame, methods, row_labels: dict | None = None, order=None) -> pd.DataFrame:
    """A wide table: one row per OOD set, for each method the columns *ours* (mean ± s.e., bold if
    within 2 s.e. of the row's best), *paper* and *Δ*. Returns strings ready for display (HTML bold)."""
    s = summary.copy()
    s["best"] = best_within_2se(s)
    rows = []
    order = order or list(dict.fromkeys(s["ood"]))
    for ood in order:
        rec = {"OOD set": (row_labels or {}).get(ood, ood)}
        for m in methods:
            hit = s[(s["ood"] == ood) & (s["method"] == m)]
            lab = METHOD_LABELS.get(m, m)
            if hit.empty or hit["status"].iloc[0] != "ok":
                ours = "needs data"
                paper = hit["paper"].iloc[0] if len(hit) else np.nan
                delta = ""
            else:
                h = hit.iloc[0]
                ours = f"{h['mean']:.3f} ± {h['se']:.3f}"
                if h["best"]:
                    ours = f"<b>{ours}</b>"
                paper = h["paper"]
                delta = "" if np.isnan(h["delta"]) else f"{h['delta']:+.3f}"
            rec[(lab, "ours")] = ours
            rec[(lab, "paper")] = "—" if pd.isna(paper) else f"{paper:.3f}"
            rec[(lab, "Δ")] = delta
        rows.append(rec)
    df = pd.DataFrame(rows).set_index("OOD set")
    df.columns = pd.MultiIndex.from_tuples(df.columns)
    return df


VERDICT_COLOURS = {"reproduced": "#d4edda", "not reproduced": "#f8d7da", "inconclusive": "#fff3cd",
                   "needs data": "#e2e3e5"}


def styled(df: pd.DataFrame, caption: str = "", index: bool = True, verdicts: bool = False):
    """A pandas Styler with the caption inside the table (``<caption>``), the HTML bold marks kept,
    and — with ``verdicts`` — the verdict column coloured."""
    st = df.style.set_table_attributes('class="dataframe oodrepro-table"')
    if caption:
        st = st.set_caption(caption).set_table_styles(
            [{"selector": "caption", "props": "caption-side: top; text-align: left; font-size: 0.9em; "
                                               "color: #444; padding-bottom: 0.4em;"}])
    if not index:
        st = st.hide(axis="index")
    if verdicts and "verdict" in df.columns:
        st = st.map(lambda v: f"background-color: {VERDICT_COLOURS.get(v, '')}", subset=["verdict"])
    return st


def auroc_figure(rows: pd.DataFrame, summary: pd.DataFrame, methods, row_labels: dict | None = None, order=None,
                 metric: str = "auroc", ax=None):
    """Point plot of AUROC per OOD set and method (mean ± s.e. over seeds), the paper's values as ×."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    ok = rows[(rows["status"] == "ok") & rows["method"].isin(methods)].copy()
    def lab(o):
        return textwrap.fill((row_labels or {}).get(o, o), 14)

    ok["OOD set"] = ok["ood"].map(lab)
    ok["method"] = ok["method"].map(lambda m: METHOD_LABELS.get(m, m))
    order_l = [lab(o) for o in (order or list(dict.fromkeys(ok["ood"].map(str))))]
    order_l = [o for o in order_l if o in set(ok["OOD set"])]
    hue_order = [METHOD_LABELS.get(m, m) for m in methods]
    if ax is None:
        fig, ax = plt.subplots(figsize=(7.5, 3.6))
    else:
        fig = ax.figure
    sns.pointplot(data=ok, x="OOD set", y=metric, hue="method", order=order_l, hue_order=hue_order,
                  errorbar="se", dodge=0.45, linestyle="none", markers="o", capsize=0.08, ax=ax)
    pal = dict(zip(hue_order, sns.color_palette(n_colors=len(hue_order))))
    ref = summary.dropna(subset=["paper"])
    first = True
    n = len(hue_order)
    for _, r in ref.iterrows():
        lab_o = lab(r["ood"])
        lab_m = METHOD_LABELS.get(r["method"], r["method"])
        if lab_o not in order_l or lab_m not in hue_order:
            continue
        x = order_l.index(lab_o) + (hue_order.index(lab_m) - (n - 1) / 2) * 0.45 / max(n - 1, 1)
        ax.scatter([x], [r["paper"]], marker="x", s=50, color=pal[lab_m], linewidths=2, zorder=5,
                   label="paper (×)" if first else None)
        first = False
    ax.set_ylabel("AUROC")
    ax.set_xlabel("")
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.legend(fontsize=8, ncol=2, loc="lower left")
    sns.despine(fig)
    fig.tight_layout()
    return fig
