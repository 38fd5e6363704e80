"""The same smoke-profile sweep (``--cells`` units, default 8) serially, on a 2-worker ``LocalCluster`` and on 2
workers started as separate ``dask scheduler`` / ``dask worker`` processes on 127.0.0.1 — wall times and the
ratios to the serial run, measured in this run. Target (issue "beyond one machine"): ≥ 1.7× with 2 workers on
a 2-core machine. Nothing is asserted.

Each cell is ``odm/tsinghua`` on its smoke profile with another ``split_seed`` (a LeNet5 cross-entropy network,
an ML and an ODM embedding trained on the synthetic signs, ODIN tuned, five metrics): a few seconds each at the
profile's 2 epochs, where starting the cluster and shipping results cost as much as the work; ``--epochs`` makes
each cell longer (training runs on one thread in every mode, :func:`oodrepro.train.train_threads`). Every mode
starts from an empty cache of its own, so no mode reads another's trained networks. The workers run without Dask's
default MALLOC_TRIM_THRESHOLD_, which made each cell 1.7× slower, and without their statistical profiler
(:data:`oodrepro.executor.DASK_CONFIG`).

Every wall time includes starting the cluster (printed beside it) and each worker's first cell, which also pays for
importing the page's modules and torch's first use (about 15 s against 7.5 s for a later cell of 40 epochs): a fixed
cost that the ratio absorbs only when the cells are long (``--epochs``), as paper-scale units are. Each mode runs in
a fresh Python process of its own, so the serial run pays those imports too, as a user's command would: in one
process, the mode that ran first paid them for the others, and the ratios moved by ±0.1 with the order. ``--modes … pool``
adds the same cells on two plain processes without Dask, which shows what two processes on this machine allow.

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


def run(mode: str, cells: int, root: Path, epochs: int | None = None) -> tuple[float, float]:
    """(wall time of the whole mode, of which starting the cluster until its workers are up)."""
    os.environ["OODREPRO_CACHE_DIR"] = str(root / f"cache-{mode}")
    grid = {"split_seed": list(range(cells))}
    procs = []
    t0 = time.perf_counter()
    try:
        if mode == "pool":  # no Dask: what two processes on this machine allow, for comparison
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            params = sweep.cells(PAGE, grid, {"epochs": epochs} if epochs else {}, "smoke")
            with ProcessPoolExecutor(2, mp_context=mp.get_context("spawn"), initializer=_one_thread) as pool:
                ready = time.perf_counter() - t0
                per_cell = [v["wall"] for v in pool.map(sweep.run_cell, [PAGE] * len(params), params,
                                                        ["smoke"] * len(params))]
            print(f"  {mode}: the cells' own time (page.execute, summed) {sum(per_cell):.1f} s, per cell "
                  f"{', '.join(f'{w:.1f}' for w in per_cell)}", flush=True)
            return time.perf_counter() - t0, ready
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
            if mode == "local":
                ex.client.wait_for_workers(2, timeout=120)
            ready = time.perf_counter() - t0
            fixed = {"epochs": epochs} if epochs else {}
            out, outcomes = sweep.sweep(PAGE, grid, fixed, "smoke", root / f"results-{mode}", ex, progress=False)
        assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
        wall = time.perf_counter() - t0
        per_cell = [o.value["wall"] for o in sorted(outcomes, key=lambda o: o.index)]
        cells_s = sum(per_cell)
        print(f"  {mode}: the cells' own time (page.execute, summed) {cells_s:.1f} s, per cell "
              f"{', '.join(f'{w:.1f}' for w in per_cell)}", flush=True)
        return wall, ready
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(timeout=30)


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cells", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=None, help="training epochs of every network (default: smoke's 2)")
    ap.add_argument("--modes", nargs="+", default=["serial", "local", "processes"],
                    choices=["serial", "local", "processes", "pool"],
                    help="pool: the cells on two plain processes without Dask (what the machine allows)")
    ap.add_argument("--one-mode", help=argparse.SUPPRESS)  # internal: run one mode here, print its times as JSON
    ap.add_argument("--root", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one_mode:
        wall, ready = run(args.one_mode, args.cells, Path(args.root), args.epochs)
        print("RESULT " + json.dumps([wall, ready]), flush=True)
        return
    print(f"sweep of {args.cells} cells of {PAGE} (smoke, {args.epochs or 2} epochs), {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.2f}; each mode in a fresh process, in the order {' '.join(args.modes)}")
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        for m in args.modes:
            cmd = [sys.executable, __file__, "--one-mode", m, "--cells", str(args.cells), "--root", tmp]
            cmd += ["--epochs", str(args.epochs)] if args.epochs else []
            t0 = time.perf_counter()
            out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True).stdout
            print("".join(line + "\n" for line in out.splitlines() if not line.startswith("RESULT ")), end="")
            wall, ready = json.loads(next(x for x in out.splitlines() if x.startswith("RESULT "))[7:])
            times[m] = (time.perf_counter() - t0, ready)
            print(f"  {m}: {wall:.1f} s from the sweep's start, {times[m][0]:.1f} s from the process's start "
                  "(the wall time below)", flush=True)
    base = times.get("serial", (None,))[0]
    for m, (t, ready) in times.items():
        ratio = f"  {base / t:.2f}× the serial run" if base and m != "serial" else ""
        print(f"{m:10s} {t:7.1f} s{ratio}   (starting the cluster: {ready:.1f} s of it)")
    print(f"load at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
