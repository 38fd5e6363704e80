"""``oodrepro sweep PAGE -p NAME v1,v2 …``: a grid of parameter values over one page, one unit of work per cell.

Every cell is the page's runner with one combination of the swept values (and the fixed parameters), run by
an :mod:`oodrepro.executor` — in this process, on a ``LocalCluster`` (``--workers N``) or on a running Dask
cluster (``--scheduler``). All cells are validated before any starts. The client writes each finished cell's
result file, ``<results_dir>/sweeps/<page>/cell-<key>.json`` (the key: the cell's parameters and the page's
code fingerprint), so a killed sweep resumes with the missing cells only; then one result file gathers every
cell's rows with the swept parameters as columns: ``<results_dir>/sweeps/<page>.json`` (and ``.csv``), which a
page or a notebook can read with :func:`oodrepro.results.read`. A cell that fails is reported with its
parameters; the others finish, and the gathered file lists the failures.
"""
from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

import pandas as pd

from . import config, results
from .errors import OodreproError
from .executor import Executor, Outcome, Unit


def cells(page_name: str, grid: dict[str, list], fixed: dict[str, Any], profile: str = "quick") -> list[dict]:
    """Every combination of ``grid``'s values with ``fixed``, each checked against the page's schema."""
    from .engine import page

    sch = config.schema(page.spec(page_name).schema)
    known = {p.name for p in sch.params}
    for name in [*grid, *fixed]:
        if name not in known:
            raise OodreproError(f"page {page_name!r} has no parameter {name!r}; see 'oodrepro params {page_name}'")
    for name, values in grid.items():
        if not values:
            raise OodreproError(f"sweep parameter {name!r} has no values; give them as NAME v1,v2,…")
    out = [dict(fixed, **dict(zip(grid, combo))) for combo in itertools.product(*grid.values())]
    for params in out:
        config.resolve(sch.name, profile=profile, **params)  # a bad value fails here, before any cell runs
    return out


def cell_key(page_name: str, params: dict, profile: str) -> str:
    """The key of one cell: its parameters, the profile and the page's code fingerprint."""
    from .engine.page import page_code

    text = json.dumps({"page": page_name, "profile": profile, "params": params, "code": page_code(page_name)},
                      sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_cell(page_name: str, params: dict, profile: str) -> dict:
    """One cell (runs where the executor puts it): the page's resolved parameters and its run output."""
    from .engine import page

    cfg, out, wall = page.execute(page_name, dict(params, profile=profile))
    return {"cfg": cfg, "rows": pd.DataFrame(out["rows"]), "claims": out.get("claims", []),
            "extra": out.get("extra") or {}, "wall": wall}


def _cell_doc(path: Path) -> dict | None:
    try:
        return results.read(path)
    except ValueError:
        return None


def sweep(page_name: str, grid: dict[str, list], fixed: dict | None = None, profile: str = "quick",
          results_dir: str | Path = "results", ex: Executor | None = None, progress: bool = True) -> tuple[Path, list[Outcome]]:
    """Run the grid (cells already in ``<results_dir>/sweeps/<page>/`` are kept); returns the gathered result
    file and the outcomes of the cells that ran now."""
    fixed = dict(fixed or {})
    todo = cells(page_name, grid, fixed, profile)
    folder = Path(results_dir) / "sweeps" / page_name
    paths = [folder / f"cell-{cell_key(page_name, p, profile)}.json" for p in todo]
    missing = [(p, path) for p, path in zip(todo, paths) if _cell_doc(path) is None]
    units = [Unit(", ".join(f"{k}={p[k]!r}" for k in grid), run_cell, (page_name, p, profile)) for p, _ in missing]

    def keep(o: Outcome) -> None:  # in the client, as each cell finishes
        if o.ok:
            params, path = missing[o.index]
            v = o.value
            results.write(path, page_name, v["cfg"], v["rows"], claims=v["claims"], wall_time_s=v["wall"],
                          extra={**v["extra"], "sweep": {k: params[k] for k in grid}})

    outcomes = (ex or Executor()).run(units, progress=progress, on_done=keep, desc=f"sweep {page_name}")
    return gather(page_name, grid, todo, paths, profile, Path(results_dir), outcomes), outcomes


def gather(page_name: str, grid: dict, todo: list[dict], paths: list[Path], profile: str, results_dir: Path,
           outcomes: list[Outcome]) -> Path:
    """One result file of every finished cell's rows, the swept parameters as columns."""
    frames, claims, wall = [], [], 0.0
    for params, path in zip(todo, paths):
        doc = _cell_doc(path)
        if doc is None:
            continue
        swept = {k: params[k] for k in grid}
        frames.append(pd.DataFrame(doc["rows"]).assign(**{k: repr(v) if isinstance(v, (list, dict)) else v
                                                           for k, v in swept.items()}))
        claims += [dict(c, sweep=swept) for c in doc.get("claims", [])]
        wall += doc["meta"].get("wall_time_s") or 0.0
    failed = [{"cell": o.label, "error": o.error} for o in outcomes if not o.ok]
    out = results_dir / "sweeps" / f"{page_name}.json"
    results.write(out, page_name, {"profile": profile, "grid": grid, "fixed": {k: v for k, v in todo[0].items()
                                                                              if k not in grid} if todo else {}},
                  pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(), claims=claims,
                  wall_time_s=wall, extra={"grid": grid, "n_cells": len(todo), "failed": failed})
    return out
