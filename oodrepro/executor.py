"""Where the engine's units of work run: in this process (the default) or on a Dask cluster.

A *unit* is one call ``fn(*args)`` whose arguments and result can be pickled: one cell of a parameter sweep
(:mod:`oodrepro.sweep`: a page run with one set of parameters), one random split of odm's Table 4. The
client — the process that asked — gets every result back and writes the result files and the cache itself,
so workers need no shared file system; with a shared cache folder (a LocalCluster, an NFS home) workers read
and write cache hits directly.

* :func:`executor` — ``with executor(workers=N) as ex`` starts a ``LocalCluster`` on 127.0.0.1 (N worker
  processes, one thread each: BLAS and torch threads set to 1); ``scheduler="tcp://…"`` (or the environment
  variable ``OODREPRO_SCHEDULER``) attaches to a running cluster; neither runs the units in this process.
* :meth:`Executor.run` — runs units longest first (by their expected seconds, the last recorded wall time),
  with a progress bar; a unit that raises is reported with its label while the others finish
  (:class:`Outcome` holds the value or the one-line error); ``on_done(outcome)`` is called in the client as
  each unit finishes (a sweep writes that cell's result file there, so a killed run resumes without it).
  A unit whose worker dies is run again on another worker (Dask's scheduler reschedules it).

On a real cluster (SLURM, Kubernetes) start the scheduler and workers there (README: "Beyond one machine")
and pass its address.
"""
from __future__ import annotations

import contextlib
import logging
import os
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

from .errors import OodreproError

ENV = "OODREPRO_SCHEDULER"
#: thread pools a worker process sizes to its one thread (BLAS, OpenMP, torch)
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@dataclass
class Unit:
    """One call ``fn(*args)``; ``label`` names it in progress and errors; ``expected_seconds``: its last
    recorded wall time (None: unknown, run first)."""

    label: str
    fn: Callable
    args: tuple = ()
    expected_seconds: float | None = None


@dataclass
class Outcome:
    """What a unit gave: ``value``, or ``error`` (one line: exception type and message) and ``detail`` (the
    traceback); ``seconds`` of wall time on its worker."""

    label: str
    value: Any = None
    error: str | None = None
    detail: str = ""
    seconds: float = 0.0
    index: int = field(default=-1, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None


def longest_first(units: Sequence[Unit]) -> list[int]:
    """Indices of ``units`` in the order to start them: unknown durations first, then longest first."""
    return sorted(range(len(units)), key=lambda i: (units[i].expected_seconds is not None,
                                                    -(units[i].expected_seconds or 0.0), i))


def call(fn: Callable, args: tuple) -> tuple:
    """Run one unit where it lands (this process or a worker): ``(value, error, traceback, seconds)``."""
    t0 = time.perf_counter()
    try:
        return fn(*args), None, "", time.perf_counter() - t0
    except Exception as exc:  # reported with the unit's label; the other units go on
        msg = " ".join(str(exc).split()) or type(exc).__name__
        return None, f"{type(exc).__name__}: {msg}", traceback.format_exc(), time.perf_counter() - t0


class Executor:
    """Runs units one after another in this process."""

    where = "this process"

    def run(self, units: Sequence[Unit], progress: bool = True, on_done: Callable[[Outcome], None] | None = None,
            desc: str = "units") -> list[Outcome]:
        """Every unit's :class:`Outcome`, in the order of ``units``."""
        from tqdm.auto import tqdm

        out: list[Outcome | None] = [None] * len(units)
        with tqdm(total=len(units), desc=desc, disable=not progress) as bar:
            for i, value in self._results(units):
                out[i] = o = Outcome(units[i].label, *value, index=i)
                if on_done is not None:
                    on_done(o)
                bar.update(1)
                if not o.ok:
                    bar.write(f"failed: {o.label}: {o.error}")
        return out  # type: ignore[return-value]

    def _results(self, units: Sequence[Unit]) -> Iterator[tuple[int, tuple]]:
        for i in longest_first(units):
            yield i, call(units[i].fn, units[i].args)


class DaskExecutor(Executor):
    """Runs units on a Dask cluster through ``client``; results come back to this process."""

    def __init__(self, client, cluster=None):
        self.client, self.cluster = client, cluster
        self.where = f"Dask scheduler {client.scheduler.address} (dashboard {client.dashboard_link})"

    def _results(self, units: Sequence[Unit]) -> Iterator[tuple[int, tuple]]:
        from distributed import as_completed

        order = longest_first(units)
        futures = {self.client.submit(call, units[i].fn, units[i].args, pure=False, priority=len(order) - rank,
                                      key=f"oodrepro-{rank}-{time.time_ns()}"): i for rank, i in enumerate(order)}
        for fut in as_completed(list(futures)):
            yield futures[fut], fut.result()


#: Dask settings of the workers this module starts. Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536,
#: which fixes glibc's mmap threshold and makes every large NumPy / torch allocation a fresh mmap: a cell of odm's
#: smoke page took 1.7x as long in such a process (docs/lab-log.md). None: the variable is not set. The workers'
#: statistical profiler (a stack sample every 10 ms, for the dashboard's profile page) is off: it takes CPU from the
#: units. The event loop's health tick (20 ms), the system monitor (500 ms) and the worker's memory check (100 ms)
#: run less often: an idle 2-worker LocalCluster took 2.9 CPU-s in 40 s with Dask's defaults, 0.6 with these
#: (docs/lab-log.md, 2026-12-07); the memory limits are still checked every second.
#: ``dask worker`` started by hand reads the same from a YAML file in ``$DASK_CONFIG`` (:func:`dask_yaml`; README).
DASK_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
               "distributed.worker.profile.enabled": False,
               "distributed.admin.tick.interval": "1s",
               "distributed.admin.system-monitor.interval": "5s",
               "distributed.worker.memory.monitor-interval": "1s"}


