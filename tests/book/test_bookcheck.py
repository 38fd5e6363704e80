"""oodrepro.bookcheck, the rendered-book check, on hand-made pages."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest


def test_bookcheck_without_chromium_says_so_in_one_line(tmp_path):
    (tmp_path / "html").mkdir()
    (tmp_path / "html/index.html").write_text("<html></html>")
    env = {**os.environ, "OODREPRO_CHROMIUM": str(tmp_path / "no-chromium")}
    r = subprocess.run([sys.executable, "-m", "oodrepro.bookcheck", str(tmp_path / "html")], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "apt-get install -y chromium" in r.stderr


@pytest.mark.slow  # Chromium
def test_bookcheck_flags_wide_tables_raw_latex_dead_links_and_network_use(tmp_path, chromium):
    """Hand-made pages, one fault each, and a clean one with a wide table inside a scroll box."""
    from oodrepro import bookcheck

    exe = chromium
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


def test_a_raw_column_name_or_an_all_nan_column_fails_the_page():
    from oodrepro.bookcheck import _table_problems

    good = {"heads": ["method", "AUROC, ours (%)", "Δ AUROC"], "rows": [["MSP", "90.1 ± 0.2", "+0.3"]] * 2,
            "caption": "ok"}
    assert _table_problems([good]) == []
    raw = dict(good, heads=["method", "auroc_se", "delta_auroc"])
    assert _table_problems([raw]) == ["raw column name 'auroc_se' in a table (table 'ok')",
                                      "raw column name 'delta_auroc' in a table (table 'ok')"]
    nan = dict(good, rows=[["MSP", "NaN", "+0.3"], ["KNN", "nan", "+0.1"]])
    assert _table_problems([nan]) == ["a table column holds only NaN (table 'ok')"]
    # one NaN among numbers is a missing value, not an empty column
    assert _table_problems([dict(good, rows=[["MSP", "NaN", "+0.3"], ["KNN", "91.0", "+0.1"]])]) == []
