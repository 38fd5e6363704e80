"""Command line: ``oodrepro run``, ``oodrepro cache info|clear``, ``oodrepro params``.

``oodrepro run knn_ls/table1 -p k 3`` validates the parameters against the notebook's schema *before*
starting a kernel (a bad value ends in one line naming the parameter and what is accepted), executes
``notebooks/knn_ls/table1.ipynb`` with papermill and writes the executed copy to
``book/generated/knn_ls/table1.ipynb`` — atomically, so a failed run leaves no half-written page.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

from . import cache, config
from .errors import OodreproError

NOTEBOOKS = Path("notebooks")
OUT = Path("book") / "generated"


def _resolve_type(value: str):
    """papermill's ``-p`` typing: int, float, bool, None, else the string."""
    if value in ("True", "true"):
        return True
    if value in ("False", "false"):
        return False
    if value in ("None", "none", "null"):
        return None
    for t in (int, float):
        try:
            return t(value)
        except ValueError:
            pass
    return value


def notebook_meta(path: Path) -> dict:
    nb = json.loads(path.read_text())
    return nb.get("metadata", {}).get("oodrepro", {})


def discover(root: Path = NOTEBOOKS) -> list[Path]:
    """Every notebook under ``notebooks/``, in the order their metadata ``oodrepro.order`` gives."""
    nbs = [p for p in root.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts]
    return sorted(nbs, key=lambda p: (notebook_meta(p).get("order", 50), str(p)))


def _find(name: str) -> Path:
    p = Path(name)
    for cand in (p, NOTEBOOKS / p, NOTEBOOKS / p.with_suffix(".ipynb")):
        if cand.is_file() and cand.suffix == ".ipynb":
            return cand
    known = ", ".join(str(q.relative_to(NOTEBOOKS).with_suffix("")) for q in discover()) if NOTEBOOKS.is_dir() else ""
    raise OodreproError(f"no notebook {name!r} (run from the project root); known: {known}")


def notebook_params(nb: Path) -> set:
    """Names assigned in the notebook's cell tagged ``parameters``."""
    import ast

    cells = json.loads(nb.read_text())["cells"]
    for c in cells:
        if "parameters" in c.get("metadata", {}).get("tags", []):
            tree = ast.parse("".join(c["source"]))
            return {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
                    if isinstance(t, ast.Name)}
    return set()


def validate(nb: Path, params: dict) -> dict:
    meta = notebook_meta(nb)
    schema = meta.get("schema")
    if schema:
        profile = params.get("profile", "quick")
        others = {k: v for k, v in params.items() if k != "profile"}
        config.resolve(schema, profile=profile, **others)
    return params


