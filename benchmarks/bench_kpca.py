"""Inference cost of KPCA against exact k-NN (Fang et al. §5.3, Table 4) on synthetic features.

For a bank of N training features (D = 512, float32, post-ReLU-like |N(0, 1)|) and a batch of queries,
prints per detector: fit time, per-query scoring time (batch time / queries, best of --repeat),
the bytes it keeps for inference (arrays / faiss index) and the peak of NumPy allocations while
scoring (tracemalloc; faiss's own buffers are not seen), and the ratios to exact k-NN measured in
this run. Detectors: KPCA_nys (cosine-Gaussian, m landmarks, uniform: the bench has no logits),
KPCA_rff (cosine-Gaussian, M features), PCA (cosine), and exact k-NN of Sun et al. (faiss
``IndexFlatL2`` on normalised features, k = 50). Nothing is asserted: figures only.

    python benchmarks/bench_kpca.py [--n 10000 100000 1000000] [--components 1024] [--fit-cap 100000]

N = 10^6 is in the default sizes (the k-NN bank alone is 2 GiB). KPCA and PCA are fitted on at most
``--fit-cap`` rows (default 10^5; 0 = all): their scoring state (m landmarks and an m × m map, or M
directions, a mean and q components) has the same shape whatever the rows fitted, so per-query time and
memory are those of a full fit, while a full fit at 10^6 costs N·m² flops (tens of minutes on 2 cores).
k-NN always indexes all N. The measuring functions are the package's
(:mod:`oodrepro.experiments.kpca.cost`), shared with the cost page.
"""
from __future__ import annotations

import argparse

import faiss

from oodrepro.experiments.kpca.cost import measure


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--huge", action="store_true", help="add N = 1,000,000 (now in the default sizes)")
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--components", type=int, default=1024, help="M random features / m landmarks")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--fit-cap", type=int, default=100_000,
                    help="fit KPCA/PCA on at most this many rows (their scoring state does not depend on it); "
                         "0 = all rows")
    a = ap.parse_args()
    sizes = a.n + ([1_000_000] if a.huge and 1_000_000 not in a.n else [])
    print(f"faiss {faiss.__version__}, threads {faiss.omp_get_max_threads()}, D = {a.dim}, "
          f"M = m = {a.components}, {a.queries} queries, best of {a.repeat}")
    print(f"{'N':>8} {'detector':>9} {'fitted':>8} {'fit s':>8} {'µs/query':>9} {'×kNN':>6} {'kept MiB':>9} "
          f"{'×kNN':>7} {'peak MiB':>9}")
    for n in sizes:
        for r in measure(n, a.dim, a.components, a.queries, a.repeat, fit_cap=a.fit_cap or None):
            print(f"{n:>8} {r['detector']:>9} {r['fitted']:>8} {r['fit_s']:>8.2f} {r['us_per_query']:>9.1f} "
                  f"{r['time_vs_knn']:>6.3f} {r['kept_mib']:>9.1f} {r['memory_vs_knn']:>7.4f} {r['peak_mib']:>9.1f}",
                  flush=True)
    print("×kNN = this detector's figure / exact k-NN's in this run. kept = what scoring reads (k-NN: the "
          "whole normalised bank); peak = NumPy allocations while scoring the batch.")


if __name__ == "__main__":
    main()
