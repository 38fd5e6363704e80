"""The book as a published product: provenance, the unified scorecard and its CSV, the profile note,
the workflows, and the rendered-book check (headless Chromium) on a smoke-profile build."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from oodrepro import provenance, report, results

ROOT = Path(__file__).resolve().parents[1]


def _write_chapter_results(base: Path) -> None:
    summary = [{"in_dist": "mnist5k", "ood": "hflip", "method": "knn_ls", "mean": 0.91, "se": 0.01, "n_seeds": 2,
                "status": "ok", "paper": 0.95, "delta": -0.04},
               {"in_dist": "mnist", "ood": "fashion_mnist", "method": "knn_ls", "mean": None, "se": None,
                "n_seeds": 0, "status": "needs data", "paper": 0.96, "delta": None}]
    rows = [{"in_dist": "mnist5k", "ood": "hflip", "method": "knn_ls", "seed": 0, "status": "ok", "auroc": 0.9},
            {"in_dist": "mnist", "ood": "fashion_mnist", "method": "knn_ls", "seed": 0, "status": "needs data",
             "auroc": None}]
    c1 = results.claim("c1", "LS helps, with commas, \"quotes\"", "0.95 vs 0.93", "0.91 vs 0.88", "reproduced",
                       page="knn_ls/t1")
    results.write(base / "knn_ls/t1.json", "knn_ls/t1", {"profile": "quick", "seeds": [0, 1]}, rows, [c1], 3.2,
                  extra={"summary": summary})
    c2 = results.claim("c2", "KPCA beats PCA", "0.90", "", "needs data", why="no CIFAR-10 here", page="kpca/t5")
    results.write(base / "kpca/t5.json", "kpca/t5", {"profile": "paper", "seeds": [0]}, [], [c2], 0.5,
                  extra={"summary": [{"method": "rff", "mean": 0.8, "paper": 0.82, "status": "ok"}]})


def test_scorecard_collects_every_chapter_and_its_csv_parses_back(tmp_path):
    _write_chapter_results(tmp_path)
    card = results.scorecard(tmp_path)
    assert card["chapter"].tolist() == ["knn_ls", "kpca"] and card["profile"].tolist() == ["quick", "paper"]
    back = results.from_csv(results.to_csv(card))
    pd.testing.assert_frame_equal(back, card.astype(object).fillna(""), check_dtype=False)
    cells = results.cells(tmp_path)
    assert cells[["chapter", "ours", "paper"]].values.tolist() == [["knn_ls", 0.91, 0.95], ["kpca", 0.8, 0.82]]
    assert cells["delta"].round(6).tolist() == [-0.04, -0.02] and "ood=hflip" in cells["cell"].iloc[0]
    pd.testing.assert_frame_equal(results.from_csv(results.to_csv(cells)), cells, check_dtype=False)
    fig = results.paper_figure(cells, "knn_ls")
    assert "1 cells, 0% within ±0.02" in fig.axes[0].get_title()


def test_provenance_from_the_result_file(tmp_path, monkeypatch):
    monkeypatch.setenv("OODREPRO_DATA_ROOT", "/data/root")
    _write_chapter_results(tmp_path)
    doc = results.read(tmp_path / "knn_ls/t1.json")
    assert doc["meta"]["profile"] == "quick" and doc["meta"]["data_root"] == "/data/root"
    f = provenance.fields(doc)
    assert f["profile"] == "quick" and f["seeds"] == "0, 1" and f["wall time"] == "3.2 s"
    assert f["data"] == "embedded / synthetic: hflip, mnist5k; needs data: fashion_mnist, mnist"
    assert "oodrepro 0.1.0, commit " in f["package"]
    html = provenance.admonition(doc)
    assert html.startswith('<div class="admonition note') and "Profile &#x27;quick&#x27;" in html
    assert "Profile" not in provenance.admonition(results.read(tmp_path / "kpca/t5.json")).split("</ul>")[1]


def test_provenance_names_the_missing_set_not_the_training_set_nor_an_average():
    why = "data set 'cifar10' not found: expected a data root"
    doc = {"rows": [{"in_dist": "mnist5k", "ood": "hflip", "status": "ok"},
                    {"in_dist": "mnist5k", "ood": "average", "status": "ok"},
                    {"in_dist": None, "ood": "novelty", "status": "ok"},
                    {"in_dist": "mnist5k", "ood": "cifar10", "status": "needs data", "why": why},
                    {"in_dist": "svhn", "ood": "lsun", "status": "needs data", "why": "no folder"}]}
    d = provenance.data_used(doc)
    assert d["embedded"] == ["hflip", "mnist5k", "novelty"] and d["missing"] == ["cifar10", "lsun", "svhn"]


def test_git_commit_is_read_from_the_checkout():
    c = provenance.git_commit(ROOT)
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        assert c is None
    else:
        assert len(c.split("+")[0]) == 10
    assert provenance.git_commit("/") is None


def test_quick_profile_note_next_to_every_comparison_with_the_paper():
    df = pd.DataFrame({("kNN", "ours"): ["0.9"], ("kNN", "paper"): ["0.95"], ("kNN", "Δ"): ["-0.05"]})
    df.columns = pd.MultiIndex.from_tuples(df.columns)
    try:
        provenance.set_profile("quick")
        assert "Profile 'quick'" in report.styled(df, "Table 1.").to_html()
        assert "Profile" not in report.styled(pd.DataFrame({"a": [1]}), "No paper here.").to_html()
        provenance.set_profile("paper")
        assert "Profile" not in report.styled(df, "Table 1.").to_html()
    finally:
        provenance.set_profile(None)


def test_bookcheck_without_chromium_says_so_in_one_line(tmp_path):
    (tmp_path / "html").mkdir()
    (tmp_path / "html/index.html").write_text("<html></html>")
    env = {**os.environ, "OODREPRO_CHROMIUM": str(tmp_path / "no-chromium")}
    r = subprocess.run([sys.executable, "-m", "oodrepro.bookcheck", str(tmp_path / "html")], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "apt-get install -y chromium" in r.stderr


def test_workflows_match_the_github_workflow_schema():
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    assert Path(exe).exists(), "check-jsonschema missing: it comes with the dev extra; run make env"
    files = sorted(str(p) for p in (ROOT / ".github/workflows").glob("*.yml"))
    assert len(files) == 2
    r = subprocess.run([exe, "--builtin-schema", "vendor.github-workflows", *files], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_broken_workflow_fails_the_schema_check(tmp_path):
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    bad = tmp_path / "bad.yml"
    bad.write_text("name: x\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    step:\n      - run: make\n")
    r = subprocess.run([exe, "--builtin-schema", "vendor.github-workflows", str(bad)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode != 0


# ---- the rendered-book check on a smoke-profile build (headless Chromium) --------------------------------

def _browser_or_skip() -> str:
    from oodrepro import bookcheck

    try:
        exe = bookcheck.find_chromium()
        import playwright.sync_api  # noqa: F401
    except (bookcheck.BrowserMissing, ImportError) as exc:
        pytest.skip(f"rendered-book check not run: {exc}" if isinstance(exc, bookcheck.BrowserMissing) else
                    f"rendered-book check not run: no playwright. {bookcheck.INSTALL_HINT}")
    return exe


def _build(proj: Path, strict: bool = True) -> subprocess.CompletedProcess:
    jb = Path(sys.executable).parent / "jupyter-book"
    return subprocess.run([str(jb), "build", *(["--warningiserror"] if strict else []), "--keep-going", str(proj)],
                          capture_output=True, text=True, timeout=900)


SMOKE_PAGES = ["knn_ls/table1", "knn_ls/figure2", "scorecard"]


def _smoke_toc() -> str:
    """A table of contents for the test build: three executed pages (a wide table, glued figures, the
    scorecard), the API reference and the bibliography."""
    api = "".join(f"          - file: book/api/{f}\n" for f in
                  ("data", "detectors", "metrics", "models", "experiments", "engine"))
    return ("format: jb-book\nroot: book/generated/knn_ls/table1\nparts:\n  - caption: smoke\n    chapters:\n"
            "      - file: book/generated/knn_ls/figure2\n      - file: book/generated/scorecard\n"
            f"      - file: book/api/index\n        sections:\n{api}      - file: book/bibliography\n")


@pytest.fixture(scope="module")
def smoke_book(tmp_path_factory):
    """Three pages executed on the smoke profile (two at a time, as ``make book`` does), the API reference and the bibliography, built with
    warnings as errors in a copy of the project's book sources (the cache of trained models is the
    project's own, so a warm cache is reused). About 3–4 minutes on 2 busy cores."""
    exe = _browser_or_skip()
    proj = tmp_path_factory.mktemp("book")
    shutil.copy(ROOT / "_config.yml", proj / "_config.yml")
    (proj / "_toc.yml").write_text(_smoke_toc())
    shutil.copytree(ROOT / "_static", proj / "_static")
    shutil.copytree(ROOT / "book", proj / "book", ignore=shutil.ignore_patterns("generated", "_autosummary"))
    r = subprocess.run([sys.executable, "-m", "oodrepro", "run", *SMOKE_PAGES, "--profile", "smoke", "--jobs", "2", "--out",
                        str(proj / "book/generated"), "-p", "results_dir", str(proj / "results")], cwd=ROOT,
                       capture_output=True, text=True, timeout=1200)
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


