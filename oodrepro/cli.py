"""Command line: ``oodrepro run``, ``oodrepro sweep``, ``oodrepro cache info|clear``, ``oodrepro params``.

``oodrepro run knn_ls/table1 -p k 3`` validates the parameters against the notebook's schema *before*
starting a kernel (a bad value ends in one line naming the parameter and what is accepted), executes
``notebooks/knn_ls/table1.ipynb`` with papermill and writes the executed copy to
``book/generated/knn_ls/table1.ipynb``.

A run's outputs move together, and only on success: the executed page is written beside its final
place under a temporary name, and every file the notebook writes through :mod:`oodrepro.results`
(result JSON/CSV, figures) goes to a staging folder inside the results folder. When the last cell has
run, the staged files are moved into place and then the page; when a cell fails, the staging folder is
deleted and the page, result files and figures stay those of the last successful run (the failed page
is kept as ``*.failed.ipynb`` for reading). The page records a digest of each result file it was built
with, so a result file changed behind its back makes the page out of date.

Before a kernel starts, the cache folder, the results folder and the output folder are checked to be
writable, and nothing is written outside them (``..``, absolute paths and symlinks are resolved first).
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from . import cache, config, provenance, results
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


def read_notebook(path: Path) -> dict:
    """The notebook ``path`` as JSON; a half-saved or damaged one raises one line naming the file."""
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise OodreproError(f"notebook {path} is not valid JSON (line {exc.lineno}: {exc.msg}); "
                            "was it saved half-way? Restore it (git checkout) or save it again") from None
    except UnicodeDecodeError:
        raise OodreproError(f"notebook {path} is not UTF-8 text; restore it (git checkout)") from None
    except OSError as exc:
        raise OodreproError(f"notebook {path} is not readable ({exc.strerror or exc})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells", []), list) or not isinstance(nb.get("metadata", {}), dict):
        raise OodreproError(f"notebook {path} is not a Jupyter notebook (expected an object with 'cells' and 'metadata')")
    return nb


def notebook_meta(path: Path) -> dict:
    meta = read_notebook(path).get("metadata", {}).get("oodrepro", {})
    return meta if isinstance(meta, dict) else {}


def page_name(nb) -> str:
    """The page a notebook is (``notebooks/kpca/main.ipynb`` → ``kpca/main``): the name archives, results and page
    specs use."""
    return f"{Path(nb).parent.name}/{Path(nb).stem}"


def schema_of(nb: Path) -> str | None:
    """The parameter schema of notebook ``nb``: the schema of its page (``notebooks/<chapter>/<page>.ipynb`` is
    page ``<chapter>/<page>``, :class:`oodrepro.engine.page.PageSpec`), None for a notebook that is no page."""
    from .engine import page

    try:
        return page.spec(page_name(nb)).schema
    except OodreproError:
        return None


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

    cells = read_notebook(nb).get("cells", [])
    for c in cells:
        if "parameters" in c.get("metadata", {}).get("tags", []):
            src = c.get("source", "")
            try:
                tree = ast.parse(src if isinstance(src, str) else "".join(src))
            except SyntaxError as exc:
                raise OodreproError(f"notebook {nb}: the parameters cell is not valid Python (line {exc.lineno}: "
                                    f"{exc.msg})") from None
            return {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
                    if isinstance(t, ast.Name)}
    return set()


def validate(nb: Path, params: dict) -> dict:
    """Check ``params`` against the notebook's schema; returns the resolved configuration ({} without schema)."""
    schema = schema_of(nb)
    if schema:
        profile = params.get("profile", "quick")
        others = {k: v for k, v in params.items() if k != "profile"}
        return config.resolve(schema, profile=profile, **others)
    return {}


def results_root(nb: Path, params: dict) -> Path:
    """The results folder a run of ``nb`` with ``params`` writes to (its ``results_dir``, default ``results``)."""
    cfg = validate(nb, params)
    return Path(str(cfg.get("results_dir") or params.get("results_dir") or "results"))


writable_dir = results.writable_dir


