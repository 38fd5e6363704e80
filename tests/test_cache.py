import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from oodrepro import cache


ROOT = Path(__file__).resolve().parents[1]


def test_hit_and_miss_and_key_changes():
    calls = []

    def f():
        calls.append(1)
        return {"a": np.arange(3)}

    v1 = cache.cached("t", {"p": 1}, f, fingerprint="x")
    v2 = cache.cached("t", {"p": 1}, f, fingerprint="x")
    assert len(calls) == 1 and np.array_equal(v1["a"], v2["a"])
    cache.cached("t", {"p": 2}, f, fingerprint="x")
    cache.cached("t", {"p": 1}, f, fingerprint="y")
    assert len(calls) == 3
    cache.cached("t", {"p": 1}, f, fingerprint="x", enabled=False)
    assert len(calls) == 4
    assert cache.info()["kinds"]["t"]["entries"] == 3


def test_key_includes_package_version(monkeypatch):
    k1 = cache.key("t", {"p": 1}, "x")
    monkeypatch.setattr(cache, "__version__", "99.0")
    assert cache.key("t", {"p": 1}, "x") != k1


@pytest.mark.parametrize("damage", ["garbage", "truncate", "no-meta"])
def test_corrupt_entry_is_recomputed_with_one_warning(damage):
    cache.cached("t", {"p": 1}, lambda: np.arange(1000))
    entry = next((cache.root() / "t").iterdir())
    if damage == "garbage":
        (entry / "payload.joblib").write_bytes(b"garbage")
    elif damage == "truncate":
        b = (entry / "payload.joblib").read_bytes()
        (entry / "payload.joblib").write_bytes(b[: len(b) // 2])
    else:
        (entry / "meta.json").unlink()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        v = cache.cached("t", {"p": 1}, lambda: np.arange(1000))
    assert np.array_equal(v, np.arange(1000))
    msgs = [str(x.message) for x in w]
    assert len(msgs) == 1 and "unreadable" in msgs[0] and "recomputing" in msgs[0]
    # and the rewritten entry is good again
    assert np.array_equal(cache.cached("t", {"p": 1}, lambda: None), np.arange(1000))


def test_failed_compute_leaves_nothing_behind():
    def boom():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cache.cached("t", {"p": 1}, boom)
    kind_dir = cache.root() / "t"
    assert not kind_dir.exists() or not any(kind_dir.iterdir())


def test_killed_writer_leaves_only_ignored_tmp(monkeypatch):
    import joblib

    def dump_then_die(value, path):
        open(path, "wb").write(b"half")
        raise KeyboardInterrupt  # killed between payload and meta

    with monkeypatch.context() as m:  # scoped: undo() would also revert the fixture's cache dir
        m.setattr(joblib, "dump", dump_then_die)
        with pytest.raises(KeyboardInterrupt):
            cache.cached("t", {"p": 1}, lambda: 5)
    assert cache.root() != cache.Path.home() / ".cache" / "oodrepro"
    assert cache.info()["kinds"].get("t", {"entries": 0})["entries"] == 0
    assert cache.cached("t", {"p": 1}, lambda: 5) == 5


def test_clear_and_cli():
    cache.cached("t", {"p": 1}, lambda: 1)
    out = subprocess.run([sys.executable, "-m", "oodrepro", "cache", "info"], capture_output=True, text=True)
    assert out.returncode == 0 and "t " in out.stdout and "1 entries" in out.stdout
    out = subprocess.run([sys.executable, "-m", "oodrepro", "cache", "clear"], capture_output=True, text=True)
    assert out.returncode == 0 and "removed 1" in out.stdout
    assert cache.info()["kinds"] == {}


_CONCURRENT = """
import sys, time
from pathlib import Path
from oodrepro import cache
log = Path(sys.argv[1])
def compute():
    with open(log, "a") as f:
        f.write("computed\\n")
    time.sleep(1.5)
    return {"v": 42}
print(cache.cached("t", {"p": "shared"}, compute)["v"])
"""


def test_two_processes_needing_one_entry_compute_it_once(tmp_path):
    # `oodrepro run --jobs 2`: two kernels wanting the same model; the second waits and reads the first's
    log = tmp_path / "log"
    procs = [subprocess.Popen([sys.executable, "-c", _CONCURRENT, str(log)], stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0] and outs == ["42", "42"]
    assert log.read_text().count("computed") == 1
    assert cache.info()["temporary"] == 0  # the lock file went with the write


def _cli(*args, cwd=ROOT, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "oodrepro", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


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