def dask_yaml() -> str:
    """:data:`DASK_CONFIG` as the YAML that ``dask worker`` reads from a file in the folder ``$DASK_CONFIG``."""
    import yaml

    tree: dict = {}
    for dotted, value in DASK_CONFIG.items():
        *path, leaf = dotted.split(".")
        node = tree
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = value
    return yaml.safe_dump(tree, sort_keys=False)


def _local_cluster(workers: int, threads: int | None = None):
    import dask
    from distributed import LocalCluster

    # BLAS/OpenMP threads of each worker: one (units of work); or ``threads`` for what it starts (a notebook's
    # kernel), where the user's own setting wins
    env = ({v: "1" for v in THREAD_VARS} if threads is None else
           {v: os.environ.get(v, str(threads)) for v in THREAD_VARS})
    with dask.config.set(DASK_CONFIG):
        # every listening socket on the loopback interface (a worker's own dashboard binds 0.0.0.0 unless told).
        # Dask's own log lines up to ERROR are silenced: a unit's failure reaches the user through its future, with
        # its parameters; what Dask logs at ERROR in the worker processes here is the teardown's race — a heartbeat
        # sent as the scheduler closes — printed as a traceback on a loaded machine
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                            dashboard_address="127.0.0.1:0", worker_dashboard_address="127.0.0.1:0", scheduler_port=0,
                            env=env, silence_logs=logging.CRITICAL)


@contextlib.contextmanager
def executor(workers: int | None = None, scheduler: str | None = None, timeout: str = "20s",
             threads: int | None = None) -> Iterator[Executor]:
    """The executor for a run: a running cluster at ``scheduler`` (or ``$OODREPRO_SCHEDULER``, unless
    ``scheduler=""``; ``timeout`` to reach it), else a ``LocalCluster`` of ``workers`` processes on 127.0.0.1
    (torn down on exit; one BLAS/OpenMP thread each, or ``threads`` unless the environment sets them), else
    this process."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise OodreproError(f"--workers {workers!r} is not accepted; use a positive integer")
    scheduler = os.environ.get(ENV) if scheduler is None else scheduler  # "": never the environment's
    if not scheduler and not (workers and workers > 1):
        yield Executor()
        return
    from distributed import Client

    cluster = None
    try:
        if scheduler:
            client = Client(scheduler, timeout=timeout)
        else:
            cluster = _local_cluster(workers, threads)
            client = Client(cluster)
    except OSError as exc:
        raise OodreproError(f"cannot reach the Dask scheduler {scheduler!r} ({exc}); start it with "
                            "'dask scheduler' or drop --scheduler / $OODREPRO_SCHEDULER") from None
    try:
        yield DaskExecutor(client, cluster)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
