import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch):
    """Every test gets its own cache, its own (empty) stored-network folder and no data root: tests never touch
    ../shared/data, ~/.cache or the project's checkpoints/ (a paper-profile run stores its networks)."""
    monkeypatch.setenv("OODREPRO_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("OODREPRO_CHECKPOINTS", str(tmp_path_factory.mktemp("checkpoints")))
    monkeypatch.delenv("OODREPRO_DATA_ROOT", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    yield


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(0)


@pytest.fixture
def write_chapter_results():
    """``write_chapter_results(base)`` writes two chapters' result files under ``base`` (``knn_ls/t1.json`` on
    the quick profile, one row needing data; ``kpca/t5.json`` on the paper profile): a scorecard's input.
    Called inside the test, so that what the test set first (e.g. ``OODREPRO_DATA_ROOT``) is recorded."""
    from oodrepro import results

    def write(base: Path) -> None:
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

    return write


@pytest.fixture
def knn_ls_rows():
    """``knn_ls_rows()``: hand-made knn-ls rows — three seeds of knn_ls, knn and control on MNIST → HFlip
    (k-NN LS ahead of both every seed), and MNIST → KMNIST needing data."""
    import pandas as pd

    def rows():
        recs = []
        for seed, (a, b, c) in enumerate([(0.90, 0.80, 0.85), (0.92, 0.81, 0.86), (0.91, 0.79, 0.84)]):
            for m, v in (("knn_ls", a), ("knn", b), ("control", c)):
                recs.append({"in_dist": "mnist", "ood": "hflip", "method": m, "seed": seed, "status": "ok",
                             "auroc": v})
        recs += [{"in_dist": "mnist", "ood": "kmnist", "method": m, "seed": None, "status": "needs data", "why": "x"}
                 for m in ("knn_ls", "knn", "control")]
        return pd.DataFrame(recs)

    return rows


@pytest.fixture
def readable():
    """``readable(table)`` → the problems the browser check (:func:`oodrepro.bookcheck._table_problems`) finds in
    a table a page glues (a DataFrame or a Styler, rendered to HTML as the page shows it): a raw name
    (``auroc_se``) in a header cell, a column of NaN only — and a raw name among the row labels. ``[]`` when
    a reader can read it."""
    from html.parser import HTMLParser

    from oodrepro.bookcheck import RAW_NAME, _table_problems

    class Cells(HTMLParser):
        def __init__(self):
            super().__init__()
            self.heads, self.rows, self.labels, self.part, self.cell = [], [], [], None, None

        def handle_starttag(self, tag, attrs):
            if tag in ("thead", "tbody"):
                self.part = tag
            elif tag == "tr" and self.part == "tbody":
                self.rows.append([])
            elif tag in ("th", "td"):
                self.cell = ""

        def handle_data(self, data):
            if self.cell is not None:
                self.cell += data

        def handle_endtag(self, tag):
            if tag in ("th", "td") and self.cell is not None:
                text, self.cell = self.cell.strip(), None
                if self.part == "thead":
                    self.heads.append(text)
                elif tag == "td":
                    self.rows[-1].append(text)
                else:
                    self.labels.append(text)

    def problems(table) -> list[str]:
        p = Cells()
        p.feed(table.to_html())
        return (_table_problems([{"heads": p.heads, "rows": p.rows, "caption": ""}])
                + [f"raw row label {x!r}" for x in p.labels if RAW_NAME.match(x)])

    return problems
