"""CONTRIBUTING.md's recipe is proven: a chapter made from it alone (tests/example_chapter/: one page, one
method, one claim), living outside the package, runs through `oodrepro run` on the smoke profile."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent / "example_chapter"


@pytest.mark.slow
def test_the_example_chapter_runs_through_oodrepro_run(tmp_path):
    shutil.copytree(EXAMPLE / "notebooks", tmp_path / "notebooks")
    env = dict(os.environ, OODREPRO_CHAPTERS=str(EXAMPLE), OODREPRO_CACHE_DIR=str(tmp_path / "cache"))
    r = subprocess.run([sys.executable, "-m", "oodrepro", "params", "toy/page"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "schema toy.page" in r.stdout, r.stderr
    r = subprocess.run([sys.executable, "-m", "oodrepro", "run", "toy/page", "--profile", "smoke", "-p", "k", "2",
                        "--out", str(tmp_path / "out")], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    doc = json.loads((tmp_path / "results" / "toy" / "page.json").read_text())
    assert doc["meta"]["params"]["k"] == 2 and {row["ood"] for row in doc["rows"]} == {"hflip", "gaussian"}
    assert len(doc["rows"]) == 4 and all(0.0 <= row["auroc"] <= 1.0 for row in doc["rows"])  # 2 sets × 2 seeds
    (claim,) = doc["claims"]
    assert claim["id"] == "knn-flip" and claim["verdict"] in ("reproduced", "not reproduced")
    page = json.loads((tmp_path / "out" / "toy" / "page.ipynb").read_text())
    assert "AUROC, paper" in json.dumps(page)  # the made-up paper's value, from the chapter's own reference.csv


def test_a_chapter_outside_the_package_is_found_and_fingerprinted(monkeypatch):
    code = ("import oodrepro.experiments as e; from oodrepro import fingerprint, reference; "
            "import oodrepro.experiments.toy.page as p; "
            "print(p.__name__, 'oodrepro.experiments.toy.page' in fingerprint.module_files(), "
            "reference.lookup('toy', 'Table 1', ood='hflip', method='knn'))")
    env = dict(os.environ, OODREPRO_CHAPTERS=str(EXAMPLE))
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert r.stdout.split() == ["oodrepro.experiments.toy.page", "True", "0.9"], r.stderr[-1500:]
