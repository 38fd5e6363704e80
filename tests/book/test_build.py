"""The book built on the smoke profile (jupyter-book), then checked in headless Chromium."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

#: one pytest-xdist worker runs this file (its module-scoped fixture is built once)
pytestmark = pytest.mark.xdist_group("smoke_book")


ROOT = Path(__file__).resolve().parents[2]


def _build(proj: Path, strict: bool = True) -> subprocess.CompletedProcess:
    jb = Path(sys.executable).parent / "jupyter-book"
    return subprocess.run([str(jb), "build", *(["--warningiserror"] if strict else []), "--keep-going", str(proj)],
                          capture_output=True, text=True, timeout=900)


SMOKE_PAGES = ["knn_ls/table1", "knn_ls/figure2", "scorecard", "reproduction"]


def _smoke_toc() -> str:
    """A table of contents for the test build: four executed pages (a wide table, glued figures, the
    scorecard and the reproduction report it links to), the API reference and the bibliography."""
    api = "".join(f"          - file: book/api/{f}\n" for f in
                  ("data", "detectors", "metrics", "models", "experiments", "engine"))
    return ("format: jb-book\nroot: book/generated/knn_ls/table1\nparts:\n  - caption: smoke\n    chapters:\n"
            "      - file: book/generated/knn_ls/figure2\n      - file: book/generated/scorecard\n"
            "      - file: book/generated/reproduction\n"
            f"      - file: book/api/index\n        sections:\n{api}      - file: book/bibliography\n")


@pytest.fixture(scope="module")
def smoke_book(tmp_path_factory, chromium):
    """Three pages executed on the smoke profile (two at a time, as ``make book`` does), the API reference and the bibliography, built with
    warnings as errors in a copy of the project's book sources (the cache of trained models is the
    project's own, so a warm cache is reused). About 3–4 minutes on 2 busy cores."""
    exe = chromium
    proj = tmp_path_factory.mktemp("book")
    shutil.copy(ROOT / "_config.yml", proj / "_config.yml")
    (proj / "_toc.yml").write_text(_smoke_toc())
    shutil.copytree(ROOT / "_static", proj / "_static")
    shutil.copytree(ROOT / "book", proj / "book", ignore=shutil.ignore_patterns("generated", "_autosummary"))
    # an empty archive: the archived pages (and the links to them) are not part of this small book
    env = dict(os.environ, OODREPRO_ARCHIVE=str(tmp_path_factory.mktemp("archive")))
    r = subprocess.run([sys.executable, "-m", "oodrepro", "run", *SMOKE_PAGES, "--profile", "smoke", "--jobs", "2", "--out",
                        str(proj / "book/generated"), "-p", "results_dir", str(proj / "results")], cwd=ROOT,
                       capture_output=True, text=True, timeout=1200, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    b = _build(proj)
    assert b.returncode == 0, b.stdout[-3000:] + b.stderr[-3000:]
    return proj, exe


@pytest.mark.slow
def test_smoke_book_passes_the_browser_check_and_each_fault_is_caught(smoke_book):
    from oodrepro import bookcheck

    proj, exe = smoke_book
    html, toc = proj / "_build/html", proj / "_toc.yml"
    report = bookcheck.check(html, toc, proj / "_build/screens", chromium=exe)
    assert {p for p, v in report.items() if v} == set(), report
    assert {"book/generated/knn_ls/table1.html", "book/generated/scorecard.html", "book/api/detectors.html"} <= set(report)
    assert len(list((proj / "_build/screens").glob("*.png"))) == len(report)

    # fault 1: a figure file deleted from the built site — the page that shows it is named
    page = "book/generated/knn_ls/table1.html"
    img = next(p for p in (html / "_images").iterdir() if p.name in (html / page).read_text())
    img.unlink()
    bad = bookcheck.check(html, toc, proj / "_build/screens2", chromium=exe, only=[page, "book/bibliography.html"])
    assert any("image not loaded" in m or "failed to load" in m for m in bad[page]), bad
    assert bad["book/bibliography.html"] == []

    # fault 2: a glue key renamed in an executed notebook, the book rebuilt — the page is named
    nb = proj / "book/generated/knn_ls/figure2.ipynb"
    text = nb.read_text()
    assert '"name": "fig_k"' in text
    nb.write_text(text.replace('"name": "fig_k"', '"name": "fig_k_renamed"'))
    assert _build(proj, strict=False).returncode == 0
    bad = bookcheck.check(html, toc, proj / "_build/screens3", chromium=exe, only=["book/generated/knn_ls/figure2.html"])
    assert any("glue" in m for m in bad["book/generated/knn_ls/figure2.html"]), bad


@pytest.mark.slow
def test_api_reference_lists_every_public_function_and_class(smoke_book):
    import importlib
    import inspect
    import pkgutil

    from sphinx.util.inventory import InventoryFile

    proj, _ = smoke_book
    with open(proj / "_build/html/objects.inv", "rb") as f:
        inv = InventoryFile.load(f, "", lambda base, uri: uri)
    documented = set(inv.get("py:function", {})) | set(inv.get("py:class", {})) | set(inv.get("py:exception", {}))
    import oodrepro

    missing = []
    for mod in pkgutil.walk_packages(oodrepro.__path__, "oodrepro."):
        if any(part.startswith("_") for part in mod.name.split(".")):
            continue
        m = importlib.import_module(mod.name)
        for name, obj in vars(m).items():
            if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if getattr(obj, "__module__", None) == mod.name and f"{mod.name}.{name}" not in documented:
                missing.append(f"{mod.name}.{name}")
    assert not missing, missing
