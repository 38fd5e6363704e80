"""oodrepro.executor and oodrepro.sweep: units in this process and on a real Dask cluster on 127.0.0.1 (a
scheduler and two worker processes started as `dask scheduler` / `dask worker`, torn down after)."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from oodrepro import executor, sweep
from oodrepro.errors import OodreproError
from oodrepro.executor import Executor, Unit

#: one pytest-xdist worker runs this file (its module-scoped fixture is built once)
pytestmark = pytest.mark.xdist_group("executor")

ROOT = Path(__file__).resolve().parents[1]


def square(x):
    return x * x


def fail_on_three(x):
    if x == 3:
        raise ValueError(f"three is not accepted (x = {x})\nsecond line")
    return x


def slow_pid(x, seconds):
    time.sleep(seconds)
    return x, os.getpid()


def test_in_process_runs_longest_first_reports_failures_and_keeps_order():
    seen = []
    units = [Unit("a", fail_on_three, (1,), 1.0), Unit("b", fail_on_three, (3,), 5.0), Unit("c", fail_on_three, (2,)),
             Unit("d", fail_on_three, (4,), 2.0)]
    out = Executor().run(units, progress=False, on_done=lambda o: seen.append(o.label))
    assert seen == ["c", "b", "d", "a"]  # unknown first, then longest first
    assert [o.label for o in out] == ["a", "b", "c", "d"] and [o.value for o in out] == [1, None, 2, 4]
    assert out[1].error == "ValueError: three is not accepted (x = 3) second line" and "Traceback" in out[1].detail
    assert executor.longest_first([Unit("x", square), Unit("y", square, (), 3.0)]) == [0, 1]


def test_bad_workers_and_unreachable_scheduler_are_one_line():
    with pytest.raises(OodreproError, match="--workers 0 is not accepted"):
        with executor.executor(workers=0):
            pass
    with pytest.raises(OodreproError, match="cannot reach the Dask scheduler 'tcp://127.0.0.1:9'"):
        with executor.executor(scheduler="tcp://127.0.0.1:9", timeout="1s"):
            pass


def test_an_empty_scheduler_ignores_the_environment(monkeypatch):
    """``run --jobs`` starts notebooks on a cluster of its own (``scheduler=""``), never on the kernels' one
    named by $OODREPRO_SCHEDULER (their units would wait behind the notebooks that submit them)."""
    monkeypatch.setenv(executor.ENV, "tcp://127.0.0.1:9")
    with executor.executor(scheduler="") as ex:
        assert type(ex) is executor.Executor
    with pytest.raises(OodreproError, match="cannot reach the Dask scheduler 'tcp://127.0.0.1:9'"):
        with executor.executor(timeout="1s"):
            pass


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two worker processes (no nanny: a killed worker stays dead) on 127.0.0.1."""
    tmp = tmp_path_factory.mktemp("dask")
    sfile = tmp / "scheduler.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="3")
    dask = str(Path(sys.executable).with_name("dask"))
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--dashboard-address",
                               "127.0.0.1:0", "--scheduler-file", str(sfile)], env=env, cwd=tmp,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    for _ in range(300):
        if sfile.exists() and sfile.stat().st_size:
            break
        time.sleep(0.1)
    address = json.loads(sfile.read_text())["address"]
    procs += [subprocess.Popen([dask, "worker", "--scheduler-file", str(sfile), "--nthreads", "1", "--no-nanny",
                                "--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0"], env=env, cwd=tmp,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
    from distributed import Client

    with Client(address, timeout="30s") as c:
        c.wait_for_workers(2, timeout=60)
    yield address, procs
    for p in reversed(procs):  # workers, then the scheduler
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=20)
    assert all(p.poll() is not None for p in procs)  # torn down


@pytest.mark.slow
def test_cluster_grid_matches_the_serial_run_and_listens_on_localhost_only(cluster):
    address, procs = cluster
    units = [Unit(f"x={x}", square, (x,)) for x in range(8)] + [Unit("x=3 fails", fail_on_three, (3,))]
    with executor.executor(scheduler=address) as ex:
        assert "127.0.0.1" in ex.where
        remote = ex.run(units, progress=False)
    local = Executor().run(units, progress=False)
    assert [o.value for o in remote] == [o.value for o in local] == [x * x for x in range(8)] + [None]
    assert remote[-1].error == local[-1].error and remote[-1].error.startswith("ValueError: three")
    for p in procs:  # every listening socket of the scheduler and workers is on the loopback interface
        conns = psutil.Process(p.pid).net_connections(kind="inet")
        listening = {c.laddr.ip for c in conns if c.status == psutil.CONN_LISTEN}
        assert listening and listening <= {"127.0.0.1"}, listening


@pytest.mark.slow
def test_a_local_cluster_listens_on_localhost_only_and_is_torn_down():
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with executor.executor(workers=2) as ex:
        pids = [p.pid for p in psutil.Process().children(recursive=True) if p.pid not in before
                and "resource_tracker" not in " ".join(p.cmdline())]  # multiprocessing's, lives with this process
        assert [o.value for o in ex.run([Unit("a", square, (3,))], progress=False)] == [9]
        listening = {c.laddr.ip for pid in [os.getpid(), *pids] for c in psutil.Process(pid).net_connections("inet")
                     if c.status == psutil.CONN_LISTEN}
        assert listening <= {"127.0.0.1"}, listening
    time.sleep(1)
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]


