"""oodrepro.cli (`oodrepro run`, `oodrepro cache`): parameters checked before a kernel starts, run keys, no
write outside the folders it was given, a failed run keeps the last success."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]


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


def _cli(*args, cwd=ROOT, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "oodrepro", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


NB_SOURCE = '''
import json
from pathlib import Path
from oodrepro import results
out = results.write(Path(results_dir) / "t" / "page.json", "t/page", {"tag": tag}, [{"tag": tag}])
fig = getattr(results, "output_path", Path)(Path(results_dir) / "t" / "figure.txt")  # a figure file
fig.parent.mkdir(parents=True, exist_ok=True)
fig.write_text(tag)
assert results.read(out)["meta"]["params"]["tag"] == tag  # the page reads what it just wrote
print("TAG", tag)
'''


def _project(tmp: Path, source: str = NB_SOURCE, params: str = 'tag = "a"\nfail = False\nresults_dir = "results"\n',
             name: str = "page") -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell(params)
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p, nbformat.v4.new_code_cell(textwrap.dedent(source)),
                nbformat.v4.new_code_cell('if fail:\n    raise RuntimeError("cell failed on purpose")')]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (tmp / "notebooks" / "t").mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, tmp / "notebooks" / "t" / f"{name}.ipynb")
    return tmp


def _state(tmp: Path) -> dict:
    out = {}
    for rel in ("results/t/page.json", "results/t/page.csv", "results/t/figure.txt", "book/generated/t/page.ipynb"):
        p = tmp / rel
        out[rel] = p.read_bytes() if p.exists() else None
    return out


@pytest.mark.slow
def test_item2_failed_run_leaves_page_results_and_figures_of_the_last_success(tmp_path):
    tmp = _project(tmp_path)
    r = _cli("run", "t/page", "-p", "tag", "a", cwd=tmp)
    assert r.returncode == 0, r.stderr
    good = _state(tmp)
    assert all(v is not None for v in good.values())
    assert json.loads(good["results/t/page.json"])["meta"]["params"]["tag"] == "a"

    r = _cli("run", "t/page", "-p", "tag", "b", "-p", "fail", "True", cwd=tmp)
    assert r.returncode == 2 and "cell failed on purpose" in r.stderr
    assert _state(tmp) == good  # result JSON, CSV, figure and page: all still the successful run's
    assert (tmp / "book/generated/t/page.failed.ipynb").is_file()  # the failed copy, for reading
    assert not [p for p in (tmp / "results").rglob("*") if p.name.startswith(".")]  # nothing staged left

    r = _cli("run", "t/page", "-p", "tag", "a", cwd=tmp)  # the previous parameters: really up to date
    assert r.returncode == 0 and "up to date" in r.stdout
    assert _state(tmp) == good


@pytest.mark.slow
def test_item2_a_result_file_changed_behind_the_page_makes_it_out_of_date(tmp_path):
    tmp = _project(tmp_path)
    assert _cli("run", "t/page", cwd=tmp).returncode == 0
    (tmp / "results/t/page.json").write_text('{"notebook": "t/page", "meta": {}, "rows": []}')  # e.g. papermill
    r = _cli("run", "t/page", cwd=tmp)
    assert r.returncode == 0 and "up to date" not in r.stdout
    assert json.loads((tmp / "results/t/page.json").read_text())["rows"] == [{"tag": "a"}]


@pytest.mark.slow
def test_dotdot_notebook_path_does_not_overwrite_the_source(tmp_path):
    tmp = _project(tmp_path)
    src = (tmp / "notebooks/t/page.ipynb").read_bytes()
    r = _cli("run", "notebooks/../notebooks/t/page.ipynb", cwd=tmp)
    assert r.returncode == 0, r.stderr
    assert (tmp / "notebooks/t/page.ipynb").read_bytes() == src  # was overwritten by the executed copy
    assert (tmp / "book/generated/t/page.ipynb").is_file()


@pytest.mark.slow
def test_result_path_outside_the_results_folder_is_refused(tmp_path):
    src = NB_SOURCE.replace('Path(results_dir) / "t" / "page.json"', 'Path(results_dir) / ".." / "escaped.json"')
    tmp = _project(tmp_path, src)
    r = _cli("run", "t/page", cwd=tmp)
    assert r.returncode == 2 and "outside the results folder" in r.stderr
    assert not (tmp / "escaped.json").exists() and not (tmp / "book/generated/t/page.ipynb").exists()


def test_symlinked_output_folder_leading_outside_is_refused(tmp_path):
    tmp = _project(tmp_path)
    (tmp / "elsewhere").mkdir()
    (tmp / "book/generated").mkdir(parents=True)
    os.symlink(tmp / "elsewhere", tmp / "book/generated/t")
    r = _cli("run", "t/page", cwd=tmp)
    assert r.returncode == 2 and "outside" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not any((tmp / "elsewhere").iterdir())


@pytest.mark.parametrize("which", ["results_dir", "out", "cache"])
def test_unwritable_folders_fail_before_a_kernel_starts(tmp_path, which):
    tmp = _project(tmp_path)
    (tmp / "afile").write_text("")
    args, env = ["run", "t/page"], dict(os.environ)
    if which == "results_dir":
        args += ["-p", "results_dir", str(tmp / "afile" / "res")]
    elif which == "out":
        args += ["--out", str(tmp / "afile" / "book")]
    else:
        env["OODREPRO_CACHE_DIR"] = str(tmp / "afile" / "cache")
    r = _cli(*args, cwd=tmp, env=env, timeout=60)
    assert r.returncode == 2 and "is not writable" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "TAG" not in r.stdout  # no cell ran


@pytest.mark.slow
def test_cli_run_has_no_tcp_encryption_warning(tmp_path):
    tmp = _project(tmp_path)
    r = _cli("run", "t/page", cwd=tmp)
    assert r.returncode == 0, r.stderr
    assert "without encryption" not in r.stderr + r.stdout


def test_run_key_changes_when_data_appears_under_the_data_root(tmp_path):
    from oodrepro import cli

    nb = ROOT / "notebooks/knn_ls/table1.ipynb"
    params = {"profile": "paper", "data_root": str(tmp_path)}
    k1 = cli.run_key(nb, params)
    (tmp_path / "MNIST" / "raw").mkdir(parents=True)
    (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").write_bytes(b"x" * 10)
    cli._data_fingerprint.cache_clear()
    assert cli.run_key(nb, params) != k1


@pytest.mark.slow
def test_jobs_a_failing_notebook_is_reported_and_the_others_finish(tmp_path):
    tmp = _project(tmp_path)
    src = NB_SOURCE.replace('"page.json"', '"page2.json"').replace('"figure.txt"', '"figure2.txt"')
    src = src.replace('print("TAG", tag)', 'import os\nprint("OMP", os.environ.get("OMP_NUM_THREADS"))\n'
                      'raise RuntimeError("page2 failed on purpose")')
    _project(tmp_path, source=src, name="page2")
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    r = _cli("run", "t/page", "t/page2", "--jobs", "2", cwd=tmp, env=env)
    assert r.returncode == 2 and "page2 failed on purpose" in r.stderr and "Traceback" not in r.stderr
    assert (tmp / "results/t/page.json").is_file()  # the other notebook finished and was promoted
    assert not (tmp / "results/t/page2.json").exists()
    failed = json.loads((tmp / "book/generated/t/page2.failed.ipynb").read_text())
    shown = "".join("".join(o.get("text", "")) for c in failed["cells"] for o in c.get("outputs", []))
    assert f"OMP {max(1, (os.cpu_count() or 1) // 2)}" in shown  # the kernel got cores / jobs threads


def test_run_all_on_a_profile_a_page_lacks_runs_that_page_quick_and_says_so(capsys, monkeypatch):
    """make book PROFILE=paper: a page without a paper profile (every book page has one now; here a made-up
    one) runs on quick with one line instead of refusing the whole book; a page that has the profile keeps it."""
    from oodrepro import cli, config

    config.register(config.Schema(name="t.quick_only", params=[config.Param("profile", "str", "profile")],
                                  profiles={"smoke": {}, "quick": {}}))
    grid, table1 = cli._find("beyond/objectives"), cli._find("knn_ls/table1")
    real = cli.schema_of
    monkeypatch.setattr(cli, "schema_of", lambda nb: "t.quick_only" if nb == grid else real(nb))
    assert cli.profile_or_quick(grid, "paper") == "quick"
    assert "beyond/objectives has no 'paper' profile (it has smoke, quick): runs 'quick'" in capsys.readouterr().out
    assert cli.profile_or_quick(table1, "paper") == "paper" and capsys.readouterr().out == ""
    with pytest.raises(Exception, match="parameter 'profile' = 'paper' is not accepted"):
        cli.validate(grid, {"profile": "paper"})  # named alone, it is refused
    monkeypatch.setattr(cli, "schema_of", real)
    assert cli.profile_or_quick(grid, "paper") == "paper"  # the grid has its own paper profile
