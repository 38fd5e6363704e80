"""Does training length, the network's width or the pairing explain odm/mnist's novelty gap? CE (maximum softmax), ML and ODM
(nearest class mean) novelty AUROC of the page's networks trained for several epoch counts, on LeNet5 (the page's)
or a wider LeNet.

    OODREPRO_DATA_ROOT=../shared/data OODREPRO_CHECKPOINTS=/tmp/ck-epochs \
        python scripts/odm_mnist_epochs.py --epochs 1 2 5 10 20 --seeds 0 1
    OODREPRO_DATA_ROOT=../shared/data OODREPRO_CHECKPOINTS=/tmp/ck-arch \
        python scripts/odm_mnist_epochs.py --arch lenet_tf --epochs 20 --nets ce ml odm --seeds 0 1
    OODREPRO_DATA_ROOT=../shared/data OODREPRO_CHECKPOINTS=/tmp/ck-pairing \
        python scripts/odm_mnist_epochs.py --epochs 20 --nets ml odm --pairs sampled authors --seeds 0 1 2 3 4

The paper profile of ``odm/mnist`` trains knn-ls's LeNet5 (6-16 convolutions, 120-84 dense) for 20 epochs (knn-ls's
MLP recipe; the paper states neither its LeNet's widths nor its training length, and the authors' released code
covers only SVHN ↔ CIFAR-10); its CE and ML novelty AUROC lie ~10 points below the paper's Table 3 (82.9 and 84.8
against 92.3 and 94.5, five seeds), while ODM's and every anomaly row are within ~1 point. ``lenet_tf`` is the LeNet
of TensorFlow's "Deep MNIST for experts" tutorial, which many TensorFlow papers of 2018–2019 used as "LeNet" on
MNIST: 5×5 convolutions of 32 and 64 channels ("same" padding, 2×2 max-pooling), a 1,024-unit dense layer with
dropout 0.5, then the head. It is defined here, not in the package, until it earns a place there (a new
architecture in the package changes odm/mnist's archived run).

Each network is the page's (``ctx.model`` with the page's losses, tags, recipe and data:
:func:`oodrepro.experiments.odm.mnist.load_sets`, as :func:`~oodrepro.experiments.odm.methods.train_models` builds
them, less CC-AG) with only ``epochs``, the architecture or ``pairs`` (ours, ``sampled``; the authors' code, ``authors``) changed, scored by the page's
:class:`~oodrepro.experiments.odm.methods.Scorer`. Networks trained under other settings are not the paper
profile's, so point ``OODREPRO_CHECKPOINTS`` at a scratch folder (the 20-epoch LeNet5 ones come from the cache or
the stored networks). Prints one line per (arch, epochs, seed, network): test accuracy, novelty AUROC,
Gaussian-noise AUROC; then the seconds; and, for more than one seed, each network's mean ± s.e. over the seeds with
the paired difference of each setting from the first.
"""
import argparse
import os
import time

import numpy as np
import torch
from torch import nn

from oodrepro import config, metrics, models, train
from oodrepro.experiments.odm import mnist
from oodrepro.experiments.odm.methods import Scorer, context, contrastive, embedding_recipe, metric_row


class LeNetTF(nn.Module):
    """TensorFlow's deep-MNIST LeNet: conv5×5(32) → pool → conv5×5(64) → pool → dense 1,024 (dropout 0.5) → head.
    ``features`` returns the flattened convolutions, the dense layer and the head, as LeNet5's does."""

    def __init__(self, in_shape=(1, 28, 28), n_classes: int = 10):
        super().__init__()
        c, side = int(in_shape[0]), int(in_shape[1]) // 4
        self.conv = nn.Sequential(nn.Conv2d(c, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2))
        self.fc1, self.drop = nn.Linear(64 * side * side, 1024), nn.Dropout(0.5)
        self.head = nn.Linear(1024, n_classes)

    def features(self, x):
        h0 = self.conv(x).flatten(1)
        h1 = self.drop(torch.relu(self.fc1(h0)))
        return [h0, h1, self.head(h1)]

    def forward(self, x):
        return self.features(x)[-1]

    def n_layers(self) -> int:
        return 3