@pytest.mark.slow
def test_a_killed_worker_does_not_lose_the_run(cluster):
    address, procs = cluster
    units = [Unit(f"slow {i}", slow_pid, (i, 3.0)) for i in range(2)]
    with executor.executor(scheduler=address) as ex:
        import threading

        def kill_one():  # once both units are running, kill the worker of one of them
            time.sleep(1.5)
            os.kill(procs[1].pid, signal.SIGKILL)

        t = threading.Thread(target=kill_one)
        t.start()
        out = ex.run(units, progress=False)
        t.join()
    assert [o.value[0] for o in out] == [0, 1] and all(o.ok for o in out)
    assert {o.value[1] for o in out} == {procs[2].pid}  # both finished on the surviving worker


def test_sweep_resumes_with_the_missing_cells_only(tmp_path, monkeypatch):
    monkeypatch.setenv("OODREPRO_CACHE_DIR", str(tmp_path / "cache"))
    calls = []
    real = sweep.run_cell

    def counting(page_name, params, profile):
        calls.append(params["n_components"])
        return real(page_name, params, profile)

    monkeypatch.setattr(sweep, "run_cell", counting)
    grid = {"n_components": [16, 32]}
    fixed = {"n_grid": [200, 400], "dim": 8, "queries": 20, "repeat": 1}
    out, outcomes = sweep.sweep("kpca/cost", grid, fixed, "smoke", tmp_path, progress=False)
    assert sorted(calls) == [16, 32] and all(o.ok for o in outcomes)
    doc = json.loads(out.read_text())
    assert doc["n_cells"] == 2 and set(doc["rows"][0]) >= {"n_components"} and doc["failed"] == []
    first = sorted((tmp_path / "sweeps" / "kpca" / "cost").glob("cell-*.json"))[0]
    first.unlink()  # as if the run had been killed before that cell
    calls.clear()
    sweep.sweep("kpca/cost", grid, fixed, "smoke", tmp_path, progress=False)
    assert len(calls) == 1


def test_sweep_refuses_bad_cells_before_running_any(tmp_path):
    with pytest.raises(OodreproError, match="has no parameter 'nope'"):
        sweep.cells("kpca/cost", {"nope": [1]}, {})
    with pytest.raises(OodreproError, match="'dim'"):  # the schema's own one-line refusal, before any cell runs
        sweep.cells("kpca/cost", {"dim": [8, -1]}, {}, "smoke")


def test_dask_yaml_is_the_config_the_local_cluster_uses():
    """The YAML for hand-started workers says what :data:`executor.DASK_CONFIG` sets (one setting, two forms)."""
    import yaml

    got = yaml.safe_load(executor.dask_yaml())
    for dotted, value in executor.DASK_CONFIG.items():
        node = got
        for part in dotted.split(".")[:-1]:
            node = node[part]
        assert node[dotted.split(".")[-1]] == value


def _worker_settings():
    import os

    import dask

    return (os.environ.get("MALLOC_TRIM_THRESHOLD_"), dask.config.get("distributed.worker.profile.enabled"),
            dask.config.get("distributed.admin.tick.interval"), dask.config.get("distributed.worker.memory.monitor-interval"))


def test_local_cluster_workers_start_without_dasks_malloc_trim_threshold_and_profiler(monkeypatch):
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    with executor.executor(workers=2, scheduler="") as ex:
        (out,) = ex.run([executor.Unit("env", _worker_settings)], progress=False)
    assert out.ok and out.value == (None, False, "1s", "1s")
