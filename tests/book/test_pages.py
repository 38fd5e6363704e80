"""The chapters' notebooks executed end to end (papermill or `oodrepro run`)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_table1_runs_under_papermill_with_overrides(tmp_path):
    import papermill as pm

    out = tmp_path / "out.ipynb"
    pm.execute_notebook(str(ROOT / "notebooks/knn_ls/table1.ipynb"), str(out), kernel_name="python3",
                        parameters={"profile": "smoke", "k": 3, "results_dir": str(tmp_path / "res")},
                        cwd=str(ROOT), progress_bar=False)
    doc = json.loads((tmp_path / "res/knn_ls/table1.json").read_text())
    assert doc["meta"]["params"]["k"] == 3 and doc["meta"]["params"]["profile"] == "smoke"
    assert doc["meta"]["wall_time_s"] > 0 and doc["meta"]["version"]
    assert {r["method"] for r in doc["rows"]} == {"knn_ls", "knn", "control", "deconf", "robust_knn", "svm",
                                                  "iforest"}
    assert {r["normalise"] for r in doc["normalisation_spread"]} == {"rank", "zscore", "train_mean"}
    assert len(doc["claims"]) >= 4
    # the prose's numbers are glued from the result file
    nb = json.loads(out.read_text())
    keys = {o["metadata"]["scrapbook"]["name"] for c in nb["cells"] if c["cell_type"] == "code"
            for o in c.get("outputs", []) if "scrapbook" in o.get("metadata", {})}
    assert {"tbl_auroc", "fig_auroc", "k_used", "blocks_md", "tbl_claims", "inversion_md", "tbl_spread"} <= keys


@pytest.mark.slow
@pytest.mark.parametrize("name", ["table2", "figure1", "figure2", "figure3"])
def test_ablation_notebooks_run_on_smoke(tmp_path, name):
    r = subprocess.run([sys.executable, "-m", "oodrepro", "run", f"knn_ls/{name}", "--profile", "smoke", "-p",
                        "results_dir", str(tmp_path / "res"), "--out", str(tmp_path / "book")], cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    doc = json.loads((tmp_path / f"res/knn_ls/{name}.json").read_text())
    assert doc["claims"] and all(c["verdict"] in ("reproduced", "not reproduced", "inconclusive", "needs data")
                                 for c in doc["claims"])
    nb = json.loads((tmp_path / f"book/knn_ls/{name}.ipynb").read_text())
    images = [o for c in nb["cells"] for o in c.get("outputs", [])
              if any(k.endswith("image/png") for k in o.get("data", {}))]
    if name != "table2":
        assert images, "the figure was not rendered as an image"


@pytest.mark.slow
def test_paper_profile_without_data_marks_rows_needs_data(tmp_path):
    """No data root: every paper pairing is 'needs data', and the page still renders."""
    r = subprocess.run([sys.executable, "-m", "oodrepro", "run", "knn_ls/table2", "--profile", "paper", "-p",
                        "results_dir", str(tmp_path / "res"), "--out", str(tmp_path / "book")], cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    doc = json.loads((tmp_path / "res/knn_ls/table2.json").read_text())
    assert {row["status"] for row in doc["rows"]} == {"needs data"}
    assert all("OODREPRO_DATA_ROOT" in row["why"] for row in doc["rows"])


def _cli(*args, cwd=ROOT, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "oodrepro", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.mark.slow
def test_item3_paper_profile_without_data_runs_through_the_cli(tmp_path):
    (tmp_path / "empty").mkdir()
    r = _cli("run", "knn_ls/table1", "-p", "profile", "paper", "-p", "data_root", str(tmp_path / "empty"),
             "-p", "results_dir", str(tmp_path / "res"), "--out", str(tmp_path / "book"), timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    doc = json.loads((tmp_path / "res/knn_ls/table1.json").read_text())
    assert {row["status"] for row in doc["rows"]} == {"needs data"}


@pytest.mark.slow
def test_papermill_unknown_parameter_stops_the_run_in_one_line(tmp_path):
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError) as ei:
        pm.execute_notebook(str(ROOT / "notebooks/knn_ls/table1.ipynb"), str(tmp_path / "out.ipynb"),
                            kernel_name="python3", progress_bar=False, cwd=str(ROOT),
                            parameters={"profile": "smoke", "kk": 3, "results_dir": str(tmp_path / "res")})
    e = ei.value
    assert e.ename == "ParameterError" and "unknown parameter(s) 'kk'" in e.evalue
    assert len(e.traceback) == 1  # the package's one line, not the kernel's traceback through it
    assert not (tmp_path / "res").exists()
