"""Our pairing against the authors': odm/mnist's ML and ODM networks trained with ``pairs=sampled`` (ours: half
the batch as anchors, partners inside the batch, seen OOD appended to every second batch) and ``pairs=authors``
(the authors' code: partners from the anchor's whole class, seen OOD replacing a quarter of every second batch).

    OODREPRO_DATA_ROOT=../shared/data OODREPRO_CHECKPOINTS=/tmp/ck-pairing \
        python scripts/odm_pairing.py --seeds 0 1 2 3 4 [--pairs sampled authors]

Every network is the page's paper profile (``ctx.model`` with the page's loss, tags, recipe and data) with only
``pairs`` changed, scored by the page's :class:`~oodrepro.experiments.odm.methods.Scorer`. Networks under another
pairing are not the paper profile's, so point ``OODREPRO_CHECKPOINTS`` at a scratch folder. Prints one line per
(pairing, seed, network) — nearest-class-mean test accuracy, novelty AUROC (digits 5, 9, 1), Gaussian-noise
AUROC — then per (pairing, network) the mean ± s.e. over the seeds, and the paired difference authors − sampled.
"""
import argparse
import os
import time

import numpy as np
import torch

from oodrepro import config, metrics
from oodrepro.experiments.odm import mnist
from oodrepro.experiments.odm.methods import Scorer, context, contrastive, embedding_recipe, metric_row

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
ap.add_argument("--pairs", nargs="+", default=["sampled", "authors"])
args = ap.parse_args()
torch.set_num_threads(int(os.environ.get("THREADS", "1")))
print(f"load {os.getloadavg()[0]:.2f}", flush=True)
res = {}
for pairs in args.pairs:
    cfg = config.resolve("odm.mnist", "paper", pairs=pairs, anomalies=["gaussian"], odin_temperatures=[1.0],
                         odin_epsilons=[0.0])
    tr, _, seen_tr, _, test_in, oods, _ = mnist.load_sets(cfg)
    d, rec = cfg["embedding_dim"], embedding_recipe(cfg)
    for seed in args.seeds:
        t0 = time.time()
        ctx = context("lenet5", tr, cfg, seed)
        nets = {f"ml/{d}": ctx.model(contrastive(cfg), embedding_dim=d, tag=f"ml{d}", recipe=rec),  # "/": NCM-scored
                f"odm/{d}": ctx.model(contrastive(cfg), ood_set=seen_tr, embedding_dim=d, tag=f"odm{d}", recipe=rec)}
        sc = Scorer(ctx, nets, None)
        for name in nets:
            s_in = sc.score(name, test_in)
            row = (sc.accuracy(name, test_in), metric_row(s_in, sc.score(name, oods["novelty"]))["auroc"],
                   metric_row(s_in, sc.score(name, oods["gaussian"]))["auroc"])
            res[pairs, name.split("/")[0], seed] = row
            print(f"{pairs:8s} seed {seed} {name:4s} accuracy {row[0]:.4f} novelty AUROC {row[1]:.4f} "
                  f"gaussian AUROC {row[2]:.4f}", flush=True)
        print(f"{pairs:8s} seed {seed}: {time.time() - t0:.0f} s, load {os.getloadavg()[0]:.2f}", flush=True)
print("\nmean ± s.e. over seeds", args.seeds)
for name in ("ml", "odm"):
    for k, what in enumerate(("accuracy", "novelty AUROC", "gaussian AUROC")):
        cols = {p: np.array([res[p, name, s][k] for s in args.seeds]) for p in args.pairs}
        line = "  ".join(f"{p} {m:.4f} ± {se:.4f}" for p, (m, se) in ((p, metrics.mean_se(v)) for p, v in cols.items()))
        if {"sampled", "authors"} <= set(cols):
            m, se = metrics.mean_se(cols["authors"] - cols["sampled"])
            line += f"  authors − sampled {m:+.4f} ± {se:.4f}"
        print(f"{name:4s} {what:15s} {line}", flush=True)
