"""Summaries over seeds with the paper's value beside ours, paired differences, directional claims.

Every function takes the :class:`~oodrepro.engine.paper.Paper` whose reference tables and labels it
uses; rows are long-format result rows with columns ``in_dist``, ``ood``, ``method``, ``seed``,
``status`` (``"ok"`` or ``"needs data"``) and the metrics.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import metrics, results
from .paper import Paper

#: How a directional verdict is reached (stored with each claim; the scorecard shows it).
PAIRED_RULE = "per-seed paired differences; reproduced if more than 2 s.e. in the paper's direction"


def _sd(v) -> float:
    return float(np.asarray(v, dtype=float).std(ddof=1)) if len(v) > 1 else 0.0


def _mean_se_table(ok: pd.DataFrame, by: list, metric: str, spread: str = "se") -> pd.DataFrame:
    if not len(ok):
        return pd.DataFrame(columns=by + ["mean", spread, "n_seeds"])
    g = ok.groupby(by, sort=False)[metric]
    sp = g.apply(lambda v: metrics.mean_se(v)[1]) if spread == "se" else g.apply(_sd)
    return pd.DataFrame({"mean": g.mean(), spread: sp, "n_seeds": g.size()}).reset_index()


def summarise(rows: pd.DataFrame, paper: Paper | None, metric: str = "auroc", by=("in_dist", "ood", "method"),
              paper_table: str | None = "Table 1", paper_keys=("alpha", "depth"),
              lookup_metric: bool = False, value=None, spread: str = "se") -> pd.DataFrame:
    """Mean ± s.e. over seeds per group, with the paper's value and Δ = ours − paper where it has one.

    The paper's value is looked up in the block our in-distribution set stands for
    (:meth:`Paper.block`: ``mnist5k`` → the MNIST block, trained on 60,000 images instead of 4,000);
    the columns of ``paper_keys`` that are grouping columns are part of the lookup. Groups with only
    *needs data* rows get NaN means, ``n_seeds`` 0 and status ``"needs data"``. ``lookup_metric``: the
    paper's table holds several metrics; look up ``metric``'s value. ``value(group) -> float | None``:
    the chapter's own lookup of the paper's value for a group (a dict of the ``by`` columns) instead of
    ``paper``'s table. ``spread``: ``"se"`` (standard error, the default) or ``"sd"`` (sample standard
    deviation, e.g. over random splits), the name of that column.
    """
    by = list(by)
    out = _mean_se_table(rows[rows["status"] == "ok"], by, metric, spread)
    needs = rows[rows["status"] == "needs data"][by].drop_duplicates()
    if len(needs):
        needs = needs.merge(out[by], how="left", indicator=True)
        needs = needs[needs["_merge"] == "left_only"].drop(columns="_merge")
        out = pd.concat([out, needs.assign(mean=np.nan, **{spread: np.nan}, n_seeds=0)], ignore_index=True)
    out["n_seeds"] = out["n_seeds"].astype(int)
    out["status"] = np.where(out["n_seeds"] > 0, "ok", "needs data")
    if value is not None:
        vals = [value({k: r[k] for k in by}) for _, r in out.iterrows()]
    elif paper_table:
        extra = [k for k in paper_keys if k in by]
        fixed = {"metric": metric} if lookup_metric else {}
        vals = [paper.lookup(paper_table, in_dist=r["in_dist"], ood=r["ood"], method=r["method"], **fixed,
                             **{k: r[k] for k in extra}) for _, r in out.iterrows()]
    if value is not None or paper_table:
        out["paper"] = np.array([np.nan if v is None else v for v in vals], dtype=float)
        out["delta"] = out["mean"] - out["paper"]
    return out


def paired_difference(rows: pd.DataFrame, a: str, b: str, metric: str = "auroc", across: str = "method",
                      **where) -> np.ndarray:
    """Per-seed ``metric(a) − metric(b)`` on the rows matching ``where`` (for directional claims); ``a`` and
    ``b`` are values of the column ``across`` (two methods, or two OOD sets of one method)."""
    ok = rows[rows["status"] == "ok"] if len(rows) else rows
    if ok.empty or metric not in ok:  # every row "needs data": no metric column at all
        return np.array([])
    for k, v in where.items():
        ok = ok[ok[k] == v]
    if ok.empty:
        return np.array([])
    p = ok.pivot_table(index="seed", columns=across, values=metric)
    if a not in p or b not in p:
        return np.array([])
    return (p[a] - p[b]).dropna().to_numpy()


def paired_claim(claim_id: str, text: str, paper_text: str, diffs: np.ndarray, page: str, margin: float = 0.0,
                 why: str = PAIRED_RULE) -> dict:
    """A claim "A beats B" decided by per-seed paired differences A − B (:func:`paired_difference`):
    reproduced if their mean exceeds ``margin`` by more than 2 s.e. (:func:`oodrepro.results.directional_verdict`);
    *needs data* when there are none."""
    if diffs.size == 0:
        return results.claim(claim_id, text, paper_text, "", "needs data", page=page)
    m, se = metrics.mean_se(diffs)
    return results.claim(claim_id, text, paper_text, f"Δ AUROC = {m:+.4f} ± {se:.4f} ({diffs.size} seeds)",
                         results.directional_verdict(diffs, margin), why=why, page=page)


def fmt(mean: float, se: float) -> str:
    """``"0.912 ± 0.003"``, or ``"n/a"`` for a missing mean."""
    return "n/a" if mean is None or np.isnan(mean) else f"{mean:.3f} ± {se:.3f}"


def _paper_pair(paper: Paper, table, keys: dict, a: str, b: str):
    """The paper's values of ``a`` and ``b``; (None, None) unless the table has both (then the claim is ours)."""
    pa, pb = paper.lookup(table, **keys, method=a), paper.lookup(table, **keys, method=b)
    return (pa, pb) if pa is not None and pb is not None else (None, None)