def test_bookcheck_flags_wide_tables_raw_latex_dead_links_and_network_use(tmp_path):
    """Hand-made pages, one fault each, and a clean one with a wide table inside a scroll box."""
    from oodrepro import bookcheck

    exe = _browser_or_skip()
    wide = '<table style="width:3000px"><tr><td>wide</td></tr></table>'
    pages = {
        "ok.html": f'<div style="overflow-x:auto">{wide}</div><p>fine</p>',
        "wide.html": wide,
        "latex.html": "<p>the score $$\\hat T(x)$$ and \\(k\\)</p>",
        "link.html": '<a href="missing.html">gone</a>',
        "net.html": '<img src="https://example.org/x.png">',
        "glue.html": "<p>{glue:text}`n_total` claims</p>",
    }
    for name, body in pages.items():
        (tmp_path / name).write_text(f'<html><body><main><article class="bd-article" style="width:800px">{body}'
                                     "</article></main></body></html>")
    (tmp_path / "index.html").write_text("<html></html>")
    rep = bookcheck.check(tmp_path, None, tmp_path.parent / "shots", chromium=exe, only=list(pages))
    assert rep["ok.html"] == []
    assert any("wider than the text column" in m for m in rep["wide.html"])
    assert any("raw LaTeX '$$'" in m for m in rep["latex.html"]) and any("'\\\\('" in m for m in rep["latex.html"])
    assert any("missing file: missing.html" in m for m in rep["link.html"])
    assert any("outside 127.0.0.1 blocked: https://example.org/x.png" in m for m in rep["net.html"])
    assert any("unresolved glue" in m for m in rep["glue.html"])


def test_executed_pages_keep_no_widget_outputs():
    """tqdm's notebook bars are ipywidgets: left in an executed page, myst-nb loads require.js and the widget
    manager from a CDN on that page (the browser check caught it on a cold-cache build). ``oodrepro run``
    drops them and their stored state; every other output stays."""
    from oodrepro import cli

    nb = {"metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}}, "kernelspec": {}},
          "cells": [{"cell_type": "code", "outputs": [
              {"output_type": "display_data", "data": {cli.WIDGET_MIME: {"model_id": "x"}, "text/plain": "bar"}},
              {"output_type": "stream", "name": "stdout", "text": "kept"},
              {"output_type": "display_data", "data": {"text/html": "<b>kept</b>"}}]},
                    {"cell_type": "markdown", "source": "text"}]}
    out = cli._without_widgets(nb)
    assert "widgets" not in out["metadata"] and "kernelspec" in out["metadata"]
    assert [o.get("text") or o["data"] for o in out["cells"][0]["outputs"]] == ["kept", {"text/html": "<b>kept</b>"}]
