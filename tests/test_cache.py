import subprocess
import sys
import warnings

import numpy as np
import pytest

from oodrepro import cache


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
