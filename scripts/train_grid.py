"""Train (or read) the networks of one unit of the cross-paper grid (beyond/objectives, paper profile) exactly as
its cells build them (``grid.objective_model`` on the unit's own context), so that the page reads them from the cache
or the stored networks instead of training. Prints each network's in-distribution test accuracy (classifiers:
arg-max; ML / ODM: nearest class mean), training seconds and the machine load.

    OODREPRO_DATA_ROOT=../shared/data python scripts/train_grid.py cifar10 0 --objectives ce ml odm
    OODREPRO_DATA_ROOT=../shared/data python scripts/train_grid.py tt100k 1 --objectives ls

``cifar10 S``: kpca's CIFAR-10 network, seed S (networks stay in the cache: the grid stores none of them);
``tt100k K``: odm's network on Table 4's K-th random class split (stored, as odm/tsinghua's).
``--steps N`` trains ML / ODM on kpca's network for N steps instead (a trial under another cache key, which the page
never reads). One torch thread (``$OODREPRO_TRAIN_THREADS``).
"""
import argparse
import dataclasses
import os
import time

import numpy as np

from oodrepro import checkpoints, config
from oodrepro.detectors.ncm import class_means, ncm_predict
from oodrepro.engine import contexts
from oodrepro.engine.core import load_ood
from oodrepro.experiments.beyond import grid

ap = argparse.ArgumentParser()
ap.add_argument("network", choices=("cifar10", "tt100k"))
ap.add_argument("seed", type=int, help="seed (cifar10) or random split (tt100k)")
ap.add_argument("--objectives", nargs="+", default=list(grid.OBJECTIVES), choices=grid.OBJECTIVES)
ap.add_argument("--steps", type=int, default=None)
a = ap.parse_args()
cfg = config.resolve("beyond.objectives", "paper")
if a.steps:
    grid.SPEEDRUN_EMBEDDING = grid.SPEEDRUN_EMBEDDING.replace(steps=a.steps, name=f"odm_cpu_flip-{a.steps}steps-trial")

if a.network == "cifar10":
    kcfg = dict(grid.speedrun_cfg(cfg), pairings=["cifar10->gaussian"], seeds=[a.seed])
    spec = dataclasses.replace(grid.kpca_features.model_spec(kcfg), store=False)
    _, _, ctx, _, _ = next(contexts(grid.KPCA_PAPER, spec, kcfg, progress=True))
    seen = load_ood(cfg["seen"], ctx.in_name, ctx.in_test, cfg, seed=ctx.seed + 1000)
    ctx.grid_network = grid.Network("kpca", kcfg, seen)
    test_in = ctx.in_test
else:
    c = grid.tt100k_cfg(cfg)
    signs = grid.tsinghua.load_signs(c)
    split = grid.tt100k.random_splits(signs["labels"], a.seed + 1, seed=1000 + c["split_seed"])[a.seed]
    tr, _, _, test_in, seen_sets, oods = grid.tsinghua.split_sets(signs, split, c, c["seeds"][0])
    ctx, _ = next(grid.seed_contexts(c["arch"], tr, test_in, oods, dict(c, seeds=c["seeds"][:1]), progress=True))
    seen = seen_sets[grid.TT100K_SEEN]
    ctx.grid_network = grid.Network("odm", c, seen)

for obj in a.objectives:
    t0, load0 = time.time(), os.getloadavg()[0]
    m = grid.objective_model(ctx, obj, cfg, seen)
    fit = time.time() - t0
    z_te = ctx.emb(m, test_in, [0])[0]
    ncm = obj in ("ml", "odm")
    if ncm:
        acc = float((ncm_predict(z_te, class_means(ctx.emb(m, ctx.train_set, [0])[0], ctx.train_set.y))
                     == test_in.y).mean())
    else:
        acc = float((np.argmax(z_te, 1) == test_in.y).mean())
    how = "nearest class mean" if ncm else "arg-max"
    if m.stored:  # the stored network's manifest entry records its accuracy (odm's TT100K networks)
        checkpoints.annotate(m.stored["key"], accuracy={"test_in": round(acc, 4)},
                             test_set=f"TT100K random split {a.seed}, in-distribution test ({len(test_in)} images; {how})")
    print(f"{a.network} {a.seed} {obj}: test accuracy {acc:.4f} ({how}), fit {fit:.0f} s, "
          f"wall {time.time() - t0:.0f} s, load {load0:.2f} -> {os.getloadavg()[0]:.2f}, recipe {m.recipe.name}, "
          f"stored {m.stored and m.stored['file']}, cache key {m.cache_key}", flush=True)
