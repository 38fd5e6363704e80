"""Tables and figures for the book pages: ours beside the paper's, captions-ready.

Every page builds its displays here so that two pages never format the same table twice.
"""
from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from . import provenance


def best_within_2se(summary: pd.DataFrame, group=("in_dist", "ood")) -> pd.Series:
    """True for entries within two standard errors of the best mean of their row (the paper's bolding)."""
    group = [g for g in (group if isinstance(group, (list, tuple)) else [group]) if g in summary.columns]
    flags = pd.Series(False, index=summary.index)
    for _, g in summary[summary["status"] == "ok"].groupby(group, sort=False):
        i = g["mean"].idxmax()
        flags.loc[g.index] = g["mean"] >= g.loc[i, "mean"] - 2 * g.loc[i, "se"]
    return flags


#: The key columns of the result rows as the tables name them (their index names).
KEY_NAMES = {"in_dist": "Train/In", "ood": "OOD set", "method": "method", "depth": "depth", "alpha": "α"}


def ours_vs_paper(summary: pd.DataFrame, methods, labels: dict | None = None, order=None,
                  row_keys=("in_dist", "ood"), show_paper: bool = True, method_labels: dict | None = None) -> pd.DataFrame:
    """A wide table like the paper's: one row per (in-distribution set, OOD set), for each method the
    columns *ours* (mean ± s.e., bold if within 2 s.e. of the row's best), *paper* and *Δ*.

    Cells are strings ready for HTML display; rows without data read "needs data". A method's *paper* and *Δ*
    columns are left out when no row of the table has the paper's value.
    """
    labels, method_labels = labels or {}, method_labels or {}
    row_keys = [k for k in row_keys if k in summary.columns]
    s = summary.copy()
    s["best"] = best_within_2se(s, row_keys)
    keys = list(dict.fromkeys(map(tuple, s[row_keys].itertuples(index=False))))
    if order is not None:
        keys = [k for o in order for k in keys if k[-1] == o] + [k for k in keys if k[-1] not in order]
        keys = list(dict.fromkeys(keys))
    rows = []
    for key in keys:
        rec = {rk: labels.get(v, v) for rk, v in zip(row_keys, key)}
        sel = np.logical_and.reduce([s[rk] == v for rk, v in zip(row_keys, key)])
        for m in methods:
            hit = s[sel & (s["method"] == m)]
            lab = method_labels.get(m, m)
            if hit.empty or hit["status"].iloc[0] != "ok":
                ours, delta = "needs data", ""
                paper = hit["paper"].iloc[0] if len(hit) and "paper" in hit else np.nan
            else:
                h = hit.iloc[0]
                ours = f"{h['mean']:.3f} ± {h['se']:.3f}"
                if h["best"]:
                    ours = f"<b>{ours}</b>"
                paper = h.get("paper", np.nan)
                delta = "" if pd.isna(h.get("delta", np.nan)) else f"{h['delta']:+.3f}"
            rec[(lab, "ours")] = ours
            if show_paper:
                rec[(lab, "paper")] = "—" if pd.isna(paper) else f"{paper:.3f}"
                rec[(lab, "Δ")] = delta
        rows.append(rec)
    df = pd.DataFrame(rows).set_index(row_keys)
    df.index.names = [KEY_NAMES.get(k, k) for k in row_keys]
    df.columns = pd.MultiIndex.from_tuples(df.columns)
    empty = {lab for (lab, part) in df.columns if part == "paper" and (df[(lab, part)] == "—").all()}
    return df[[c for c in df.columns if not (c[0] in empty and c[1] in ("paper", "Δ"))]]