models.ARCHITECTURES.setdefault("lenet_tf", LeNetTF)

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--epochs", type=int, nargs="+", default=[1, 2, 5, 10, 20])
ap.add_argument("--seeds", type=int, nargs="+", default=[0])
ap.add_argument("--arch", nargs="+", default=["lenet5"], help="lenet5 (the page's), lenet_tf")
ap.add_argument("--nets", nargs="+", default=["ce", "ml"], choices=["ce", "ml", "odm"])
ap.add_argument("--pairs", nargs="+", default=["sampled"], help="the contrastive loss's pairs: sampled (ours), authors")
args = ap.parse_args()
torch.set_num_threads(int(os.environ.get("THREADS", "1")))
print(f"load {os.getloadavg()[0]:.2f}", flush=True)
res = {}
for arch, epochs, pairs in ((a, e, p) for a in args.arch for e in args.epochs for p in args.pairs):
    cfg = config.resolve("odm.mnist", "paper", epochs=epochs, pairs=pairs, anomalies=["gaussian"],
                         odin_temperatures=[1.0], odin_epsilons=[0.0])
    tr, _, seen_tr, _, test_in, oods, _ = mnist.load_sets(cfg)
    d, rec = cfg["embedding_dim"], embedding_recipe(cfg)
    for seed in args.seeds:
        ctx = context(arch, tr, cfg, seed)
        t0 = time.time()
        build = {"ce": ("ce", lambda: ctx.model(train.LabelSmoothedCE(0.0), tag="ce")),
                 "ml": (f"ml/{d}", lambda: ctx.model(contrastive(cfg), embedding_dim=d, tag=f"ml{d}", recipe=rec)),
                 "odm": (f"odm/{d}", lambda: ctx.model(contrastive(cfg), ood_set=seen_tr, embedding_dim=d,
                                                       tag=f"odm{d}", recipe=rec))}
        nets = {build[n][0]: build[n][1]() for n in args.nets}  # "/" in a name: an embedding, NCM-scored
        sc = Scorer(ctx, nets, None)
        for name in nets:
            s_in = sc.score(name, test_in)
            nov = metric_row(s_in, sc.score(name, oods["novelty"]))["auroc"]
            gau = metric_row(s_in, sc.score(name, oods["gaussian"]))["auroc"]
            acc = sc.accuracy(name, test_in)
            res[(arch, epochs, pairs), name, seed] = (acc, nov, gau)
            print(f"{arch} epochs {epochs:3d} {pairs} seed {seed} {name:5s} accuracy {acc:.4f} "
                  f"novelty AUROC {nov:.4f} gaussian AUROC {gau:.4f}", flush=True)
        print(f"{arch} epochs {epochs:3d} {pairs} seed {seed}: {time.time() - t0:.0f} s, "
              f"load {os.getloadavg()[0]:.2f}", flush=True)
settings = list(dict.fromkeys(k[0] for k in res))
if len(args.seeds) > 1:
    print(f"\nmean ± s.e. over seeds {args.seeds}; Δ: paired difference from {' '.join(map(str, settings[0]))}")
    for name in dict.fromkeys(k[1] for k in res):
        for i, what in enumerate(("accuracy", "novelty AUROC", "gaussian AUROC")):
            col = {st: np.array([res[st, name, s][i] for s in args.seeds]) for st in settings}
            parts = []
            for st, v in col.items():
                m, se = metrics.mean_se(v)
                dm, dse = metrics.mean_se(v - col[settings[0]])
                parts.append(f"{' '.join(map(str, st))}: {m:.4f} ± {se:.4f}" + (f" (Δ {dm:+.4f} ± {dse:.4f})"
                                                                               if st != settings[0] else ""))
            print(f"{name:5s} {what:15s} " + "; ".join(parts), flush=True)
