"""Inference cost of KPCA against exact k-NN (Fang et al. §5.3, Table 4): per-query scoring time, the bytes
a detector keeps for scoring and the peak of NumPy allocations while it scores. Used by the cost page and
by ``benchmarks/bench_kpca.py`` (the same functions, larger N)."""
from __future__ import annotations

import time
import timeit
import tracemalloc

import faiss
import numpy as np

from ...detectors import KPCA, PCA, DeepKNN

DETECTORS = ("KPCA_nys", "KPCA_rff", "PCA", "kNN")


def best_of(fn, repeat: int) -> float:
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
    """Peak of the NumPy allocations (tracemalloc) while ``det`` scores ``q`` (faiss's buffers are not seen)."""
    tracemalloc.start()
    det.score([q])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def detectors(m: int, gamma: float = 1.0, evr: float = 0.9, k: int = 50) -> dict:
    """KPCA_nys (cosine-Gaussian, m uniform landmarks: synthetic features have no logits), KPCA_rff
    (M = m random features), cosine PCA and exact k-NN (faiss ``IndexFlatL2``, k-th neighbour)."""
    return {"KPCA_nys": lambda: KPCA(approximation="nystroem", landmarks="uniform", n_components=m, gamma=gamma,
                                     evr=evr),
            "KPCA_rff": lambda: KPCA(n_components=m, gamma=gamma, evr=evr),
            "PCA": lambda: PCA(cosine=True, evr=evr),
            "kNN": lambda: DeepKNN(k=k)}


def synthetic(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """Post-ReLU-like features |N(0, 1)|, float32 (N, D)."""
    return np.abs(np.random.default_rng(seed).normal(size=(n, dim))).astype(np.float32)


def measure(n: int, dim: int, m: int, queries: int, repeat: int, seed: int = 0,
            fit_cap: int | None = None) -> list[dict]:
    """One row per detector at training-set size ``n``: fit seconds, µs per query, kept MiB, peak MiB.

    ``fit_cap``: fit KPCA and PCA on the first ``fit_cap`` rows only (k-NN always indexes all ``n``). Their
    scoring state has the same shape whatever the number of rows fitted (m landmarks and an m × m map, or
    M directions; a mean and q components — q may move by a few), so their per-query time and memory are
    those of a fit on all ``n``; only the fit time (rows ``fitted``) differs. For N = 10⁶ on a small CPU, where the fit alone
    takes tens of minutes."""
    bank, q = synthetic(n, dim, seed), synthetic(queries, dim, seed + 1)
    rows = []
    for name, make in detectors(min(m, n)).items():
        fitted = n if name == "kNN" or fit_cap is None else min(n, fit_cap)
        t0 = time.perf_counter()
        det = make().fit([bank[:fitted]])
        fit = time.perf_counter() - t0
        per_q = best_of(lambda: det.score([q]), repeat) / queries * 1e6
        rows.append({"n": n, "detector": name, "fitted": fitted, "fit_s": fit, "us_per_query": per_q,
                     "kept_mib": kept_bytes(det) / 2 ** 20, "peak_mib": peak_scoring_bytes(det, q) / 2 ** 20})
    del bank
    knn = rows[-1]
    for r in rows:
        r["time_vs_knn"] = r["us_per_query"] / knn["us_per_query"]
        r["memory_vs_knn"] = r["kept_mib"] / knn["kept_mib"]
    return rows
