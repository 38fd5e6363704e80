"""Archived paper-scale results: a paper-profile run's result file kept in the repository with its provenance,
so the offline book shows the paper-scale comparison first without rerunning hours of CPU.

Layout (``archive/`` in the project; ``$OODREPRO_ARCHIVE`` overrides)::

    archive/manifest.json            {"format": 1, "pages": {page: entry}}
    archive/<page>/result.json       the result file of the run (oodrepro.results format)

An entry holds the sha256 of every archived file and the run's provenance: ``command``, ``commit``,
``machine``, ``cpu_seconds`` and ``wall_seconds``, the ``data`` files read and their sha256, the stored
networks the run used (:mod:`oodrepro.checkpoints` keys), and ``code``: the fingerprint of the page's
code (:func:`oodrepro.engine.page.page_code`, given by the caller). A page renders an archive only when every sha256 matches
(:class:`ArchiveError` otherwise); when ``code`` no longer matches the package the page marks the
archive **stale** (the numbers came from older code). ``oodrepro archive check`` lists stale and tampered
entries; ``oodrepro archive add PAGE RESULT_JSON`` archives a run.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from . import manifests
from .errors import OodreproError

ENV = "OODREPRO_ARCHIVE"
MANIFEST = "manifest.json"


class ArchiveError(OodreproError):
    """An archived result cannot be used: missing, altered (sha256) or unreadable."""


def folder() -> Path:
    """``$OODREPRO_ARCHIVE``, else the project's ``archive/``."""
    return manifests.project_folder(ENV, "archive")


_sha256 = manifests.sha256


def manifest(base: Path | None = None) -> dict:
    """The manifest (``{"format": 1, "pages": {page: entry}}``); empty when there is none."""
    return manifests.read(Path(base or folder()), "pages", ArchiveError, "archive manifest")


def _page_dir(base: Path, page: str) -> Path:
    parts = page.split("/")
    if not page or any(p in ("", ".", "..") or p.startswith(".") or not p.replace("_", "").isalnum() for p in parts):
        raise ArchiveError(f"page name {page!r} is not accepted; use a page such as 'kpca/main'")
    return base.joinpath(*parts)


def add(page: str, result_path, provenance: dict, code: str, base: Path | None = None) -> dict:
    """Archive the result file ``result_path`` of a paper-profile run of ``page`` with ``provenance``
    (command, cpu_seconds, data, networks, …) and the page's ``code`` fingerprint; the sha256 is added here. The file is
    copied beside its final place and moved in with one rename; the manifest is written last. A result file that
    records the code it ran with (``code``) is refused when that is not ``code``: its numbers would be archived as
    the current code's."""
    from . import results

    base = Path(base or folder())
    doc = results.read(result_path)
    if doc.get("notebook") != page:
        raise ArchiveError(f"{result_path} is a result of {doc.get('notebook')!r}, not of {page!r}")
    profile = doc["meta"].get("profile") or doc["meta"].get("params", {}).get("profile")
    if profile != "paper":
        raise ArchiveError(f"{result_path} ran the {profile!r} profile; only paper-profile runs are archived")
    ran = doc.get("code")  # the page's code fingerprint when it ran (result files written since it is recorded)
    if ran is not None and ran != code:
        raise ArchiveError(f"{result_path} was computed by other code than this checkout's (page code {ran[:10]}… "
                           f"then, {code[:10]}… now): run the page again with this code, then archive it")
    dest = _page_dir(base, page)
    dest.mkdir(parents=True, exist_ok=True)
    tmp = dest / f".tmp-result-{os.getpid()}.json"
    shutil.copyfile(result_path, tmp)
    os.replace(tmp, dest / "result.json")
    entry = {"files": {"result.json": _sha256(dest / "result.json")}, "code": code,
             "archived": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **provenance}
    with manifests.locked(base):
        m = manifest(base)
        m["pages"][page] = entry
        manifests.write(base, m)
    return entry


def load(page: str, base: Path | None = None, code: str | None = None) -> dict | None:
    """``{"doc", "entry", "stale"}`` for an archived page (sha256 checked: :class:`ArchiveError` when a
    file was altered or is missing), or None when the page has no archive. ``stale``: the archive's code
    fingerprint differs from ``code`` (the page's code now; None: not compared)."""
    base = Path(base or folder())
    entry = manifest(base)["pages"].get(page)
    if entry is None:
        return None
    dest = _page_dir(base, page)
    for name, digest in entry.get("files", {}).items():
        path = dest / name
        if not path.is_file():
            raise ArchiveError(f"archived file {path} is missing (the archive manifest lists it)")
        if _sha256(path) != digest:
            raise ArchiveError(f"archived file {path} was altered: its sha256 does not match the archive manifest; "
                               "restore it (git checkout) or archive the run again")
    try:
        doc = json.loads((dest / "result.json").read_text())
    except ValueError as exc:
        raise ArchiveError(f"archived file {dest / 'result.json'} is not JSON ({exc})") from None
    return {"doc": doc, "entry": entry, "stale": code is not None and entry.get("code") != code}


def check(base: Path | None = None, code_of=None) -> list[tuple[str, str]]:
    """``(page, problem)`` for every archived page that is tampered, missing or (with ``code_of(page)``, the
    page's code fingerprint now) stale."""
    base = Path(base or folder())
    out = []
    for page in sorted(manifest(base)["pages"]):
        try:
            got = load(page, base, code_of(page) if code_of else None)
        except (ArchiveError, OodreproError) as exc:
            out.append((page, f"tampered: {exc}"))
            continue
        if got and got["stale"]:
            out.append((page, "stale: the page's code changed since the run was archived"))
    return out


def pages(base: Path | None = None) -> list[str]:
    """The pages with an archive."""
    return sorted(manifest(base)["pages"])


__all__ = ["add", "load", "check", "pages", "manifest", "folder", "ArchiveError"]
