r"""The training loop every :class:`~oodrepro.recipes.Recipe` runs in, and the CPU fast path it takes.

What makes it fast on a CPU (measured in ``benchmarks/bench_train.py``):

* the images stay in memory as one ``uint8`` tensor and are sliced into batches (no loader workers, no
  per-image Python); they become float only batch by batch;
* augmentation (flips, crops shifted by up to ``translate`` pixels) is done on the batch tensor with
  a seeded :class:`torch.Generator`, so a seed gives the same batches, the same augmentation and — on the
  same machine — the same weights;
* channels-last memory and bfloat16 autocast where the recipe asks for them (on CUDA, float16 autocast).

The learning-rate multiplier at step t of T (``schedule``): constant 1; ``triangle`` rises linearly from
``lr_start`` to 1 over the first ``warmup``·T steps and falls linearly to ``lr_end`` at T (airbench94);
``cosine`` :math:`\tfrac12(1 + \cos(\pi t / T))`; ``step`` ×0.1 at each milestone share of T.
"""
from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ._progress import tqdm
from .recipes import Recipe


def lr_multiplier(recipe: Recipe, step: int, total: int) -> float:
    """The schedule's factor on the recipe's learning rate at ``step`` of ``total`` (see the module docstring)."""
    frac = step / max(total, 1)
    if recipe.schedule == "triangle":
        w = recipe.warmup
        if w > 0 and frac < w:
            return recipe.lr_start + (1.0 - recipe.lr_start) * frac / w
        return 1.0 + (recipe.lr_end - 1.0) * (frac - w) / max(1.0 - w, 1e-12)
    if recipe.schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * frac))
    if recipe.schedule == "step":
        return 0.1 ** sum(frac >= m for m in recipe.milestones)
    return 1.0


def stage(x: np.ndarray) -> torch.Tensor:
    """Float images in [0, 1] (a :class:`~oodrepro.data.Dataset`'s ``x``) as the tensor training slices:
    one uint8 tensor (a quarter of the memory) when that is exact — every ``round(255·x) / 255`` equals
    ``x`` bit for bit, as for images that were 8-bit — else the float32 tensor itself (noise, shifts)."""
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    u8 = torch.round(t * 255.0).clamp_(0, 255).to(torch.uint8)
    return u8 if torch.equal(unstage(u8), t) else t


def unstage(t: torch.Tensor) -> torch.Tensor:
    """A batch of :func:`stage`'s tensor as float32 images in [0, 1]."""
    return t.float().div_(255.0) if t.dtype == torch.uint8 else t


def shift_crop(x: torch.Tensor, r: int, gen: torch.Generator) -> torch.Tensor:
    """Each image shifted by its own (dy, dx) in [−r, r]², reflect-padded (airbench's ``batch_crop``)."""
    if r <= 0:
        return x
    n, c, h, w = x.shape
    pad = F.pad(x, (r, r, r, r), mode="reflect")
    d = torch.randint(0, 2 * r + 1, (n, 2), generator=gen)
    rows = (torch.arange(h).view(1, h) + d[:, :1]).view(n, 1, h, 1).expand(n, c, h, w + 2 * r)
    cols = (torch.arange(w).view(1, w) + d[:, 1:]).view(n, 1, 1, w).expand(n, c, h, w)
    return pad.gather(2, rows).gather(3, cols)


def augment(xb: torch.Tensor, flip: torch.Tensor | None, recipe: Recipe, gen: torch.Generator) -> torch.Tensor:
    """Flips (``flip``: a bool per image) then shifted crops of a float batch."""
    if flip is not None and bool(flip.any()):
        xb = torch.where(flip.view(-1, 1, 1, 1), xb.flip(-1), xb)
    return shift_crop(xb, recipe.translate, gen)


