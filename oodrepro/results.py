"""Result files: what an executed notebook computed, with the provenance to rerun it.

A result file is JSON (plus a CSV of its rows beside it)::

    {"notebook": "knn_ls/table1",
     "meta": {"params": {...}, "seeds": [...], "version": "...", "wall_time_s": ..., "created": "...",
              "cache": {"hits": ..., "misses": ...}, "python": "...", "torch": "..."},
     "rows": [{...}, ...],          # the tables, long format
     "claims": [{...}, ...]}        # what the page tests; the scorecard page collects these

Files are written atomically (temporary file + ``os.replace``).
"""
from __future__ import annotations

import json
import math
import os
import platform
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .cache import CacheStats

VERDICTS = ("reproduced", "not reproduced", "inconclusive", "needs data")


def _clean(obj):
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return None if math.isnan(f) else f
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if obj is pd.NA:
        return None
    return obj


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def claim(claim_id: str, statement: str, paper: str, ours: str, verdict: str, why: str = "",
          page: str = "") -> dict:
    """One row of the scorecard: a claim of the paper, the paper's value, ours, and the verdict."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict {verdict!r} is not one of {VERDICTS}")
    return {"id": claim_id, "claim": statement, "paper": paper, "ours": ours, "verdict": verdict, "why": why,
            "page": page}


def directional_verdict(diffs, margin: float = 0.0) -> str:
    """Verdict for a claim "A > B" from per-seed differences A − B.

    ``reproduced`` if the mean difference exceeds ``margin`` by more than 2 standard errors;
    ``not reproduced`` if it is below ``−margin`` by more than 2 s.e.; else ``inconclusive``.
    With a single seed the s.e. is taken as 0.
    """
    d = np.asarray(diffs, dtype=float)
    m = d.mean()
    se = d.std(ddof=1) / np.sqrt(d.size) if d.size > 1 else 0.0
    if m - 2 * se > margin:
        return "reproduced"
    if m + 2 * se < -margin:
        return "not reproduced"
    return "inconclusive"


def write(path, notebook: str, params: dict, rows, claims: list[dict] | None = None, wall_time_s: float | None = None,
          extra: dict | None = None) -> Path:
    """Write a result file (JSON) and its rows as CSV beside it; returns the JSON path."""
    import torch

    path = Path(path)
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    meta = {"params": params, "seeds": params.get("seeds"), "version": __version__, "wall_time_s": wall_time_s,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "cache": {"hits": CacheStats.hits, "misses": CacheStats.misses},
            "python": platform.python_version(), "torch": torch.__version__, "machine": platform.machine()}
    doc = {"notebook": notebook, "meta": meta, "rows": df.to_dict(orient="records"), "claims": claims or []}
    if extra:
        doc.update(extra)
    _atomic_write(path, json.dumps(_clean(doc), indent=1))
    _atomic_write(path.with_suffix(".csv"), df.to_csv(index=False))
    return path


def read(path) -> dict:
    """Read a result file; a broken one raises ValueError naming the file."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"result file {path} is unreadable ({type(exc).__name__}: {exc})") from None
    for k in ("notebook", "meta", "rows"):
        if k not in doc:
            raise ValueError(f"result file {path} lacks the field {k!r}")
    return doc


def rows(path) -> pd.DataFrame:
    return pd.DataFrame(read(path)["rows"])


def collect(results_dir) -> list[dict]:
    """Every result file under ``results_dir`` (sorted by path)."""
    base = Path(results_dir)
    return [read(p) | {"path": str(p)} for p in sorted(base.rglob("*.json"))] if base.is_dir() else []


def scorecard(results_dir) -> pd.DataFrame:
    """All claims of all result files: page, claim, paper value, ours, verdict, why."""
    recs = []
    for doc in collect(results_dir):
        for c in doc.get("claims", []):
            recs.append({"page": c.get("page") or doc["notebook"], **{k: c.get(k, "") for k in
                                                                     ("claim", "paper", "ours", "verdict", "why")}})
    return pd.DataFrame(recs, columns=["page", "claim", "paper", "ours", "verdict", "why"])