def check_results_tree(res_root: Path, chapter: Path) -> None:
    """Every folder a run may move result files into — the results folder's chapter sub-folder and every
    sub-folder already there — is writable and on the results folder's device (staged files are moved with
    ``os.replace``, which cannot cross devices), checked before a kernel starts, not after the computation."""
    base = res_root.resolve()
    dev = base.stat().st_dev
    folders = [res_root / chapter] if str(chapter) not in ("", ".") else []
    for dirpath, dirnames, _ in os.walk(res_root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        folders += [Path(dirpath) / d for d in dirnames]
    for f in dict.fromkeys(folders):
        if f.exists() or f.is_symlink():
            real = inside(f, res_root, "results sub-folder")
            if real.is_dir() and real.stat().st_dev != dev:
                raise OodreproError(f"results sub-folder {f} is on another device than the results folder {res_root}; "
                                    "result files are moved there atomically, which cannot cross devices")
            if real.is_dir() and not os.access(real, os.W_OK | os.X_OK):
                raise OodreproError(f"results sub-folder {f} is not writable; nothing was computed")


def clean_stale_runs(*folders: Path) -> None:
    """Remove working files (``.<page>.running-<pid>-*.ipynb``) and staging folders (``.staging-<pid>-*``) that
    a killed run left, whose process is gone; those of a run still going are kept."""
    for folder in folders:
        if not Path(folder).is_dir():
            continue
        for p in list(Path(folder).glob(".*.running-*-*.ipynb")) + list(Path(folder).glob(f"{results.STAGE_PREFIX}*")):
            parts = p.name.rsplit(".running-", 1)[-1] if ".running-" in p.name else p.name[len(results.STAGE_PREFIX):]
            try:
                pid = int(parts.split("-")[0])
            except ValueError:
                continue
            if cache.pid_alive(pid) or p.is_symlink():
                continue
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)


def inside(path: Path, base: Path, what: str) -> Path:
    """``path`` with symlinks and ``..`` resolved, which must lie inside ``base`` (also resolved)."""
    rp, rb = Path(path).resolve(), Path(base).resolve()
    if not rp.is_relative_to(rb) or rp == rb:
        raise OodreproError(f"{what} {path} resolves to {rp}, outside {rb}; nothing written")
    return rp


