"""Train (or read) odm's paper-profile Tsinghua networks on the grouped split and store them under checkpoints/.

    OODREPRO_DATA_ROOT=../shared/data python scripts/train_odm_tsinghua.py 0

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
from oodrepro.experiments.odm.methods import Scorer

torch.set_num_threads(int(os.environ.get("THREADS", "1")))
seeds = [int(a) for a in sys.argv[1:]] or [0]
cfg = config.resolve("odm.tsinghua", "paper")
signs = tsinghua.load_signs(cfg)
split = tt100k.protocol_split(signs["labels"], seed=cfg["split_seed"])
for seed in seeds:
    tr, val, seen_val, test_in, seen, oods = tsinghua.split_sets(signs, split, cfg, seed)
    t0, load0 = time.time(), os.getloadavg()[0]
    ctx, models = tsinghua.networks(cfg, tr, seen, seed, progress=True)
    sc = Scorer(ctx, models, None)
    for name, m in models.items():
        acc = round(sc.accuracy(name, test_in), 4)
        if m.stored:
            checkpoints.annotate(m.stored["key"], accuracy={"test_in": acc},
                                 test_set=f"TT100K grouped split {cfg['split_seed']}, in-distribution test "
                                          f"({len(test_in)} images; {'arg-max' if name == 'ce' else 'nearest class mean'})")
        print(f"seed {seed} {name}: accuracy {acc:.4f}, train {m.stored and m.stored.get('train_seconds')} s",
              flush=True)
    print(f"seed {seed}: wall {time.time() - t0:.0f} s, load {load0:.2f} -> {os.getloadavg()[0]:.2f}", flush=True)
