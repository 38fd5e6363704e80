"""Issue 12: regression tests for faults that lose data or give a wrong page without warning.

Each test names the issue's item it reproduces; each fails on e4481af (checked by running this file with
the package of that commit first on ``PYTHONPATH``).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from oodrepro import cache, data

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args, cwd=ROOT, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "oodrepro", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


# --- item 1: 'cache clear --kind' outside the cache ---------------------------------------------
@pytest.fixture
def cache_with_neighbours(tmp_path, monkeypatch):
    """<tmp>/cache is the cache (one entry); <tmp>/victim and <tmp>/sibling must survive everything."""
    monkeypatch.setenv("OODREPRO_CACHE_DIR", str(tmp_path / "cache"))
    cache.cached("model", {"p": 1}, lambda: np.arange(3))
    for d in ("victim", "sibling"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "precious.txt").write_text("keep me")
    return tmp_path


def _intact(tmp):
    return all((tmp / d / "precious.txt").read_text() == "keep me" for d in ("victim", "sibling"))


@pytest.mark.parametrize("kind", ["ABS", "..", "../victim", "model/../../victim", "", "."])
def test_item1_cache_clear_kind_cannot_leave_the_cache(cache_with_neighbours, kind):
    tmp = cache_with_neighbours
    kind = str(tmp / "victim") if kind == "ABS" else kind
    r = _cli("cache", "clear", "--kind", kind, cwd=tmp)
    assert r.returncode == 2 and "is not accepted" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert _intact(tmp)
    assert cache.info()["kinds"]["model"]["entries"] == 1  # and the cache itself is untouched


def test_item1_cache_clear_does_not_follow_symlinks(cache_with_neighbours):
    tmp = cache_with_neighbours
    os.symlink(tmp / "victim", tmp / "cache" / "linked")  # a kind folder that is a link to elsewhere
    os.symlink(tmp / "sibling", tmp / "cache" / "model" / "linked-entry")  # an entry that is a link
    r = _cli("cache", "clear", "--kind", "linked", cwd=tmp)
    assert r.returncode == 0, r.stderr
    r = _cli("cache", "clear", cwd=tmp)
    assert r.returncode == 0, r.stderr
    assert _intact(tmp) and not (tmp / "cache" / "linked").exists() and not (tmp / "cache" / "model").exists()


def test_item1_cache_clear_refuses_a_root_that_is_not_a_cache(tmp_path, monkeypatch):
    (tmp_path / "home" / "projects").mkdir(parents=True)
    (tmp_path / "home" / "projects" / "notes.txt").write_text("keep me")
    monkeypatch.setenv("OODREPRO_CACHE_DIR", str(tmp_path / "home"))
    r = _cli("cache", "clear", cwd=tmp_path)
    assert r.returncode == 2 and "is not an oodrepro cache" in r.stderr
    assert (tmp_path / "home" / "projects" / "notes.txt").read_text() == "keep me"


# --- a tiny project whose notebook fails on demand (items 2 and the 'all outputs together' class) ----
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


# --- no command writes outside the folders it was given ---------------------------------------
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


# --- item 3: the paper profile without data ------------------------------------------------------
def test_item3_paper_profile_without_data_gives_needs_data_rows(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from oodrepro import config, report
    from oodrepro.experiments import knn_ls

    cfg = config.resolve("knn_ls.table1", "paper", data_root=str(tmp_path))
    rows = knn_ls.run_table1(cfg, progress=False)
    assert set(rows["status"]) == {"needs data"}
    claims = knn_ls.table1_claims(rows, cfg, page="knn_ls/table1")  # KeyError: 'auroc' before
    assert claims and {c["verdict"] for c in claims} == {"needs data"}
    summary = knn_ls.summarise(rows, knn_ls.PAPER)
    report.auroc_figure(rows, summary, list(cfg["methods"]), knn_ls.LABELS)  # plt.subplots(1, 0) before


@pytest.mark.slow
def test_item3_paper_profile_without_data_runs_through_the_cli(tmp_path):
    (tmp_path / "empty").mkdir()
    r = _cli("run", "knn_ls/table1", "-p", "profile", "paper", "-p", "data_root", str(tmp_path / "empty"),
             "-p", "results_dir", str(tmp_path / "res"), "--out", str(tmp_path / "book"), timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    doc = json.loads((tmp_path / "res/knn_ls/table1.json").read_text())
    assert {row["status"] for row in doc["rows"]} == {"needs data"}


# --- item 4: edited data served stale --------------------------------------------------------------
def _tree(base: Path, n=2):
    r = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (base / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray(r.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(base / cls / f"{i}.png")


def _keep_top_stamp(base: Path):
    st = base.stat()
    return lambda: os.utime(base, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_item4_image_added_in_a_class_folder_is_seen(tmp_path):
    base = tmp_path / "imgs"
    _tree(base)
    assert len(data.image_folder(base)) == 4
    restore = _keep_top_stamp(base)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(base / "cat" / "new.png")
    restore()  # the top folder's size and time do not change when a file below it does
    ds = data.image_folder(base)
    assert len(ds) == 5 and ds.y.tolist() == [0, 0, 0, 1, 1]


def test_item4_image_changed_in_place_is_seen(tmp_path):
    base = tmp_path / "imgs"
    _tree(base)
    before = data.image_folder(base).x.copy()
    restore = _keep_top_stamp(base)
    f = base / "dog" / "1.png"
    st = f.stat()
    Image.fromarray(np.full((8, 8, 3), 255, np.uint8)).save(f)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1))  # same second, a later nanosecond
    restore()
    after = data.image_folder(base).x
    assert not np.array_equal(before, after) and after[3].min() == 1.0


def test_item4_edited_zip_is_unpacked_afresh(tmp_path):
    import zipfile

    z = tmp_path / "imgs.zip"

    def pack(value: int):  # uncompressed BMPs, stored: the archive's size does not depend on the pixels
        with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_STORED) as f:
            for cls in ("cat", "dog"):
                for i in range(2):
                    img = Image.fromarray(np.full((8, 8, 3), value if (cls, i) == ("dog", 1) else 0, np.uint8))
                    tmp = tmp_path / "x.bmp"
                    img.save(tmp)
                    f.write(tmp, f"{cls}/{i}.bmp")

    pack(0)
    st = z.stat()
    assert data.image_folder(z).x.max() == 0.0
    pack(255)
    os.utime(z, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same time stamp, other pixels
    assert z.stat().st_size == st.st_size
    assert data.image_folder(z).x.max() == 1.0


# --- item 5: one cache for every entry point ---------------------------------------------------------
def test_item5_default_cache_is_the_projects(monkeypatch):
    monkeypatch.delenv("OODREPRO_CACHE_DIR")
    assert cache.root() == ROOT / ".cache" / "oodrepro"
    env = {k: v for k, v in os.environ.items() if k != "OODREPRO_CACHE_DIR"}
    r = _cli("cache", "info", env=env, cwd="/")  # from anywhere: the same folder
    assert r.returncode == 0 and f"cache root: {ROOT / '.cache' / 'oodrepro'}" in r.stdout
    make = subprocess.run(["make", "-s", "-n", "-p", "help"], cwd=ROOT, capture_output=True, text=True, env=env)
    # the Makefile does not point its runs at another folder
    assert not [ln for ln in make.stdout.splitlines() if ln.startswith("OODREPRO_CACHE_DIR")
                and str(ROOT / ".cache" / "oodrepro") not in ln]


@pytest.mark.slow
def test_item5_a_papermill_kernel_uses_the_same_cache(tmp_path, monkeypatch):
    import papermill as pm

    import nbformat

    monkeypatch.delenv("OODREPRO_CACHE_DIR")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from oodrepro import cache\nprint(cache.root())")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "in.ipynb")
    pm.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"), kernel_name="python3",
                        progress_bar=False, cwd=str(tmp_path))
    out = "".join(json.loads((tmp_path / "out.ipynb").read_text())["cells"][0]["outputs"][0]["text"])
    assert out.strip() == str(ROOT / ".cache" / "oodrepro")


# --- cache payloads: damaged but still loading ------------------------------------------------------
def test_damaged_payload_that_still_loads_is_recomputed():
    import warnings

    cache.cached("t", {"p": 1}, lambda: np.zeros(1000))
    entry = next(e for e in (cache.root() / "t").iterdir())
    b = bytearray((entry / "payload.joblib").read_bytes())
    b[-200] ^= 0x01  # one bit inside the array's data: joblib still loads it
    (entry / "payload.joblib").write_bytes(bytes(b))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        v = cache.cached("t", {"p": 1}, lambda: np.zeros(1000))
    assert np.array_equal(v, np.zeros(1000))
    assert len(w) == 1 and "checksum" in str(w[0].message)


# --- papermill used directly ----------------------------------------------------------------------
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


@pytest.mark.slow
def test_cli_run_has_no_tcp_encryption_warning(tmp_path):
    tmp = _project(tmp_path)
    r = _cli("run", "t/page", cwd=tmp)
    assert r.returncode == 0, r.stderr
    assert "without encryption" not in r.stderr + r.stdout


# --- a fingerprint that misses what it stands for: data added after a "needs data" run -------------
def test_run_key_changes_when_data_appears_under_the_data_root(tmp_path):
    from oodrepro import cli

    nb = ROOT / "notebooks/knn_ls/table1.ipynb"
    params = {"profile": "paper", "data_root": str(tmp_path)}
    k1 = cli.run_key(nb, params)
    (tmp_path / "MNIST" / "raw").mkdir(parents=True)
    (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").write_bytes(b"x" * 10)
    cli._data_fingerprint.cache_clear()
    assert cli.run_key(nb, params) != k1


def test_tree_fingerprint_survives_a_symlink_loop(tmp_path):
    from oodrepro.data.files import tree_fingerprint

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f.png").write_bytes(b"1")
    os.symlink(tmp_path, tmp_path / "a" / "loop")
    assert tree_fingerprint(tmp_path).startswith("dir:")


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
