"""Training: :func:`fit` minimises a pluggable :class:`Loss` under a :class:`~oodrepro.recipes.Recipe`,
seeded, cached, and read from the stored networks (:mod:`oodrepro.checkpoints`) when one matches.

The knn-ls loss (§4.1: Adam, lr 1e-3, batch 128) is :class:`LabelSmoothedCE`. Objectives that see
out-of-distribution data while training (odm's ODM, the confidence loss) get seen-OOD samples appended to
their batches, labelled :data:`OOD_LABEL`, where the loss's ``ood_share(step)`` asks for them.

Label smoothing with amount α replaces the one-hot target of class c by

.. math:: t = (1 - \\alpha)\\,\\mathrm{onehot}(c) + \\alpha / C

(Szegedy et al. 2016; knn-ls §2, Müller et al. 2019), and the loss is the cross-entropy
:math:`-\\sum_j t_j \\log \\mathrm{softmax}(z)_j`.
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager

import numpy as np
import torch

from . import cache, checkpoints, loop, models, recipes
from .data import Dataset
from .errors import ParameterError
from .fingerprint import function_fingerprint

#: Label of a seen out-of-distribution sample inside a training batch.
OOD_LABEL = -1


def device_of(device: str = "auto") -> torch.device:
    """``auto``: CUDA when available, else the CPU; ``cpu``; ``cuda`` (refused in one line where there is none)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not str(device).startswith("cuda:"):
        raise ParameterError(f"parameter 'device' = {device!r} is not accepted; use auto, cpu or cuda")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ParameterError(f"parameter 'device' = {device!r}: no CUDA device on this machine; use auto or cpu")
    return torch.device(device)


def check_alpha(alpha) -> float:
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise ParameterError(f"parameter 'alpha' must be a number in [0, 1), got {alpha!r}") from None
    if not (0.0 <= a < 1.0):
        raise ParameterError(f"parameter 'alpha' = {alpha!r} is out of range; accepted: 0 <= alpha < 1")
    return a


