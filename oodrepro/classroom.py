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
