"""Layer embeddings of a trained model, the input of every embedding-based detector."""
from __future__ import annotations

import numpy as np
import torch

from . import cache, models
from .fingerprint import fingerprint
from .data import Dataset


@torch.no_grad()
def _run(model, x: np.ndarray, idx: list[int], batch_size: int) -> list[np.ndarray]:
    outs: list[list[np.ndarray]] = [[] for _ in idx]
    for i in range(0, len(x), batch_size):
        feats = model.features(torch.from_numpy(x[i:i + batch_size]))
        for j, li in enumerate(idx):
            outs[j].append(feats[li].numpy())
    return [np.concatenate(o).astype(np.float32) for o in outs]


def embed(model: torch.nn.Module, ds: Dataset, layers=(0, -1, -2), batch_size: int = 2048,
          use_cache: bool = True) -> list[np.ndarray]:
    """The outputs of the layers at the given knn-ls depths (0 = logits, −1 = before, …) for ``ds``.

    Returns one float32 array (N, D_layer) per entry of ``layers``, in that order. Cached under the
    model's ``cache_key``, the data's fingerprint and the fingerprint of this module's code (and the
    models') when the model came from :func:`oodrepro.train.fit`.
    """
    total = models.n_layers(model)
    idx = [models.layer_index(int(d), total) for d in layers]
    key = getattr(model, "cache_key", None)
    model.eval()
    if key is None:
        return _run(model, ds.x, idx, batch_size)
    return cache.cached("embedding", {"model": key, "layers": list(map(int, layers)), "code": fingerprint(__name__)},
                        lambda: _run(model, ds.x, idx, batch_size), fingerprint=ds.fingerprint, enabled=use_cache)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
