"""Time to grade each classroom assignment (``assignments/<name>/``) with its autograder, locally (``otter run``,
no Docker), on the instructor's solutions: once with an empty cache (the pipeline cell trains the chapter's
classifier, as on a student's first run or a fresh grading machine) and once with the cache filled.

Prints wall time and CPU time (user + system of ``otter run`` and the kernel it starts) per assignment and
run. Nothing is asserted: figures only. The baseline in the same run is ``python -c "import otter, torch"``
(the fixed cost of any grading).

    python benchmarks/bench_assignments.py [--only knn_ls kpca]
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def timed(cmd: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the children) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = sorted(p.parent.name for p in ROOT.glob("assignments/*/*.ipynb") if p.stem == p.parent.name)
    ap.add_argument("--only", nargs="*", default=names)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, OODREPRO_CACHE_DIR=str(Path(tmp) / "cache"))
        wall, cpu = timed([sys.executable, "-c", "import otter, torch"], env)
        print(f"baseline: import otter, torch            wall {wall:6.1f} s   CPU {cpu:6.1f} s")
        for a in args.only:
            out = Path(tmp) / a
            subprocess.run([str(BIN / "otter"), "assign", "--no-run-tests", str(ROOT / "assignments" / a / f"{a}.ipynb"),
                            str(out)], check=True, env=env, capture_output=True)
            (zip_path,) = (out / "autograder").glob("*.zip")
            (out / "results").mkdir()
            cmd = [str(BIN / "otter"), "run", "--no-logo", "-a", str(zip_path), "-o", str(out / "results"),
                   str(out / "autograder" / f"{a}.ipynb")]
            for label in ("empty cache", "filled cache"):
                wall, cpu = timed(cmd, env)
                print(f"{a:8s} grading the solutions, {label:12s} wall {wall:6.1f} s   CPU {cpu:6.1f} s")


if __name__ == "__main__":
    main()
