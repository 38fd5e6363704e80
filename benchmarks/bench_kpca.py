"""Inference cost of KPCA against exact k-NN (Fang et al. §5.3, Table 4) on synthetic features.

For a bank of N training features (D = 512, float32, post-ReLU-like |N(0, 1)|) and a batch of queries,
prints per detector: fit time, per-query scoring time (batch time / queries, best of --repeat),
the bytes it keeps for inference (arrays / faiss index) and the peak of NumPy allocations while
scoring (tracemalloc; faiss's own buffers are not seen), and the ratios to exact k-NN measured in
this run. Detectors: KPCA_nys (cosine-Gaussian, m landmarks, uniform: the bench has no logits),
KPCA_rff (cosine-Gaussian, M features), PCA (cosine), and exact k-NN of Sun et al. (faiss
``IndexFlatL2`` on normalised features, k = 50). Nothing is asserted: figures only.

    python benchmarks/bench_kpca.py [--n 10000 100000] [--huge] [--components 1024] [--queries 1000]

``--huge`` adds N = 10^6 (slow on a small CPU: the k-NN bank alone is 2 GiB).
"""
from __future__ import annotations

import argparse
import time
import timeit
import tracemalloc

import faiss
import numpy as np

from oodrepro.detectors import KPCA, PCA, DeepKNN


def best_of(fn, repeat):
    """Best wall time of ``repeat`` single calls (the standard library's ``timeit``)."""
    return min(timeit.repeat(fn, number=1, repeat=repeat))


def kept_bytes(det) -> int:
    """Bytes of the state scoring reads: every array attribute ending in ``_`` and a faiss index."""
    total = 0
    for k, v in vars(det).items():
        if not k.endswith("_"):
            continue
        if isinstance(v, np.ndarray):
            total += v.nbytes
        elif isinstance(v, tuple):
            total += sum(a.nbytes for a in v if isinstance(a, np.ndarray))
        elif isinstance(v, faiss.Index):
            total += v.ntotal * v.d * 4
        elif hasattr(v, "random_weights_"):
            total += v.random_weights_.nbytes + v.random_offset_.nbytes
    return total


def peak_scoring_bytes(det, q) -> int:
    tracemalloc.start()
    det.score([q])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def detectors(m: int):
    return {"KPCA_nys": lambda: KPCA(approximation="nystroem", landmarks="uniform", n_components=m, gamma=1.0,
                                     evr=0.9),
            "KPCA_rff": lambda: KPCA(n_components=m, gamma=1.0, evr=0.9),
            "PCA": lambda: PCA(cosine=True, evr=0.9),
            "kNN": lambda: DeepKNN(k=50)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--huge", action="store_true", help="add N = 1,000,000")
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--components", type=int, default=1024, help="M random features / m landmarks")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    sizes = a.n + ([1_000_000] if a.huge else [])
    print(f"faiss {faiss.__version__}, threads {faiss.omp_get_max_threads()}, D = {a.dim}, "
          f"M = m = {a.components}, {a.queries} queries, best of {a.repeat}")
    print(f"{'N':>8} {'detector':>9} {'fit s':>8} {'µs/query':>9} {'×kNN':>6} {'kept MiB':>9} {'×kNN':>7} "
          f"{'peak MiB':>9}")
    q = np.abs(rng.normal(size=(a.queries, a.dim))).astype(np.float32)
    for n in sizes:
        bank = np.abs(rng.normal(size=(n, a.dim))).astype(np.float32)
        rows = {}
        for name, make in detectors(a.components).items():
            t0 = time.perf_counter()
            det = make().fit([bank])
            fit = time.perf_counter() - t0
            per_q = best_of(lambda: det.score([q]), a.repeat) / a.queries * 1e6
            rows[name] = (fit, per_q, kept_bytes(det) / 2 ** 20, peak_scoring_bytes(det, q) / 2 ** 20)
        knn = rows["kNN"]
        for name, (fit, per_q, kept, peak) in rows.items():
            print(f"{n:>8} {name:>9} {fit:>8.2f} {per_q:>9.1f} {per_q / knn[1]:>6.3f} {kept:>9.1f} "
                  f"{kept / knn[2]:>7.3f} {peak:>9.1f}")
    print("×kNN = this detector's figure / exact k-NN's in this run. kept = what scoring reads (k-NN: the "
          "whole normalised bank); peak = NumPy allocations while scoring the batch.")


if __name__ == "__main__":
    main()
