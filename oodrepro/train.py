"""Training: :func:`fit` minimises a pluggable :class:`Loss` with Adam, seeded and cached.

The knn-ls loss (§4.1: Adam, lr 1e-3, batch 128) is :class:`LabelSmoothedCE`.

Label smoothing with amount α replaces the one-hot target of class c by

.. math:: t = (1 - \\alpha)\\,\\mathrm{onehot}(c) + \\alpha / C

(Szegedy et al. 2016; knn-ls §2, Müller et al. 2019), and the loss is the cross-entropy
:math:`-\\sum_j t_j \\log \\mathrm{softmax}(z)_j`.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from ._progress import tqdm

from . import cache, models
from .fingerprint import fingerprint
from .data import Dataset
from .errors import ParameterError


def device_of(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
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


def _train(arch, ds: Dataset, n_classes, loss: Loss, epochs, batch_size, lr, seed, device, progress) -> dict:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    dev = device_of(device)
    model = models.build(arch, ds.shape, n_classes).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x = torch.from_numpy(ds.x)
    y = torch.from_numpy(ds.y)
    n = len(ds)
    bar = tqdm(range(epochs), desc=f"train {arch} {loss!r} seed={seed}", disable=not progress, leave=False)
    history = []
    for _ in bar:
        model.train()
        perm = torch.randperm(n, generator=gen)
        tot, correct = 0.0, 0
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            xb, yb = x[idx].to(dev), y[idx].to(dev)
            outputs = model(xb)
            value = loss(outputs, yb, n_classes)
            opt.zero_grad(set_to_none=True)
            value.backward()
            opt.step()
            tot += value.item() * len(idx)
            if loss.classifies:
                correct += int((outputs.argmax(1) == yb).sum())
        history.append({"loss": tot / n, **({"train_acc": correct / n} if loss.classifies else {})})
        bar.set_postfix(loss=f"{tot / n:.3f}", **({"acc": f"{correct / n:.3f}"} if loss.classifies else {}))
    state = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    return {"state": state, "history": history}


def _check_training(epochs, batch_size, train_set: Dataset) -> None:
    for name, v, lo in (("epochs", epochs, 1), ("batch_size", batch_size, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ParameterError(f"parameter {name!r} = {v!r} is not accepted; use an integer >= {lo}")
    if len(train_set) == 0:
        raise ParameterError(f"training set {train_set.name!r} is empty")


def fit(arch: str, train_set: Dataset, loss: Loss | None = None, epochs: int = 20, batch_size: int = 128,
        lr: float = 1e-3, seed: int = 0, device: str = "auto", progress: bool = True,
        use_cache: bool = True) -> torch.nn.Module:
    """Train the architecture ``arch`` (:data:`oodrepro.models.ARCHITECTURES`) on ``train_set`` by
    minimising ``loss`` (default: plain cross-entropy) with Adam; seeded and cached on disk.

    The cache key holds the architecture, the loss and its parameters, the optimiser settings, the
    seed, the training data's fingerprint and the fingerprint of the training code
    (:func:`oodrepro.fingerprint.fingerprint`). Returns the model in eval mode on the CPU, with
    ``model.cache_key`` (identifies the trained weights for downstream caches), ``model.history``
    (per-epoch loss, and training accuracy for classification losses) and ``model.fit_seconds``.
    """
    loss = LabelSmoothedCE(0.0) if loss is None else loss
    if not isinstance(loss, Loss):
        raise ParameterError(f"parameter 'loss' must be an oodrepro.train.Loss, got {loss!r}")
    _check_training(epochs, batch_size, train_set)
    n_classes = int(train_set.y.max()) + 1
    params = {"arch": arch, **loss.key(), "epochs": int(epochs), "batch_size": int(batch_size), "lr": float(lr),
              "seed": int(seed), "n_classes": n_classes, "shape": list(train_set.shape),
              "code": fingerprint(__name__, models, type(loss))}
    t0 = time.perf_counter()
    out = cache.cached("model", params, lambda: _train(arch, train_set, n_classes, loss, int(epochs),
                                                       int(batch_size), float(lr), int(seed), device, progress),
                       fingerprint=train_set.fingerprint, enabled=use_cache)
    model = models.build(arch, train_set.shape, n_classes)
    model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in out["state"].items()})
    model.eval()
    model.cache_key = cache.key("model", params, train_set.fingerprint)
    model.history = out["history"]
    model.fit_seconds = time.perf_counter() - t0
    return model


def fit_classifier(arch: str, train_set: Dataset, alpha: float = 0.0, **kw) -> torch.nn.Module:
    """:func:`fit` with label-smoothed cross-entropy of amount ``alpha`` (knn-ls §4.1)."""
    return fit(arch, train_set, loss=LabelSmoothedCE(alpha), **kw)