def beside_paper(long: pd.DataFrame, index, across: str, digits: int = 3, order=None) -> pd.DataFrame:
    """A wide table from long rows that each carry ``ours`` (a display string, e.g. "mean ± s.e."), ``paper``
    and ``delta`` (numbers): one row per value of the ``index`` columns, for each value of ``across`` (in
    ``order``, else as they come) the columns *ours*, *paper* and *Δ*; "—" where a row has no value; a
    group's *paper* and *Δ* left out when no row has the paper's value."""
    index, recs = list(index), {}
    for _, r in long.iterrows():
        rec, top = recs.setdefault(tuple(r[k] for k in index), {}), r[across]
        rec[(top, "ours")] = r["ours"]
        if pd.notna(r["paper"]):
            rec[(top, "paper")] = f"{r['paper']:.{digits}f}"
            rec[(top, "Δ")] = "—" if pd.isna(r["delta"]) else f"{r['delta']:+.{digits}f}"
    tops = list(order) if order is not None else list(dict.fromkeys(long[across]))
    cols = [(t, p) for t in tops for p in ("ours", "paper", "Δ") if any((t, p) in rec for rec in recs.values())]
    df = pd.DataFrame(list(recs.values()), index=pd.MultiIndex.from_tuples(list(recs), names=index))
    return df.reindex(columns=pd.MultiIndex.from_tuples(cols)).fillna("—")


VERDICT_COLOURS = {"reproduced": "#d4edda", "not reproduced": "#f8d7da", "inconclusive": "#fff3cd",
                   "needs data": "#e2e3e5"}


def compares_with_paper(df: pd.DataFrame) -> bool:
    """Whether a table sets values beside the paper's (a column, or a column level, named ``paper``)."""
    cols = df.columns
    names = cols.get_level_values(-1) if isinstance(cols, pd.MultiIndex) else cols
    return any(str(c).strip().lower().startswith("paper") for c in names)


def styled(df: pd.DataFrame, caption: str = "", index: bool = True, verdicts: bool = False,
           profile: str | None = None):
    """A pandas Styler with the caption inside the table (``<caption>``), the HTML bold marks kept,
    and — with ``verdicts`` — the verdict column coloured. ``profile``: the run's profile; a table beside the
    paper's values from a profile other than ``paper`` gets :func:`oodrepro.provenance.profile_note`."""
    note = provenance.profile_note(profile) if compares_with_paper(df) else ""
    caption = f"{caption} {note}".strip() if note else caption
    st = df.style.set_table_attributes('class="dataframe oodrepro-table"')
    wrap = "normal" if verdicts else "nowrap"  # claim texts wrap; number tables stay on one line per cell
    styles = [{"selector": "td, th", "props": f"white-space: {wrap}; font-size: 0.78em; padding: 0.15em 0.45em;"}]
    if caption:
        st = st.set_caption(caption)
        styles.append({"selector": "caption", "props": "caption-side: top; text-align: left; font-size: 0.9em; "
                                                      "color: #444; padding-bottom: 0.4em; white-space: normal;"})
    st = st.set_table_styles(styles)
    if not index:
        st = st.hide(axis="index")
    if verdicts and "verdict" in df.columns:
        st = st.map(lambda v: f"background-color: {VERDICT_COLOURS.get(v, '')}", subset=["verdict"])
    return st


def _paper_crosses(ax, summary: pd.DataFrame, block, lab, order_l, hue_order, method_labels, pal) -> None:
    """The paper's values as × at each (OOD set, method) position of one panel of :func:`auroc_figure`."""
    ref = summary.dropna(subset=["paper"]) if "paper" in summary else summary.iloc[:0]
    if block is not None and "in_dist" in ref:
        ref = ref[ref["in_dist"] == block]
    n = len(hue_order)
    for _, r in ref.iterrows():
        lab_m = method_labels.get(r["method"], r["method"])
        if lab(r["ood"]) not in order_l or lab_m not in hue_order:
            continue
        x = order_l.index(lab(r["ood"])) + (hue_order.index(lab_m) - (n - 1) / 2) * 0.6 / max(n - 1, 1)
        ax.scatter([x], [r["paper"]], marker="x", s=45, color=pal[lab_m], linewidths=2, zorder=5)


