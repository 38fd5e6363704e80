"""A small on-disk cache for trained models, embeddings and scores.

Each entry is a directory ``<root>/<kind>/<key>/`` holding ``payload.joblib`` and ``meta.json``.
The key is a hash over (kind, parameters, data fingerprint, package version), so changing any
parameter, the data or the package version gives a new entry. The callers put the fingerprint of the
code that computes an entry into its parameters (``"code"``: :func:`oodrepro.fingerprint.fingerprint` —
training code for models, the embedding code, a method's detector and wiring for scores, the simulation
for the theory draws), so editing that code recomputes the entry and nothing upstream of it.

Writes are atomic: an entry is written into a temporary directory beside its final place and moved
there with one ``os.replace``; a killed run leaves at most a ``.tmp-*`` directory, which is never read
and is removed by :func:`clear`. An entry that cannot be read (truncated, garbage) is reported in one
warning line, deleted and recomputed.

The root is ``$OODREPRO_CACHE_DIR`` if set; else, when the package runs from a checkout of the project
(an editable install, as ``make env`` makes), the project's ``.cache/oodrepro``; else ``~/.cache/oodrepro``.
The Makefile, ``oodrepro run``, papermill and plain Python therefore all use one folder, which
``oodrepro cache info`` prints. The root carries a ``CACHEDIR.TAG`` (https://bford.info/cachedir/);
:func:`clear` refuses to empty a folder without it, and removes only kind folders by plain names, never
a path built from user input that leaves the root.

Every payload's SHA-256 is stored in ``meta.json`` and checked on read: a payload damaged so that it
still unpickles is treated like an unreadable one (one warning, deleted, recomputed).

Why not ``joblib.Memory``: it recomputes a corrupt entry too, but prints a full traceback, and it keys
on one function's source, not on what that function calls in the package, and not on a data fingerprint. We keep joblib for
what it is good at: hashing parameters (:func:`joblib.hash`) and storing NumPy-heavy payloads.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import time
import uuid
import warnings
from pathlib import Path
from typing import Any, Callable

import joblib

from . import __version__
from .errors import OodreproError

ENV = "OODREPRO_CACHE_DIR"
#: the first line of a CACHEDIR.TAG, as the Cache Directory Tagging Specification requires
TAG_SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55"
TAG = TAG_SIGNATURE + "\n# This file marks an oodrepro cache (trained models, embeddings, decoded data).\n"
#: kind names: one path component of plain characters (no separator, no "..", no leading dot)
_KIND = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
#: meta.json "format": 2 = with the payload's sha256
FORMAT = 2


def project_dir() -> Path | None:
    """The project checkout the package runs from (editable install), or None when installed elsewhere."""
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").is_file() and (here / "notebooks").is_dir() and (here / "oodrepro").is_dir():
        return here
    return None


def root() -> Path:
    """The cache root: ``$OODREPRO_CACHE_DIR``, else ``<project>/.cache/oodrepro``, else ``~/.cache/oodrepro``."""
    env = os.environ.get(ENV)
    if env:
        return Path(env).expanduser()
    proj = project_dir()
    return proj / ".cache" / "oodrepro" if proj else Path.home() / ".cache" / "oodrepro"


def root_source() -> str:
    """Where :func:`root` came from, for ``oodrepro cache info``."""
    if os.environ.get(ENV):
        return f"${ENV}"
    return "the project's .cache/ (default in a checkout)" if project_dir() else "the default ~/.cache/oodrepro"


def check_kind(kind: str) -> str:
    """A kind is one plain path component; anything else (``..``, ``/abs``, ``a/b``) is refused."""
    if not isinstance(kind, str) or not _KIND.match(kind) or kind in (".", ".."):
        raise OodreproError(f"cache kind {kind!r} is not accepted; use a plain name such as 'model' or 'images' "
                            "(letters, digits, '_', '-', '.')")
    return kind


def _tagged(base: Path) -> bool:
    try:
        return (base / "CACHEDIR.TAG").read_text(errors="replace").startswith(TAG_SIGNATURE)
    except OSError:
        return False


def ensure_writable(base: Path | None = None) -> Path:
    """Create the cache root if needed, tag it and check that it is writable; else one clear error.

    Called before any long computation so that an unwritable cache fails in a second, not after the
    model trained.
    """
    base = Path(base) if base else root()
    try:
        base.mkdir(parents=True, exist_ok=True)
        if not _tagged(base):
            if any(base.iterdir()) and not _looks_like_cache(base):
                raise OodreproError(f"cache folder {base} is not empty and is not an oodrepro cache (no CACHEDIR.TAG); "
                                    f"point {ENV} at an empty or new folder")
            write_atomic(base / "CACHEDIR.TAG", TAG.encode())
        probe = base / f".tmp-probe-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OodreproError(f"cache folder {base} is not writable ({type(exc).__name__}: {exc.strerror or exc}); "
                            f"set {ENV} to a writable folder") from None
    return base


def _looks_like_cache(base: Path) -> bool:
    """A root written by an older oodrepro (before CACHEDIR.TAG): every sub-folder holds only entries."""
    try:
        for kind_dir in base.iterdir():
            if kind_dir.name == "CACHEDIR.TAG":
                continue
            if kind_dir.is_symlink() or not kind_dir.is_dir() or not _KIND.match(kind_dir.name):
                return False
            for e in kind_dir.iterdir():
                if e.is_symlink() or not e.is_dir():
                    return False
                if not (e.name.startswith(".tmp-") or (e / "meta.json").is_file() or e.name.startswith("tv-")
                        or kind_dir.name == "staged"):
                    return False
    except OSError:
        return False
    return True


#: errno values that mean "this folder cannot take the file" (full disk, quota, read-only file system)
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}


def disk_error(exc: OSError, folder: Path, what: str = "files") -> OodreproError | None:
    """One-line :class:`OodreproError` for a full disk, an exceeded quota or a read-only file system while
    writing ``what`` into ``folder`` (naming the folder and what to do); ``None`` for any other OSError."""
    if exc.errno not in _DISK_ERRNOS:
        return None
    why = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded",
           errno.EROFS: "the file system is read-only"}[exc.errno]
    todo = "free space there" if exc.errno != errno.EROFS else "make it writable"
    return OodreproError(f"cannot write {what} in {folder}: {why}; {todo} or write to another folder"
                         f" (the cache: set {ENV}; results: results_dir=). Nothing was left half-written")


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` through a hidden temporary file beside it and one ``os.replace``: a
    reader sees the old file or the new one, never half of one (also used for result files).

    A full disk, an exceeded quota or a read-only file system raises :class:`OodreproError` naming the
    folder (:func:`disk_error`), after removing the temporary file."""
    path = Path(path)
    tmp = path.with_name(f".tmp-{path.name}-{uuid.uuid4().hex[:8]}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        err = disk_error(exc, path.parent, path.name) if isinstance(exc, OSError) else None
        if err is not None:
            raise err from None
        raise


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine (used to tell a stale working file from a live one)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _jsonable(obj: Any) -> Any:
    try:
        json.dumps(obj)
        return obj
    except TypeError:
        return repr(obj)


def key(kind: str, params: dict, fingerprint: str = "") -> str:
    """The entry's key: a hash of kind, parameters, data fingerprint and package version."""
    return joblib.hash((kind, sorted(params.items()), fingerprint, __version__), hash_name="sha1")


class _OldFormat(Exception):
    pass


class CacheStats:
    hits = 0
    misses = 0


_MISS = object()


def _read(entry: Path, k: str, stacklevel: int = 3) -> Any:
    """The entry's value, or ``_MISS`` when there is none or it is unreadable (then warned and deleted)."""
    if not entry.is_dir():
        return _MISS
    try:
        meta = json.loads((entry / "meta.json").read_text())
        if meta.get("key") != k:
            raise ValueError("key mismatch")
        if meta.get("format") != FORMAT or not meta.get("sha256"):
            raise _OldFormat
        if _sha256(entry / "payload.joblib") != meta["sha256"]:
            raise ValueError("payload checksum mismatch")
        value = joblib.load(entry / "payload.joblib")
        CacheStats.hits += 1
        return value
    except _OldFormat:  # written before checksums were stored: recompute quietly
        shutil.rmtree(entry, ignore_errors=True)
    except Exception as exc:  # corrupt or half-written by a foreign tool: recompute
        why = str(exc) if "checksum" in str(exc) else type(exc).__name__
        warnings.warn(f"oodrepro cache: entry {entry} is unreadable ({why}); recomputing",
                      RuntimeWarning, stacklevel=stacklevel)
        shutil.rmtree(entry, ignore_errors=True)
    return _MISS


@contextlib.contextmanager
def computing(entry: Path):
    """Hold an exclusive lock (``fcntl.flock`` on ``.tmp-lock-<key>`` beside the entry) while ``entry`` is
    computed: a second process that needs the same entry — two notebooks of ``oodrepro run --jobs 2``
    wanting one trained model — waits, then reads what the first wrote instead of computing it again.
    Correctness never depends on it (writes are atomic either way); where ``fcntl`` is missing it does
    nothing. The lock file is removed when the entry is written."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield
        return
    lock = entry.parent / f".tmp-lock-{entry.name}"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            lock.unlink(missing_ok=True)
            fcntl.flock(f, fcntl.LOCK_UN)


def cached(kind: str, params: dict, compute: Callable[[], Any], fingerprint: str = "",
           enabled: bool = True) -> Any:
    """Return the cached value for (kind, params, fingerprint), computing and storing it on a miss.

    ``compute`` takes no argument; its result must be picklable (NumPy arrays, dicts of arrays,
    ``state_dict``s). ``enabled=False`` computes without reading or writing. A process that finds
    another one computing the same entry waits for it (:func:`computing`).
    """
    if not enabled:
        return compute()
    check_kind(kind)
    k = key(kind, params, fingerprint)
    base = root()
    entry = base / kind / k
    value = _read(entry, k)
    if value is not _MISS:
        return value
    ensure_writable(base)  # fail now, not after the computation
    with computing(entry):
        value = _read(entry, k)  # written by the process we waited for
        if value is not _MISS:
            return value
        CacheStats.misses += 1
        t0 = time.perf_counter()
        value = compute()
        _write(entry, k, kind, params, fingerprint, value, time.perf_counter() - t0)
    return value


def _write(entry: Path, k: str, kind: str, params: dict, fingerprint: str, value: Any, wall: float) -> None:
    tmp = entry.parent / f".tmp-{k}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        joblib.dump(value, tmp / "payload.joblib")
        meta = {"key": k, "kind": kind, "params": {a: _jsonable(b) for a, b in params.items()},
                "fingerprint": fingerprint, "version": __version__, "compute_seconds": round(wall, 3),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "format": FORMAT,
                "sha256": _sha256(tmp / "payload.joblib")}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        try:
            os.replace(tmp, entry)
        except OSError:  # another process won the race: keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        err = disk_error(exc, entry.parent, f"the cache entry {kind}/{k}") if isinstance(exc, OSError) else None
        if err is not None:
            raise err from None
        raise


def info(path: Path | None = None) -> dict:
    """Entries and bytes per kind, plus leftover temporary directories."""
    base = Path(path) if path else root()
    out = {"root": str(base), "kinds": {}, "temporary": 0, "tagged": _tagged(base)}
    if not base.is_dir():
        return out
    for kind_dir in sorted(p for p in base.iterdir() if p.is_dir() and not p.is_symlink() and _KIND.match(p.name)):
        n = size = 0
        for e in kind_dir.iterdir():
            if e.name.startswith(".tmp-"):
                out["temporary"] += 1
                continue
            n += 1
            if e.is_dir() and not e.is_symlink():
                size += sum(f.stat().st_size for f in e.rglob("*") if f.is_file() and not f.is_symlink())
        out["kinds"][kind_dir.name] = {"entries": n, "bytes": size}
    out["temporary"] += sum(1 for p in base.iterdir() if p.name.startswith(".tmp-"))
    return out


def _remove(p: Path) -> None:
    """Remove a file, a symlink (never what it points to) or a folder tree (symlinks inside are unlinked)."""
    if p.is_symlink() or not p.is_dir():
        p.unlink(missing_ok=True)
    else:
        shutil.rmtree(p)


def clear(kind: str | None = None, path: Path | None = None) -> int:
    """Delete all entries (or those of one kind); returns how many entries were removed.

    Only folders directly inside the cache root are touched: ``kind`` must be a plain name (``..``, an
    absolute path or ``a/b`` raise :class:`~oodrepro.errors.OodreproError`), a kind folder that is a symlink
    is unlinked, not followed, and a root without ``CACHEDIR.TAG`` that does not look like a cache is
    refused (so ``OODREPRO_CACHE_DIR=$HOME oodrepro cache clear`` deletes nothing).
    """
    base = Path(path) if path else root()
    if kind is not None:
        check_kind(kind)
    if not base.is_dir():
        return 0
    if not _tagged(base):
        if not _looks_like_cache(base):
            raise OodreproError(f"{base} is not an oodrepro cache (no CACHEDIR.TAG, and it holds other files); "
                                "nothing removed")
    if kind is not None:
        dirs = [base / kind] if (base / kind).exists() or (base / kind).is_symlink() else []
    else:
        dirs = [p for p in base.iterdir() if _KIND.match(p.name) and (p.is_dir() or p.is_symlink())]
        dirs += [p for p in base.iterdir() if p.name.startswith(".tmp-")]
    n = 0
    for d in dirs:
        if d.is_dir() and not d.is_symlink():
            n += sum(1 for e in d.iterdir() if not e.name.startswith(".tmp-"))
        _remove(d)
    return n
