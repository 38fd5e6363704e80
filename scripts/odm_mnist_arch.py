"""Does the network's width explain odm/mnist's novelty gap? CE (maximum softmax), ML and ODM (nearest class
mean) novelty AUROC of the page's LeNet5 against a wider "LeNet", trained exactly as the page trains its own.

    OODREPRO_DATA_ROOT=../shared/data OODREPRO_CHECKPOINTS=/tmp/ck-arch \
        python scripts/odm_mnist_arch.py --arch lenet_tf --seeds 0 1

The paper (odm, §4 and supplement B) trains "a LeNet" on MNIST 2/6/7 and states neither its widths nor its
training length; the authors' released code covers only SVHN ↔ CIFAR-10. The page's paper profile uses
knn-ls's LeNet5 (6-16 convolutions, 120-84 dense) for 20 epochs, and its CE and ML novelty AUROC lie ~10 points
below the paper's Table 3 (82.9 and 84.8 against 92.3 and 94.5, five seeds) while ODM's is within 1 point.
``lenet_tf`` is the LeNet of TensorFlow's "Deep MNIST for experts" tutorial, which many TensorFlow papers of
2018–2019 used as "LeNet" on MNIST: 5×5 convolutions of 32 and 64 channels ("same" padding, 2×2 max-pooling),
a 1,024-unit dense layer with dropout 0.5, then the head. It is defined here, not in the package, until it
earns a place there (a new architecture in the package changes odm/mnist's archived run).

Every network is the page's (``ctx.model`` with the page's losses, tags, recipe and data:
:func:`oodrepro.experiments.odm.mnist.load_sets`, :func:`~oodrepro.experiments.odm.methods.train_models`, less CC-AG) with
only the architecture changed, scored by the page's :class:`~oodrepro.experiments.odm.methods.Scorer`. Networks
of another architecture are not the paper profile's, so point ``OODREPRO_CHECKPOINTS`` at a scratch folder.
Prints one line per (arch, seed, network): test accuracy, novelty AUROC, Gaussian-noise AUROC; then the seconds.
"""
import argparse
import os
import time

import torch
from torch import nn

from oodrepro import config, models, train
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
ap.add_argument("--arch", nargs="+", default=["lenet_tf"], help="lenet5 (the page's), lenet_tf")
ap.add_argument("--seeds", type=int, nargs="+", default=[0])
ap.add_argument("--epochs", type=int, default=None, help="default: the paper profile's")
args = ap.parse_args()
torch.set_num_threads(int(os.environ.get("THREADS", "1")))
print(f"load {os.getloadavg()[0]:.2f}", flush=True)
over = {} if args.epochs is None else {"epochs": args.epochs}
cfg = config.resolve("odm.mnist", "paper", anomalies=["gaussian"], odin_temperatures=[1.0], odin_epsilons=[0.0],
                     **over)
tr, _, seen_tr, _, test_in, oods, _ = mnist.load_sets(cfg)
for arch in args.arch:
    for seed in args.seeds:
        t0 = time.time()
        ctx = context(arch, tr, cfg, seed)
        d, rec = cfg["embedding_dim"], embedding_recipe(cfg)  # as methods.train_models, without CC-AG
        nets = {"ce": ctx.model(train.LabelSmoothedCE(0.0), tag="ce"),
                f"ml/{d}": ctx.model(contrastive(cfg), embedding_dim=d, tag=f"ml{d}", recipe=rec),
                f"odm/{d}": ctx.model(contrastive(cfg), ood_set=seen_tr, embedding_dim=d, tag=f"odm{d}", recipe=rec)}
        sc = Scorer(ctx, nets, None)
        for name in nets:
            s_in = sc.score(name, test_in)
            nov = metric_row(s_in, sc.score(name, oods["novelty"]))["auroc"]
            gau = metric_row(s_in, sc.score(name, oods["gaussian"]))["auroc"]
            print(f"{arch:8s} seed {seed} {name:5s} accuracy {sc.accuracy(name, test_in):.4f} "
                  f"novelty AUROC {nov:.4f} gaussian AUROC {gau:.4f}", flush=True)
        print(f"{arch:8s} seed {seed}: {time.time() - t0:.0f} s, load {os.getloadavg()[0]:.2f}", flush=True)
