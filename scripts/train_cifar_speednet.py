"""Train (or read) kpca's paper-profile CIFAR-10 network for some seeds and store it under checkpoints/.

    OODREPRO_DATA_ROOT=../shared/data python scripts/train_cifar_speednet.py 0 1 2

THREADS (default: all cores; the training itself runs with $OODREPRO_TRAIN_THREADS, default 1), ARCH (default speednet; speednet_wide), RECIPE (default cifar_speedrun), RETRAIN=1 (train again and replace a stored
network with the same definition, e.g. one from older training code).
"""
import os
import sys
import time

import torch

from oodrepro import checkpoints, data, loop, train
from oodrepro.experiments.kpca import nets

torch.set_num_threads(int(os.environ.get("THREADS", os.cpu_count() or 1)))
recipe = os.environ.get("RECIPE", "cifar_speedrun")
arch = os.environ.get("ARCH", "speednet")
tr, te = data.load("cifar10", "train"), data.load("cifar10", "test")
for seed in map(int, sys.argv[1:] or ["0"]):
    t0, load0 = time.time(), os.getloadavg()[0]
    model = train.fit(arch, tr, nets.CrossEntropy(), recipe=recipe, seed=seed, progress=True,
                      store=f"{arch}-cifar10-{recipe}-s{seed}",
                      retrain=os.environ.get("RETRAIN") == "1")
    acc = {f"tta{t}": round(loop.accuracy(model, te.x, te.y, tta=t), 4) for t in (0, 2)}
    entry = checkpoints.annotate(model.stored["key"], accuracy=acc, test_set="cifar10 test (JPEG copy)",
                                 train_threads=train.train_threads(),
                                 load_at_start=round(load0, 2), load_at_end=round(os.getloadavg()[0], 2))
    print(f"seed {seed}: accuracy {acc}, train {entry['train_seconds']} s, wall {time.time() - t0:.0f} s, "
          f"load {load0:.2f} -> {os.getloadavg()[0]:.2f}", flush=True)
