"""Train (or read) odm's paper-profile Tsinghua networks on the grouped split and store them under checkpoints/.

    OODREPRO_DATA_ROOT=../shared/data python scripts/train_odm_tsinghua.py 0
    OODREPRO_DATA_ROOT=../shared/data RANDOM_SPLIT=0 NETS=ce python scripts/train_odm_tsinghua.py 0

RANDOM_SPLIT=k trains the networks of Table 4's k-th random ungrouped split instead (the page's
``tt100k.random_splits(labels, n, seed=1000 + split_seed)[k]``); NETS (e.g. ``ce,ml``) trains only those of the
page's networks (``ce``, ``ml``, ``odm-<seen kind>``), so that two processes can share one split's networks. (The
cross-paper grid's label-smoothed TT100K networks: ``scripts/train_grid.py tt100k K --objectives ls``.)
HINGE_MEAN=active trains the ML and ODM networks with the page's ``hinge_mean='active'`` (the hinge averaged over the
pairs inside the margin) and ML_STEPS=n for the page's ``ml_steps`` = n optimiser steps, instead of the paper profile's
defaults; PAIRS=authors the authors' pairing (``pairs='authors'``, with HINGE_MEAN=all). Networks under settings
other than the paper profile's are not its own: point OODREPRO_CHECKPOINTS at a scratch folder.

The networks are those the page trains under its paper profile (``tsinghua._models``: CE, ML and ODM with
each seen kind), so the page reads them instead of training.
Prints and records each network's in-distribution test accuracy (CE: arg-max; ML / ODM: nearest class mean),
training seconds and the machine load. THREADS (default 1).
"""
import os
import sys
import time

import torch

from oodrepro import checkpoints, config
from oodrepro.data import tt100k
from oodrepro.experiments.odm import tsinghua
from oodrepro.experiments.odm.methods import Scorer, metric_row

torch.set_num_threads(int(os.environ.get("THREADS", "1")))
seeds = [int(a) for a in sys.argv[1:]] or [0]
cfg = config.resolve("odm.tsinghua", "paper", hinge_mean=os.environ.get("HINGE_MEAN"), pairs=os.environ.get("PAIRS"),
                     ml_steps=int(os.environ["ML_STEPS"]) if os.environ.get("ML_STEPS") else None)
signs = tsinghua.load_signs(cfg)
rk = os.environ.get("RANDOM_SPLIT")
split = (tt100k.random_splits(signs["labels"], int(rk) + 1, seed=1000 + cfg["split_seed"])[int(rk)] if rk is not None
         else tt100k.protocol_split(signs["labels"], seed=cfg["split_seed"]))
nets = os.environ.get("NETS")
where = f"random split {rk}" if rk is not None else f"grouped split {cfg['split_seed']}"
for seed in seeds:
    tr, val, seen_val, test_in, seen, oods = tsinghua.split_sets(signs, split, cfg, seed)
    t0, load0 = time.time(), os.getloadavg()[0]
    if nets:  # only the named networks, as tsinghua.networks builds them
        ctx, loss, d = tsinghua.context(cfg["arch"], tr, cfg, seed, True), tsinghua.contrastive(cfg), cfg["embedding_dim"]
        rec = tsinghua.embedding_recipe(cfg)
        # the page's model names (``ml/32``, ``odm:background/32``): the Scorer reads an embedding's size from them
        build = {"ce": ("ce", lambda: ctx.model(tsinghua.train.LabelSmoothedCE(0.0), tag="ce")),
                 "ml": (f"ml/{d}", lambda: ctx.model(loss, embedding_dim=d, tag="ml", recipe=rec)),
                 **{f"odm-{k}": (f"odm:{k}/{d}", lambda k=k: ctx.model(loss, ood_set=seen[k], embedding_dim=d,
                                                                       tag=f"odm-{k}", recipe=rec))
                    for k in cfg["seen_kinds"]}}
        models = {build[n][0]: build[n][1]() for n in nets.split(",")}
    else:
        ctx, models = tsinghua.networks(cfg, tr, seen, seed, progress=True)
    sc = Scorer(ctx, models, None)
    for name, m in models.items():
        acc = round(sc.accuracy(name, test_in), 4)
        if m.stored:
            checkpoints.annotate(m.stored["key"], accuracy={"test_in": acc},
                                 test_set=f"TT100K {where}, in-distribution test "
                                          f"({len(test_in)} images; "
                                          f"{'nearest class mean' if '/' in name else 'arg-max'})")
        s_in = sc.score(name, test_in)
        aurocs = ", ".join(f"{o} {metric_row(s_in, sc.score(name, ds))['auroc']:.4f}" for o, ds in oods.items())
        print(f"seed {seed} {name}: accuracy {acc:.4f}, train {m.stored and m.stored.get('train_seconds')} s; "
              f"AUROC {aurocs}", flush=True)
    print(f"seed {seed}: wall {time.time() - t0:.0f} s, load {load0:.2f} -> {os.getloadavg()[0]:.2f}", flush=True)
