"""Training throughput: the old loop (before recipes) against the new one, images per second, in one run.

For each network — LeNet5 on MNIST-shaped images, the CIFAR-10 speed-run net (airbench94's own widths; kpca's
paper profile trains it widened) and the Tsinghua WRN-10-2 (odm) — it times ``--steps`` optimiser steps (the first
one included) of

* ``old``: the loop as it was (float32 batches sliced from a float32 array, Adam, NCHW memory) — a copy of the
  removed ``oodrepro.train._train`` inner loop, kept here as the baseline;
* ``new fp32``: :func:`oodrepro.loop.run` with the recipe's fast path switched off;
* ``new +channels-last``;
* ``new +bf16+channels-last`` (bfloat16 autocast: what ``cifar_speedrun`` uses);

and prints images/s and the ratio to ``old`` measured in this run. The images are random: throughput does
not depend on what they show. Nothing is asserted.

With ``--accuracy`` it also trains the CIFAR-10 recipe (``--arch``, default kpca's paper-profile net) for a few
lengths on the JPEG copy under ``$OODREPRO_DATA_ROOT`` and prints test accuracy against wall time (tens of minutes;
set ``$OODREPRO_TRAIN_THREADS`` for the training's threads).

    python benchmarks/bench_train.py [--steps 6] [--threads 2] [--nets lenet5 speednet wrn10_2]
                                     [--accuracy [EPOCHS ...]] [--arch speednet_wide]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from oodrepro import loop, models, recipes, train
from oodrepro.experiments.kpca import nets  # noqa: F401 - registers speednet

NETS = {"lenet5": ((1, 32, 32), 10, 128), "speednet": ((3, 32, 32), 10, 256), "wrn10_2": ((3, 32, 32), 40, 128)}


def old_loop(model, x: np.ndarray, y: np.ndarray, steps: int, batch_size: int) -> float:
    """The removed loop: float32 slices of a float32 array, Adam lr 1e-3, cross-entropy. Seconds for ``steps``."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    model.train()
    t0 = time.perf_counter()
    for s in range(steps):
        idx = perm[s * batch_size:(s + 1) * batch_size]
        out = model(xt[idx])
        value = train.soft_cross_entropy(out, train.smooth_targets(yt[idx], out.shape[1], 0.0))
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()
    return time.perf_counter() - t0


def new_loop(arch, shape, n_classes, x8: torch.Tensor, y: torch.Tensor, steps: int, batch_size: int, **fast) -> float:
    """:func:`oodrepro.loop.run` for ``steps`` steps (its own wall time: the loop, not the set-up)."""
    r = recipes.Recipe("bench", steps=steps, batch_size=batch_size, **fast)
    torch.manual_seed(0)
    model = models.build(arch, shape, n_classes)
    loss = (lambda out, yb, c: train.soft_cross_entropy(out, train.smooth_targets(yb, c, 0.0)))
    return loop.run(model, x8, y, loss, n_classes, r, 0, torch.device("cpu"))["seconds"]


def throughput(arch: str, steps: int) -> dict:
    shape, n_classes, bs = NETS[arch]
    rng = np.random.default_rng(0)
    n = bs * steps
    x8 = rng.integers(0, 256, (n, *shape), dtype=np.uint8)
    x, y = x8.astype(np.float32) / 255, rng.integers(0, n_classes, n).astype(np.int64)
    torch.manual_seed(0)
    out = {"old": bs * steps / old_loop(models.build(arch, shape, n_classes), x, y, steps, bs)}
    for name, fast in (("new fp32", {}), ("new +channels-last", {"channels_last": True}),
                       ("new +bf16+channels-last", {"channels_last": True, "bf16": True})):
        out[name] = bs * steps / new_loop(arch, shape, n_classes, torch.from_numpy(x8), torch.from_numpy(y), steps, bs,
                                          **fast)
    return out


def accuracy_vs_time(lengths, arch: str = "speednet_wide") -> None:
    """Train ``arch`` with the cifar_speedrun recipe for each number of epochs (its own: 9.9) on the JPEG copy and print
    test accuracy, without and with airbench's flip-and-shift TTA, against the training's wall time. Training runs
    with $OODREPRO_TRAIN_THREADS torch threads (default 1), as every training does."""
    from oodrepro import data

    tr, te = data.load("cifar10", "train"), data.load("cifar10", "test")
    for epochs in lengths:
        t0 = time.perf_counter()
        m = train.fit(arch, tr, nets.CrossEntropy(), recipe=recipes.get("cifar_speedrun").replace(epochs=epochs),
                      seed=0, progress=False, use_cache=False)
        wall = time.perf_counter() - t0
        print(f"{arch} cifar_speedrun {epochs:5.2f} epochs, {train.train_threads()} thread(s): {wall / 60:5.1f} min "
              f"wall, test accuracy "
              f"{loop.accuracy(m, te.x, te.y, 0):.4f} (TTA: {loop.accuracy(m, te.x, te.y, 2):.4f})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--nets", nargs="+", default=list(NETS), choices=list(NETS))
    ap.add_argument("--accuracy", nargs="*", type=float, metavar="EPOCHS",
                    help="also train cifar_speedrun for these epochs (default 2.5 5 9.9) and print accuracy vs time")
    ap.add_argument("--arch", default="speednet_wide", help="the CIFAR-10 net of --accuracy (default: kpca's paper "
                    "profile's, airbench94 widened; speednet: airbench94's own widths)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"training throughput, {args.threads} thread(s), {args.steps} timed steps, load {os.getloadavg()[0]:.2f}")
    for arch in args.nets:
        r = throughput(arch, args.steps)
        base = r["old"]
        print(f"  {arch:9s} batch {NETS[arch][2]:4d}: " + "  ".join(f"{k} {v:7.1f} img/s ({v / base:4.2f}×)"
                                                                   for k, v in r.items()), flush=True)
    if args.accuracy is not None:
        accuracy_vs_time(args.accuracy or [2.5, 5.0, 9.9], args.arch)


if __name__ == "__main__":
    main()
