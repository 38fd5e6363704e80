"""oodrepro.provenance: the page's provenance note, from the result file."""
from __future__ import annotations

import shutil
from pathlib import Path

from oodrepro import provenance, results


ROOT = Path(__file__).resolve().parents[1]


def test_provenance_from_the_result_file(tmp_path, monkeypatch, write_chapter_results):
    monkeypatch.setenv("OODREPRO_DATA_ROOT", "/data/root")
    write_chapter_results(tmp_path)
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


def test_data_used_names_data_root_sets_and_a_row_s_dataset():
    from oodrepro import provenance

    doc = {"rows": [{"dataset": "tt100k_cropped", "ood": "background", "status": "ok"},
                    {"in_dist": "cifar10", "ood": "tt100k", "status": "ok"},
                    {"in_dist": "cifar10", "ood": "gaussian", "status": "ok"}]}
    # TT100K's crops come from the data root (not "embedded"); odm's 'background' is a role within its dataset
    assert provenance.data_used(doc) == {"embedded": ["gaussian"], "data_root": ["cifar10", "tt100k", "tt100k_cropped"],
                                         "missing": []}