def directional_claim(rows: pd.DataFrame, paper: Paper, in_name: str, ood: str, a: str, b: str, text: str,
                      cfg: dict, page: str, metric: str = "auroc", paper_table: str | None = "Table 1",
                      paper_keys: dict | None = None, where: dict | None = None) -> dict:
    """A claim "``a`` beats ``b`` on in→ood", tested by per-seed paired differences in the paper's
    direction (where the paper shows ``b`` ahead, the claim tests that reverse and says so)."""
    pa, pb = _paper_pair(paper, paper_table, dict(in_dist=in_name, ood=ood, **(paper_keys or {})), a, b)
    diffs = paired_difference(rows, a, b, metric, in_dist=in_name, ood=ood, **(where or {}))
    claim_id, label = f"{a}-vs-{b}-{in_name}-{ood}", paper.pair_label(in_name, ood, cfg)
    if diffs.size == 0:
        return results.claim(claim_id, f"{text} on {label}", "" if pa is None else f"{pa:.3f} vs {pb:.3f}", "",
                             "needs data", page=page)
    m, se = metrics.mean_se(diffs)
    verdict = results.directional_verdict(diffs)
    shown = "not in the paper (our extension)" if pa is None else f"{pa:.3f} vs {pb:.3f} (Δ {pa - pb:+.3f})"
    if pa is not None and pa < pb:  # the paper shows the reverse on this row: test that
        verdict = results.directional_verdict(-diffs)
        text = f"[paper shows the reverse] {text}"
    s = summarise(rows[(rows.in_dist == in_name) & (rows.ood == ood) & rows.method.isin([a, b])], paper, metric,
                  paper_table=None).set_index("method")
    ours = (f"{s.loc[a, 'mean']:.3f} vs {s.loc[b, 'mean']:.3f} (Δ {m:+.3f} ± {se:.3f}, "
            f"{diffs.size} seed{'s' if diffs.size != 1 else ''})")
    return results.claim(claim_id, f"{text} on {label}", shown, ours, verdict, why=PAIRED_RULE, page=page)
