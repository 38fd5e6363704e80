"""Compare every number of two result folders (``results/**/*.json``), recursively: the check that a refactor
changed no number of the book.

    python scripts/compare_results.py BEFORE_DIR AFTER_DIR [--ignore wall_time_s created ...]

Prints the count of numbers compared, and every difference as ``file: path: before -> after``. Fields that
record when or how fast a run went (timings, dates, cache counts, commit, command, CPU time) are left out.
Exit status 1 when a number differs or a file is missing on one side.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

IGNORE = {"wall_time_s", "created", "cache", "git_commit", "fit_seconds", "seconds", "command", "cpu_seconds",
          "version", "code", "time_ms", "fit_s", "us_per_query", "time_vs_knn", "peak_mib", "wall", "results_dir"}


def walk(a, b, path, out, counts, ignore):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k in ignore:
                continue
            if k not in a or k not in b:
                out.append(f"{path}.{k}: only {'after' if k in b else 'before'}")
                continue
            walk(a[k], b[k], f"{path}.{k}", out, counts, ignore)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} items -> {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            walk(x, y, f"{path}[{i}]", out, counts, ignore)
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        counts[0] += 1
        same = (a == b) or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
        if not same:
            out.append(f"{path}: {a!r} -> {b!r}")
    elif a != b:
        out.append(f"{path}: {str(a)[:60]!r} -> {str(b)[:60]!r}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--ignore", nargs="*", default=[])
    args = ap.parse_args()
    ignore = IGNORE | set(args.ignore)
    before, after = Path(args.before), Path(args.after)
    names = sorted({p.relative_to(before) for p in before.rglob("*.json")} |
                   {p.relative_to(after) for p in after.rglob("*.json")})
    counts, bad = [0], 0
    for rel in names:
        if not (before / rel).is_file() or not (after / rel).is_file():
            print(f"{rel}: only in {'after' if (after / rel).is_file() else 'before'}")
            bad += 1
            continue
        out = []
        walk(json.loads((before / rel).read_text()), json.loads((after / rel).read_text()), "", out, counts, ignore)
        for line in out[:40]:
            print(f"{rel}: {line}")
        if len(out) > 40:
            print(f"{rel}: … {len(out) - 40} more")
        bad += bool(out)
    print(f"{counts[0]} numbers compared in {len(names)} result files; {bad} file(s) differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