def smooth_targets(y: torch.Tensor, n_classes: int, alpha: float) -> torch.Tensor:
    """Soft targets ``(1 − α)·onehot(y) + α/C`` (rows sum to 1)."""
    alpha = check_alpha(alpha)
    onehot = torch.nn.functional.one_hot(y.long(), n_classes).float()
    return (1.0 - alpha) * onehot + alpha / n_classes


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ``−Σ_j t_j log softmax(z)_j``."""
    return -(targets * torch.log_softmax(logits, dim=1)).sum(1).mean()


class Loss:
    """A training objective for :func:`fit`: ``loss(outputs, y, n_classes) -> scalar tensor``.

    ``outputs`` is what the model's ``forward`` returns for a batch (logits for a classifier, an
    embedding for a metric-learning network). ``key()`` names the loss and its parameters for the cache
    key of the trained weights; ``classifies`` says whether ``outputs.argmax(1)`` is a class prediction
    (then :func:`fit` records the training accuracy). Subclass it for another objective.
    """

    classifies = True

    def key(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, outputs: torch.Tensor, y: torch.Tensor, n_classes: int) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.key().items() if k != 'loss')})"


class LabelSmoothedCE(Loss):
    r"""Cross-entropy with label smoothing α (knn-ls §2, §4.1; α = 0 is plain cross-entropy):
    :math:`-\sum_j t_j \log \mathrm{softmax}(z)_j` with :math:`t = (1-\alpha)\,\mathrm{onehot}(c) + \alpha/C`."""

    def __init__(self, alpha: float = 0.0):
        self.alpha = check_alpha(alpha)

    def key(self) -> dict:
        return {"loss": "label_smoothed_ce", "alpha": self.alpha}

    def __call__(self, outputs, y, n_classes):
        return soft_cross_entropy(outputs, smooth_targets(y, n_classes, self.alpha))


def _check_training(epochs, batch_size, train_set: Dataset) -> None:
    for name, v, lo in (("epochs", epochs, 1), ("batch_size", batch_size, 1)):
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ParameterError(f"parameter {name!r} = {v!r} is not accepted; use an integer >= {lo}")
    if len(train_set) == 0:
        raise ParameterError(f"training set {train_set.name!r} is empty")


def resolve_recipe(recipe=None, epochs=None, batch_size=None, lr=None, weight_decay=None) -> recipes.Recipe:
    """The recipe to train with: ``recipe`` (a :class:`~oodrepro.recipes.Recipe` or a name in
    :data:`~oodrepro.recipes.RECIPES`; default Adam at a constant rate) with any of ``epochs``,
    ``batch_size``, ``lr``, ``weight_decay`` given here replacing its own."""
    if recipe is None:
        base = recipes.Recipe("adam", lr=1e-3, epochs=20, batch_size=128)
    else:
        base = recipes.get(recipe)
    changes = {k: v for k, v in (("epochs", epochs), ("batch_size", batch_size), ("lr", lr),
                                 ("weight_decay", weight_decay)) if v is not None}
    changes = {k: v for k, v in changes.items() if getattr(base, k) != v}
    changes = {k: (float(v) if k in ("lr", "weight_decay") else int(v)) for k, v in changes.items()}
    if "epochs" in changes:
        changes["steps"] = None
    return base.replace(**changes) if changes else base


def _with_smoothing(loss: Loss, recipe: recipes.Recipe) -> Loss:
    """The recipe's label smoothing applied to a plain cross-entropy loss (given twice: refused)."""
    if not recipe.label_smoothing:
        return loss
    if type(loss) is not LabelSmoothedCE and not (isinstance(loss, LabelSmoothedCE) and loss.alpha == 0):
        raise ParameterError(f"recipe {recipe.name!r} smooths labels ({recipe.label_smoothing:g}) but the loss "
                             f"{loss!r} is not plain cross-entropy; use a recipe with label_smoothing=0")
    if loss.alpha:
        raise ParameterError(f"label smoothing given twice: loss alpha={loss.alpha:g} and recipe "
                             f"{recipe.name!r} label_smoothing={recipe.label_smoothing:g}; set one")
    return LabelSmoothedCE(recipe.label_smoothing)


def _ood_mixer(loss: Loss, ood_set: Dataset | None, batch_size: int, seed: int):
    """``mix(xb, yb, step)``: append ``round(loss.ood_share(step) · batch_size)`` seen-OOD samples (label
    :data:`OOD_LABEL`), drawn in a seeded cycle through permutations of ``ood_set``."""
    if ood_set is None or not hasattr(loss, "ood_share"):
        return None
    ood_x, gen = loop.stage(ood_set.x), torch.Generator().manual_seed(seed + 1)
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

    def mix(xb, yb, step):
        k = int(round(loss.ood_share(step) * batch_size))
        if k <= 0:
            return xb, yb
        j = take(k)
        return (torch.cat([xb, loop.unstage(ood_x[j])]),
                torch.cat([yb, torch.full((len(j),), OOD_LABEL, dtype=yb.dtype)]))

    return mix


def _batch_mixer(loss: Loss, train_set: Dataset, ood_set: Dataset | None, recipe: recipes.Recipe, seed: int):
    """``mix(xb, yb, step)`` for :func:`loop.run`: the loss's own where it builds its batches
    (``loss.batch_mixer(train_set, ood_set, recipe, seed)``: odm's pairing as the authors' code does it), else
    :func:`_ood_mixer` (seen OOD appended where ``loss.ood_share(step)`` asks for it; None when it does not)."""
    own = getattr(loss, "batch_mixer", None)
    if callable(own):
        return own(train_set, ood_set, recipe, seed)
    return _ood_mixer(loss, ood_set, recipe.batch_size, seed)


