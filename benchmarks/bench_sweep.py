"""The same smoke-profile sweep (``--cells`` units, default 8) serially, on a 2-worker ``LocalCluster`` and on 2
workers started as separate ``dask scheduler`` / ``dask worker`` processes on 127.0.0.1 — wall times and the
ratios to the serial run, measured in this run. Target (issue "beyond one machine"): ≥ 1.7× with 2 workers on
a 2-core machine. Nothing is asserted.

Each cell is ``odm/tsinghua`` on its smoke profile with another ``split_seed`` (a LeNet5 cross-entropy network,
an ML and an ODM embedding trained on the synthetic signs, ODIN tuned, five metrics): a few seconds each at the
profile's 2 epochs, where starting the cluster and shipping results cost as much as the work; ``--epochs`` makes
each cell longer (training runs on one thread in every mode, :func:`oodrepro.train.train_threads`). Every mode
starts from an empty cache of its own, so no mode reads another's trained networks. The workers run without Dask's
default MALLOC_TRIM_THRESHOLD_ (:data:`oodrepro.executor.DASK_CONFIG`), which made each cell 1.7× slower.

    python benchmarks/bench_sweep.py [--cells 8] [--epochs 10] [--modes serial local processes]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from oodrepro import executor, sweep

PAGE = "odm/tsinghua"


def run(mode: str, cells: int, root: Path, epochs: int | None = None) -> float:
    os.environ["OODREPRO_CACHE_DIR"] = str(root / f"cache-{mode}")
    grid = {"split_seed": list(range(cells))}
    procs = []
    t0 = time.perf_counter()
    try:
        if mode == "serial":
            ex_cm = executor.executor()
        elif mode == "local":
            ex_cm = executor.executor(workers=2)
        else:
            sfile = root / "scheduler.json"
            dask = str(Path(sys.executable).with_name("dask"))
            (root / "dask-config").mkdir(exist_ok=True)  # the settings the executor's LocalCluster uses
            (root / "dask-config" / "oodrepro.yaml").write_text(executor.dask_yaml())
            env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                       DASK_CONFIG=str(root / "dask-config"))
            procs.append(subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0",
                                           "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(sfile)],
                                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            while not (sfile.exists() and sfile.stat().st_size):
                time.sleep(0.1)
            procs += [subprocess.Popen([dask, "worker", "--scheduler-file", str(sfile), "--nthreads", "1",
                                        "--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0"], env=env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
            address = json.loads(sfile.read_text())["address"]
            from distributed import Client

            with Client(address) as c:
                c.wait_for_workers(2, timeout=120)
            ex_cm = executor.executor(scheduler=address)
        with ex_cm as ex:
            fixed = {"epochs": epochs} if epochs else {}
            _, outcomes = sweep.sweep(PAGE, grid, fixed, "smoke", root / f"results-{mode}", ex, progress=False)
        assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
        return time.perf_counter() - t0
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cells", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=None, help="training epochs of every network (default: smoke's 2)")
    ap.add_argument("--modes", nargs="+", default=["serial", "local", "processes"],
                    choices=["serial", "local", "processes"])
    args = ap.parse_args()
    print(f"sweep of {args.cells} cells of {PAGE} (smoke, {args.epochs or 2} epochs), {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        times = {m: run(m, args.cells, Path(tmp), args.epochs) for m in args.modes}
    base = times.get("serial")
    for m, t in times.items():
        ratio = f"  {base / t:.2f}× the serial run" if base and m != "serial" else ""
        print(f"{m:10s} {t:7.1f} s{ratio}")
    print(f"load at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
