"""Does training length explain odm/mnist's novelty gap? CE (maximum softmax) and ML (nearest class mean)
novelty AUROC of the page's own LeNet5 networks, trained for several epoch counts.

    OODREPRO_DATA_ROOT=../shared/data OODREPRO_CHECKPOINTS=/tmp/ck-epochs \
        python scripts/odm_mnist_epochs.py --epochs 1 2 5 10 20 --seeds 0 1

The paper profile of ``odm/mnist`` trains 20 epochs (knn-ls's MLP recipe; the paper does not state its own) and
its CE and ML novelty AUROC lie ~10 points below the paper's Table 3 (82.9 and 84.8 against 92.3 and 94.5, five
seeds), while ODM's and every anomaly row are within ~1 point. Each network here is the page's (``ctx.model``
with the page's loss, tag and data: :func:`oodrepro.experiments.odm.mnist.load_sets`) with only ``epochs``
changed, scored by the page's :class:`~oodrepro.experiments.odm.methods.Scorer`. Networks trained under other
epoch counts are not the paper profile's, so point ``OODREPRO_CHECKPOINTS`` at a scratch folder (the
20-epoch ones come from the cache or the stored networks). Prints one line per (epochs, seed, network):
test accuracy, novelty AUROC, Gaussian-noise AUROC, training seconds.
"""
import argparse
import os
import time

import torch

from oodrepro import config, train
from oodrepro.experiments.odm import mnist
from oodrepro.experiments.odm.methods import Scorer, context, contrastive, metric_row

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--epochs", type=int, nargs="+", default=[1, 2, 5, 10, 20])
ap.add_argument("--seeds", type=int, nargs="+", default=[0])
args = ap.parse_args()
torch.set_num_threads(int(os.environ.get("THREADS", "1")))
print(f"load {os.getloadavg()[0]:.2f}", flush=True)
for epochs in args.epochs:
    cfg = config.resolve("odm.mnist", "paper", epochs=epochs, anomalies=["gaussian"],
                         odin_temperatures=[1.0], odin_epsilons=[0.0])
    tr, _, _, _, test_in, oods, _ = mnist.load_sets(cfg)
    for seed in args.seeds:
        ctx = context("lenet5", tr, cfg, seed)
        d = cfg["embedding_dim"]
        t0 = time.time()
        models = {"ce": ctx.model(train.LabelSmoothedCE(0.0), tag="ce"),
                  f"ml/{d}": ctx.model(contrastive(cfg), embedding_dim=d, tag=f"ml{d}")}
        sc = Scorer(ctx, models, None)
        for name in models:
            s_in = sc.score(name, test_in)
            nov = metric_row(s_in, sc.score(name, oods["novelty"]))["auroc"]
            gau = metric_row(s_in, sc.score(name, oods["gaussian"]))["auroc"]
            print(f"epochs {epochs:3d} seed {seed} {name:5s} accuracy {sc.accuracy(name, test_in):.4f} "
                  f"novelty AUROC {nov:.4f} gaussian AUROC {gau:.4f}", flush=True)
        print(f"epochs {epochs:3d} seed {seed}: {time.time() - t0:.0f} s, load {os.getloadavg()[0]:.2f}", flush=True)
