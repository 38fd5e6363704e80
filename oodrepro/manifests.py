"""What the stored networks (:mod:`oodrepro.checkpoints`) and the archived runs (:mod:`oodrepro.archive`) share:
a folder of the project holding files and one ``manifest.json`` that lists them with their sha256, read with a
one-line error when broken and written atomically under a lock."""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from pathlib import Path

from .cache import project_dir, write_atomic

MANIFEST = "manifest.json"


def project_folder(env: str, name: str) -> Path:
    """``$env`` if set, else the project's ``<name>/`` folder (else ``~/.cache/oodrepro-<name>`` outside a checkout)."""
    value = os.environ.get(env)
    if value:
        return Path(value).expanduser()
    proj = project_dir()
    return proj / name if proj else Path.home() / ".cache" / f"oodrepro-{name}"


def sha256(path: Path) -> str:
    """The file's SHA-256 (hex)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def read(base: Path, field: str, error: type, what: str) -> dict:
    """``base/manifest.json`` (``{"format": 1, field: {...}}``; empty when there is none); a broken one raises
    ``error`` in one line naming the file."""
    path = Path(base) / MANIFEST
    if not path.is_file():
        return {"format": 1, field: {}}
    try:
        m = json.loads(path.read_text())
        if not isinstance(m.get(field), dict):
            raise ValueError(f"no {field!r} object")
        return m
    except (ValueError, OSError) as exc:
        raise error(f"{path}: not a readable {what} ({exc})") from None


@contextlib.contextmanager
def locked(base: Path):
    """Hold an exclusive lock on the manifest while it is read, changed and written (two runs that finish
    together must not drop each other's entry)."""
    base.mkdir(parents=True, exist_ok=True)
    with open(base / ".manifest.lock", "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def write(base: Path, m: dict) -> None:
    """Write the manifest atomically (sorted keys, one line per field)."""
    write_atomic(Path(base) / MANIFEST, json.dumps(m, indent=1, sort_keys=True, default=str) + "\n")