def _train(arch, ds: Dataset, out_dim, n_classes, loss: Loss, recipe, seed, device, progress, ood_set) -> dict:
    torch.manual_seed(seed)
    if callable(getattr(loss, "start", None)):
        loss.start(seed)
    dev = device_of(device)
    model = models.build(arch, ds.shape, out_dim).to(dev)
    out = loop.run(model, loop.stage(ds.x), torch.from_numpy(ds.y), loss, n_classes, recipe, seed, dev,
                   progress=progress, mix=_batch_mixer(loss, ds, ood_set, recipe, seed),
                   classifies=loss.classifies and out_dim == n_classes, desc=f"train {arch} {loss!r} seed={seed}")
    out["state"] = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    return out


def definition(arch: str, train_set: Dataset, loss: Loss, recipe: recipes.Recipe, seed: int, out_dim: int,
               n_classes: int, ood_set: Dataset | None = None) -> dict:
    """What defines a trained network (the key of a stored one, :mod:`oodrepro.checkpoints`)."""
    return {"arch": arch, "loss": loss.key(), "recipe": recipe.key(), "seed": int(seed), "out_dim": int(out_dim),
            "n_classes": int(n_classes), "shape": list(train_set.shape), "data": train_set.fingerprint,
            "ood": None if ood_set is None else ood_set.fingerprint}


#: Environment variable: how many torch threads a training uses (default 1).
TRAIN_THREADS_ENV = "OODREPRO_TRAIN_THREADS"


def train_threads() -> int:
    """The torch thread count every training runs with: ``$OODREPRO_TRAIN_THREADS``, default 1.

    CPU training is not bit-identical across thread counts (the order of floating-point reductions
    changes), so a seed gives the same weights on every machine only at a fixed count. Training is pinned
    to it whatever the kernel's own thread setting; a count other than 1 enters the model's cache key."""
    raw = os.environ.get(TRAIN_THREADS_ENV, "1")
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ParameterError(f"${TRAIN_THREADS_ENV} = {raw!r} is not accepted; use a positive integer (default 1)")
    return n


@contextmanager
def torch_threads(n: int | None):
    """Run a block with ``torch.set_num_threads(n)`` (restored afterwards); None leaves torch's setting."""
    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def model_params(defn: dict, code: str, device: str) -> dict:
    """A trained model's cache-key parameters: its definition (the data enter as the key's fingerprint), the
    training code's fingerprint and the device type it trains on (numerics differ between devices)."""
    return {k: v for k, v in defn.items() if k != "data"} | {"code": code, "device": device_of(device).type}


def _stored(defn: dict, code: str):
    """``(output, entry)`` from a stored network whose definition matches, else ``(None, None)``."""
    entry = checkpoints.find(defn)
    if entry is None:
        return None, None
    state = checkpoints.load_state(entry)
    return {"state": {k: v.numpy() for k, v in state.items()}, "history": entry.get("history", []),
            "steps": entry.get("steps"), "seconds": entry.get("train_seconds")}, entry