def package_digest() -> str:
    """SHA-1 over the package's source and data files: a change to any of them invalidates run keys."""
    h = hashlib.sha1()
    base = Path(__file__).resolve().parent
    for f in sorted(base.rglob("*")):
        if f.suffix in (".py", ".csv", ".json") and "__pycache__" not in f.parts:
            h.update(str(f.relative_to(base)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


@functools.lru_cache(maxsize=8)
def _data_fingerprint(root: str) -> str:
    from .data.files import tree_fingerprint

    return tree_fingerprint(Path(root)) if root and Path(root).is_dir() else ""


def run_key(nb: Path, params: dict) -> str:
    """Identifies an execution: notebook source, parameters, package source, data root and what it holds.

    The data root's files count (paths, sizes, times): data added after a run whose rows said
    "needs data" makes the page out of date.
    """
    h = hashlib.sha1()
    h.update(nb.read_bytes())
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    h.update(package_digest().encode())
    root = str(params.get("data_root") or os.environ.get("OODREPRO_DATA_ROOT", ""))
    h.update(root.encode())
    h.update(_data_fingerprint(root).encode())
    return h.hexdigest()


def _digest(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha1").hexdigest()


def up_to_date(out: Path, key: str) -> bool:
    """The page ``out`` came from run ``key`` and every result file it recorded is still the one it read."""
    try:
        meta = json.loads(out.read_text())["metadata"]["oodrepro"]
        if meta["run_key"] != key:
            return False
        return all(_digest(Path(f)) == d for f, d in meta.get("outputs", {}).items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


@contextlib.contextmanager
def _env(**values):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update({k: str(v) for k, v in values.items()})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _kernel_config():
    """Run the kernel over IPC (Unix sockets in a private temporary folder) instead of TCP on localhost:
    ipykernel then has no reason to print "Kernel is running over TCP without encryption"."""
    from traitlets.config import Config

    if os.name != "posix":
        return None, None
    tmp = tempfile.mkdtemp(prefix="oodrepro-kernel-")
    c = Config()
    c.KernelManager.transport = "ipc"
    c.KernelManager.ip = os.path.join(tmp, "k")
    return c, tmp


def _promote(stage: Path, root: Path) -> dict:
    """Move every staged file to its place under ``root``; returns {final path: sha1}."""
    moved = {}
    if not stage.is_dir():
        return moved
    for f in sorted(stage.rglob("*")):
        if f.is_symlink() or not f.is_file():
            continue
        dest = root / f.relative_to(stage)
        inside(dest, root, "result file")  # no symlinked sub-folder leading outside, before mkdir
        dest.parent.mkdir(parents=True, exist_ok=True)
        moved[str(dest.resolve())] = _digest(f)
        os.replace(f, dest)
    return moved


WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _without_widgets(nb: dict) -> dict:
    """The executed notebook without ipywidgets outputs (tqdm's notebook bars) and their stored state.

    The book is static HTML: a widget view needs the widget manager's JavaScript, which myst-nb would load
    from a CDN (require.js, @jupyter-widgets/html-manager) on every page that has one, and the bars show
    nothing a reader needs once the run is over. Other outputs are kept as they are."""
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb.get("cells", []):
        if "outputs" in cell:
            cell["outputs"] = [o for o in cell["outputs"] if WIDGET_MIME not in o.get("data", {})]
    return nb


def _check_outputs(out: Path, out_dir: Path, res_root: Path, rel: Path) -> None:
    """Every output location checked before a kernel starts: inside the folders given, writable, one device;
    the cache writable (a read-only but existing one is read, with one warning line)."""
    inside(out, out_dir, "executed notebook")  # before anything is created or written
    writable_dir(out.parent, "output folder")
    writable_dir(res_root, "results folder")
    check_results_tree(res_root, rel.parent)
    try:
        cache.ensure_writable()
    except OodreproError as exc:
        base = cache.root()
        if not (base.is_dir() and (base / "CACHEDIR.TAG").is_file()):
            raise
        # a read-only but existing cache (a shared, complete one): read what is there; a computation that
        # must store a new entry still fails in one line before it starts (oodrepro.cache.cached)
        print(f"oodrepro: warning: {exc}; reading the entries present, a missing one will fail", file=sys.stderr,
              flush=True)


def _record(tmp: Path, stage: Path, res_root: Path, key: str) -> None:
    """Write the run key and the digests of the staged result files into the executed copy, then promote them."""
    done = _without_widgets(json.loads(tmp.read_text()))
    outputs = {}
    for f in sorted(stage.rglob("*")) if stage.is_dir() else []:
        if f.is_file():
            final = inside(res_root / f.relative_to(stage), res_root, "result file")
            shown = final.relative_to(Path.cwd().resolve()) if final.is_relative_to(Path.cwd().resolve()) else final
            outputs[str(shown)] = _digest(f)
    done.setdefault("metadata", {}).setdefault("oodrepro", {}).update(run_key=key, outputs=outputs)
    tmp.write_text(json.dumps(done, indent=1, ensure_ascii=False))
    _promote(stage, res_root.resolve())


KEPT = "the page and result files of the last successful run are unchanged"


def _failure(nb: Path, exc: BaseException, tmp: Path, out: Path) -> BaseException:
    """What a failed execution raises: one line for a failing cell (the executed copy kept as ``*.failed``),
    a dead kernel, a timeout or an OS error; the exception itself otherwise. The working copy is removed."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        failed = out.with_name(f"{out.stem}.failed.ipynb")
        os.replace(tmp, failed)
        evalue = (str(exc.evalue).strip().splitlines() or [""])[0]
        return OodreproError(f"{nb} failed in cell {exc.exec_count}: {exc.ename}: {evalue} "
                             f"(executed copy: {failed}; {KEPT})")
    tmp.unlink(missing_ok=True)
    if isinstance(exc, (OodreproError, KeyboardInterrupt)) or not isinstance(exc, Exception):
        return exc
    if isinstance(exc, OSError):
        return OodreproError(f"{nb}: {_os_error(exc)}; {KEPT}")
    if type(exc).__name__ in ("DeadKernelError", "CellTimeoutError"):
        what = "the kernel died (killed, or out of memory)" if type(exc).__name__ == "DeadKernelError" \
            else "a cell timed out"
        return OodreproError(f"{nb}: {what}; {KEPT}")
    return exc


def execute(nb: Path, params: dict, out_dir: Path = OUT, progress: bool = False, force: bool = False) -> Path | None:
    """Execute ``nb`` with papermill into ``out_dir``; returns None when the executed copy is up to date.

    All outputs are staged and promoted together on success (see the module docstring).
    """
    import papermill as pm

    nb_abs, nbs_abs = nb.resolve(), NOTEBOOKS.resolve()
    rel = nb_abs.relative_to(nbs_abs) if nb_abs.is_relative_to(nbs_abs) else Path(nb.name)
    out_dir = Path(out_dir)
    out = out_dir / rel
    key = run_key(nb, params)
    if not force and not notebook_meta(nb).get("always_run") and up_to_date(out, key):
        return None
    res_root = results_root(nb, params)
    _check_outputs(out, out_dir, res_root, rel)
    clean_stale_runs(out.parent, res_root)
    # this run's own working file: two runs of one page never share one, a killed run's is found by its pid
    tmp = out.with_name(f".{out.stem}.running-{os.getpid()}-{uuid.uuid4().hex[:6]}.ipynb")
    stage = res_root / f"{results.STAGE_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    kconf, ktmp = _kernel_config()
    extra = {"config": kconf} if kconf is not None else {}
    try:
        with _env(**{results.STAGE_ENV: stage.resolve(), results.ROOT_ENV: res_root.resolve(),
                     cache.ENV: cache.root().resolve()}):
            pm.execute_notebook(str(nb), str(tmp), parameters=params, kernel_name="python3", progress_bar=progress,
                                cwd=os.getcwd(), log_output=False, **extra)
        _record(tmp, stage, res_root, key)
    except BaseException as exc:  # one line where the user can act; the exception itself otherwise
        err = _failure(nb, exc, tmp, out)
        if err is exc:
            raise
        raise err from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if ktmp:
            shutil.rmtree(ktmp, ignore_errors=True)
    try:
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OodreproError(f"{nb}: {_os_error(exc)}") from None
    out.with_name(f"{out.stem}.failed.ipynb").unlink(missing_ok=True)  # a stale failed copy
    return out


def _os_error(exc: OSError) -> str:
    """One line for an OSError, naming the folder of the file it concerns (a full disk: which one)."""
    import errno

    f = Path(exc.filename) if exc.filename else None
    where = f" in {f.parent}" if f is not None else ""
    if exc.errno == errno.ENOSPC:
        return f"no space left on the device{where} (writing {f.name if f else '?'}); free space there"
    if exc.errno == errno.EDQUOT:
        return f"disk quota exceeded{where}"
    return f"{exc.strerror or type(exc).__name__}{': ' + str(f) if f else ''}"


def cmd_run(args) -> int:
    # the kernels record the command in their result files' provenance (oodrepro.results.write)
    os.environ["OODREPRO_COMMAND"] = "oodrepro " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    params = {k: _resolve_type(v) for k, v in (args.parameter or [])}
    jobs = parse_jobs(args.jobs)
    if args.profile:
        params["profile"] = args.profile
    targets = discover() if args.all else [_find(n) for n in args.notebooks]
    if not targets:
        raise OodreproError("name a notebook (e.g. knn_ls/table1) or pass --all")
    per_nb = {}
    for nb in targets:  # validate everything first: fail in a second, not after an hour
        declared = notebook_params(nb)
        mine = {k: v for k, v in params.items() if k in declared}
        if args.as_archived:
            mine = {**archived_params(nb, declared), **mine}
        if args.all and "profile" in mine:
            mine["profile"] = profile_or_quick(nb, mine["profile"])
        validate(nb, mine)
        per_nb[nb] = mine
    unused = [k for k in params if not any(k in p for p in per_nb.values())]
    if unused:
        raise OodreproError(f"parameter(s) {', '.join(map(repr, unused))} not declared by "
                            f"{', '.join(str(t) for t in targets)}; see 'oodrepro params NOTEBOOK'")
    last = [nb for nb in per_nb if notebook_meta(nb).get("runs_last")]
    first = sorted((nb for nb in per_nb if nb not in last), key=lambda nb: -last_wall_time(nb))  # longest first
    with cluster_for_kernels(args):
        if jobs > 1 and len(first) > 1:
            _run_parallel(first, per_nb, jobs, args)
        else:
            for nb in first:
                print(_run_one(nb, per_nb[nb], args.out, args.progress, args.force), flush=True)
        for nb in last:  # the scorecard reads what every other page wrote
            print(_run_one(nb, per_nb[nb], args.out, args.progress, args.force), flush=True)
    return 0


# a run's own bookkeeping, not what it computes: never taken from an archive
_NOT_ARCHIVED = {"profile", "results_dir", "data_root"}


def archived_params(nb: Path, declared: set) -> dict:
    """The parameters the archived paper-profile run of ``nb`` used (``run --as-archived``; ``make book
    PROFILE=paper``): its result file's ``meta.params`` but the profile, results folder and data root, only those the
    notebook still declares, with ``profile = "paper"``; ``{}`` for a page without an archive. A rerun with them reads
    the stored networks the archived run trained, and its numbers can be set beside the archive's."""
    from . import archive

    got = archive.load(page_name(nb))
    if got is None:
        return {}
    ran = got["doc"].get("meta", {}).get("params", {})
    return {"profile": "paper", **{k: v for k, v in ran.items() if k in declared and k not in _NOT_ARCHIVED}}


def profile_or_quick(nb: Path, profile: str) -> str:
    """``profile`` when the notebook's schema has it, else ``"quick"`` with a line saying so: ``run --all
    --profile paper`` (``make book PROFILE=paper``) runs a page that has no paper profile (a chapter added
    without one) on its quick one instead of refusing the whole book. A notebook named alone is refused instead."""
    name = schema_of(nb)
    if name is None or profile in config.schema(name).profiles:
        return profile
    print(f"{page_name(nb)} has no {profile!r} profile (it has {', '.join(config.schema(name).profiles)}): "
          "runs 'quick'", flush=True)
    return "quick"


def last_wall_time(nb: Path) -> float:
    """The wall time of the page's last run (its result file under ``results/``), 0 when none."""
    try:
        return float(results.read(Path("results") / f"{page_name(nb)}.json")["meta"]["wall_time_s"] or 0)
    except (ValueError, KeyError, TypeError, OSError):
        return 0.0


@contextlib.contextmanager
def cluster_for_kernels(args):
    """With ``--workers N`` or ``--scheduler``: a Dask cluster whose address the kernels find in
    ``$OODREPRO_SCHEDULER``, so a page's units of work (odm's splits) run on it; else nothing."""
    from . import executor

    workers = parse_workers(getattr(args, "workers", None))
    scheduler = getattr(args, "scheduler", None)
    if not (scheduler or (workers and workers > 1)):
        yield
        return
    with executor.executor(workers, scheduler) as ex, _env(**{executor.ENV: ex.client.scheduler.address}):
        print(f"units of work inside the pages run on {ex.where}", flush=True)
        yield


#: environment variables that size the BLAS / OpenMP / torch thread pools of a kernel
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _positive_int(value, flag: str, also: str = "") -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if n < 1:
        raise OodreproError(f"{flag} {value!r} is not accepted; use a positive integer{also}")
    return n


def parse_jobs(value) -> int:
    """``--jobs``: a positive integer, or ``auto`` = the CPU count (at most 4)."""
    if str(value) == "auto":
        return max(1, min(4, os.cpu_count() or 1))
    return _positive_int(value, "--jobs", " or 'auto'")


def _run_one(nb: Path, params: dict, out_dir, progress: bool, force: bool) -> str:
    t0 = time.perf_counter()
    out = execute(nb, params, Path(out_dir), progress=progress, force=force)
    if out is None:
        return f"{nb}: up to date (same notebook, parameters and package; --force re-executes)"
    return f"{nb} {params or ''} -> {out} ({time.perf_counter() - t0:.1f} s)"


def _run_parallel(nbs: list, per_nb: dict, jobs: int, args) -> None:
    """Execute ``nbs`` ``jobs`` at a time, each a unit of work of :mod:`oodrepro.executor` on a ``LocalCluster``
    of ``jobs`` worker processes (so each kernel gets its own staging folder and environment) with
    ``cpu_count // jobs`` BLAS/OpenMP threads, which the kernels inherit; the longest page (its last recorded
    wall time) starts first. Two pages that need the same cache entry do not compute it twice
    (:func:`oodrepro.cache.computing`). A notebook that fails is reported while the others finish."""
    from . import executor

    threads = max(1, (os.cpu_count() or 1) // jobs)
    print(f"running {len(nbs)} notebooks, {jobs} at a time ({threads} BLAS/OpenMP thread(s) each)", flush=True)
    units = [executor.Unit(page_name(nb), _run_one, (nb, per_nb[nb], args.out, args.progress,
                                                                     args.force), last_wall_time(nb) or None)
             for nb in nbs]

    def done(o) -> None:
        if o.ok:
            print(o.value, flush=True)

    # a cluster of its own: $OODREPRO_SCHEDULER (--workers, --scheduler) is the kernels' one, for their units
    with executor.executor(workers=jobs, scheduler="", threads=threads) as ex:
        outcomes = ex.run(units, progress=False, on_done=done, desc="notebooks")
    errors = [o.error.split(": ", 1)[1] if o.error.startswith("OodreproError: ") else f"{o.label}: {o.error}"
              for o in outcomes if not o.ok]
    if errors:
        raise OodreproError("\n".join(errors))


def parse_workers(value) -> int | None:
    """``--workers``: a positive integer (None when not given)."""
    return None if value is None else _positive_int(value, "--workers")


def cmd_sweep(args) -> int:
    """A grid of parameter values over one page (:mod:`oodrepro.sweep`), each cell a unit of work."""
    from . import executor, sweep

    os.environ["OODREPRO_COMMAND"] = "oodrepro " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    grid = {name: [_resolve_type(v) for v in values.split(",") if v != ""] for name, values in args.parameter or []}
    if not grid:
        raise OodreproError("name at least one parameter to sweep: -p NAME v1,v2,…")
    fixed = {k: _resolve_type(v) for k, v in args.set or []}
    writable_dir(Path(args.results_dir) / "sweeps", "sweep results")
    with executor.executor(parse_workers(args.workers), args.scheduler) as ex:
        print(f"sweep {args.page}: {', '.join(f'{k} in {v}' for k, v in grid.items())} on {ex.where}", flush=True)
        out, outcomes = sweep.sweep(args.page, grid, fixed, args.profile or "quick", args.results_dir, ex,
                                    progress=not args.quiet)
    failed = [o for o in outcomes if not o.ok]
    print(f"{len(outcomes) - len(failed)} cell(s) ran, {len(failed)} failed; all cells gathered in {out}", flush=True)
    for o in failed:
        print(f"  failed: {o.label}: {o.error}", file=sys.stderr)
    return 1 if failed else 0


def cmd_cache(args) -> int:
    if args.action == "info":
        inf = cache.info()
        print(f"cache root: {inf['root']}  (from {cache.root_source()})")
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


def cmd_checkpoints(args) -> int:
    """``list``: one line per stored network; ``verify``: check every file's sha256 (exit 1 on a problem)."""
    from . import checkpoints

    base = checkpoints.folder()
    nets = checkpoints.manifest(base)["networks"]
    if args.action == "list":
        print(f"stored networks: {base}  ({len(nets)}, {sum(e.get('bytes', 0) for e in nets.values()) / 1e6:.1f} MB)")
        for key, e in sorted(nets.items(), key=lambda kv: kv[1].get("file", "")):
            d, acc = e.get("definition", {}), e.get("accuracy")
            print(f"  {e.get('file', '?'):48s} {d.get('arch', '?'):10s} recipe {d.get('recipe', {}).get('name', '?'):16s} "
                  f"seed {d.get('seed', '?')}  {e.get('train_seconds', '?')} s  accuracy {acc if acc is not None else '-'}")
        return 0
    problems = checkpoints.verify(base)
    for line in problems:
        print(f"  {line}")
    print(f"{len(nets)} stored networks in {base}: " + ("all intact" if not problems else f"{len(problems)} problem(s)"))
    return 1 if problems else 0


def cmd_archive(args) -> int:
    """``add PAGE``: archive the paper-profile result file of PAGE (from ``--results-dir``) with its provenance;
    ``check``: list stale and tampered archives (exit 1 when one is tampered); ``list``."""
    from . import archive

    if args.action == "add":
        if not args.page:
            raise OodreproError("'oodrepro archive add' needs a page, e.g. kpca/main")
        _find(args.page)  # an unknown page: one line naming the known ones, before looking for its result file
        src = Path(args.results_dir) / f"{args.page}.json"
        if not src.is_file():
            raise OodreproError(f"no result file {src}; run 'oodrepro run {args.page} --profile paper' first "
                                "(or pass --results-dir)")
        from .engine.page import page_code

        # with --cost-of, a network stored after the earlier run began was trained in it (or read from its cache)
        # and the networks it read count too: a run from its cache may load fewer of them (only what a missing
        # cache entry needs)
        earlier = _read_or_none(Path(args.cost_of)) if args.cost_of else None
        also = set((earlier or {}).get("networks") or ())
        for f in args.networks_of:
            other = _read_or_none(Path(f))
            if other is None:
                raise OodreproError(f"--networks-of {f}: not a readable result file")
            also |= set(other.get("networks") or ())
        prov = archive_provenance(src, since=_run_start(Path(args.cost_of)) if args.cost_of else None,
                                  also_read=sorted(also))
        if args.cost_of:
            prov = with_cost_of(prov, src, Path(args.cost_of))
        entry = archive.add(args.page, src, prov, page_code(args.page))
        print(f"archived {args.page}: {entry['files']['result.json'][:12]}… ({entry.get('wall_seconds', 0):.0f} s wall, "
              f"{len(entry.get('networks', []))} stored networks, {len(entry.get('data', {}))} data files)")
        return 0
    if args.action == "list":
        for page in archive.pages():
            e = archive.manifest()["pages"][page]
            print(f"  {page:22s} archived {e.get('archived', '?')}  commit {e.get('commit', '?')}  {e.get('command', '')}")
        return 0
    from .engine.page import page_code

    problems = archive.check(code_of=page_code)
    for page, why in problems:
        print(f"  {page}: {why}")
    n = len(archive.pages())
    print(f"{n} archived pages: " + ("all current and intact" if not problems else f"{len(problems)} with a problem"))
    return 1 if any(why.startswith("tampered") for _, why in problems) else 0


def _run_start(result_path: Path) -> float:
    """When the run that wrote a result file began (seconds since the epoch); +inf for no readable file."""
    try:
        meta = results.read(result_path)["meta"]
    except (OSError, ValueError, KeyError):
        return float("inf")
    return _when(meta.get("created")) - float(meta.get("wall_time_s") or 0.0)


def _read_or_none(path: Path) -> dict | None:
    from . import results

    try:
        return results.read(path)
    except (ValueError, OSError):
        return None  # with_cost_of says why, in one line


def archive_provenance(result_path: Path, since: float | None = None, also_read=()) -> dict:
    """What ``archive add`` records beside a result file: command, commit, machine, wall and CPU time (the
    stored networks' training included), the stored networks the run read and the data files with sha256.

    A stored network's training CPU is added when it was stored before the run began (``since``: before that
    time instead — the start of an earlier run whose cost is added, which trained the networks it stored).
    ``also_read``: stored networks that earlier run read (they count as this run's)."""
    from . import checkpoints, data, results

    doc = results.read(result_path)
    meta, cfg = doc["meta"], doc["meta"]["params"]
    stored, read = checkpoints.manifest()["networks"], doc.get("networks")
    if read is not None or also_read:  # the page (or the earlier run of --cost-of) listed the stored networks it read
        nets = {k: e for k, e in stored.items() if e["file"] in set(read or ()) | set(also_read)}
    else:  # else every stored network of the run's architecture, recipe and seeds
        nets = {k: e for k, e in stored.items()
                if e["definition"].get("arch") == cfg.get("arch") and cfg.get("recipe")
                and e["definition"].get("recipe", {}).get("name") == cfg.get("recipe")
                and e["definition"].get("seed") in (cfg.get("seeds") or [])}
    used = provenance.data_used(doc)
    # the data root the run read (its parameter, else $OODREPRO_DATA_ROOT then, recorded in the result file): the
    # environment of the shell that archives it may not set one
    where = cfg.get("data_root") or meta.get("data_root")
    files, root = {}, data.data_root(where)
    for name in used["data_root"] + used["embedded"]:
        for f in data.source_files(name, where):
            files[str(f.relative_to(root))] = checkpoints.sha256(f)
    # a network stored before the run began was trained outside it (a script, an earlier run): its training CPU
    # is added; one the run stored itself was trained in it (or in the run whose cache it read: --cost-of)
    start = min(_run_start(result_path), since if since is not None else float("inf"))
    cpu = (meta.get("cpu_seconds") or 0.0) + sum(float(e.get("train_seconds") or 0) for e in nets.values()
                                                 if _when(e.get("created")) < start)
    return {"command": meta.get("command") or "?", "commit": meta.get("git_commit"), "machine": checkpoints.machine(),
            "wall_seconds": meta.get("wall_time_s"), "cpu_seconds": round(cpu, 1),
            "networks": sorted(e["file"] for e in nets.values()), "data": files}


def _when(stamp: str | None) -> float:
    """Seconds since the epoch of a result file's or a stored network's ``created`` stamp (UTC; +inf if none)."""
    from datetime import datetime, timezone

    if not stamp:
        return float("inf")
    t = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).timestamp()


#: Parameters that may differ between a run and the earlier run whose cost it carries (``archive add --cost-of``).
_COST_FREE = ("results_dir",)


def with_cost_of(prov: dict, src: Path, earlier: Path) -> dict:
    """``prov`` with the wall and CPU time of ``earlier`` added: a run that read its networks and scores from the
    cache an earlier run of the same page and parameters filled (after a change of the page's text only) costs what
    both did. The earlier run's command, commit and times are kept as ``cost_from``."""
    from . import results

    if not earlier.is_file():
        raise OodreproError(f"--cost-of {earlier}: no such result file")
    now, then = results.read(src), results.read(earlier)
    strip = (lambda d: {k: v for k, v in d["meta"]["params"].items() if k not in _COST_FREE})
    a, b = strip(then), strip(now)
    b = {k: v for k, v in b.items() if k in a or v != _profile_default(now, k)}  # a parameter added since, at its default
    if then.get("notebook") != now.get("notebook") or a != b:
        raise OodreproError(f"--cost-of {earlier}: not a run of {now.get('notebook')!r} with the same parameters; "
                            "its cost would not be this run's")
    m = then["meta"]
    extra = {"wall_seconds": m.get("wall_time_s") or 0.0, "cpu_seconds": m.get("cpu_seconds") or 0.0}
    out = dict(prov, wall_seconds=(prov.get("wall_seconds") or 0.0) + extra["wall_seconds"],
               cpu_seconds=round((prov.get("cpu_seconds") or 0.0) + extra["cpu_seconds"], 1))
    out["cost_from"] = {"result": str(earlier), "command": m.get("command"), "commit": m.get("git_commit"), **extra}
    return out


def _profile_default(doc: dict, name: str):
    """The default of parameter ``name`` on the profile a result file ran (a sentinel when it has none)."""
    try:
        from .engine import page

        sch = config.schema(page.spec(doc.get("notebook", "")).schema)
        return sch.profiles[doc["meta"]["params"].get("profile", "quick")].get(name, _NO_DEFAULT)
    except (OodreproError, KeyError):
        return _NO_DEFAULT


_NO_DEFAULT = object()


def cmd_params(args) -> int:
    nb = _find(args.notebook)
    read_notebook(nb)  # a broken notebook is one line naming it
    schema = schema_of(nb)
    if not schema:
        print(f"{nb} declares no parameter schema")
        return 0
    sch = config.schema(schema)
    print(f"{nb}  (schema {schema}; profiles: {', '.join(sch.profiles)})")
    for p in sch.params:
        defaults = ", ".join(f"{prof}={sch.profiles[prof].get(p.name)!r}" for prof in sch.profiles)
        print(f"  {p.name:12s} {p.doc}\n  {'':12s} accepted: {p.accepted()}; {defaults}")
    return 0


def _parser() -> argparse.ArgumentParser:
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
    r.add_argument("-j", "--jobs", default="1", metavar="N",
                   help="execute N notebooks at a time on a LocalCluster of N Dask workers, longest first, each "
                        "kernel with cpu_count/N BLAS threads; 'auto' = the CPU count, at most 4 (default 1; the "
                        "scorecard always runs last, alone)")
    r.add_argument("--workers", metavar="N", help="start a LocalCluster of N worker processes on 127.0.0.1 for the "
                   "pages' units of work (odm's splits)")
    r.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler for the pages' units of work "
                   "(default $OODREPRO_SCHEDULER)")
    r.add_argument("--as-archived", action="store_true",
                   help="a page with an archive runs the paper profile with the parameters of its archived run "
                        "(-p given here wins): it reads the stored networks that run trained (make book PROFILE=paper)")
    r.set_defaults(fn=cmd_run)
    w = sub.add_parser("sweep", help="a grid of parameter values over one page, each cell a unit of work "
                                     "(in this process, on --workers N local processes or a Dask --scheduler)")
    w.add_argument("page", help="e.g. kpca/sensitivity")
    w.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "V1,V2"),
                   help="a swept parameter and its values, comma-separated (repeat for a grid)")
    w.add_argument("--set", nargs=2, action="append", metavar=("NAME", "VALUE"), help="a parameter fixed for every cell")
    w.add_argument("--profile", choices=config.PROFILES)
    w.add_argument("--results-dir", default="results", help="cells go to RESULTS_DIR/sweeps/PAGE/ (default results)")
    w.add_argument("--workers", metavar="N", help="start a LocalCluster of N worker processes on 127.0.0.1")
    w.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler (default $OODREPRO_SCHEDULER)")
    w.add_argument("--quiet", action="store_true", help="no progress bar")
    w.set_defaults(fn=cmd_sweep)
    c = sub.add_parser("cache", help="inspect or empty the cache")
    c.add_argument("action", choices=("info", "clear"))
    c.add_argument("--kind", help="only this kind (model, embedding, images, staged, …)")
    c.set_defaults(fn=cmd_cache)
    k = sub.add_parser("checkpoints", help="list or verify the stored networks (checkpoints/manifest.json)")
    k.add_argument("action", choices=("list", "verify"))
    k.set_defaults(fn=cmd_checkpoints)
    a = sub.add_parser("archive", help="archive a paper-profile run, or check / list the archive")
    a.add_argument("action", choices=("add", "check", "list"))
    a.add_argument("page", nargs="?", help="the page to archive (add), e.g. kpca/main")
    a.add_argument("--results-dir", default="results", help="where the run wrote its result files (default results)")
    a.add_argument("--cost-of", metavar="RESULT", help="add the wall and CPU time of this earlier run of the page "
                   "with the same parameters, whose cache this run read (add)")
    a.add_argument("--networks-of", metavar="RESULT", action="append", default=[],
                   help="count the stored networks this earlier run read as this run's, adding no time: a run "
                   "from another run's cache (of this page, or of a page sharing its networks, such as kpca's) loads "
                   "fewer of them (add; may be repeated)")
    a.set_defaults(fn=cmd_archive)
    p = sub.add_parser("params", help="list a notebook's parameters, what is accepted and the profile defaults")
    p.add_argument("notebook")
    p.set_defaults(fn=cmd_params)
    return ap


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        rc = args.fn(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at interpreter exit
        return rc
    except OodreproError as exc:
        print(f"oodrepro: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("oodrepro: interrupted; outputs of the last successful run are unchanged", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `oodrepro params kpca/main | head -1`: the reader left; exit quietly
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a closed pipe
    except OSError as exc:  # a full or unwritable disk outside the paths checked up front
        print(f"oodrepro: error: {_os_error(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