def package_digest() -> str:
    """SHA-1 over the package's source and data files: a change to any of them invalidates run keys."""
    h = hashlib.sha1()
    base = Path(__file__).resolve().parent
    for f in sorted(base.rglob("*")):
        if f.suffix in (".py", ".csv", ".json") and "__pycache__" not in f.parts:
            h.update(str(f.relative_to(base)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def run_key(nb: Path, params: dict) -> str:
    """Identifies an execution: notebook source, parameters, package source, data root."""
    h = hashlib.sha1()
    h.update(nb.read_bytes())
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    h.update(package_digest().encode())
    h.update(os.environ.get("OODREPRO_DATA_ROOT", "").encode())
    return h.hexdigest()


def up_to_date(out: Path, key: str) -> bool:
    try:
        return json.loads(out.read_text())["metadata"]["oodrepro"]["run_key"] == key
    except (OSError, ValueError, KeyError, TypeError):
        return False


def execute(nb: Path, params: dict, out_dir: Path = OUT, progress: bool = False, force: bool = False) -> Path | None:
    """Execute ``nb`` with papermill into ``out_dir``; returns None when the executed copy is up to date."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    rel = nb.relative_to(NOTEBOOKS) if nb.is_relative_to(NOTEBOOKS) else Path(nb.name)
    out = out_dir / rel
    key = run_key(nb, params)
    if not force and not notebook_meta(nb).get("always_run") and up_to_date(out, key):
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.running.ipynb")
    try:
        pm.execute_notebook(str(nb), str(tmp), parameters=params, kernel_name="python3", progress_bar=progress,
                            cwd=os.getcwd(), log_output=False)
        done = json.loads(tmp.read_text())
        done.setdefault("metadata", {}).setdefault("oodrepro", {})["run_key"] = key
        tmp.write_text(json.dumps(done, indent=1, ensure_ascii=False))
    except PapermillExecutionError as exc:
        failed = out.with_name(f"{out.stem}.failed.ipynb")
        os.replace(tmp, failed)
        raise OodreproError(f"{nb} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue} "
                            f"(executed copy: {failed})") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, out)
    return out


def cmd_run(args) -> int:
    params = {k: _resolve_type(v) for k, v in (args.parameter or [])}
    if args.profile:
        params["profile"] = args.profile
    targets = discover() if args.all else [_find(n) for n in args.notebooks]
    if not targets:
        raise OodreproError("name a notebook (e.g. knn_ls/table1) or pass --all")
    per_nb = {}
    for nb in targets:  # validate everything first: fail in a second, not after an hour
        declared = notebook_params(nb)
        mine = {k: v for k, v in params.items() if k in declared}
        validate(nb, mine)
        per_nb[nb] = mine
    unused = [k for k in params if not any(k in p for p in per_nb.values())]
    if unused:
        raise OodreproError(f"parameter(s) {', '.join(map(repr, unused))} not declared by "
                            f"{', '.join(str(t) for t in targets)}; see 'oodrepro params NOTEBOOK'")
    for nb, mine in per_nb.items():
        t0 = time.perf_counter()
        out = execute(nb, mine, Path(args.out), progress=args.progress, force=args.force)
        if out is None:
            print(f"{nb}: up to date (same notebook, parameters and package; --force re-executes)", flush=True)
        else:
            print(f"{nb} {mine or ''} -> {out} ({time.perf_counter() - t0:.1f} s)", flush=True)
    return 0


def cmd_cache(args) -> int:
    if args.action == "info":
        inf = cache.info()
        print(f"cache root: {inf['root']}")
        if not inf["kinds"]:
            print("  (empty)")
        for kind, v in inf["kinds"].items():
            print(f"  {kind:10s} {v['entries']:5d} entries  {v['bytes'] / 1e6:9.1f} MB")
        if inf["temporary"]:
            print(f"  {inf['temporary']} temporary directories left by interrupted runs (removed by 'clear')")
    else:
        n = cache.clear(args.kind)
        print(f"removed {n} cache entries from {cache.root()}")
    return 0


def cmd_params(args) -> int:
    nb = _find(args.notebook)
    schema = notebook_meta(nb).get("schema")
    if not schema:
        print(f"{nb} declares no parameter schema")
        return 0
    sch = config.schema(schema)
    print(f"{nb}  (schema {schema}; profiles: {', '.join(sch.profiles)})")
    for p in sch.params:
        defaults = ", ".join(f"{prof}={sch.profiles[prof].get(p.name)!r}" for prof in sch.profiles)
        print(f"  {p.name:12s} {p.doc}\n  {'':12s} accepted: {p.accepted()}; {defaults}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="oodrepro", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="execute notebooks with papermill into book/generated/")
    r.add_argument("notebooks", nargs="*", help="e.g. knn_ls/table1")
    r.add_argument("--all", action="store_true", help="every notebook under notebooks/")
    r.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"))
    r.add_argument("--profile", choices=config.PROFILES)
    r.add_argument("--out", default=str(OUT), help="folder for executed notebooks (default book/generated)")
    r.add_argument("--progress", action="store_true", help="show papermill's cell progress bar")
    r.add_argument("--force", action="store_true", help="execute even if the executed copy is up to date")
    r.set_defaults(fn=cmd_run)
    c = sub.add_parser("cache", help="inspect or empty the cache")
    c.add_argument("action", choices=("info", "clear"))
    c.add_argument("--kind", help="only this kind (model, embedding, images, staged, …)")
    c.set_defaults(fn=cmd_cache)
    p = sub.add_parser("params", help="list a notebook's parameters, what is accepted and the profile defaults")
    p.add_argument("notebook")
    p.set_defaults(fn=cmd_params)
    args = ap.parse_args(argv)
    try:
        return args.fn(args)
    except OodreproError as exc:
        print(f"oodrepro: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("oodrepro: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
