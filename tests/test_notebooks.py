"""The notebooks: committed clean, parameters consistent with their schema, and executable."""
import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from oodrepro import config

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))


def _nb(p):
    return json.loads(p.read_text())


def _param_names(nb) -> set:
    cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, "exactly one cell tagged 'parameters'"
    tree = ast.parse("".join(cells[0]["source"]))
    return {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets}


def test_there_are_notebooks():
    assert any(p.name == "table1.ipynb" for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_without_outputs_and_params_match_schema(path):
    nb = _nb(path)
    for c in nb["cells"]:
        if c["cell_type"] == "code":
            assert not c.get("outputs") and not c.get("execution_count"), f"{path} has outputs"
    names = _param_names(nb)
    schema = nb["metadata"].get("oodrepro", {}).get("schema")
    if schema:
        expected = {p.name for p in config.schema(schema).params} | {"profile"}
        assert names == expected, f"parameters cell vs schema: {sorted(names ^ expected)}"


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
def test_cli_runs_the_scorecard_from_result_files(tmp_path):
    from oodrepro import results

    results.write(tmp_path / "res/x/y.json", "x/y", {"seeds": [0]}, [{"a": 1}],
                  [results.claim("c", "A beats B", "1 vs 0", "1 vs 0", "reproduced", page="x/y")], 1.0)
    r = subprocess.run([sys.executable, "-m", "oodrepro", "run", "scorecard", "-p", "results_dir",
                        str(tmp_path / "res"), "--out", str(tmp_path / "book")], cwd=ROOT, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    nb = (tmp_path / "book/scorecard.ipynb").read_text()
    assert "A beats B" in nb


@pytest.mark.parametrize("args,match", [
    (["-p", "k", "0"], "parameter 'k' = 0 is out of range"),
    (["-p", "alpha", "1.2"], "parameter 'alpha' = 1.2"),
    (["--profile", "paper", "-p", "pairings", "mnist->moon"], "OOD set 'moon' is not accepted"),
    (["-p", "profile", "fast"], "parameter 'profile' = 'fast'"),
])
def test_cli_rejects_bad_parameters_in_one_line_before_running(tmp_path, args, match):
    r = subprocess.run([sys.executable, "-m", "oodrepro", "run", "knn_ls/table1", *args, "--out", str(tmp_path)],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and match in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_cli_unknown_notebook():
    r = subprocess.run([sys.executable, "-m", "oodrepro", "run", "knn_ls/nope"], cwd=ROOT, capture_output=True,
                       text=True)
    assert r.returncode == 2 and "no notebook 'knn_ls/nope'" in r.stderr and "knn_ls/table1" in r.stderr


def test_run_key_tracks_notebook_params_and_package(tmp_path, monkeypatch):
    from oodrepro import cli

    nb = ROOT / "notebooks/knn_ls/table1.ipynb"
    k1 = cli.run_key(nb, {"k": 1})
    assert k1 == cli.run_key(nb, {"k": 1}) and k1 != cli.run_key(nb, {"k": 3})
    monkeypatch.setattr(cli, "package_digest", lambda: "changed")
    assert cli.run_key(nb, {"k": 1}) != k1
    out = tmp_path / "x.ipynb"
    out.write_text(json.dumps({"metadata": {"oodrepro": {"run_key": "abc"}}}))
    assert cli.up_to_date(out, "abc") and not cli.up_to_date(out, "abd")
    out.write_text("{broken")
    assert not cli.up_to_date(out, "abc")


def test_cli_rejects_parameters_no_notebook_declares():
    r = subprocess.run([sys.executable, "-m", "oodrepro", "run", "scorecard", "-p", "k", "3"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 2 and "'k' not declared by" in r.stderr


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


@pytest.mark.parametrize("value", ["0", "-2", "x", ""])
def test_cli_rejects_bad_jobs_in_one_line(value):
    r = subprocess.run([sys.executable, "-m", "oodrepro", "run", "--all", "--jobs", value], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and f"--jobs {value!r} is not accepted" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_cli_jobs_runs_pages_side_by_side_and_the_scorecard_last(tmp_path):
    r = subprocess.run([sys.executable, "-m", "oodrepro", "run", "knn_ls/table2", "knn_ls/figure2", "scorecard",
                        "--profile", "smoke", "--jobs", "2", "-p", "results_dir", str(tmp_path / "res"), "--out",
                        str(tmp_path / "book")], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "running 2 notebooks, 2 at a time" in r.stdout
    lines = [ln for ln in r.stdout.splitlines() if "->" in ln]
    assert len(lines) == 3 and "scorecard" in lines[-1]
    for name in ("table2", "figure2"):
        assert json.loads((tmp_path / f"res/knn_ls/{name}.json").read_text())["claims"]
    card = (tmp_path / "book/scorecard.ipynb").read_text()
    assert "knn_ls/table2" in card and "knn_ls/figure2" in card  # it read both pages' results
