"""How fast the metric-learned (ML) Tsinghua embedding learns: nearest-class-mean accuracy on the grouped
split's in-distribution test images after a fixed number of steps, for one pairing / schedule / loss variant.

    OODREPRO_DATA_ROOT=../shared/data VARIANT=dense SCHED=triangle LR=2e-3 WD=1e-4 STEPS=600 BF16=1 THREADS=1 \\
        python scripts/odm_ml_diagnosis.py

VARIANT: base (pairs sampled as the authors: half the batch as anchors), dense (every pair of the batch,
weighted to the authors' proportions), with the suffix -unsq for the authors' unsquared distance. Prints one
JSON line. Nothing is cached or stored.
"""
import json
import os
import time

import torch

from oodrepro import config, recipes, train
from oodrepro.data import tt100k
from oodrepro.detectors.ncm import class_means, ncm_predict
from oodrepro.embed import embed
from oodrepro.experiments.odm import tsinghua
from oodrepro.experiments.odm.losses import ContrastiveLoss

torch.set_num_threads(int(os.environ.get("THREADS", "1")))
env = {k: os.environ.get(k) for k in ("VARIANT", "STEPS", "LR", "WD", "BS", "SCHED", "TR", "MARGIN", "BF16")}
variant, steps = env["VARIANT"] or "base", int(env["STEPS"] or 300)
cfg = config.resolve("odm.tsinghua", "paper")
signs = tsinghua.load_signs(cfg)
split = tt100k.protocol_split(signs["labels"], seed=cfg["split_seed"])
tr, val, seen_val, test_in, seen, oods = tsinghua.split_sets(signs, split, cfg, 0)
loss = ContrastiveLoss(margin=float(env["MARGIN"] or cfg["margin"]), squared=not variant.endswith("unsq"),
                       pairs="all" if variant.startswith("dense") else "sampled")
tri = env["SCHED"] == "triangle"
r = recipes.Recipe("diagnosis", lr=float(env["LR"] or 1e-3), weight_decay=float(env["WD"] or 0), steps=steps,
                   batch_size=int(env["BS"] or 128), schedule="triangle" if tri else "constant",
                   warmup=0.1 if tri else 0.0, lr_start=0.1 if tri else 1.0, lr_end=0.01 if tri else 1.0,
                   translate=int(env["TR"] or 0), bf16=env["BF16"] == "1", channels_last=env["BF16"] == "1")
t0 = time.time()
m = train.fit("wrn10_2", tr, loss, recipe=r, embedding_dim=cfg["embedding_dim"], seed=0, progress=False,
              use_cache=False)
z_tr, z_te = embed(m, tr, [0])[0], embed(m, test_in, [0])[0]
acc = float((ncm_predict(z_te, class_means(z_tr, tr.y)) == test_in.y).mean())
print(json.dumps({"env": env, "ncm_accuracy": round(acc, 4), "train_seconds": round(time.time() - t0, 1),
                  "load": round(os.getloadavg()[0], 2), "loss_per_epoch": [round(h["loss"], 3) for h in m.history]}))
