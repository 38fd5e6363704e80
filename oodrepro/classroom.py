"""What the classroom assignments (``assignments/``) call to put a student's score function into the
book's pipeline: the package's data (embedded ``mnist5k`` by default), the knn-ls chapter's trained
classifier (cached like every model of the book), its embeddings, and :func:`oodrepro.metrics.auroc`.

:func:`compare_on_pipeline` fits the package's reference detector and the student's function on the *same*
embeddings and reports both AUROCs side by side, with the largest score difference, so a student sees
whether their implementation reproduces the reference, not only whether it detects something.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd

from . import metrics
from .engine import contexts
from .errors import ParameterError

#: The assignments' default run: knn-ls's smoke profile (one seed, 2 epochs, 1,000 training images).
DEFAULTS = {"pairings": ["mnist5k->hflip", "mnist5k->vflip"], "seed": 0, "epochs": 2, "max_train": 1000}


def pipeline_config(pairings: Sequence[str], seed: int, epochs: int, max_train: int) -> dict:
    """knn-ls's smoke configuration with the given pairings, seed, epochs and training-set cap (checked by
    the chapter's schema, so a bad value gets the book's one-line message)."""
    from . import config

    over = {"pairings": list(pairings), "seeds": [int(seed)], "epochs": int(epochs), "max_train": int(max_train),
            "device": "cpu"}
    return config.resolve("knn_ls.table1", "smoke", **over)


def _embeddings(ctx, alpha: float, depths, sets: dict) -> tuple[list, list, dict]:
    from .experiments.knn_ls.paper import ls_model

    model = ls_model(ctx, alpha)
    depths = ctx.layers if depths is None else list(depths)
    emb = lambda ds: ctx.emb(model, ds, depths)  # noqa: E731
    return emb(ctx.train_set), emb(ctx.in_test), {o: emb(ds) for o, ds in sets.items()}


def compare_on_pipeline(student: Callable, reference, depths: Sequence[int] | None = None, alpha: float = 0.0,
                        pairings: Sequence[str] | None = None, seed: int | None = None, epochs: int | None = None,
                        max_train: int | None = None, labels: bool = False) -> pd.DataFrame:
    """AUROC of ``student(train_layers, test_layers) -> scores`` (higher = more OOD) beside the package's
    ``reference`` detector (fitted with ``reference.fit(train_layers)``) on the embeddings at ``depths`` (None =
    the chapter's layers: 0 = logits, −1 = the layer before, …) of the knn-ls classifier trained with label smoothing ``alpha``.

    Returns one row per (pairing, implementation): ``in_dist``, ``ood``, ``implementation`` ("yours" /
    "oodrepro"), ``auroc``, and ``max_abs_diff`` — the largest |student − reference| score over the scored
    points (0 = the same scores)."""
    cfg = _config(pairings, seed, epochs, max_train)
    if not callable(student):
        raise ParameterError(f"student = {student!r} is not accepted; pass a function (train_layers, test_layers) -> scores")
    rows = []
    for in_name, oods, ctx, sets, missing in contexts(_paper(), _models(), cfg, progress=False):
        if ctx is None or missing:
            raise ParameterError(f"no data for {in_name} -> {sorted(missing)}: {next(iter(missing.values()), '')}")
        train, test_in, test_out = _embeddings(ctx, alpha, depths, sets)
        ref, extra = reference.fit(train, y=ctx.train_set.y), ((ctx.train_set.y,) if labels else ())
        for name, score in (("yours", lambda t: np.asarray(student(train, t, *extra), dtype=np.float64).ravel()),
                            ("oodrepro", lambda t: np.asarray(ref.score(t), dtype=np.float64))):
            s_in = score(test_in)
            for o in oods:
                s_out = score(test_out[o])
                rows.append({"in_dist": in_name, "ood": o, "implementation": name,
                             "auroc": metrics.auroc(s_in, s_out), "_scores": np.concatenate([s_in, s_out])})
    return _with_diff(pd.DataFrame(rows))


def _config(pairings, seed, epochs, max_train) -> dict:
    d = DEFAULTS
    return pipeline_config(pairings or d["pairings"], d["seed"] if seed is None else seed, epochs or d["epochs"],
                           max_train or d["max_train"])


def pipeline_embeddings(depth: int = -1, alpha: float = 0.0, seed: int | None = None, epochs: int | None = None,
                        max_train: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The training embeddings at ``depth`` of the pipeline's classifier (as :func:`compare_on_pipeline`) and
    the training labels: ``(embeddings (N, D), labels (N,))``."""
    cfg = _config(DEFAULTS["pairings"][:1], seed, epochs, max_train)
    for in_name, _, ctx, _, _ in contexts(_paper(), _models(), cfg, progress=False):
        if ctx is None:
            raise ParameterError(f"no data for {in_name}")
        (train,), _, _ = _embeddings(ctx, alpha, [depth], {})
        return train, np.asarray(ctx.train_set.y)
    raise ParameterError("the pipeline configuration names no in-distribution set")


def _with_diff(df: pd.DataFrame) -> pd.DataFrame:
    ours = df[df.implementation == "oodrepro"].set_index(["in_dist", "ood"])["_scores"]
    df["max_abs_diff"] = [float(np.max(np.abs(s - ours[(i, o)]))) if s.shape == ours[(i, o)].shape else np.inf
                          for i, o, s in zip(df.in_dist, df.ood, df._scores)]
    return df.drop(columns="_scores")


def _paper():
    from .experiments.knn_ls.paper import PAPER

    return PAPER


def _models():
    from .experiments.knn_ls.paper import MODELS

    return MODELS


# --- the classroom build: ``make assignments`` ---------------------------------------------------------------
STAGE_PREFIX = ".staging-"


def _otter() -> list[str]:
    import sys
    from pathlib import Path

    exe = Path(sys.executable).with_name("otter")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "otter"]