class _Flips:
    """Which images are flipped in an epoch: ``random`` a fresh coin per image and epoch; ``alternate`` a
    random half once, then all of them inverted on odd epochs (airbench94)."""

    def __init__(self, mode: str, n: int, gen: torch.Generator):
        self.mode, self.gen = mode, gen
        self.base = torch.rand(n, generator=gen) < 0.5 if mode == "alternate" else None

    def epoch(self, e: int, n: int) -> torch.Tensor | None:
        if self.mode == "random":
            return torch.rand(n, generator=self.gen) < 0.5
        if self.mode == "alternate":
            return self.base ^ bool(e % 2)
        return None


def optimizer(model: torch.nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """Adam or SGD over the trainable parameters; normalisation parameters get lr × s and weight decay ÷ s
    (``norm_lr_scale`` s)."""
    norm_types = (torch.nn.modules.batchnorm._BatchNorm, torch.nn.GroupNorm, torch.nn.LayerNorm)
    norm_ids = {id(p) for m in model.modules() if isinstance(m, norm_types) for p in m.parameters(recurse=False)}
    params = list(model.parameters())  # frozen ones too: a layer may be unfrozen later (whitening bias)
    s = recipe.norm_lr_scale
    groups = [dict(params=[p for p in params if id(p) not in norm_ids], lr=recipe.lr, weight_decay=recipe.weight_decay),
              dict(params=[p for p in params if id(p) in norm_ids], lr=recipe.lr * s, weight_decay=recipe.weight_decay / s)]
    groups = [g for g in groups if g["params"]]
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(groups, momentum=recipe.momentum, nesterov=recipe.nesterov)
    return torch.optim.Adam(groups)


class _Lookahead:
    """airbench94's lookahead: every k steps the weights are pulled towards an EMA and copied from it."""

    def __init__(self, model, every: int, total: int):
        self.every, self.total = every, total
        self.ema = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def update(self, model, step: int, final: bool = False):
        if not self.every or (not final and step % self.every):
            return
        decay = 1.0 if final else 0.95 ** 5 * (step / self.total) ** 3
        with torch.no_grad():
            for (k, e), p in zip(self.ema.items(), model.state_dict().values()):
                if p.dtype.is_floating_point:
                    e.lerp_(p, 1 - decay)
                    p.copy_(e)


def _autocast(dev: torch.device, recipe: Recipe):
    if not recipe.bf16:
        return torch.autocast(dev.type, enabled=False)
    return torch.autocast(dev.type, dtype=torch.bfloat16 if dev.type == "cpu" else torch.float16)


def _step(model, opt, sched, loss: Callable, xb, yb, n_classes: int, recipe: Recipe, dev) -> tuple[float, torch.Tensor]:
    """One optimiser step on a batch; returns the loss value and the outputs."""
    xb, yb = xb.to(dev), yb.to(dev)
    if recipe.channels_last:
        xb = xb.contiguous(memory_format=torch.channels_last)
    with _autocast(dev, recipe):
        outputs = model(xb)
        value = loss(outputs.float(), yb, n_classes)
    opt.zero_grad(set_to_none=True)
    value.backward()
    opt.step()
    sched.step()
    return value.item(), outputs


def _prepare(model, x: torch.Tensor, recipe: Recipe, seed: int, dev) -> None:
    """Channels-last memory and, for the speed-run net, its whitening filters from 5,000 training images
    drawn across the set (seeded; a folder's order is by class)."""
    if recipe.channels_last:
        model.to(memory_format=torch.channels_last)
    if hasattr(model, "init_whitening"):
        pick = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:5000]
        model.init_whitening(unstage(x[pick]).to(dev))


