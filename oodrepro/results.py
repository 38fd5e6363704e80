"""Result files: what an executed notebook computed, with the provenance to rerun it.

A result file is JSON (plus a CSV of its rows beside it)::

    {"notebook": "knn_ls/table1",
     "meta": {"params": {...}, "seeds": [...], "version": "...", "wall_time_s": ..., "created": "...",
              "cache": {"hits": ..., "misses": ...}, "python": "...", "torch": "..."},
     "rows": [{...}, ...],          # the tables, long format
     "claims": [{...}, ...]}        # what the page tests; the scorecard page collects these

Files are written atomically (temporary file + ``os.replace``).

Under ``oodrepro run`` every output of a run is *staged*: the CLI sets ``$OODREPRO_STAGE_DIR`` (a hidden
folder inside the results folder) and ``$OODREPRO_RESULTS_ROOT`` (the results folder) for the kernel;
:func:`write` and :func:`output_path` then put files under the staging folder instead, :func:`read`
reads the staged copy first, and the CLI moves everything into place only when the whole notebook
succeeded (and discards it when a cell failed). A path outside the results folder is refused.
Papermill used directly sets neither variable, and files are written straight to their place.
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
from .cache import CacheStats, write_atomic
from .errors import OodreproError
from .provenance import git_commit

STAGE_ENV = "OODREPRO_STAGE_DIR"
ROOT_ENV = "OODREPRO_RESULTS_ROOT"
STAGE_PREFIX = ".staging-"


def _staging() -> tuple[Path, Path] | None:
    stage, root = os.environ.get(STAGE_ENV), os.environ.get(ROOT_ENV)
    if not stage or not root:
        return None
    return Path(stage), Path(root).resolve()


def output_path(path) -> Path:
    """Where a file meant for ``path`` (a result file, a figure) is written now.

    Without staging, ``path`` itself. Under ``oodrepro run``, the same relative place inside the run's
    staging folder; ``path`` must then lie inside the results folder (symlinks resolved), else
    :class:`~oodrepro.errors.OodreproError`.
    """
    path = Path(path)
    st = _staging()
    if st is None:
        return path
    stage, root = st
    target = path.resolve()
    if not target.is_relative_to(root) or target == root:
        raise OodreproError(f"output file {path} (resolves to {target}) is outside the results folder {root}; "
                            "set the notebook's results_dir instead")
    rel = target.relative_to(root)
    if any(part.startswith(STAGE_PREFIX) for part in rel.parts):
        raise OodreproError(f"output file {path} lies inside a staging folder")
    return stage / rel


def _staged_or_final(path: Path) -> Path:
    """For reading: the staged copy of ``path`` if this run wrote one, else ``path``."""
    st = _staging()
    if st is None:
        return path
    try:
        staged = output_path(path)
    except OodreproError:
        return path
    return staged if staged.exists() else path

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


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children so far (user + system), in seconds."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return round(own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime, 1)


def writable_dir(path: Path, what: str) -> Path:
    """Create ``path`` if needed and check that a file can be written in it; else one clear error."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".probe-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OodreproError(f"{what} {path} is not writable ({type(exc).__name__}: {exc.strerror or exc})") from None
    return path


def write(path, notebook: str, params: dict, rows, claims: list[dict] | None = None, wall_time_s: float | None = None,
          extra: dict | None = None) -> Path:
    """Write a result file (JSON) and its rows as CSV beside it; returns the JSON path."""
    import torch

    path = Path(path)
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    meta = {"params": params, "seeds": params.get("seeds"), "version": __version__, "wall_time_s": wall_time_s,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "cache": {"hits": CacheStats.hits, "misses": CacheStats.misses},
            "python": platform.python_version(), "torch": torch.__version__, "machine": platform.machine(),
            "profile": params.get("profile"), "git_commit": git_commit(),
            "data_root": str(params.get("data_root") or os.environ.get("OODREPRO_DATA_ROOT") or "") or None,
            "command": os.environ.get("OODREPRO_COMMAND") or None, "cpu_seconds": _cpu_seconds()}
    doc = {"notebook": notebook, "meta": meta, "rows": df.to_dict(orient="records"), "claims": claims or []}
    if extra:
        doc.update(extra)
    text = json.dumps(_clean(doc), indent=1)
    # both files are written aside first and moved into place together: a full disk on the second one
    # leaves neither a new JSON beside an old CSV nor a temporary file (cache.write_atomic names the folder)
    out_json, out_csv = output_path(path), output_path(path.with_suffix(".csv"))
    tmp_csv = out_csv.with_name(f".new-{out_csv.name}-{os.getpid()}")
    write_atomic(tmp_csv, df.to_csv(index=False))
    try:
        write_atomic(out_json, text)
        os.replace(tmp_csv, out_csv)
    finally:
        tmp_csv.unlink(missing_ok=True)
    return path


