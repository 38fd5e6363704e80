"""Where a page's numbers come from: profile, data, seeds, package version and git commit, date, wall time.

:func:`oodrepro.engine.page.run` shows :func:`admonition` at the top of every executed page (and glues
it as ``provenance``), built from the result file's ``meta`` alone — so a chapter gets it without a
cell of its own. :func:`profile_note` is the sentence that the shared report helpers
(:func:`oodrepro.report.styled`, :func:`oodrepro.report.auroc_figure`) put next to every comparison
with a paper when they are given a profile other than ``paper`` (the page passes its run's).
"""
from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path

def git_commit(where=None) -> str | None:
    """The short commit of the source tree the package runs from (``+dirty`` with uncommitted edits);
    ``None`` outside a git checkout (an installed wheel) or without git."""
    where = Path(where) if where else Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(where), "rev-parse", "--short=10", "HEAD"], capture_output=True,
                              text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def profile_note(profile: str | None) -> str:
    """The sentence that goes next to a comparison with the paper: empty on the ``paper`` profile (or
    without one), else which profile ran and that it is not the paper's setting."""
    if not profile or profile == "paper":
        return ""
    return (f"Profile {profile!r}: ours ran on the {profile} profile (embedded or synthetic data, fewer "
            "images and seeds than the paper), so Δ measures that setting against the paper's, not a failed "
            "reproduction of it.")


#: Row labels that are aggregates over data sets, not data sets.
AGGREGATES = {"average", "mean"}
_NAMED = re.compile(r"data set '([^']+)'")


def data_used(doc: dict) -> dict:
    """The data sets of the rows that ran (``status == "ok"``), split into ``embedded`` (shipped with an
    installed package, or derived from one) and ``data_root`` (read from ``$OODREPRO_DATA_ROOT``), and
    the sets of the rows that read *needs data*."""
    from . import data

    used, missing = set(), set()
    for r in doc.get("rows", []):
        # a row naming its ``dataset`` uses ``ood`` for a role within it (odm's Tsinghua: unseen classes,
        # background patches), not for another data set
        keys = ("dataset", "train") if r.get("dataset") else ("in_dist", "ood", "train")
        names = {str(r[k]) for k in keys if r.get(k)} - AGGREGATES
        if r.get("status", "ok") == "ok":
            used |= names
        else:  # the set the error names (DataNotFoundError: "data set 'svhn' not found"), else the row's sets
            missing |= set(_NAMED.findall(str(r.get("why") or ""))) or names
    def key(n):
        base = n.split(":")[0].lower()
        return data.ALIASES.get(base, base)

    real = {n for n in used if key(n) in data.TORCHVISION or key(n) in data.SOURCE_FILES}
    return {"embedded": sorted(used - real), "data_root": sorted(real), "missing": sorted(missing - used)}


def _data_text(doc: dict) -> str:
    d, root = data_used(doc), doc["meta"].get("data_root")
    parts = []
    if d["embedded"]:
        parts.append("embedded / synthetic: " + ", ".join(d["embedded"]))
    if d["data_root"]:
        parts.append(f"from the data root{f' {root}' if root else ''}: " + ", ".join(d["data_root"]))
    if d["missing"]:
        parts.append("needs data: " + ", ".join(d["missing"]))
    return "; ".join(parts) or "synthetic (simulated draws; no data set)"


def fields(doc: dict) -> dict[str, str]:
    """The provenance of a result file as label → text."""
    m = doc["meta"]
    seeds = m.get("seeds") or []
    seeds_txt = (", ".join(map(str, seeds)) if len(seeds) <= 8 else f"{len(seeds)} ({seeds[0]} … {seeds[-1]})") \
        if seeds else "—"
    wall = m.get("wall_time_s")
    return {"profile": str(m.get("profile") or m.get("params", {}).get("profile", "?")),
            "data": _data_text(doc), "seeds": seeds_txt,
            "package": f"oodrepro {m.get('version', '?')}, commit {m.get('git_commit') or 'unknown (not a git checkout)'}",
            "built": str(m.get("created", "?")),
            "wall time": "—" if wall is None else f"{wall:.1f} s",
            "software": f"Python {m.get('python', '?')}, torch {m.get('torch', '?')}"}


def admonition(doc: dict) -> str:
    """The provenance admonition (HTML) shown at the top of a page."""
    f = fields(doc)
    items = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in f.items())
    note = profile_note(f["profile"])
    tail = f"<p>{html.escape(note)}</p>" if note else ""
    return ('<div class="admonition note oodrepro-provenance">'
            f'<p class="admonition-title">Provenance of the numbers on this page ({html.escape(doc["notebook"])})</p>'
            f'<ul class="simple">{items}</ul>{tail}</div>')


def archive_fields(doc: dict, entry: dict, stale: bool) -> dict[str, str]:
    """The provenance of an archived paper-scale run: the result file's fields and how the run was made."""
    f = fields(doc)
    cpu, wall = entry.get("cpu_seconds"), entry.get("wall_seconds")
    data = entry.get("data") or {}
    nets = entry.get("networks") or []
    out = {"profile": f["profile"], "data": f["data"], "seeds": f["seeds"],
           "command": str(entry.get("command", "?")),
           "package": f"oodrepro {doc['meta'].get('version', '?')}, commit {entry.get('commit') or doc['meta'].get('git_commit') or '?'}",
           "machine": str(entry.get("machine", "?")),
           "run time": ("—" if wall is None else f"{wall / 60:.1f} min wall")
                       + ("" if cpu is None else f", {cpu / 3600:.2f} CPU-hours (training of stored networks included)"),
           "archived": str(entry.get("archived", "?"))}
    if data:
        out["data files"] = "; ".join(f"{k} (sha256 {str(v)[:12]}…)" for k, v in sorted(data.items()))
    if nets:
        out["stored networks"] = ", ".join(nets)
    if stale:
        out["stale"] = ("the page's code has changed since this run was archived: the numbers come from the "
                        "older code (commit above); rerun the paper profile to refresh them")
    return out


def archive_admonition(doc: dict, entry: dict, stale: bool) -> str:
    """The admonition above a page's paper-scale section (a warning when the archive is stale)."""
    f = archive_fields(doc, entry, stale)
    items = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in f.items())
    kind = "warning" if stale else "tip"
    title = "Archived paper-scale run" + (" (STALE: older code)" if stale else "")
    return (f'<div class="admonition {kind} oodrepro-provenance oodrepro-archive">'
            f'<p class="admonition-title">{html.escape(title)} of {html.escape(doc["notebook"])}</p>'
            f'<ul class="simple">{items}</ul></div>')