def run(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, loss: Callable, n_classes: int, recipe: Recipe,
        seed: int, dev: torch.device, progress: bool = False, mix: Callable | None = None,
        classifies: bool = True, desc: str = "train") -> dict:
    """Train ``model`` (already seeded and on ``dev``) on images ``x`` (:func:`stage`: N, C, H, W) with labels ``y``.

    ``loss(outputs, y, n_classes)`` is the objective; ``mix(xb, yb, step)`` (optional) may append samples
    to a batch (odm's seen OOD). Returns ``{"history": per-epoch loss (and training accuracy),
    "steps": optimiser steps, "seconds": wall time, "images_per_s"}``.
    """
    gen = torch.Generator().manual_seed(seed)
    n, bs, total = len(x), recipe.batch_size, recipe.total_steps(len(x))
    opt = optimizer(model, recipe)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: lr_multiplier(recipe, t, total))
    _prepare(model, x, recipe, seed, dev)
    look, flips = _Lookahead(model, recipe.lookahead, total), _Flips(recipe.flip, n, gen)
    history, step, seen, epoch, t0 = [], 0, 0, 0, time.perf_counter()
    bar = tqdm(total=total, desc=desc, disable=not progress, leave=False)
    while step < total:
        if hasattr(model, "whiten") and recipe.whiten_bias_epochs:
            model.whiten.bias.requires_grad_(epoch < recipe.whiten_bias_epochs)
        model.train()
        perm, flip = torch.randperm(n, generator=gen), flips.epoch(epoch, n)
        tot, correct, count, nb = 0.0, 0, 0, 0
        for b in range(min(recipe.batches_per_epoch(n), total - step)):
            idx = perm[b * bs:(b + 1) * bs]
            xb, yb = augment(unstage(x[idx]), None if flip is None else flip[idx], recipe, gen), y[idx]
            if mix is not None:
                xb, yb = mix(xb, yb, step)
            value, outputs = _step(model, opt, sched, loss, xb, yb, n_classes, recipe, dev)
            step, tot, nb, seen = step + 1, tot + value, nb + 1, seen + len(xb)
            look.update(model, step)
            if classifies:
                keep = yb.to(outputs.device) >= 0
                correct += int((outputs.argmax(1)[keep] == yb.to(outputs.device)[keep]).sum())
                count += int(keep.sum())
            bar.update(1)
        history.append({"loss": tot / max(nb, 1), **({"train_acc": correct / max(count, 1)} if classifies else {})})
        bar.set_postfix(epoch=epoch, loss=f"{history[-1]['loss']:.3f}")
        epoch += 1
    look.update(model, step, final=True)
    bar.close()
    wall = time.perf_counter() - t0
    return {"history": history, "steps": step, "seconds": wall, "images_per_s": seen / max(wall, 1e-9)}


@torch.no_grad()
def predict(model: torch.nn.Module, x: np.ndarray, tta: int = 0, batch_size: int = 1000) -> np.ndarray:
    """Logits of ``model`` on float images ``x``; ``tta`` 1 averages with the mirror image, 2 also with
    one-pixel shifts (airbench94's test-time augmentation: ½·mirror pair + ½·mean of two shifted pairs)."""
    model.eval()

    def mirror(xb):
        return 0.5 * model(xb) + 0.5 * model(xb.flip(-1)) if tta >= 1 else model(xb)

    out = []
    for i in range(0, len(x), batch_size):
        xb = torch.from_numpy(np.asarray(x[i:i + batch_size], dtype=np.float32))
        logits = mirror(xb)
        if tta >= 2:
            pad = F.pad(xb, (1, 1, 1, 1), mode="reflect")
            h, w = xb.shape[-2:]
            shifted = [mirror(pad[:, :, :h, :w].contiguous()), mirror(pad[:, :, 2:, 2:].contiguous())]
            logits = 0.5 * logits + 0.5 * torch.stack(shifted).mean(0)
        out.append(logits.float().numpy())
    return np.concatenate(out)


def accuracy(model: torch.nn.Module, x: np.ndarray, y: np.ndarray, tta: int = 0) -> float:
    """Share of ``x`` whose arg-max logit (with test-time augmentation ``tta``) is ``y``."""
    return float((predict(model, x, tta).argmax(1) == np.asarray(y)).mean())


__all__ = ["run", "lr_multiplier", "augment", "shift_crop", "optimizer", "predict", "accuracy", "stage", "unstage"]