def fit(arch: str, train_set: Dataset, loss: Loss | None = None, epochs: int | None = None,
        batch_size: int | None = None, lr: float | None = None, seed: int = 0, device: str = "auto",
        progress: bool = True, use_cache: bool = True, recipe=None, weight_decay: float | None = None,
        ood_set: Dataset | None = None, embedding_dim: int | None = None, store: str | None = None,
        retrain: bool = False) -> torch.nn.Module:
    """Train the architecture ``arch`` (:data:`oodrepro.models.ARCHITECTURES`) on ``train_set`` by
    minimising ``loss`` (default: plain cross-entropy) under ``recipe`` (:func:`resolve_recipe`: default
    Adam lr 1e-3, 20 epochs, batch 128; ``epochs``, ``batch_size``, ``lr``, ``weight_decay`` override it).

    ``ood_set``: seen out-of-distribution samples, appended to the batches where the loss asks for them
    (odm). ``embedding_dim``: the network's output size (default: the number of classes, a classifier).
    ``store``: a name under which the trained network is kept in :mod:`oodrepro.checkpoints` (paper-scale
    networks); a stored network with the same :func:`definition` is loaded instead of training, unless
    ``retrain`` (then it is trained again and the stored one replaced: after the training code changed).

    Training runs with :func:`train_threads` torch threads (default 1: a seed gives the same weights on
    every machine). The cache key holds the definition, the fingerprint of the training code and a thread
    count other than 1. Returns the model in eval mode on the CPU, with ``cache_key``, ``history``
    (per-epoch loss, and training accuracy for classifiers), ``steps``, ``fit_seconds``, ``recipe``, and
    ``stored`` (the manifest entry or None; ``stale_code`` when the training code changed since it was stored).
    """
    loss = LabelSmoothedCE(0.0) if loss is None else loss
    if not isinstance(loss, Loss):
        raise ParameterError(f"parameter 'loss' must be an oodrepro.train.Loss, got {loss!r}")
    _check_training(epochs, batch_size, train_set)
    if ood_set is not None and len(ood_set) == 0:
        raise ParameterError(f"seen-OOD set {ood_set.name!r} is empty")
    recipe = resolve_recipe(recipe, epochs, batch_size, lr, weight_decay)
    loss = _with_smoothing(loss, recipe)
    n_classes = int(train_set.y.max()) + 1
    out_dim = n_classes if embedding_dim is None else check_embedding_dim(embedding_dim)
    defn = definition(arch, train_set, loss, recipe, seed, out_dim, n_classes, ood_set)
    code = function_fingerprint(_train, _ood_mixer, type(loss), models.ARCHITECTURES.get(arch, models.build))
    threads = train_threads()
    params = model_params(defn, code, device) | ({} if threads == 1 else {"threads": threads})
    t0 = time.perf_counter()
    out, entry = (None, None) if retrain else _stored(defn, code)
    if out is None:
        with torch_threads(threads):
            out = cache.cached("model", params, lambda: _train(arch, train_set, out_dim, n_classes, loss, recipe,
                                                               int(seed), device, progress, ood_set),
                               fingerprint=train_set.fingerprint, enabled=use_cache)
        if store:
            entry = checkpoints.store(defn, out["state"], _store_info(out, code), store)
    model = models.build(arch, train_set.shape, out_dim)
    model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in out["state"].items()})
    model.eval()
    model.cache_key = cache.key("model", params, train_set.fingerprint)
    model.history, model.steps, model.recipe = out["history"], out.get("steps"), recipe
    model.stored, model.stale_code = entry, bool(entry and entry.get("code") != code)
    model.fit_seconds = time.perf_counter() - t0
    return model


def check_embedding_dim(dim) -> int:
    """The embedding size as an int; it must be an integer >= 1."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ParameterError(f"parameter 'embedding_dim' = {dim!r} is not accepted; use an integer >= 1")
    return int(dim)


def _store_info(out: dict, code: str) -> dict:
    return {"code": code, "train_seconds": round(float(out.get("seconds") or 0.0), 1), "steps": out.get("steps"),
            "history": out.get("history", []), "torch": torch.__version__}


def fit_classifier(arch: str, train_set: Dataset, alpha: float = 0.0, **kw) -> torch.nn.Module:
    """:func:`fit` with label-smoothed cross-entropy of amount ``alpha`` (knn-ls §4.1)."""
    return fit(arch, train_set, loss=LabelSmoothedCE(alpha), **kw)


def fit_mixed(arch: str, train_set: Dataset, loss: Loss, ood_set: Dataset | None = None, **kw) -> torch.nn.Module:
    """:func:`fit` for objectives that see out-of-distribution data (odm): ``ood_set`` is mixed into the
    batches where ``loss.ood_share(step)`` asks for it."""
    return fit(arch, train_set, loss=loss, ood_set=ood_set, **kw)
