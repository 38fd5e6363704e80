"""Stored networks: trained weights kept in the repository so that no later run pays for them again.

A stored network is a ``.pt`` file of its ``state_dict`` under ``checkpoints/`` (``$OODREPRO_CHECKPOINTS``
overrides the folder) and one entry of ``checkpoints/manifest.json``:

* ``definition`` — what defines the network: architecture, training recipe, loss, output size, seed, and
  the fingerprints of the training data (and of the seen-OOD data, where the loss sees some); its hash is
  the entry's key;
* ``sha256`` and ``bytes`` of the file, checked on every read;
* ``code`` — the fingerprint of the training code that made it. A stored network whose definition matches
  is used even when the code has changed since (the weights are what the definition says); the model
  carries ``stale_code = True`` and the pages say so;
* how it was made: ``command``, ``commit``, ``machine``, ``train_seconds``, ``accuracy``, ``created``.

:func:`oodrepro.train.fit` looks here before its cache and before training. ``oodrepro checkpoints list``
and ``oodrepro checkpoints verify`` print and check the manifest.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from . import manifests
from .cache import project_dir, write_atomic
from .errors import OodreproError

ENV = "OODREPRO_CHECKPOINTS"
MANIFEST = "manifest.json"


class CheckpointError(OodreproError):
    """A stored network cannot be used: its file is missing, altered (sha256) or not a state dict."""


def folder() -> Path:
    """``$OODREPRO_CHECKPOINTS``, else the project's ``checkpoints/`` (else ``~/.cache/oodrepro-checkpoints``)."""
    return manifests.project_folder(ENV, "checkpoints")


def definition_key(definition: dict) -> str:
    """SHA-256 of the definition as canonical JSON (sorted keys)."""
    return hashlib.sha256(json.dumps(definition, sort_keys=True, default=str).encode()).hexdigest()


def manifest(base: Path | None = None) -> dict:
    """The manifest (``{"format": 1, "networks": {key: entry}}``); empty when there is none."""
    return manifests.read(Path(base or folder()), "networks", CheckpointError, "checkpoint manifest")


def find(definition: dict, base: Path | None = None) -> dict | None:
    """The manifest entry of the network ``definition`` describes, or None."""
    entry = manifest(base)["networks"].get(definition_key(definition))
    return dict(entry, key=definition_key(definition)) if entry else None


sha256 = manifests.sha256


def _resolve(entry: dict, base: Path) -> Path:
    """The entry's file, which must be a plain name inside ``base`` (no path that leaves it)."""
    name = str(entry.get("file", ""))
    if not name or Path(name).name != name or name.startswith("."):
        raise CheckpointError(f"manifest entry {entry.get('key', '?')[:12]}: file {name!r} is not a plain file name")
    return base / name


def load_state(entry: dict, base: Path | None = None) -> dict:
    """The entry's ``state_dict`` (``torch.load(weights_only=True)``) after checking its sha256."""
    import torch

    base = Path(base or folder())
    path = _resolve(entry, base)
    if not path.is_file():
        raise CheckpointError(f"stored network {path} is missing (the manifest lists it)")
    digest = sha256(path)
    if digest != entry.get("sha256"):
        raise CheckpointError(f"stored network {path} was altered: sha256 {digest[:12]}… does not match the "
                              f"manifest's {str(entry.get('sha256'))[:12]}…; restore it (git checkout) or remove its entry")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is one line
        raise CheckpointError(f"stored network {path} is not a state dict ({type(exc).__name__})") from None


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=project_dir() or ".", timeout=5).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine() -> str:
    """This machine in a few words (CPU model, cores)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()}"


def store(definition: dict, state: dict, info: dict, name: str, base: Path | None = None) -> dict:
    """Write ``state`` as ``<name>.pt`` and its manifest entry (both atomically); returns the entry."""
    import torch

    base = Path(base or folder())
    base.mkdir(parents=True, exist_ok=True)
    key = definition_key(definition)
    fname = f"{name}-{key[:10]}.pt"
    buf = io.BytesIO()
    torch.save({k: torch.as_tensor(v) for k, v in state.items()}, buf)
    write_atomic(base / fname, buf.getvalue())
    entry = {"file": fname, "sha256": sha256(base / fname), "bytes": (base / fname).stat().st_size,
             "definition": definition, "command": " ".join(sys.argv) or "python", "commit": _commit(),
             "machine": machine(), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **info}
    with manifests.locked(base):
        m = manifest(base)
        m["networks"][key] = entry
        manifests.write(base, m)
    return dict(entry, key=key)


def annotate(key: str, base: Path | None = None, **info) -> dict:
    """Add facts measured after training (``accuracy``, …) to the entry ``key``; returns the entry."""
    base = Path(base or folder())
    with manifests.locked(base):
        m = manifest(base)
        if key not in m["networks"]:
            raise CheckpointError(f"no stored network with key {key[:12]}… in {base / MANIFEST}")
        m["networks"][key].update(info)
        manifests.write(base, m)
    return dict(m["networks"][key], key=key)


def verify(base: Path | None = None) -> list[str]:
    """One line per problem: a listed file missing or altered, or a ``.pt`` file the manifest does not list."""
    base = Path(base or folder())
    problems, listed = [], set()
    for key, entry in manifest(base)["networks"].items():
        try:
            path = _resolve(dict(entry, key=key), base)
        except CheckpointError as exc:
            problems.append(str(exc))
            continue
        listed.add(path.name)
        if not path.is_file():
            problems.append(f"{path.name}: missing")
        elif sha256(path) != entry.get("sha256"):
            problems.append(f"{path.name}: altered (sha256 differs from the manifest)")
    if base.is_dir():
        problems += [f"{p.name}: not in the manifest" for p in sorted(base.glob("*.pt")) if p.name not in listed]
    return problems


__all__ = ["folder", "manifest", "find", "load_state", "store", "verify", "definition_key", "annotate", "CheckpointError"]