def assign(source, dest, command: Sequence[str] | None = None, extra: Sequence[str] = ()) -> "Path":
    """``otter assign source dest``, staged like ``oodrepro run``: the build goes to a hidden folder beside
    ``dest`` (``.staging-<name>-<pid>-<random>``) and replaces ``dest`` only when otter succeeded and wrote
    both ``student/`` and ``autograder/``. After a failure the previous ``dest`` is untouched and the staging
    folder removed; raises :class:`~oodrepro.errors.OodreproError` (one line, naming the assignment).

    ``command`` replaces the otter executable (tests pass a stand-in).
    """
    import os
    import shutil
    import subprocess
    import uuid
    from pathlib import Path

    from .errors import OodreproError

    source, dest = Path(source), Path(dest)
    if not source.is_file():
        raise OodreproError(f"assignment notebook {source} not found")
    parent = dest.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OodreproError(f"output folder {parent} is not writable ({exc.strerror or exc})") from None
    if dest.is_symlink():
        raise OodreproError(f"output folder {dest} is a symlink; give a real folder (nothing written)")
    clean_stale(parent)
    stage = parent / f"{STAGE_PREFIX}{dest.name}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    old = parent / f".old-{dest.name}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    cmd = list(command or _otter()) + ["assign", *extra, str(source), str(stage)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            last = next((ln for ln in reversed((proc.stderr or proc.stdout or "").strip().splitlines()) if ln.strip()), "")
            raise OodreproError(f"otter assign {source} failed (exit {proc.returncode}): {last.strip()}; "
                                f"{dest} is unchanged")
        missing = [d for d in ("student", "autograder") if not (stage / d).is_dir()]
        if missing:
            raise OodreproError(f"otter assign {source} wrote no {' or '.join(missing)} folder; {dest} is unchanged")
        if dest.exists():
            os.replace(dest, old)
        try:
            os.replace(stage, dest)
        except OSError:
            if old.exists():
                os.replace(old, dest)
            raise
    except KeyboardInterrupt:
        raise OodreproError(f"interrupted; {dest} is unchanged") from None
    except OSError as exc:
        raise OodreproError(f"could not write {dest} ({exc.strerror or exc}); the previous build is unchanged") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return dest


def clean_stale(parent) -> list:
    """Remove staging / old folders in ``parent`` left by a killed build whose process is gone."""
    import shutil
    from pathlib import Path

    from .cache import pid_alive

    removed = []
    for p in Path(parent).glob(".*-*-*-*"):
        if not p.name.startswith((STAGE_PREFIX, ".old-")) or not p.is_dir() or p.is_symlink():
            continue
        try:
            pid = int(p.name.rsplit("-", 2)[1])
        except ValueError:
            continue
        if not pid_alive(pid):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def main(argv=None) -> int:
    """``python -m oodrepro.classroom assign SOURCE DEST``: what ``make assignments`` runs."""
    import argparse
    import sys

    from .errors import OodreproError

    ap = argparse.ArgumentParser(prog="python -m oodrepro.classroom")
    ap.add_argument("action", choices=("assign",))
    ap.add_argument("source")
    ap.add_argument("dest")
    args = ap.parse_args(argv)
    try:
        print(f"otter assign {args.source} -> {args.dest}", flush=True)
        assign(args.source, args.dest)
    except OodreproError as exc:
        print(f"oodrepro: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
