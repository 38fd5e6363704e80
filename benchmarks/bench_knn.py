"""k-NN scoring time: oodrepro's functions against raw faiss ``IndexFlatL2`` on the same arrays.

Prints, for a bank of N training embeddings (D = 256, float32) and 10,000 queries:
  - raw faiss: build IndexFlatL2 + search k neighbours, take the k-th distance;
  - oodrepro.detectors.knn_radius (validation + the same faiss search + sqrt);
  - KNNRadius.fit (the leave-one-out normaliser: the bank searched against itself) + score,
and the ratios to raw faiss measured in this run. Nothing is asserted: figures only.

    python benchmarks/bench_knn.py [--n 10000 60000] [--queries 10000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import timeit

import faiss
import numpy as np

from oodrepro.detectors import KNNRadius, knn_radius


def best_of(fn, repeat):
    """Best wall time of ``repeat`` single calls (the standard library's ``timeit``)."""
    return min(timeit.repeat(fn, number=1, repeat=repeat))


def raw_faiss(bank, queries, k):
    idx = faiss.IndexFlatL2(bank.shape[1])
    idx.add(bank)
    d2, _ = idx.search(queries, k)
    return np.sqrt(d2[:, k - 1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="+", default=[10_000, 60_000])
    ap.add_argument("--queries", type=int, default=10_000)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--k", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"faiss {faiss.__version__}, threads {faiss.omp_get_max_threads()}, D = {a.dim}, "
          f"{a.queries} queries, k = {a.k}, best of {a.repeat}")
    print(f"{'N':>7} {'raw faiss s':>12} {'knn_radius s':>13} {'ratio':>6} {'fit+score s':>12} {'ratio':>6}")
    for n in a.n:
        bank = rng.normal(size=(n, a.dim)).astype(np.float32)
        q = rng.normal(size=(a.queries, a.dim)).astype(np.float32)
        np.testing.assert_allclose(knn_radius(q, bank, a.k), raw_faiss(bank, q, a.k), rtol=1e-5)
        t_raw = best_of(lambda: raw_faiss(bank, q, a.k), a.repeat)
        t_ours = best_of(lambda: knn_radius(q, bank, a.k), a.repeat)
        t_fit = best_of(lambda: KNNRadius(a.k).fit([bank]).score([q]), 1)
        print(f"{n:>7} {t_raw:>12.3f} {t_ours:>13.3f} {t_ours / t_raw:>6.2f} {t_fit:>12.3f} {t_fit / t_raw:>6.2f}")
    print("ratio = time / raw faiss time in this run; fit+score also searches the bank against itself "
          "(the leave-one-out normaliser), so expect about (N + queries) / queries.")


if __name__ == "__main__":
    main()