def read(path) -> dict:
    """Read a result file; a broken one raises ValueError naming the file."""
    path = _staged_or_final(Path(path))
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
    if not base.is_dir():
        return []
    files = [p for p in sorted(base.rglob("*.json"))
             if not any(part.startswith(".") for part in p.relative_to(base).parts)]  # no staging, no temporaries
    return [read(p) | {"path": str(p)} for p in files]


SCORECARD_COLUMNS = ["chapter", "page", "claim", "paper", "ours", "verdict", "profile", "why"]
CELL_KEYS_EXCLUDED = {"mean", "se", "n_seeds", "status", "paper", "delta", "ours", "seed"}


def chapter_of(page: str) -> str:
    """The chapter (paper) of a page name: ``"knn_ls/table1"`` → ``"knn_ls"``."""
    return page.split("/", 1)[0] if "/" in page else ""


def _profile(doc: dict) -> str:
    m = doc["meta"]
    return str(m.get("profile") or (m.get("params") or {}).get("profile") or "")


def scorecard(results_dir) -> pd.DataFrame:
    """All claims of all result files: chapter, page, claim, paper value, ours, verdict, profile, why."""
    recs = []
    for doc in collect(results_dir):
        for c in doc.get("claims", []):
            page = c.get("page") or doc["notebook"]
            recs.append({"chapter": chapter_of(page), "page": page, "profile": _profile(doc),
                         **{k: c.get(k, "") for k in ("claim", "paper", "ours", "verdict", "why")}})
    return pd.DataFrame(recs, columns=SCORECARD_COLUMNS)


def _cell_frames(doc: dict):
    """The tables of a result file that set our value beside the paper's: list-valued fields whose
    records have a ``paper`` column and our value as ``mean`` (or ``ours``)."""
    for key, val in doc.items():
        if key in ("meta", "claims") or not isinstance(val, list) or not val or not isinstance(val[0], dict):
            continue
        df = pd.DataFrame(val)
        ours = "mean" if "mean" in df.columns else "ours" if "ours" in df.columns else None
        if "paper" in df.columns and ours is not None:
            yield key, df, ours


def cells(results_dir) -> pd.DataFrame:
    """Every table cell of every result file that has both our value and the paper's, one row each:
    chapter, page, the cell's label (its key columns joined), ours, paper, Δ = ours − paper, profile."""
    return cells_of(collect(results_dir))


def cells_of(docs) -> pd.DataFrame:
    """:func:`cells` of the result documents ``docs`` (e.g. archived ones, :mod:`oodrepro.archive`)."""
    recs = []
    for doc in docs:
        for table, df, ours in _cell_frames(doc):
            df = df[pd.to_numeric(df["paper"], errors="coerce").notna() & pd.to_numeric(df[ours], errors="coerce").notna()]
            keys = [c for c in df.columns if c not in CELL_KEYS_EXCLUDED and c != table]
            for _, r in df.iterrows():
                label = ", ".join(f"{k}={r[k]}" for k in keys if not (isinstance(r[k], float) and math.isnan(r[k])))
                recs.append({"chapter": chapter_of(doc["notebook"]), "page": doc["notebook"], "table": table,
                             "cell": label, "ours": float(r[ours]), "paper": float(r["paper"]),
                             "delta": float(r[ours]) - float(r["paper"]), "profile": _profile(doc)})
    return pd.DataFrame(recs, columns=["chapter", "page", "table", "cell", "ours", "paper", "delta", "profile"])


def to_csv(df: pd.DataFrame) -> str:
    """A table as CSV text (no index) — what the scorecard page offers for download."""
    return df.to_csv(index=False)


def from_csv(text: str) -> pd.DataFrame:
    """Read :func:`to_csv`'s text back: the same rows (empty cells read as empty strings in text
    columns)."""
    import io

    df = pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=[""])
    for c in df.columns:
        if not pd.api.types.is_numeric_dtype(df[c]):
            df[c] = df[c].astype(object).fillna("")
    return df


def paper_figure(cells_df: pd.DataFrame, chapter: str, band: float = 0.02):
    """Ours against the paper's value for every table cell of one chapter: the y = x line and the
    ±``band`` band around it; one colour per page."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    d = cells_df[cells_df["chapter"] == chapter]
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    lo = min(d["paper"].min(), d["ours"].min(), 0.5) - 0.03
    hi = max(d["paper"].max(), d["ours"].max(), 1.0) + 0.01
    xs = np.array([lo, hi])
    ax.fill_between(xs, xs - band, xs + band, color="tab:green", alpha=0.15, lw=0, label=f"±{band:g}")
    ax.plot(xs, xs, color="k", lw=0.8, label="y = x")
    sns.scatterplot(data=d, x="paper", y="ours", hue="page", style="profile", s=28, ax=ax)
    within = (d["delta"].abs() <= band).mean() if len(d) else float("nan")
    ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel="paper's value", ylabel="ours",
           title=f"{chapter}: {len(d)} cells, {within:.0%} within ±{band:g}")
    ax.set_aspect("equal")
    ax.legend(fontsize=7, loc="upper left")
    sns.despine(fig)
    fig.tight_layout()
    return fig
