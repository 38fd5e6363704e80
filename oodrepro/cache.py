"""A small on-disk cache for trained models, embeddings and scores.

Each entry is a directory ``<root>/<kind>/<key>/`` holding ``payload.joblib`` and ``meta.json``.
The key is a SHA-256 over (kind, parameters, data fingerprint, package version), so changing any
parameter, the data or the package version gives a new entry.

Writes are atomic: an entry is written into a temporary directory beside its final place and moved
there with one ``os.replace``; a killed run leaves at most a ``.tmp-*`` directory, which is never read
and is removed by :func:`clear`. An entry that cannot be read (truncated, garbage) is reported in one
warning line, deleted and recomputed.

The root is ``$OODREPRO_CACHE_DIR`` if set, else ``~/.cache/oodrepro``; the Makefile points it at
``.cache/`` inside the project. ``oodrepro cache info`` and ``oodrepro cache clear`` inspect and empty it.

Why not ``joblib.Memory``: it recomputes a corrupt entry too, but prints a full traceback, and it keys
on the function's source rather than on the package version and a data fingerprint. We keep joblib for
what it is good at: hashing parameters (:func:`joblib.hash`) and storing NumPy-heavy payloads.
"""
from __future__ import annotations

import json
import os
import shutil
import time
import uuid
import warnings
from pathlib import Path
from typing import Any, Callable

import joblib

from . import __version__

ENV = "OODREPRO_CACHE_DIR"


def root() -> Path:
    return Path(os.environ.get(ENV) or Path.home() / ".cache" / "oodrepro")


def _jsonable(obj: Any) -> Any:
    try:
        json.dumps(obj)
        return obj
    except TypeError:
        return repr(obj)


def key(kind: str, params: dict, fingerprint: str = "") -> str:
    """The entry's key: a hash of kind, parameters, data fingerprint and package version."""
    return joblib.hash((kind, sorted(params.items()), fingerprint, __version__), hash_name="sha1")


class CacheStats:
    hits = 0
    misses = 0


def cached(kind: str, params: dict, compute: Callable[[], Any], fingerprint: str = "",
           enabled: bool = True) -> Any:
    """Return the cached value for (kind, params, fingerprint), computing and storing it on a miss.

    ``compute`` takes no argument; its result must be picklable (NumPy arrays, dicts of arrays,
    ``state_dict``s). ``enabled=False`` computes without reading or writing.
    """
    if not enabled:
        return compute()
    k = key(kind, params, fingerprint)
    entry = root() / kind / k
    if entry.is_dir():
        try:
            meta = json.loads((entry / "meta.json").read_text())
            value = joblib.load(entry / "payload.joblib")
            if meta.get("key") != k:
                raise ValueError("key mismatch")
            CacheStats.hits += 1
            return value
        except Exception as exc:  # corrupt or half-written by a foreign tool: recompute
            warnings.warn(f"oodrepro cache: entry {entry} is unreadable ({type(exc).__name__}); recomputing",
                          RuntimeWarning, stacklevel=2)
            shutil.rmtree(entry, ignore_errors=True)
    CacheStats.misses += 1
    t0 = time.perf_counter()
    value = compute()
    wall = time.perf_counter() - t0
    tmp = entry.parent / f".tmp-{k}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        joblib.dump(value, tmp / "payload.joblib")
        meta = {"key": k, "kind": kind, "params": {a: _jsonable(b) for a, b in params.items()},
                "fingerprint": fingerprint, "version": __version__, "compute_seconds": round(wall, 3),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        try:
            os.replace(tmp, entry)
        except OSError:  # another process won the race: keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return value


def info(path: Path | None = None) -> dict:
    """Entries and bytes per kind, plus leftover temporary directories."""
    base = Path(path) if path else root()
    out = {"root": str(base), "kinds": {}, "temporary": 0}
    if not base.is_dir():
        return out
    for kind_dir in sorted(p for p in base.iterdir() if p.is_dir()):
        n = size = 0
        for e in kind_dir.iterdir():
            if e.name.startswith(".tmp-"):
                out["temporary"] += 1
                continue
            n += 1
            size += sum(f.stat().st_size for f in e.rglob("*") if f.is_file())
        out["kinds"][kind_dir.name] = {"entries": n, "bytes": size}
    return out


def clear(kind: str | None = None, path: Path | None = None) -> int:
    """Delete all entries (or those of one kind); returns how many directories were removed."""
    base = Path(path) if path else root()
    if not base.is_dir():
        return 0
    dirs = [base / kind] if kind else [p for p in base.iterdir() if p.is_dir()]
    n = 0
    for d in dirs:
        if d.is_dir():
            n += sum(1 for _ in d.iterdir())
            shutil.rmtree(d)
    return n
