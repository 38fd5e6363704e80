"""The papers' own numbers, transcribed into CSV files beside this module.

Each value is tagged with paper, table, in-distribution set, OOD set, method and (where the table
has them) label-smoothing α and layer depth. Paper values reach the book only through here.

Files: ``knn_ls.csv`` — knn-ls Table 1 (31 rows × 7 methods; the text of the paper has 31 dataset
rows, not 33) and Table 2 (single-layer AUROC, 50 cells). ``kpca.csv`` — kpca Table 5, the kernel
ablation (14 kernel × approximation rows × 4 OOD sets + average × FPR95 / AUROC = 140 values, in %);
Table 4, inference cost on ImageNet (3 methods × accuracy, FPR95, AUROC, ms, MiB); Table 7, CIFAR-10
averages (8 standard-training and 6 supervised-contrastive rows × FPR95 / AUROC); Tables 1 (ResNet50,
21 rows), 2 (ViT-B/16, 13), 3 (+ReAct fusions, 13) and 6 (MobileNetV2, 17) on ImageNet, per OOD set
and average × FPR95 / AUROC. Supervised-contrastive rows carry the suffix ``_supcon``.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from ..errors import ParameterError

PAPERS = {"knn_ls": "knn_ls.csv", "kpca": "kpca.csv", "odm": "odm.csv"}

#: Facts the papers state in prose or captions (not in a table), with where they come from.
FACTS = {
    "knn_ls": {
        "table1_runs": (5, "Table 1 caption: 'Each entry was run 5 times'"),
        "table1_median_se": (0.0071, "Table 1 caption: 'the standard errors are quite small, with a median of 0.0071'"),
        "mnist_train_size": (60_000, "MNIST / Fashion-MNIST training split used in §4.1"),
    },
}


def fact(paper: str, name: str):
    """A fact stated in the paper's prose or captions (see :data:`FACTS`)."""
    try:
        return FACTS[paper][name][0]
    except KeyError:
        raise ParameterError(f"no recorded fact {name!r} for paper {paper!r}") from None


def _source(paper: str):
    """The transcribed tables of ``paper``: ``PAPERS`` here, or ``reference.csv`` beside its chapter."""
    if paper in PAPERS:
        return resources.files(__name__).joinpath(PAPERS[paper])
    try:
        own = resources.files(f"oodrepro.experiments.{paper}").joinpath("reference.csv")
    except (ModuleNotFoundError, ValueError):
        own = None
    if own is None or not own.is_file():
        raise ParameterError(f"no reference table for paper {paper!r}; known: {', '.join(PAPERS)} (a chapter may "
                             "also keep its own as experiments/<paper>/reference.csv)")
    return own


@lru_cache(maxsize=None)
def _load(paper: str) -> pd.DataFrame:
    with _source(paper).open() as f:
        df = pd.read_csv(f, comment="#", dtype={"alpha": str})
    df["depth"] = pd.to_numeric(df["depth"], errors="coerce").astype("Int64")
    return df


def table(paper: str, table: str | None = None) -> pd.DataFrame:
    """All transcribed values of ``paper`` (optionally one table) as a long DataFrame (a copy)."""
    df = _load(paper)
    if table is not None:
        df = df[df["table"] == table]
        if df.empty:
            raise ParameterError(f"paper {paper!r} has no transcribed {table!r}; have {sorted(_load(paper)['table'].unique())}")
    return df.copy()


def lookup(paper: str, table_name: str, **keys) -> float | None:
    """The one value matching ``keys`` (e.g. ``in_dist="mnist", ood="hflip", method="knn_ls"``), or None."""
    df = table(paper, table_name)
    for k, v in keys.items():
        if k not in df.columns:
            raise ParameterError(f"reference tables have no column {k!r}; columns: {list(df.columns)}")
        df = df[df[k].astype(str) == str(v)]
    if len(df) > 1:
        raise ParameterError(f"{len(df)} reference values match {keys}; add keys to pick one")
    return float(df["value"].iloc[0]) if len(df) else None


def beside(ours: pd.DataFrame, paper: str, table_name: str, on: list[str], value: str = "mean",
           fixed: dict | None = None) -> pd.DataFrame:
    """Put the paper's value beside ours: adds columns ``paper`` and ``delta`` (= ours − paper).

    ``on`` lists the columns of ``ours`` that identify a reference value (their names must be columns
    of the reference table); ``fixed`` adds keys that hold for every row (e.g. ``{"in_dist": "mnist"}``).
    Rows without a paper value get NaN.
    """
    out = ours.copy()
    vals = []
    for _, row in out.iterrows():
        keys = {**(fixed or {}), **{c: row[c] for c in on}}
        vals.append(lookup(paper, table_name, **keys))
    out["paper"] = np.array([np.nan if v is None else v for v in vals], dtype=float)
    out["delta"] = out[value] - out["paper"]
    return out
