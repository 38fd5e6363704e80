r"""Training with seen out-of-distribution samples mixed into the batches (odm §3; the confidence loss).

:func:`fit_mixed` is :func:`oodrepro.train.fit` for objectives that see out-of-distribution data while
training and for embedding networks (output size ≠ number of classes): before batch ``t`` it asks the
loss for ``loss.ood_share(t)`` (a fraction of the batch; 0 = none) and appends that many samples of
``ood_set`` with the label :data:`oodrepro.losses.OOD_LABEL` (−1), drawn in a seeded cycle through a
permutation of ``ood_set``. ``loss.start(seed)`` (if the loss has it) resets the loss's own random state.

It lives beside :mod:`oodrepro.train` rather than inside it so that the knn-ls models' cache keys (which
hold the training code's fingerprint) stay as they are. Adam with ``weight_decay`` (the odm authors:
1e-4); seeded and cached like :func:`oodrepro.train.fit`.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from . import cache, models
from ._progress import tqdm
from .data import Dataset
from .errors import ParameterError
from .fingerprint import fingerprint
from .losses import OOD_LABEL, check_embedding_dim
from .train import Loss, _check_training, device_of


def _ood_batches(ood_set: Dataset | None, gen: torch.Generator):
    """An endless seeded stream of OOD indices: ``take(k)`` returns the next k."""
    state = {"perm": torch.zeros(0, dtype=torch.long), "pos": 0}

    def take(k: int) -> torch.Tensor:
        out = []
        while k > 0:
            if state["pos"] >= len(state["perm"]):
                state["perm"], state["pos"] = torch.randperm(len(ood_set), generator=gen), 0
            part = state["perm"][state["pos"]:state["pos"] + k]
            state["pos"] += len(part)
            k -= len(part)
            out.append(part)
        return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)

    return take


def _batch(x, y, idx, ood_x, take, share: float, batch_size: int):
    xb, yb = x[idx], y[idx]
    k = int(round(share * batch_size)) if ood_x is not None else 0
    if k > 0:
        j = take(k)
        xb = torch.cat([xb, ood_x[j]])
        yb = torch.cat([yb, torch.full((len(j),), OOD_LABEL, dtype=yb.dtype)])
    return xb, yb


def _train(arch, ds, ood_set, out_dim, n_classes, loss, cfg, progress) -> dict:
    torch.manual_seed(cfg["seed"])
    gen = torch.Generator().manual_seed(cfg["seed"])
    if callable(getattr(loss, "start", None)):
        loss.start(cfg["seed"])
    dev = device_of(cfg["device"])
    model = models.build(arch, ds.shape, out_dim).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    x, y = torch.from_numpy(ds.x), torch.from_numpy(ds.y)
    ood_x = torch.from_numpy(ood_set.x) if ood_set is not None else None
    take = _ood_batches(ood_set, torch.Generator().manual_seed(cfg["seed"] + 1))
    share = getattr(loss, "ood_share", lambda step: 0.0)
    bs, history, step = cfg["batch_size"], [], 0
    for _ in tqdm(range(cfg["epochs"]), desc=f"train {arch} {loss!r}", disable=not progress, leave=False):
        model.train()
        perm, tot, nb = torch.randperm(len(ds), generator=gen), 0.0, 0
        for i in range(0, len(ds), bs):
            xb, yb = _batch(x, y, perm[i:i + bs], ood_x, take, share(step), bs)
            value = loss(model(xb.to(dev)), yb.to(dev), n_classes)
            opt.zero_grad(set_to_none=True)
            value.backward()
            opt.step()
            tot, nb, step = tot + value.item(), nb + 1, step + 1
        history.append({"loss": tot / max(nb, 1)})
    return {"state": {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()},
            "history": history, "steps": step}


def fit_mixed(arch: str, train_set: Dataset, loss: Loss, ood_set: Dataset | None = None,
              embedding_dim: int | None = None, epochs: int = 20, batch_size: int = 128, lr: float = 1e-3,
              weight_decay: float = 0.0, seed: int = 0, device: str = "auto", progress: bool = True,
              use_cache: bool = True) -> torch.nn.Module:
    """Train ``arch`` on ``train_set`` (labels 0…C−1) with ``loss``, mixing in samples of ``ood_set``
    (seen OOD, labelled −1) where the loss asks for them; the network's output has ``embedding_dim``
    units (default: C, a classifier). Cached on the architecture, loss, optimiser settings, seed, both
    data sets' fingerprints and the code. Returns the model in eval mode on the CPU with ``cache_key``,
    ``history`` (mean loss per epoch), ``steps`` and ``fit_seconds``.
    """
    if not isinstance(loss, Loss):
        raise ParameterError(f"parameter 'loss' must be an oodrepro.train.Loss, got {loss!r}")
    _check_training(epochs, batch_size, train_set)
    if ood_set is not None and len(ood_set) == 0:
        raise ParameterError(f"seen-OOD set {ood_set.name!r} is empty")
    n_classes = int(train_set.y.max()) + 1
    out_dim = n_classes if embedding_dim is None else check_embedding_dim(embedding_dim)
    cfg = {"epochs": int(epochs), "batch_size": int(batch_size), "lr": float(lr), "weight_decay": float(weight_decay),
           "seed": int(seed), "device": device}
    params = {"arch": arch, **loss.key(), **{k: v for k, v in cfg.items() if k != "device"},
              "out_dim": out_dim, "n_classes": n_classes, "shape": list(train_set.shape),
              "ood": None if ood_set is None else ood_set.fingerprint, "code": fingerprint(__name__, models, type(loss))}
    t0 = time.perf_counter()
    out = cache.cached("model", params, lambda: _train(arch, train_set, ood_set, out_dim, n_classes, loss, cfg,
                                                       progress), fingerprint=train_set.fingerprint, enabled=use_cache)
    model = models.build(arch, train_set.shape, out_dim)
    model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in out["state"].items()})
    model.eval()
    model.cache_key = cache.key("model", params, train_set.fingerprint)
    model.history, model.steps = out["history"], out["steps"]
    model.fit_seconds = time.perf_counter() - t0
    return model