def auroc_figure(rows: pd.DataFrame, summary: pd.DataFrame, methods, labels: dict | None = None, order=None,
                 metric: str = "auroc", method_labels: dict | None = None, profile: str | None = None):
    """Point plots of AUROC per OOD set and method (mean ± s.e. over seeds), one panel per
    in-distribution set; the paper's values are drawn as × (with the profile note of ``profile``)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    labels, method_labels = labels or {}, method_labels or {}

    def lab(o):
        return textwrap.fill(labels.get(o, o), 14)

    ok = rows[(rows["status"] == "ok") & rows["method"].isin(methods)].copy()
    if ok.empty:  # every row "needs data": say so instead of plt.subplots(1, 0)
        fig, ax = plt.subplots(figsize=(6, 1))
        ax.axis("off")
        ax.text(0.5, 0.5, "No pairing of this run has data on this machine (needs data).", ha="center", va="center")
        return fig
    blocks = list(dict.fromkeys(ok["in_dist"])) if "in_dist" in ok else [None]
    hue_order = [method_labels.get(m, m) for m in methods]
    pal = dict(zip(hue_order, sns.color_palette("tab10", n_colors=len(hue_order))))
    widths = [max(2, ok[ok["in_dist"] == b]["ood"].nunique()) if b else 3 for b in blocks]
    fig, axes = plt.subplots(1, len(blocks), figsize=(min(2.0 + 1.6 * sum(widths), 15), 3.8), squeeze=False,
                             sharey=True, gridspec_kw={"width_ratios": widths})
    n = len(hue_order)
    for ax, b in zip(axes[0], blocks):
        d = ok if b is None else ok[ok["in_dist"] == b].copy()
        d["OOD set"] = d["ood"].map(lab)
        d["method"] = d["method"].map(lambda m: method_labels.get(m, m))
        oo = list(dict.fromkeys(d["ood"]))
        if order is not None:
            oo = [o for o in order if o in oo] + [o for o in oo if o not in order]
        order_l = [lab(o) for o in oo]
        sns.pointplot(data=d, x="OOD set", y=metric, hue="method", order=order_l, hue_order=hue_order,
                      palette=pal, errorbar="se", dodge=0.6 if n > 1 else False, linestyle="none", markers="o", capsize=0.08, ax=ax,
                      legend=ax is axes[0][0])
        _paper_crosses(ax, summary, b, lab, order_l, hue_order, method_labels, pal)
        ax.axhline(0.5, color="grey", lw=0.8, ls=":")
        ax.set_xlabel("")
        ax.set_ylabel("AUROC" if ax is axes[0][0] else "")
        if b is not None:
            ax.set_title(f"Train/In: {labels.get(b, b)}", fontsize=10)
    leg = axes[0][0].get_legend()
    if leg is not None:
        handles, texts = axes[0][0].get_legend_handles_labels()
        handles.append(plt.Line2D([], [], marker="x", ls="none", color="k", markeredgewidth=2))
        texts.append("paper (×)")
        leg.remove()
        fig.legend(handles, texts, loc="upper center", ncol=min(len(texts), 8), fontsize=8, frameon=False,
                   bbox_to_anchor=(0.5, 1.02))
    sns.despine(fig)
    note = provenance.profile_note(profile)
    fig.tight_layout(rect=(0, 0.07 if note else 0, 1, 0.92))
    if note:  # the comparison with the paper's × says which profile ours ran
        fig.text(0.01, 0.01, textwrap.fill(note, 160), fontsize=7, color="#555", ha="left", va="bottom")
    return fig


def _pair_label(labels, i, o):
    return f"{labels.get(i, i)} → {labels.get(o, o)}"


def radius_figure(pts: pd.DataFrame, labels: dict | None = None, alpha: float = 0.1):
    """knn-ls Figure 1's layout: one row per layer (and T̂), one column per (pairing, α); in = blue,
    out = red, histograms of the 1-NN radius (log x-axis)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    labels = labels or {}
    d = pts.copy()
    d["column"] = [f"{_pair_label(labels, i, o)}\n{'α = ' + format(a, 'g') if a else 'no LS'}"
                   for i, o, a in zip(d["in_dist"], d["ood"], d["alpha"])]
    d["set"] = d["set"].map({"in": "in (test split)", "out": "out"})
    panels = sorted(d["panel"].unique(), key=lambda p: (p.startswith("T̂"), -int(p.split()[-1]) if not p.startswith("T̂") else 0))
    cols = list(dict.fromkeys(d.sort_values(["in_dist", "ood", "alpha"])["column"]))
    g = sns.displot(d, x="value", hue="set", row="panel", col="column", row_order=panels, col_order=cols,
                    kind="hist", stat="density", common_norm=False, element="step", bins=40, log_scale=True,
                    height=1.6, aspect=1.45, facet_kws={"sharex": "row", "sharey": False, "margin_titles": True},
                    palette={"in (test split)": "tab:blue", "out": "tab:red"})
    g.set_titles(row_template="{row_name}", col_template="{col_name}", size=8)
    g.set_axis_labels("1-NN radius (T̂: normalised score)", "density")
    for ax in g.axes.flat:
        ax.tick_params(labelsize=7)
    sns.move_legend(g, "upper center", ncol=2, bbox_to_anchor=(0.45, 1.02), title=None, frameon=False)
    g.figure.tight_layout(rect=(0, 0, 1, 0.97))
    return g.figure


def curve_figure(rows: pd.DataFrame, x: str, labels: dict | None = None, hue: str | None = "alpha",
                 baseline_at_zero: bool = False, xlabel: str | None = None):
    """AUROC against ``x`` (k or α) on a log axis, one panel per pairing, mean ± s.e. over seeds.

    ``baseline_at_zero``: rows with x = 0 (no label smoothing) cannot sit on a log axis; they are
    drawn as a dashed horizontal line with its ± s.e. band instead.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    labels = labels or {}
    ok = rows[rows["status"] == "ok"].copy()
    ok["pairing"] = [_pair_label(labels, i, o) for i, o in zip(ok["in_dist"], ok["ood"])]
    pairs = list(dict.fromkeys(ok["pairing"]))
    fig, axes = plt.subplots(1, len(pairs), figsize=(min(3.4 * len(pairs), 14), 3.2), squeeze=False)
    for ax, p in zip(axes[0], pairs):
        d = ok[ok["pairing"] == p]
        if baseline_at_zero:
            z = d[d[x] == 0]["auroc"]
            d = d[d[x] > 0]
            if len(z):
                m, se = metrics_mean_se(z)
                ax.axhline(m, color="grey", ls="--", lw=1, label="no LS (α = 0)")
                ax.axhspan(m - se, m + se, color="grey", alpha=0.15)
        if hue:
            d = d.assign(**{hue: d[hue].map(lambda a: "no LS" if a == 0 else f"α = {a:g}")})
        sns.lineplot(data=d, x=x, y="auroc", hue=hue, errorbar="se", marker="o", ax=ax, err_style="bars")
        ax.set_xscale("log")
        ax.set_title(p, fontsize=9)
        ax.set_xlabel(xlabel or x)
        ax.set_ylabel("AUROC" if ax is axes[0][0] else "")
        ax.legend(fontsize=7)
    sns.despine(fig)
    fig.tight_layout()
    return fig


def metrics_mean_se(v):
    from .metrics import mean_se

    return mean_se(v)


def claims_table(claims, what: str = "Claims tested on this page", profile: str | None = None):
    """(styled table, number reproduced, number of claims) for a page's claims, ready to glue."""
    cl = pd.DataFrame(list(claims), columns=["id", "claim", "paper", "ours", "verdict", "why", "page"])
    n_rep = int((cl["verdict"] == "reproduced").sum())
    caption = (f"{what}: {n_rep} of {len(cl)} reproduced. paper = what the paper reports; ours = this run's "
               "numbers (paired differences ± their standard error where two methods are compared); the rule "
               "behind each verdict is in the result file and on the scorecard.")
    return (styled(cl[["claim", "paper", "ours", "verdict"]], caption, index=False, verdicts=True, profile=profile),
            n_rep, len(cl))
