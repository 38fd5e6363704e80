r"""knn-ls theory (Bahri et al., arXiv:2102.05131, §3): Theorem 1, Corollary 1, Theorem 2 and Proposition 1,
checked by simulation on densities whose constants are known (:mod:`.bounds`).

One *draw* is one i.i.d. sample :math:`X_{[n]}` from the density; every statement is about a draw
("with probability at least 1 − δ over the sample, uniformly in x"), so each is checked on every draw
and the fraction of draws where it held is compared with 1 − δ. "Uniformly in x" is checked on a
finite set of evaluation points, fixed per seed and shared by all n:

* *outliers* (f = 0): points on the boundary of the support (the hardest ones) and points pushed out
  along the outward normal by a distance uniform in (0, 0.25];
* a *mixture*: half drawn from f, half uniform in the support's bounding box padded by 0.25;
* *test* points drawn from f (Corollary 1's false-positive rate).

Checking finitely many points can only miss violations, so a "held" here is an upper estimate of the
probability the theorem speaks of. Draws are cached one (seed, n) at a time with
:func:`oodrepro.cache.cached`, keyed with the fingerprint of the code that computes them.
"""
from __future__ import annotations

import math
import time
from types import SimpleNamespace

import numpy as np
import pandas as pd

from ... import config, results
from . import bounds
from ...cache import cached
from ...config import Param, Schema
from ...detectors.knn import knn_radius
from ...errors import ParameterError
from ...fingerprint import fingerprint

PAGE = "knn_ls/theory"
GAP_FRACTIONS = np.round(np.linspace(0.0, 0.95, 20), 3)  # Theorem 2 gaps, as fractions of max f
OUT_SHELL = 0.25   # width of the shell of outliers outside the support
BOX_PAD = 0.25     # padding of the mixture's uniform box


def _derived(cfg: dict) -> dict:
    if not cfg["gamma_in"] < cfg["gamma_out"]:
        raise ParameterError(f"parameters 'gamma_in' = {cfg['gamma_in']:g} and 'gamma_out' = {cfg['gamma_out']:g}: "
                             "Proposition 1 needs gamma_in < gamma_out")
    # a k runs at each n above it (ks_for): one that runs at no n of the grid would vanish without a word
    n_max = max(cfg["n_grid"])
    for name, ks, n in (("k_grid", cfg["k_grid"], n_max), ("prop1_ks", cfg["prop1_ks"], cfg["prop1_n"])):
        if max(ks) >= n:
            raise ParameterError(f"parameter {name!r} = {max(ks)} runs at no sample size: a k needs k < n, and the "
                                 f"largest n is {n:,} ({'n_grid' if name == 'k_grid' else 'prop1_n'}); "
                                 f"use {name} values below {n:,}")
    return {"n_grid": sorted(set(cfg["n_grid"])), "k_grid": sorted(set(cfg["k_grid"])),
            "prop1_ks": sorted(set(cfg["prop1_ks"])), "margins": sorted(set(cfg["margins"]))}


THEORY = config.register(Schema(
    name="knn_ls.theory",
    params=[
        Param("density", "str", "test density: 'bump' (c(1-|x|^2)^2 on the unit ball) or 'beta' "
                                "(product of Beta(2, 2) on [0, 1]^d)", choices=("bump", "beta")),
        Param("d", "int", "dimension", low=1, high=8),
        Param("n_grid", "ints", "sample sizes n", low=50, min_len=1),
        Param("k_grid", "ints", "practical k values, each run at the sample sizes above it; the theorems' "
              "minimum k is added where it is below n",
              low=1, min_len=1),
        Param("delta", "float", "failure probability δ of the statements", low=1e-9, high=1, high_open=True),
        config.seeds_param("one seed per draw of the sample; an integer n means seeds 0..n-1"),
        Param("n_eval", "int", "evaluation points per kind (outliers, mixture, test)", low=50),
        Param("gamma_in", "float", "Proposition 1: contraction of the support", low=0.01, high=1, high_open=True),
        Param("gamma_out", "float", "Proposition 1: contraction of the outliers' distance (> gamma_in)",
              low=0.01, high=1, high_open=True),
        Param("margins", "floats", "Proposition 1: distances r_min of the outliers to the support", low=1e-4,
              min_len=1),
        Param("prop1_n", "int", "Proposition 1: sample size", low=50),
        Param("prop1_ks", "ints", "Proposition 1: k values; ⌈k_min⌉ is added where it is below prop1_n", low=1,
              min_len=1),
        Param("results_dir", "str", "where result files are written"),
    ],
    profiles={
        "smoke": dict(density="bump", d=1, n_grid=[500, 2000], k_grid=[1, 10], delta=0.1, seeds=3, n_eval=200,
                      gamma_in=0.5, gamma_out=0.9, margins=[0.05, 0.5], prop1_n=2000, prop1_ks=[1, 16, 256],
                      results_dir="results"),
        "quick": dict(density="bump", d=1, n_grid=[1000, 4000, 16000, 64000, 131072], k_grid=[1, 10, 100, 1000],
                      delta=0.1, seeds=20, n_eval=400, gamma_in=0.5, gamma_out=0.9, margins=[0.05, 0.5],
                      prop1_n=32768, prop1_ks=[1, 16, 256], results_dir="results"),
        "paper": dict(density="bump", d=1, n_grid=[1000, 4000, 16000, 64000, 262144],
                      k_grid=[1, 10, 100, 1000, 10000], delta=0.1, seeds=100, n_eval=1000, gamma_in=0.5,
                      gamma_out=0.9, margins=[0.05, 0.2, 0.5], prop1_n=65536, prop1_ks=[1, 16, 256, 1024],
                      results_dir="results"),
    },
    derived=_derived,
))


# ----------------------------------------------------------------------------------------------
# building blocks
# ----------------------------------------------------------------------------------------------

def kth_distance_1d(queries: np.ndarray, bank: np.ndarray, k: int) -> np.ndarray:
    r"""The k-NN radius :math:`r_k(q; X)` (knn-ls Definition 1) of every query in one dimension, exactly, in
    float64, from the sorted sample.

    With :math:`s_1 \le \dots \le s_n` the sorted sample, the k nearest points of q are k consecutive
    :math:`s_i, \dots, s_{i+k-1}`, and :math:`r_k(q) = \min_i f(i)` with
    :math:`f(i) = \max(q - s_i,\; s_{i+k-1} - q)` (the farther end of the window). The first term falls and the
    second rises with i, so the minimum sits where :math:`s_i + s_{i+k-1}` first reaches 2q (a binary search)
    or one window to the left: :math:`O((n + m) \log n)` for m queries, where a brute-force search costs
    :math:`O(nm)` and faiss's float32 distances (:math:`\lVert x\rVert^2 + \lVert q\rVert^2 - 2x\cdot q`)
    lose the small radii of large samples."""
    s = np.sort(np.asarray(bank, dtype=np.float64).ravel())
    q = np.asarray(queries, dtype=np.float64).ravel()
    n = len(s)
    if not 1 <= k <= n:
        raise ParameterError(f"k = {k} is not accepted for a sample of {n} points; use 1 <= k <= {n}")
    i = np.clip(np.searchsorted(s[:n - k + 1] + s[k - 1:], 2 * q, side="left"), 0, n - k)
    j = np.maximum(i - 1, 0)
    return np.minimum(np.maximum(q - s[i], s[i + k - 1] - q), np.maximum(q - s[j], s[j + k - 1] - q))


def radii(queries: np.ndarray, bank: np.ndarray, k: int, budget: int = 4_000_000) -> np.ndarray:
    """:math:`r_k(q; X)` of every query: exactly from the sorted sample in one dimension
    (:func:`kth_distance_1d`), else :func:`oodrepro.detectors.knn.knn_radius` over query chunks, so that
    faiss's (chunk × k) result arrays stay below ``budget`` entries for large k."""
    if bank.shape[1] == 1:
        return kth_distance_1d(queries, bank, k)
    step = max(1, budget // max(k, 1))
    return np.concatenate([knn_radius(queries[i:i + step], bank, k) for i in range(0, len(queries), step)])


def ks_for(n: int, k_grid, delta: float, d: int) -> list[tuple[int, str]]:
    """The (k, label) pairs run at sample size n: the practical ks below n, and ⌈k_min(n)⌉ if below n."""
    out = [(k, f"k = {k}") for k in k_grid if k < n]
    km = math.ceil(bounds.k_min(delta, n, d))
    if km < n:
        out.append((km, "k = ⌈k_min⌉"))
    return out


def evaluation_points(density: bounds.Density, m: int, seed: int) -> dict[str, np.ndarray]:
    """The evaluation points of one seed (see the module docstring): ``out``, ``mix``, ``test``."""
    rng = np.random.default_rng([seed, 7])
    S = density.support
    b, nrm = S.boundary(m, rng)
    push = np.where(rng.random(m) < 0.5, 0.0, rng.uniform(0, OUT_SHELL, m))
    out = b + push[:, None] * nrm
    lo, hi = S.box(BOX_PAD)
    half = m // 2
    mix = np.vstack([density.sample(half, rng), lo + (hi - lo) * rng.random((m - half, density.d))])
    return {"out": out, "mix": mix, "test": density.sample(m, rng)}


def _draw(density_name: str, d: int, n: int, seed: int, ks: list[int], n_eval: int, n_pairs: int = 100_000) -> dict:
    """Everything one draw contributes to Theorems 1–2 and Corollary 1 (uncached)."""
    f = bounds.make_density(density_name, d)
    X = f.sample(n, np.random.default_rng([seed, n, 1]))
    ev = evaluation_points(f, n_eval, seed)
    Q = np.vstack([ev["out"], ev["mix"], ev["test"]])
    fq = f.pdf(Q)
    i_out = slice(0, n_eval)
    i_test = slice(2 * n_eval, 3 * n_eval)
    prng = np.random.default_rng([seed, 11])
    a, b = prng.integers(0, len(Q), (2, n_pairs))
    hi_i, lo_i = np.where(fq[a] >= fq[b], a, b), np.where(fq[a] >= fq[b], b, a)
    gap = fq[hi_i] - fq[lo_i]
    C = f.holder_constant
    recs, curves = [], []
    for k in ks:
        rk = radii(Q, X, k)
        r = bounds.theorem1_radius(k, n, d, C, f.beta)
        lam = bounds.theorem1_density_cut(k, n, d, C, f.beta)
        above = rk >= r
        r_out = rk[i_out]
        recs.append({
            "k": k, "r": r, "lambda": lam,
            "out_frac_above": float(np.mean(r_out >= r)),
            "out_all_above": bool(np.all(r_out >= r)),
            "out_min_ratio": float(r_out.min() / r),
            "fmax_above": float(fq[above].max()) if above.any() else 0.0,
            "fpr": float(np.mean(rk[i_test] >= r)),
            "eps_hat": bounds.misordered_gap(fq, rk),
        })
        correct = rk[hi_i] < rk[lo_i]
        for g in GAP_FRACTIONS:
            sel = gap > g * f.f_max
            curves.append({"k": k, "gap_frac": float(g), "n_pairs": int(sel.sum()),
                           "n_correct": int((correct & sel).sum())})
    return {"recs": recs, "curves": curves}


def simulate(cfg: dict, log=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Theorems 1–2 and Corollary 1 over ``cfg``'s seeds, sample sizes and k values.

    Returns ``rows`` (one per seed, n, k: r, λ, the outliers' fraction above r, the largest density
    above r, the false-positive rate, :math:`\\hat\\varepsilon`) and ``curves`` (per seed, n, k and gap:
    pairs with a larger density gap and how many of them the radii order correctly).
    """
    f = bounds.make_density(cfg["density"], cfg["d"])
    rows, curves = [], []
    for n in cfg["n_grid"]:
        kl = ks_for(n, cfg["k_grid"], cfg["delta"], cfg["d"])
        ks = [k for k, _ in kl]
        labels = dict(kl)
        t0 = time.perf_counter()
        for seed in cfg["seeds"]:
            params = {"code": fingerprint(bounds, knn_radius, functions=(_draw, radii, kth_distance_1d, evaluation_points)),
                      "density": cfg["density"], "d": cfg["d"], "n": n, "seed": seed, "ks": ks,
                      "n_eval": cfg["n_eval"]}
            res = cached("knn_ls_theory", params,
                         lambda: _draw(cfg["density"], cfg["d"], n, seed, ks, cfg["n_eval"]))
            for rec in res["recs"]:
                rows.append({"seed": seed, "n": n, "k_label": labels[rec["k"]], **rec})
            for c in res["curves"]:
                curves.append({"seed": seed, "n": n, "k_label": labels[c["k"]], **c})
        if log:
            log(f"n = {n}: {len(cfg['seeds'])} draws, k in {ks} ({time.perf_counter() - t0:.1f} s)")
    rows = pd.DataFrame(rows)
    rows["k_min"] = [bounds.k_min(cfg["delta"], n, cfg["d"]) for n in rows["n"]]
    rows["f_max"] = f.f_max
    rows["lambda_vacuous"] = rows["lambda"] >= f.f_max
    rows["cut_held"] = rows["fmax_above"] <= rows["lambda"]
    c_eta = f.c_eta(1.0)
    rows["fpr_bound"] = [bounds.corollary1_error(k, n, cfg["d"], f.holder_constant, c_eta, f.beta, 1.0)
                         for k, n in zip(rows["k"], rows["n"])]
    rows["fpr_bound_sharp"] = f.tail_cdf(rows["lambda"].to_numpy())
    rows["fpr_held"] = rows["fpr"] <= rows["fpr_bound"]
    rows["eps_shape"] = [bounds.epsilon_kn(k, n, cfg["d"], cfg["delta"]) for k, n in zip(rows["k"], rows["n"])]
    return rows, pd.DataFrame(curves)


# ----------------------------------------------------------------------------------------------
# Proposition 1
# ----------------------------------------------------------------------------------------------

def _prop1_draw(density_name: str, d: int, n: int, seed: int, ks: list[int], margins: list[float], m: int,
                gamma_in: float, gamma_out: float, keep: int = 150, m_in: int = 100) -> dict:
    """One draw of Proposition 1 for ``density_name`` (uncached): ``m`` outliers per margin, each paired
    with one of ``m_in`` in-distribution points; the before/after ratios of their k-NN radii."""
    f = bounds.make_density(density_name, d)
    S = f.support
    rng = np.random.default_rng([seed, n, 3])
    X = f.sample(n, rng)
    x_in = f.sample(m_in, rng)
    b, nrm = S.boundary(m, rng)
    x_out = np.vstack([b + mg * nrm for mg in margins])
    Q = np.vstack([x_in, x_out])
    phi = dict(support=S, gamma_in=gamma_in, gamma_out=gamma_out)
    PX, PQ = bounds.contraction(X, **phi), bounds.contraction(Q, **phi)
    recs, pairs = [], []
    for k in ks:
        before, after = radii(Q, X, k), radii(PQ, PX, k)
        # an x_in with radius 0 (it coincides with a sample point: with d >= 2 in faiss's float32, k = 1,
        # large n; in one dimension radii are exact float64) is skipped and counted
        valid = np.flatnonzero((before[:m_in] > 0) & (after[:m_in] > 0))
        xi = valid[np.arange(m) % valid.size]
        in_ratio = after[valid] / before[valid]
        for j, mg in enumerate(margins):
            sl = slice(m_in + j * m, m_in + (j + 1) * m)
            rb = before[sl] / before[xi]
            ra = after[sl] / after[xi]
            imp = ra / rb
            recs.append({"k": k, "margin": mg, "frac_improved": float(np.mean(imp > 1)),
                         "all_improved": bool(np.all(imp > 1)), "min_improvement": float(imp.min()),
                         "median_improvement": float(np.median(imp)), "zero_radius_in": int(m_in - valid.size),
                         "in_ratio_dev": float(np.max(np.abs(in_ratio / gamma_in - 1))),
                         "in_ratio_dev_med": float(np.median(np.abs(in_ratio / gamma_in - 1)))})
            pairs.append(pd.DataFrame({"k": k, "margin": mg, "before": rb[:keep], "after": ra[:keep]}))
    return {"recs": recs, "pairs": pd.concat(pairs, ignore_index=True)}


def simulate_proposition1(cfg: dict, log=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Proposition 1 on two densities with the page's support: the uniform density (the proposition's
    hypotheses hold: f ≥ λ0 > 0 on the support) and the page's density (λ0 = 0: outside them).

    Returns ``rows`` (per density, seed, k, margin: fraction of (x_in, x_out) pairs whose ratio
    :math:`r_k(x_{out})/r_k(x_{in})` grew, the smallest growth factor, whether :math:`x_{in}`'s radius
    scaled by exactly :math:`\\gamma_{in}`, and the allowed k range) and ``pairs`` (a sample of
    before/after ratios from the first seed, for the scatter plot).
    """
    base = bounds.make_density(cfg["density"], cfg["d"])
    uni = "uniform_ball" if isinstance(base.support, bounds.Ball) else "uniform_cube"
    n = cfg["prop1_n"]
    ks = [k for k in cfg["prop1_ks"] if k < n]
    km = math.ceil(bounds.k_min(cfg["delta"], n, cfg["d"]))
    if km < n and km not in ks:
        ks.append(km)
    m = max(50, cfg["n_eval"] // 2)
    rows, pairs = [], []
    t0 = time.perf_counter()
    for name in (uni, cfg["density"]):
        f = bounds.make_density(name, cfg["d"])
        for i, seed in enumerate(cfg["seeds"]):
            params = {"code": fingerprint(bounds, knn_radius, functions=(_prop1_draw, radii, kth_distance_1d)), "density": name, "d": cfg["d"], "n": n, "seed": seed, "ks": ks,
                      "margins": list(cfg["margins"]), "m": m, "gamma_in": cfg["gamma_in"],
                      "gamma_out": cfg["gamma_out"]}
            res = cached("knn_ls_theory_prop1", params,
                         lambda: _prop1_draw(name, cfg["d"], n, seed, ks, list(cfg["margins"]), m, cfg["gamma_in"],
                                             cfg["gamma_out"]))
            for rec in res["recs"]:
                rows.append({"density": name, "seed": seed, **rec})
            if i == 0:
                pairs.append(res["pairs"].assign(density=name))
        if log:
            log(f"Proposition 1, {name}: {len(cfg['seeds'])} draws of n = {n} ({time.perf_counter() - t0:.1f} s)")
    rows = pd.DataFrame(rows)
    lam0 = {name: bounds.make_density(name, cfg["d"]).lambda0 for name in rows["density"].unique()}
    S = base.support
    rows["k_max"] = [bounds.proposition1_k_max(n, cfg["d"], mg, cfg["gamma_in"], cfg["gamma_out"], S.c0, lam0[dn])
                     for mg, dn in zip(rows["margin"], rows["density"])]
    rows["k_min"] = bounds.k_min(cfg["delta"], n, cfg["d"])
    rows["in_range"] = (rows["k"] <= rows["k_max"]) & (rows["k"] >= rows["k_min"])
    rows["below_k_max"] = rows["k"] <= rows["k_max"]
    return rows, pd.concat(pairs, ignore_index=True)


# ----------------------------------------------------------------------------------------------
# what the statements need, in numbers
# ----------------------------------------------------------------------------------------------

def requirements(delta: float, ns=(1_000, 10_000, 100_000, 1_000_000), dims=(1, 2, 5),
                 densities=("bump", "beta")) -> pd.DataFrame:
    """Theorem 1's quantities at :math:`k = \\lceil k_{min}(n)\\rceil` for every density, d and n:
    k_min, k_min / n, r, λ and λ / max f (λ / max f ≥ 1: the density cut says nothing)."""
    recs = []
    for name in densities:
        for d in dims:
            f = bounds.make_density(name, d)
            for n in ns:
                km = math.ceil(bounds.k_min(delta, n, d))
                lam = bounds.theorem1_density_cut(km, n, d, f.holder_constant, f.beta)
                recs.append({"density": name, "d": d, "n": n, "k_min": km, "k_min/n": km / n,
                             "r": bounds.theorem1_radius(km, n, d, f.holder_constant, f.beta),
                             "diameter": f.support.diameter, "lambda": lam, "f_max": f.f_max,
                             "lambda/f_max": lam / f.f_max})
    return pd.DataFrame(recs)


def constants(delta: float, dims=(1, 2, 5), densities=("bump", "beta"), gamma_in=0.5, gamma_out=0.9,
              margin=0.2) -> pd.DataFrame:
    """Per density and d: C_β (β = 1), max f, C_η (η = 1, computed and its bound Vol(support)), and the
    sample sizes at which the statements start to say something (Theorem 1 with the stated k and with
    the k its proof needs; Proposition 1's k range non-empty for the uniform density at ``margin``)."""
    recs = []
    for name in densities:
        for d in dims:
            f = bounds.make_density(name, d)
            u = bounds.Uniform(d, "ball" if isinstance(f.support, bounds.Ball) else "cube")
            recs.append({"density": name, "d": d, "C_beta": f.holder_constant, "f_max": f.f_max,
                         "C_eta": f.c_eta(1.0), "C_eta_bound": f.c_eta_bound(),
                         "n_star": bounds.n_nonvacuous(f, delta, "stated"),
                         "n_star_proof": bounds.n_nonvacuous(f, delta, "proof"),
                         "n_prop1": bounds.proposition1_n_needed(d, margin, gamma_in, gamma_out, u.support.c0,
                                                                 u.lambda0, delta)})
    return pd.DataFrame(recs)


# ----------------------------------------------------------------------------------------------
# summaries
# ----------------------------------------------------------------------------------------------

def _k_order(labels) -> list[str]:
    ks = sorted({l for l in labels if l != "k = ⌈k_min⌉"}, key=lambda s: int(s.split("= ")[1]))
    return ks + (["k = ⌈k_min⌉"] if "k = ⌈k_min⌉" in set(labels) else [])


def summary_theorem1(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (n, k): r, λ, and over draws: P(all outliers have r_k ≥ r), the mean fraction of outliers
    with r_k ≥ r, the largest density above r (median and max), P(f ≤ λ above r), the FPR and its bounds."""
    g = rows.groupby(["n", "k_label", "k"], sort=False)
    out = g.agg(r=("r", "first"), lam=("lambda", "first"), f_max=("f_max", "first"),
                p_all_out=("out_all_above", "mean"), out_frac=("out_frac_above", "mean"),
                min_ratio=("out_min_ratio", "min"), fmax_above_med=("fmax_above", "median"),
                fmax_above_max=("fmax_above", "max"), p_cut=("cut_held", "mean"), fpr=("fpr", "mean"),
                fpr_se=("fpr", lambda v: v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else 0.0),
                fpr_bound=("fpr_bound", "first"), fpr_bound_sharp=("fpr_bound_sharp", "first"),
                p_fpr=("fpr_held", "mean"), draws=("seed", "size")).reset_index()
    out["lam_over_fmax"] = out["lam"] / out["f_max"]
    return out.sort_values(["n", "k"]).reset_index(drop=True)


def summary_theorem2(rows: pd.DataFrame, delta: float) -> tuple[pd.DataFrame, float]:
    """Per (n, k): the (1 − δ)-quantile over draws of :math:`\\hat\\varepsilon` (the smallest gap above
    which every pair was ordered correctly), the shape :math:`C_{\\delta,n}/\\sqrt k + (k/n)^{1/d}`, and
    their ratio. The smallest constant C consistent with every cell is the largest ratio."""
    g = rows.groupby(["n", "k_label", "k"], sort=False)
    out = g.agg(eps_q=("eps_hat", lambda v: float(np.quantile(v, 1 - delta))),
                eps_med=("eps_hat", "median"), shape=("eps_shape", "first"),
                f_max=("f_max", "first")).reset_index()
    out["ratio"] = out["eps_q"] / out["shape"]
    return out.sort_values(["n", "k"]).reset_index(drop=True), float(out["ratio"].max())


def summary_curves(curves: pd.DataFrame) -> pd.DataFrame:
    """Fraction of pairs ordered correctly per (n, k, gap), pooled over draws."""
    g = curves.groupby(["n", "k_label", "k", "gap_frac"], sort=False)[["n_pairs", "n_correct"]].sum().reset_index()
    g["frac_correct"] = g["n_correct"] / g["n_pairs"].where(g["n_pairs"] > 0)
    return g


def summary_proposition1(rows: pd.DataFrame) -> pd.DataFrame:
    g = rows.groupby(["density", "margin", "k"], sort=False)
    out = g.agg(k_max=("k_max", "first"), k_min=("k_min", "first"), in_range=("in_range", "first"),
                below_k_max=("below_k_max", "first"), frac_improved=("frac_improved", "mean"),
                p_all=("all_improved", "mean"), min_improvement=("min_improvement", "min"),
                median_improvement=("median_improvement", "median"),
                in_ratio_dev=("in_ratio_dev", "max"),
                in_ratio_dev_med=("in_ratio_dev_med", "max")).reset_index()
    return out


def k_sequence(rows: pd.DataFrame) -> dict[int, int]:
    """A sequence k(n) → ∞ with k(n)/n → 0 from the practical grid: the largest grid k ≤ n/100 (the
    smallest grid k where none is)."""
    prac = rows[rows["k_label"] != "k = ⌈k_min⌉"]
    out = {}
    for n, g in prac.groupby("n"):
        ks = sorted(g["k"].unique())
        ok = [k for k in ks if k <= n / 100]
        out[int(n)] = int(ok[-1] if ok else ks[0])
    return out


def _fmt_n(n: float) -> str:
    if not math.isfinite(n):
        return "never (> 10³⁰)"
    e = int(math.floor(math.log10(n)))
    return f"{n / 10 ** e:.1f}·10{str(e).translate(str.maketrans('0123456789-', '⁰¹²³⁴⁵⁶⁷⁸⁹⁻'))}"



def _tol(delta: float, draws: int) -> float:
    """Two binomial standard errors of an estimated probability 1 − δ from ``draws`` draws."""
    return 2 * math.sqrt(delta * (1 - delta) / max(draws, 1))


def _held_verdict(p_held, delta: float, draws: int) -> str:
    lo = 1 - delta - _tol(delta, draws)
    return "reproduced" if np.min(p_held) >= lo else "not reproduced"


def _where(cfg: dict) -> str:
    return f"{cfg['density']} density, d = {cfg['d']}, δ = {cfg['delta']:g}, {len(cfg['seeds'])} draws"


def _theo(t1: pd.DataFrame) -> pd.DataFrame:
    """The cells at the theorems' own k = ⌈k_min(n)⌉."""
    return t1[t1["k_label"] == "k = ⌈k_min⌉"]


def _ns_where(theo: pd.DataFrame, cfg: dict) -> str:
    return f" (n = {', '.join(f'{n:,}' for n in theo['n'])}; {_where(cfg)})"


def _at_k_min_verdict(t1: pd.DataFrame, cfg: dict, p_col: str, ours, nonvacuous=None) -> tuple[str, str]:
    """(verdict, ours) of a statement checked at k = ⌈k_min(n)⌉: held in ≥ 1 − δ of the draws (less the
    tolerance) in every cell; inconclusive where k_min > n everywhere or, with ``nonvacuous(theo)``, where
    no cell says anything."""
    theo = _theo(t1)
    if theo.empty:
        return "inconclusive", f"k_min > n for every n in the grid ({_where(cfg)})"
    v = _held_verdict(theo[p_col], cfg["delta"], len(cfg["seeds"]))
    if nonvacuous is not None and v == "reproduced" and not nonvacuous(theo).any():
        v = "inconclusive"
    return v, ours(theo)


def claim_t1_recall(t1: pd.DataFrame, cfg: dict) -> dict:
    """Theorem 1 (i): every outlier has r_k ≥ r, in ≥ 1 − δ of the draws at k = ⌈k_min(n)⌉."""
    v, ours = _at_k_min_verdict(t1, cfg, "p_all_out", lambda theo: "P(every outlier has r_k ≥ r) = " + ", ".join(
        f"{p:.2f} (n = {n:,})" for n, p in zip(theo["n"], theo["p_all_out"])) + f" ({_where(cfg)})")
    prac = t1[t1["k_label"] != "k = ⌈k_min⌉"]
    if len(prac):
        worst = prac.loc[prac["p_all_out"].idxmin()]
        ours += f"; practical k: lowest {worst['p_all_out']:.2f} at k = {worst['k']}, n = {worst['n']:,}"
    return results.claim("thm1-recall", "Theorem 1 (i): with k ≥ k_min, every x with f(x) = 0 has r_k(x) ≥ r, "
                         "with probability ≥ 1 − δ", f"P ≥ {1 - cfg['delta']:.2f}", ours, v,
                         why="fraction of draws in which every evaluated outlier had r_k ≥ r, at k = ⌈k_min(n)⌉",
                         page=PAGE)


def claim_t1_cut(t1: pd.DataFrame, cfg: dict) -> dict:
    """Theorem 1 (ii): every point with r_k ≥ r has f ≤ λ; inconclusive where λ ≥ max f everywhere."""
    v, ours = _at_k_min_verdict(
        t1, cfg, "p_cut", lambda theo: "λ / max f = " + ", ".join(f"{x:.2f}" for x in theo["lam_over_fmax"]) +
        "; largest density above r / λ = " + ", ".join(f"{a / l:.2f}" for a, l in zip(theo["fmax_above_max"],
                                                                                      theo["lam"])) + _ns_where(theo, cfg),
        nonvacuous=lambda theo: theo["lam_over_fmax"] < 1)
    return results.claim("thm1-cut", "Theorem 1 (ii): with k ≥ k_min, every x with r_k(x) ≥ r has f(x) ≤ λ, "
                         "with probability ≥ 1 − δ", f"P ≥ {1 - cfg['delta']:.2f}", ours, v,
                         why="held in ≥ 1 − δ of the draws at k = ⌈k_min(n)⌉; inconclusive where λ ≥ max f "
                             "everywhere (the statement is then true of every density)", page=PAGE)


def claim_cor1(t1: pd.DataFrame, cfg: dict) -> dict:
    """Corollary 1: the false-positive rate stays below C_η·λ; inconclusive where the bound is ≥ 1."""
    v, ours = _at_k_min_verdict(
        t1, cfg, "p_fpr", lambda theo: "FPR " + ", ".join(f"{a:.4f}" for a in theo["fpr"]) + " vs bound C_η·λ = "
        + ", ".join(f"{b:.2f}" for b in theo["fpr_bound"]) + _ns_where(theo, cfg),
        nonvacuous=lambda theo: theo["fpr_bound"] < 1)
    return results.claim("cor1-fpr", "Corollary 1: the rule r_k(x) ≥ r has recall 1 and false-positive rate "
                         "≤ 5·C_η·C_β^{d/(β+d)}·(k/(n v_d))^{β/(β+d)}", f"P ≥ {1 - cfg['delta']:.2f}", ours, v,
                         why="per draw, the FPR on fresh in-distribution points against the bound (η = 1, C_η "
                             "computed); inconclusive where the bound is ≥ 1", page=PAGE)


def claim_t2(rows: pd.DataFrame, c_fit: float, cfg: dict) -> dict:
    """Theorem 2: ε̂ shrinks along k(n) → ∞ with k(n)/n → 0 (per-seed paired difference)."""
    seq = k_sequence(rows)
    n0, n1 = min(seq), max(seq)
    e0 = rows[(rows.n == n0) & (rows.k == seq[n0])].set_index("seed")["eps_hat"]
    e1 = rows[(rows.n == n1) & (rows.k == seq[n1])].set_index("seed")["eps_hat"]
    diffs = (e0 - e1).dropna().to_numpy()
    v = results.directional_verdict(diffs) if len(diffs) and n1 > n0 else "inconclusive"
    ours = (f"ε̂ (median over draws) {e0.median():.3f} at n = {n0:,}, k = {seq[n0]} → {e1.median():.3f} at "
            f"n = {n1:,}, k = {seq[n1]}; smallest C consistent with every cell at level 1 − δ: {c_fit:.4f} ({_where(cfg)})")
    return results.claim("thm2-rank", "Theorem 2: pairs with f(x1) > f(x2) + ε_{k,n} are ordered by their k-NN "
                         "radii, and ε_{k,n} → 0 as n, k → ∞ with k/n → 0", "C unknown (depends on f)", ours, v,
                         why="per-seed paired difference of ε̂ (the smallest gap above which every pair was "
                             "ordered correctly) between the smallest and the largest n, k(n) = the largest "
                             "grid k ≤ n/100: reproduced if it shrinks by more than 2 s.e.", page=PAGE)


def claim_prop1(p1: pd.DataFrame, cfg: dict) -> dict:
    """Proposition 1: every pair's ratio grows, over the (k, r_min) cells the proposition allows."""
    uni = p1[p1["density"].str.startswith("uniform")]
    allowed, below = uni[uni["in_range"]], uni[uni["below_k_max"]]
    if allowed.empty:
        v = "inconclusive"
        ours = (f"no k satisfies k_min ≤ k ≤ k_max at n = {cfg['prop1_n']:,} "
                f"(k_min = {uni['k_min'].iloc[0]:.0f}, k_max = "
                + ", ".join(f"{km:.0f}" for km in uni.groupby('margin')['k_max'].first()) + ")")
    else:
        v = _held_verdict(allowed["p_all"], cfg["delta"], len(cfg["seeds"]))
        ours = (f"in the allowed range ({len(allowed)} (k, r_min) cells): P(every pair improved) ≥ "
                f"{allowed['p_all'].min():.2f}, smallest factor {allowed['min_improvement'].min():.2f}")
    if len(below):
        ours += f"; for k ≤ k_max ignoring k_min: P ≥ {below['p_all'].min():.2f}"
    ours += (f"; all k tried: smallest factor {uni['min_improvement'].min():.2f} "
             f"(uniform on the support, d = {cfg['d']})")
    return results.claim("prop1-contraction", "Proposition 1: a contraction with γ_in < γ_out raises "
                         "r_k(φ(x_out))/r_k(φ(x_in)) above r_k(x_out)/r_k(x_in) for k_min ≤ k ≤ k_max",
                         f"γ_in = {cfg['gamma_in']}, γ_out = {cfg['gamma_out']}", ours, v,
                         why="fraction of draws in which every (x_in, x_out) pair's ratio grew, over the (k, "
                             "r_min) cells the proposition allows", page=PAGE)


def claims(t1: pd.DataFrame, t2: pd.DataFrame, c_fit: float, p1: pd.DataFrame, rows: pd.DataFrame,
           cfg: dict) -> list[dict]:
    """The scorecard rows of this page: one claim per statement, with a verdict from the draws.

    A statement is *reproduced* when, in every cell where its conditions hold (k ≥ k_min, k < n), it
    held in at least 1 − δ of the draws (less two binomial standard errors) **and** at least one such
    cell is non-vacuous; *not reproduced* when some cell falls below that; *inconclusive* when no
    cell satisfies its conditions, or every one is vacuous (it held trivially).
    """
    return [claim_t1_recall(t1, cfg), claim_t1_cut(t1, cfg), claim_cor1(t1, cfg), claim_t2(rows, c_fit, cfg),
            claim_prop1(p1, cfg)]


# ----------------------------------------------------------------------------------------------
# figures
# ----------------------------------------------------------------------------------------------

def _palette(order):
    import seaborn as sns

    return dict(zip(order, sns.color_palette("viridis", n_colors=max(len(order), 1))))


def figure_requirements(req: pd.DataFrame, delta: float):
    """k_min / n and λ / max f at k = ⌈k_min⌉ against n, for each density and d."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    ns = np.unique(np.logspace(3, 9, 40).astype(int))
    recs = []
    for name in req["density"].unique():
        for d in sorted(req["d"].unique()):
            f = bounds.make_density(name, int(d))
            for n in ns:
                km = math.ceil(bounds.k_min(delta, int(n), int(d)))
                recs.append({"density": name, "d": f"d = {d}", "n": n, "k_min / n": km / n,
                             "λ / max f": bounds.theorem1_density_cut(km, int(n), int(d), f.holder_constant) / f.f_max})
    df = pd.DataFrame(recs)
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.5))
    sns.lineplot(data=df[df.density == df.density.iloc[0]], x="n", y="k_min / n", hue="d", ax=axes[0])
    sns.lineplot(data=df, x="n", y="λ / max f", hue="d", style="density", ax=axes[1])
    for ax in axes:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.axhline(1, color="grey", ls=":", lw=1)
    axes[0].set_title("the theorems' k against n", fontsize=10)
    axes[1].set_title("Theorem 1's density cut at k = ⌈k_min⌉", fontsize=10)
    axes[1].legend(fontsize=7, ncol=2)
    axes[0].legend(fontsize=7)
    sns.despine(fig)
    fig.tight_layout()
    return fig


def figure_theorem1(t1: pd.DataFrame, delta: float):
    """(a) P(every outlier has r_k ≥ r), (b) the closest outlier's r_k / r over all draws, (c) the
    largest density above r against λ, versus n."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    order = _k_order(t1["k_label"])
    pal = _palette(order)
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
    kw = dict(x="n", hue="k_label", hue_order=order, palette=pal, marker="o")
    sns.lineplot(data=t1, y="p_all_out", ax=axes[0], legend=False, **kw)
    axes[0].axhline(1 - delta, color="grey", ls="--", lw=1)
    axes[0].text(t1["n"].min(), 1 - delta - 0.07, "1 − δ", fontsize=8, color="grey")
    axes[0].set_ylabel("P(every outlier has $r_k \\geq r$)")
    axes[0].set_ylim(-0.03, 1.05)
    axes[0].set_title("(i) over draws", fontsize=10)
    sns.lineplot(data=t1, y="min_ratio", ax=axes[1], **kw)
    axes[1].axhline(1, color="grey", ls="--", lw=1)
    axes[1].set_ylabel("closest outlier: min $r_k$ / r")
    axes[1].set_yscale("log")
    axes[1].set_title("(i) the margin", fontsize=10)
    axes[1].legend(fontsize=7, title=None)
    sns.lineplot(data=t1, y="fmax_above_max", ax=axes[2], legend=False, **kw)
    for lab in order:
        s = t1[t1.k_label == lab]
        axes[2].plot(s["n"], s["lam"], ls="--", color=pal[lab], lw=1.2)
    axes[2].axhline(t1["f_max"].iloc[0], color="black", ls=":", lw=1)
    axes[2].text(t1["n"].min(), t1["f_max"].iloc[0] * 1.12, "max f", fontsize=8)
    axes[2].set_ylabel("largest f(x) with $r_k(x) \\geq r$")
    axes[2].set_yscale("log")
    axes[2].set_title("(ii) observed cut vs λ (dashed)", fontsize=10)
    for ax in axes:
        ax.set_xscale("log")
    sns.despine(fig)
    fig.tight_layout()
    return fig


def figure_corollary1(t1: pd.DataFrame):
    """False-positive rate of the rule r_k(x) ≥ r (dots) against Corollary 1's bound (dashed)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    order = _k_order(t1["k_label"])
    pal = _palette(order)
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    d = t1.assign(fpr_plot=t1["fpr"].clip(lower=1e-5))
    sns.lineplot(data=d, x="n", y="fpr_plot", hue="k_label", hue_order=order, palette=pal, marker="o", ax=ax)
    for lab in order:
        s = t1[t1.k_label == lab]
        ax.plot(s["n"], s["fpr_bound"], ls="--", color=pal[lab], lw=1.2)
    ax.axhline(1, color="grey", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylabel("false-positive rate (floored at 10⁻⁵)")
    ax.legend(fontsize=7)
    sns.despine(fig)
    fig.tight_layout()
    return fig


def figure_theorem2(curves: pd.DataFrame, t2: pd.DataFrame, c_fit: float, d: int, delta: float):
    r"""(a) fraction of pairs ordered correctly against their density gap, per k, at the smallest and
    the largest n; (b) :math:`\hat\varepsilon` against k per n, with the fitted
    :math:`C\,(C_{\delta,n}/\sqrt k + (k/n)^{1/d})` dashed."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.9))
    order = _k_order(curves["k_label"])
    pal = _palette(order)
    ns = sorted(curves["n"].unique())
    c = curves[curves["n"].isin([ns[0], ns[-1]])].copy()
    c["n"] = c["n"].map(lambda v: f"n = {v:,}")
    c = c.drop(columns="k").rename(columns={"k_label": "k"})
    sns.lineplot(data=c, x="gap_frac", y="frac_correct", hue="k", hue_order=order, palette=pal,
                 style="n", ax=axes[0])
    axes[0].set_xlabel("density gap f(x₁) − f(x₂), as a fraction of max f")
    axes[0].set_ylabel("pairs with a larger gap ordered correctly")
    axes[0].legend(fontsize=7)
    t = t2.copy()
    t["n"] = t["n"].map(lambda v: f"n = {v:,}")
    npal = dict(zip([f"n = {v:,}" for v in ns], sns.color_palette("rocket", n_colors=len(ns))))
    sns.lineplot(data=t, x="k", y="eps_q", hue="n", palette=npal, marker="o", ax=axes[1])
    for n in ns:
        kk = np.unique(np.logspace(0, math.log10(n / 2), 60).astype(int))
        axes[1].plot(kk, [c_fit * bounds.epsilon_kn(k, n, d, delta) for k in kk], ls="--", lw=1,
                     color=npal[f"n = {n:,}"])
    axes[1].axhline(t2["f_max"].iloc[0], color="black", ls=":", lw=1)
    axes[1].set_xscale("log")
    axes[1].set_yscale("log")
    axes[1].set_ylim(top=3 * t2["f_max"].iloc[0])
    axes[1].set_ylabel("ε̂ (quantile 1 − δ over draws)")
    axes[1].legend(fontsize=7)
    sns.despine(fig)
    fig.tight_layout()
    return fig


def figure_proposition1(pairs: pd.DataFrame, p1: pd.DataFrame, gamma_in: float):
    """(a) after against before ratio for the uniform density, coloured by k, marked by whether k is in
    the allowed range (k ≤ k_max); (b) the smallest improvement factor over draws against k / k_max."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    uni = pairs[pairs["density"].str.startswith("uniform")].copy()
    kmax = p1.groupby(["density", "margin"])["k_max"].first()
    uni["k ≤ k_max"] = [k <= kmax[(dn, mg)] for k, dn, mg in zip(uni["k"], uni["density"], uni["margin"])]
    uni["k"] = uni["k"].map(lambda v: f"k = {v}")
    korder = [f"k = {k}" for k in sorted(pairs["k"].unique())]
    sns.scatterplot(data=uni, x="before", y="after", hue="k", hue_order=korder, palette="viridis",
                    style="k ≤ k_max", style_order=[True, False], s=12, alpha=0.6, ax=axes[0])
    lo = min(uni["before"].min(), uni["after"].min())
    hi = max(uni["before"].max(), uni["after"].max())
    axes[0].plot([lo, hi], [lo, hi], color="grey", lw=1, ls="--")
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("$r_k(x_{out}) / r_k(x_{in})$")
    axes[0].set_ylabel("$r_k(φ(x_{out})) / r_k(φ(x_{in}))$")
    axes[0].legend(fontsize=6, ncol=2)
    d = p1.copy()
    d["k / k_max"] = d["k"] / d["k_max"].where(d["k_max"] > 0)
    d["r_min"] = d["margin"].map(lambda v: f"r_min = {v:g}")
    d["density"] = d["density"].map(lambda s: "uniform (λ₀ > 0)" if s.startswith("uniform") else f"{s} (λ₀ = 0)")
    dd = d.dropna(subset=["k / k_max"])
    sns.lineplot(data=dd, x="k / k_max", y="min_improvement", hue="r_min", style="density", marker="o", ax=axes[1])
    axes[1].axhline(1, color="grey", ls=":", lw=1)
    axes[1].axvline(1, color="grey", ls="--", lw=1)
    axes[1].set_xscale("log")
    axes[1].set_yscale("log")
    axes[1].set_ylabel("smallest improvement factor")
    axes[1].legend(fontsize=6)
    sns.despine(fig)
    fig.tight_layout()
    return fig


def run(cfg: dict, log=None) -> dict:
    """Everything the page shows, in one call: simulations (cached), summaries and claims."""
    t0 = time.perf_counter()
    rows, curves = simulate(cfg, log=log)
    p1_rows, p1_pairs = simulate_proposition1(cfg, log=log)
    t1 = summary_theorem1(rows)
    t2, c_fit = summary_theorem2(rows, cfg["delta"])
    p1 = summary_proposition1(p1_rows)
    cl = claims(t1, t2, c_fit, p1, rows, cfg)
    return {"rows": rows, "curves": curves, "p1_rows": p1_rows, "p1_pairs": p1_pairs, "t1": t1, "t2": t2,
            "c_fit": c_fit, "p1": p1, "claims": cl, "wall_time_s": time.perf_counter() - t0}


# ----------------------------------------------------------------------------------------------
# the page: result file round trip, tables and sentences
# ----------------------------------------------------------------------------------------------

LABELS = {"bump": "the bump c_d(1 − |x|²)² on the unit ball",
          "beta": "the product of Beta(2, 2) densities on [0, 1]^d"}
_FRAMES = ("t1", "t2", "p1", "p1_pairs", "curves_summary", "constants", "requirements")


def result_extra(res: dict, cons: pd.DataFrame, req: pd.DataFrame) -> dict:
    """What the result file holds beside its rows (per seed, n, k): the summaries the page shows."""
    frames = {"t1": res["t1"], "t2": res["t2"], "p1": res["p1"], "p1_pairs": res["p1_pairs"],
              "curves_summary": summary_curves(res["curves"]), "constants": cons, "requirements": req}
    return {"c_fit": res["c_fit"], **{k: v.to_dict(orient="records") for k, v in frames.items()}}


def from_result(doc: dict) -> dict:
    """The page's data frames back from a result file written with :func:`result_extra`."""
    out = {k: pd.DataFrame(doc[k]) for k in _FRAMES}
    out["rows"] = pd.DataFrame(doc["rows"])
    out["c_fit"] = doc["c_fit"]
    out["claims"] = doc["claims"]
    out["meta"] = doc["meta"]
    for k in ("n_star", "n_star_proof", "n_prop1"):  # JSON has no inf: None -> inf
        out["constants"][k] = out["constants"][k].astype(float).fillna(math.inf)
    return out


def _pct(p: float) -> str:
    return f"{100 * p:.0f} %"


def _draws(p: float) -> str:
    """'every draw' or 'at least 85 % of the draws'."""
    return "every draw" if p >= 1 else f"at least {_pct(p)} of the draws"


def _ns(ns) -> str:
    return ", ".join(f"{int(n):,}" for n in ns)


def table_constants(cons: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "density": cons["density"], "d": cons["d"], "C_β": cons["C_beta"].map("{:.3f}".format),
        "max f": cons["f_max"].map("{:.3f}".format), "C_η": cons["C_eta"].map("{:.3f}".format),
        "Vol(X)": cons["C_eta_bound"].map("{:.3f}".format),
        "Thm 1 useful from n ≈": cons["n_star"].map(_fmt_n),
        "… proof's k": cons["n_star_proof"].map(_fmt_n),
        "Prop 1 from n ≈": cons["n_prop1"].map(_fmt_n)})


def table_requirements(req: pd.DataFrame) -> pd.DataFrame:
    """One row per (density, d), for each n the columns k_min / n, r and λ / max f at k = ⌈k_min⌉."""
    recs = []
    for (name, d), g in req.groupby(["density", "d"], sort=False):
        rec = {("", "density"): name, ("", "d"): d}
        for _, r in g.iterrows():
            col = f"n = {int(r['n']):,}"
            over = r["k_min"] > r["n"]
            rec[(col, "k_min/n")] = f"{r['k_min/n']:.3g}"
            rec[(col, "r")] = "—" if over else f"{r['r']:.3f}"
            rec[(col, "λ/max f")] = "—" if over else f"{r['lambda/f_max']:.2f}"
        recs.append(rec)
    df = pd.DataFrame(recs)
    df.columns = pd.MultiIndex.from_tuples(df.columns)
    return df


def table_theorem1(t1: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "n": t1["n"].map("{:,}".format), "k": t1["k_label"].str.replace("k = ", "") + np.where(
            t1["k_label"] == "k = ⌈k_min⌉", t1["k"].map(lambda k: f" = {k:,}"), ""),
        "r": t1["r"].map("{:.4f}".format), "λ": t1["lam"].map("{:.3f}".format),
        "λ / max f": t1["lam_over_fmax"].map("{:.2f}".format),
        "P(i)": t1["p_all_out"].map("{:.2f}".format),
        "min r_k(out)/r": t1["min_ratio"].map("{:.2f}".format),
        "max f above r": t1["fmax_above_max"].map("{:.3f}".format),
        "P(ii)": t1["p_cut"].map("{:.2f}".format)})


def table_corollary1(t1: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "n": t1["n"].map("{:,}".format), "k": t1["k_label"].str.replace("k = ", "") + np.where(
            t1["k_label"] == "k = ⌈k_min⌉", t1["k"].map(lambda k: f" = {k:,}"), ""),
        "FPR (mean ± s.e.)": [f"{a:.4f} ± {b:.4f}" for a, b in zip(t1["fpr"], t1["fpr_se"])],
        "bound C_η λ": t1["fpr_bound"].map("{:.3f}".format),
        "P(f(X) ≤ λ)": t1["fpr_bound_sharp"].map("{:.3f}".format),
        "P(FPR ≤ bound)": t1["p_fpr"].map("{:.2f}".format)})


def table_proposition1(p1: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "density": p1["density"].replace({"uniform_ball": "uniform (ball)", "uniform_cube": "uniform (cube)"}),
        "margin r_min": p1["margin"].map("{:g}".format), "k": p1["k"].map("{:,}".format),
        "largest allowed k, k_max": p1["k_max"].map("{:,.0f}".format),
        "k ≤ k_max": np.where(p1["in_range"], "yes", "no"),
        "P(all improved)": p1["p_all"].map("{:.2f}".format),
        "smallest factor": p1["min_improvement"].map("{:.2f}".format),
        "median factor": p1["median_improvement"].map("{:.2f}".format)})


def _setting(P: dict, cfg: dict) -> SimpleNamespace:
    """The frames and constants every sentence of the page reads."""
    t1, cons = P["t1"], P["constants"]
    delta, d, S = cfg["delta"], cfg["d"], len(cfg["seeds"])
    return SimpleNamespace(
        P=P, cfg=cfg, t1=t1, t2=P["t2"], p1=P["p1"], cons=cons, delta=delta, d=d, S=S,
        f=bounds.make_density(cfg["density"], d), me=cons[(cons["density"] == cfg["density"]) & (cons["d"] == d)].iloc[0],
        theo=t1[t1["k_label"] == "k = ⌈k_min⌉"].sort_values("n"), prac=t1[t1["k_label"] != "k = ⌈k_min⌉"],
        tol=_tol(delta, S))


def _numbers(c: SimpleNamespace) -> dict:
    """The page's plain-text numbers (``{glue:text}``)."""
    P, cfg, delta, d, S, f, me, tol = (c.P, c.cfg, c.delta, c.d, c.S, c.f, c.me, c.tol)
    T = {}
    T["density_label"] = LABELS[cfg["density"]]
    T["d"] = str(d)
    T["delta"] = f"{delta:g}"
    T["one_minus_delta"] = f"{1 - delta:g}"
    T["draws"] = str(S)
    T["n_range"] = f"{min(cfg['n_grid']):,} to {max(cfg['n_grid']):,}"
    T["k_grid"] = ", ".join(map(str, cfg["k_grid"]))
    T["c_beta"] = f"{f.holder_constant:.4g}"
    T["f_max"] = f"{f.f_max:.4g}"
    T["c_eta"] = f"{me['C_eta']:.4g}"
    T["c_eta_bound"] = f"{me['C_eta_bound']:.4g}"
    T["n_star"] = _fmt_n(me["n_star"])
    T["n_star_proof"] = _fmt_n(me["n_star_proof"])
    T["n_fits"] = _fmt_n(bounds.n_k_min_fits(delta, d))
    T["sqrt28"] = f"{16 / math.sqrt(28):.2f}"
    T["k_proof_factor"] = f"{1024 / 28:.1f}"
    T["c_fit"] = f"{P['c_fit']:.4f}"
    hits, misses = P["meta"]["cache"]["hits"], P["meta"]["cache"]["misses"]
    T["wall_time"] = (f"{P['meta']['wall_time_s']:.0f} s" +
                      (", every draw read from the cache" if misses == 0 else
                       f", {misses} draws computed and {hits} read from the cache"))
    T["gamma_in"], T["gamma_out"] = f"{cfg['gamma_in']:g}", f"{cfg['gamma_out']:g}"
    T["prop1_n"] = f"{cfg['prop1_n']:,}"
    T["tol"] = f"{tol:.2f}"

    return T


def _text_summary(c: SimpleNamespace, T: dict, M: dict) -> None:
    """The opening summary and the closing factors (how loose the bounds are)."""
    t1, cons, delta, theo = (c.t1, c.cons, c.delta, c.theo)
    fits = "; ".join(f"{_fmt_n(bounds.n_k_min_fits(delta, int(dd)))} (d = {dd})" for dd in sorted(cons["d"].unique()))
    stars = cons.groupby("d")["n_star"].min()
    M["md_short"] = (
        f"With δ = {delta:g} the minimum k exceeds n itself until n ≈ {fits}; where it fits, the thresholds are so "
        f"loose that Theorem 1's density cut excludes no point until n ≈ {_fmt_n(stars.iloc[0])} even in "
        f"d = {int(stars.index[0])} (" + ", ".join(f"{_fmt_n(v)} in d = {int(dd)}" for dd, v in stars.iloc[1:].items())
        + ", for the more favourable of the two densities).")
    base = theo if len(theo) else t1
    seen = base[base["fmax_above_max"] > 0]
    cut = seen["lam"] / seen["fmax_above_max"]
    T["cut_factor"] = f"{cut.min():.1f} to {cut.max():.1f}" if len(cut) else "n/a"
    seen = base[base["fpr"] > 0]
    fac = seen["fpr_bound"] / seen["fpr"]
    T["fpr_factor"] = f"{fac.min():.0f} to {fac.max():.0f}" if len(fac) else "n/a"
    T["factor_cells"] = "at k = ⌈k_min⌉" if len(theo) else "at the practical k (k_min > n everywhere)"


def _text_requirements(c: SimpleNamespace, T: dict, M: dict) -> None:
    """What the statements need, for every density and dimension of the constants table."""
    cons, delta = (c.cons, c.delta)
    dims = sorted(cons["d"].unique())
    dlist = ", ".join(map(str, dims))
    parts = ", ".join(_fmt_n(bounds.n_k_min_fits(delta, int(dd))) for dd in dims)
    lam_parts = []
    for name in cons["density"].unique():
        c = cons[cons["density"] == name].sort_values("d")
        lam_parts.append(", ".join(_fmt_n(v) for v in c["n_star"]) + f" ({name}, d = {dlist})")
    M["md_requirements"] = (
        f"With δ = {delta:g} that is {28 * math.log(2 / delta) ** 2:.0f}·d·log n, larger than n itself until "
        f"n ≈ {parts} (d = {dlist}). Where it fits, r and λ are still large: at k = ⌈k_min⌉ the density cut λ falls "
        "below max f — the first n at which part (ii) of Theorem 1 excludes any point at all — only from n ≈ "
        + " and ".join(lam_parts) + ". With the k the appendix proof actually needs (see the errata), "
        f"1024/28 ≈ {1024 / 28:.1f} times larger, every one of these sample sizes grows by that factor or more.")


_UNTESTABLE = "not testable at these n (k_min > n)"


def _outcome(held: bool, nonvac: pd.DataFrame, theo: pd.DataFrame, partial: str) -> str:
    """A statement's one-line outcome at k = ⌈k_min⌉: vacuous, held (only for large n) or failed."""
    if not held:
        return "failed"
    if nonvac.empty:
        return "vacuous at these n"
    return partial if len(nonvac) < len(theo) else "held"


def _at_k_min(c: SimpleNamespace, T: dict, key: str, p_col: str, nonvac: pd.DataFrame, partial: str,
              untestable: str, intro: str, vacuous: str, detail) -> str:
    """The part of a statement's text at k = ⌈k_min⌉: untestable (k_min > n), vacuous where ``nonvac`` (its
    non-vacuous cells) is empty, else ``detail(last non-vacuous cell, nonvac)``; sets ``T["oc_<key>"]``."""
    if c.theo.empty:
        T[f"oc_{key}"] = _UNTESTABLE
        return untestable
    T[f"oc_{key}"] = _outcome(c.theo[p_col].min() >= 1 - c.delta - c.tol, nonvac, c.theo, partial)
    return intro + (vacuous if nonvac.empty else detail(nonvac.iloc[-1], nonvac))


def _text_t1a(c: SimpleNamespace, T: dict, M: dict) -> None:
    """Theorem 1 (i): outliers above r."""
    delta, d, theo, prac, tol = (c.delta, c.d, c.theo, c.prac, c.tol)
    if theo.empty:
        M["md_t1a"] = (f"k_min exceeds every n of this grid (it needs n ≳ {T['n_fits']} in d = {d}), so the "
                       "theorem cannot be run as stated here.")
        T["oc_t1a"] = _UNTESTABLE
    else:
        held = theo["p_all_out"].min() >= 1 - delta - tol
        M["md_t1a"] = (
            f"At k = ⌈k_min(n)⌉ — possible from n = {int(theo['n'].min()):,} in this grid — every outlier had "
            f"r_k ≥ r in {_draws(theo['p_all_out'].min())} at every n (the theorem: at least "
            f"{_pct(1 - delta)}); the closest any outlier came was r_k = {theo['min_ratio'].min():.2f}·r.")
        T["oc_t1a"] = "held" if held else "failed"
    if len(prac):
        w = prac.loc[prac["p_all_out"].idxmin()]
        mr = prac["min_ratio"].min()
        if w["p_all_out"] >= 1:
            M["md_t1a"] += (f" With the practical k = {T['k_grid']}, far below k_min and outside the theorem, it "
                            f"held just as well: in every draw and every cell, the closest outlier at "
                            f"r_k = {mr:.2f}·r.")
        else:
            M["md_t1a"] += (f" With the practical k = {T['k_grid']}, outside the theorem, it did not always hold: "
                            f"at k = {int(w['k'])}, n = {int(w['n']):,} only {_pct(w['p_all_out'])} of the draws had "
                            f"every outlier above r (closest outlier over all cells: r_k = {mr:.2f}·r)" +
                            (", below the theorem's 1 − δ." if w["p_all_out"] < 1 - delta
                             else "."))


def _text_t1b(c: SimpleNamespace, T: dict, M: dict) -> None:
    """Theorem 1 (ii): nothing denser than λ above r."""
    delta, theo, prac, tol = (c.delta, c.theo, c.prac, c.tol)
    lst = ", ".join(f"{x:.2f} (n = {int(n):,})" for x, n in zip(theo["lam_over_fmax"], theo["n"]))
    M["md_t1b"] = _at_k_min(
        c, T, "t1b", "p_cut", theo[theo["lam_over_fmax"] < 1], f"held only for large n (vacuous below n ≈ {T['n_star']})",
        "Not testable at these n either: k_min > n.", f"At k = ⌈k_min⌉, λ / max f = {lst}. ",
        f"λ ≥ max f throughout: the cut excludes nothing, and part (ii) is true of any density. It starts to say "
        f"something at n ≈ {T['n_star']}.",
        lambda a, nonvac: (
            f"The cut is vacuous (λ ≥ max f) below n ≈ {T['n_star']}; where it is not, it held in "
            f"{_draws(nonvac['p_cut'].min())}, with room to spare: at n = {int(a['n']):,} the "
            f"largest density among points with r_k ≥ r was {a['fmax_above_max']:.3f} against λ = "
            f"{a['lam']:.3f}, a factor {a['lam'] / max(a['fmax_above_max'], 1e-12):.1f} below."))
    if len(prac):
        bad = prac[prac["p_cut"] < 1 - delta - tol]
        ratio = (prac["fmax_above_max"] / prac["lam"]).median()
        M["md_t1b"] += (f" With practical k, outside the theorem, the cut mostly held too — in the median cell the "
                        f"largest density above r was {ratio:.2f}·λ")
        if len(bad):
            M["md_t1b"] += (" — but not always: points denser than λ had r_k ≥ r in more than δ of the draws at " +
                            "; ".join(f"k = {int(r['k'])}, n = {int(r['n']):,} (held in {_pct(r['p_cut'])})"
                                      for _, r in bad.iterrows()) +
                            ". That is where a large k earns its keep: with a small k one empty stretch of the sample "
                            "where f is small but above λ is enough to push r_k above r there.")
        else:
            w = prac.loc[prac["p_cut"].idxmin()]
            M["md_t1b"] += (f", and it held in {_draws(w['p_cut'])} in every cell" +
                            ("." if w["p_cut"] >= 1 else f" (the lowest at k = {int(w['k'])}, n = {int(w['n']):,}; "
                             f"within the tolerance of {_pct(1 - delta)})." if w["p_cut"] < 1 - delta else
                             f" (the lowest at k = {int(w['k'])}, n = {int(w['n']):,})."))


def _text_cor1(c: SimpleNamespace, T: dict, M: dict) -> None:
    """Corollary 1: the false-positive rate against its bound."""
    theo, prac = c.theo, c.prac
    lst = ", ".join(f"{a:.3f} vs {b:.2f}" for a, b in zip(theo["fpr"], theo["fpr_bound"]))
    M["md_cor1"] = _at_k_min(
        c, T, "cor1", "p_fpr", theo[theo["fpr_bound"] < 1], "held only for large n (bound ≥ 1 below)",
        "Not testable at these n: k_min > n.", f"At k = ⌈k_min⌉ (n = {_ns(theo['n'])}), FPR vs bound: {lst}. ",
        "The bound is at least 1 at every n of the grid: it says nothing.",
        lambda a, nonvac: (
            f"The bound drops below 1 from n = {int(nonvac['n'].min()):,} in this grid; it held in "
            f"{_draws(nonvac['p_fpr'].min())}, {a['fpr_bound'] / max(a['fpr'], 1e-9):.0f} times above the observed "
            f"rate at n = {int(a['n']):,} (the sharper P(f(X) ≤ λ) = {a['fpr_bound_sharp']:.3f})."))
    if not theo.empty:
        M["md_cor1"] += (f" Perfect recall comes at a price at k = ⌈k_min⌉: r is so large that "
                         f"{_pct(theo['fpr'].iloc[0])} of in-distribution points are flagged at n = "
                         f"{int(theo['n'].iloc[0]):,}.")
    if len(prac):
        big = prac[prac["n"] == prac["n"].max()]
        M["md_cor1"] += (" With practical k, at n = " + f"{int(big['n'].iloc[0]):,}: " +
                         ", ".join(f"k = {int(r['k'])}: FPR {r['fpr']:.4f} (bound {r['fpr_bound']:.3f})"
                                   for _, r in big.iterrows()) + ".")


def _text_t2(c: SimpleNamespace, T: dict, M: dict) -> None:
    """Theorem 2: the fitted constant and ε̂ along k(n)."""
    P, cfg, t2, delta, d, f, theo = (c.P, c.cfg, c.t2, c.delta, c.d, c.f, c.theo)
    nmax = int(t2["n"].max())
    kk = np.arange(1, nmax // 2)
    shape = np.array([bounds.epsilon_kn(int(k), nmax, d, delta) for k in kk[:: max(1, len(kk) // 4000)]])
    ok = np.flatnonzero(P["c_fit"] * shape < f.f_max)
    k_star = int(kk[:: max(1, len(kk) // 4000)][ok[0]]) if ok.size else None
    seq = k_sequence(P["rows"])
    n0, n1 = min(seq), max(seq)
    e = P["rows"].groupby(["n", "k"])["eps_hat"].median()
    fixed = [k for k in cfg["k_grid"] if (n0, k) in e.index and (n1, k) in e.index]
    M["md_t2"] = (f"The smallest C for which ε_{{k,n}} = C·(C_δ,n/√k + (k/n)^(1/d)) covered the observed ε̂ in "
                  f"{_pct(1 - delta)} of the draws in every cell is Ĉ = {P['c_fit']:.4f}. ")
    if k_star is not None:
        M["md_t2"] += (f"With it, ε_{{k,n}} < max f — a statement about some pair at all — needs k ≥ {k_star:,} at "
                       f"n = {nmax:,}; below that Theorem 2 is vacuous even with the best constant. ")
    if fixed and n1 > n0:
        kf = fixed[-1]
        a0, a1 = e[(n0, kf)], e[(n1, kf)]
        M["md_t2"] += (f"At fixed k, ε̂ does not shrink with n (k = {kf}: {a0:.3f} at n = {n0:,}, {a1:.3f} at "
                       f"n = {n1:,}), as the shape predicts (C_δ,n grows like √log n); "
                       if a1 >= 0.8 * a0 else
                       f"At fixed k, ε̂ shrinks with n here (k = {kf}: {a0:.3f} at n = {n0:,}, {a1:.3f} at "
                       f"n = {n1:,}), faster than the shape, whose first term grows like √log n; ")
        b0, b1 = e[(n0, seq[n0])], e[(n1, seq[n1])]
        M["md_t2"] += (f"along k(n) = the largest grid k ≤ n/100 it went from {b0:.3f} (n = {n0:,}, k = {seq[n0]}) "
                       f"to {b1:.3f} (n = {n1:,}, k = {seq[n1]}). ")
        shrink_n = a1 < 0.8 * a0
    else:
        shrink_n = False
    if not theo.empty:
        t2t = t2[t2["k_label"] == "k = ⌈k_min⌉"]
        lo_, hi_ = t2t["eps_med"].min(), t2t["eps_med"].max()
        rng_ = f"{lo_:.3f}" if len(t2t) == 1 else f"{lo_:.3f}–{hi_:.3f}"
        M["md_t2"] += (f"At k = ⌈k_min⌉ ε̂ is small ({rng_}, median over draws) but partly for a reason the "
                       "theorem does not use: with k/n up to "
                       f"{(theo['k'] / theo['n']).max():.2f} the neighbourhood holds a large share of the sample, "
                       "r_k(x) mostly measures how far x is from the bulk, and for these symmetric unimodal densities "
                       "that orders points much as f does.")
    v2 = {c["id"]: c["verdict"] for c in P["claims"]}.get("thm2-rank")
    T["oc_t2"] = (f"held with a fitted C = {P['c_fit']:.3f} (the paper gives none); ε̂ shrinks as k grows" +
                  ("" if shrink_n else ", not with n at fixed k")
                  if v2 == "reproduced" else f"fitted C = {P['c_fit']:.3f}; ε̂ did not clearly shrink ({v2})")


def _text_p1(c: SimpleNamespace, T: dict, M: dict) -> None:
    """Proposition 1: the contraction raises the outliers' ratio."""
    cfg, p1, delta, f, me, tol = (c.cfg, c.p1, c.delta, c.f, c.me, c.tol)
    uni = p1[p1["density"].str.startswith("uniform")]
    other = p1[~p1["density"].str.startswith("uniform")]
    km = uni["k_min"].iloc[0]
    kmx = uni.groupby("margin")["k_max"].first()
    allowed = uni[uni["in_range"]]
    M["md_p1"] = (f"For the uniform density on the support (λ₀ = {1 / f.support.volume:.3g}, c₀ = {f.support.c0:g}) at "
                  f"n = {cfg['prop1_n']:,}: k_min = {km:,.0f} and k_max = " +
                  ", ".join(f"{v:,.0f} (r_min = {mg:g})" for mg, v in kmx.items()) + ". ")
    if allowed.empty:
        M["md_p1"] += (f"No k satisfies both: the proposition says nothing at this n (its k range opens at n ≈ "
                       f"{_fmt_n(me['n_prop1'])} for r_min = {max(cfg['margins']):g}). ")
        T["oc_p1"] = "vacuous at this n (empty k range); the ratio grew everywhere tried"
    else:
        M["md_p1"] += ("The allowed cells are " + ", ".join(f"k = {int(r['k']):,} with r_min = {r['margin']:g}"
                                                           for _, r in allowed.iterrows()) + ". ")
        T["oc_p1"] = "held, in and far outside the allowed k range"
    allimp = uni["p_all"].min()
    kl, kh = int(uni["k"].min()), int(uni["k"].max())
    med = uni.groupby("k")["median_improvement"].median()
    M["md_p1"] += (f"Every (x_in, x_out) pair's ratio grew, in {_draws(allimp)} and every cell, "
                   f"allowed or not: the smallest growth factor was {uni['min_improvement'].min():.2f}, and the "
                   f"factor falls as k grows (median {med[kl]:.1f} at k = {kl}, {med[kh]:.1f} at k = {kh:,}). ")
    if len(other):
        M["md_p1"] += (f"The page's own density, whose λ₀ = 0 puts it outside the hypotheses, behaves the same "
                       f"(smallest factor {other['min_improvement'].min():.2f}). ")
    dev, med = p1["in_ratio_dev"].max(), p1["in_ratio_dev_med"].max()
    M["md_p1"] += "In-distribution radii scaled by γ_in " + (
        "exactly, to the last bit. " if dev == 0 else
        f"up to rounding (median relative deviation ≤ {med:.1e}; the worst, {dev:.1e}, at a point whose "
        f"k-NN radius is close to the resolution of {'float64' if cfg['d'] == 1 else 'faiss’s float32'}). ")
    M["md_p1"] += ("The condition k ≤ k_max is sufficient, far from necessary: "
                   "a contraction of the support towards an interior point moves the sample away from the "
                   "boundary, so every outlier ends up farther from it, relative to the sample's own spacing.")
    if allimp < 1 - delta - tol:
        T["oc_p1"] = "failed in some cells"


def page_text(P: dict, cfg: dict) -> tuple[dict, dict]:
    """The page's numbers (plain text, for ``{glue:text}``) and sentences (Markdown, for ``{glue:md}``),
    built from the result file's frames ``P`` (:func:`from_result`), one function per statement. Every
    key exists for every parameter set, so the page renders whatever the run found."""
    c = _setting(P, cfg)
    T, M = _numbers(c), {}
    for part in (_text_summary, _text_requirements, _text_t1a, _text_t1b, _text_cor1, _text_t2, _text_p1):
        part(c, T, M)
    return T, M


# ----------------------------------------------------------------------------------------------
# the page: what its result file holds and what it glues
# ----------------------------------------------------------------------------------------------

def run_page(cfg: dict) -> dict:
    """Simulations (cached), summaries, claims and the constants tables: the page's result file."""
    res = run(cfg)
    dims = sorted({1, 2, 5, cfg["d"]})
    cons = constants(cfg["delta"], dims=dims, gamma_in=cfg["gamma_in"], gamma_out=cfg["gamma_out"],
                     margin=max(cfg["margins"]))
    req = requirements(cfg["delta"], dims=dims)
    return {"rows": res["rows"], "claims": res["claims"], "extra": result_extra(res, cons, req)}


def table_theorem2(t2: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "n": t2["n"].map("{:,}".format), "k": t2["k"].map("{:,}".format),
        "ε̂ (quantile 1 − δ)": t2["eps_q"].map("{:.3f}".format), "ε̂ (median)": t2["eps_med"].map("{:.3f}".format),
        "C_δ,n/√k + (k/n)^(1/d)": t2["shape"].map("{:.2f}".format), "ratio": t2["ratio"].map("{:.4f}".format)})


def _tables(P: dict, cfg: dict) -> dict:
    """The page's captioned tables, glued by name."""
    from ... import report

    delta, S = cfg["delta"], len(cfg["seeds"])
    captions = {
        "tbl_constants": (table_constants(P["constants"]),
                          "The test densities' constants (β = η = 1) and the sample size from which each statement says "
                          f"something, δ = {delta:g}. Theorem 1: λ < max f at k = ⌈k_min(n)⌉, with the stated k_min and "
                          "with the k the appendix proof needs (1024·log(2/δ)²·d·log n). Proposition 1: k_min ≤ k_max for "
                          f"the uniform density on the same support, r_min = {max(cfg['margins']):g}, γ_in = "
                          f"{cfg['gamma_in']:g}, γ_out = {cfg['gamma_out']:g}."),
        "tbl_requirements": (table_requirements(P["requirements"]),
                             f"Theorem 1's quantities at k = ⌈k_min(n)⌉ (δ = {delta:g}): k_min / n, the radius r (the "
                             "unit ball has diameter 2, the unit cube √d) and λ / max f (≥ 1: the density cut excludes "
                             "no point); — : k_min > n, the theorem cannot be applied."),
        "tbl_t1": (table_theorem1(P["t1"]),
                   f"Theorem 1 over {S} draws per n. P(i), P(ii) = fraction of draws in which part (i), (ii) held at "
                   "every evaluation point; min r_k(out)/r = the closest any outlier came to the threshold (over all "
                   "draws); max f above r = the largest density among points with r_k ≥ r (over all draws), to compare "
                   "with λ."),
        "tbl_cor1": (table_corollary1(P["t1"]),
                     f"Corollary 1: the false-positive rate of the rule r_k(x) ≥ r on {cfg['n_eval']} fresh "
                     "in-distribution points per draw (mean ± s.e. over draws), the bound C_η·λ (η = 1), the sharper "
                     "P(f(X) ≤ λ) the proof passes through, and the fraction of draws in which the rate stayed below "
                     "the bound."),
        "tbl_t2": (table_theorem2(P["t2"]),
                   "Theorem 2: the smallest gap above which every pair of evaluation points was ordered correctly, over "
                   "draws, against the shape of ε_{k,n}. The largest ratio is the smallest constant C consistent with "
                   "every row."),
        "tbl_p1": (table_proposition1(P["p1"]),
                   f"Proposition 1 over {S} draws (n = {cfg['prop1_n']:,}). Factor = [r_k(φ(x_out))/r_k(φ(x_in))] / "
                   "[r_k(x_out)/r_k(x_in)] per (x_in, x_out) pair; > 1 is what the proposition promises. k_max = 0 "
                   "for the page's density: λ₀ = 0, the proposition does not apply."),
    }
    return {name: report.styled(df, caption, index=False, profile=cfg.get("profile"))
            for name, (df, caption) in captions.items()}


def _claims_table(claims_: list, profile: str | None = None) -> object:
    from ... import report

    cl = pd.DataFrame(claims_)[["claim", "paper", "ours", "verdict"]]
    return report.styled(cl, "Claims of knn-ls §3 tested on this page. A statement is reproduced when it held in at "
                             "least 1 − δ of the draws (less two binomial standard errors) wherever its conditions "
                             "hold and is not vacuous there; inconclusive when it cannot be run at these n or held "
                             "only vacuously. Theorem 2: whether ε̂ shrinks along k(n) = the largest grid k ≤ n/100.",
                         index=False, verdicts=True, profile=profile)


def page_texts(doc: dict, cfg: dict) -> dict:
    """Everything the theory page glues besides its figures: numbers, sentences, tables."""
    from IPython.display import Markdown

    P = from_result(doc)
    T, M = page_text(P, cfg)
    pp = config.resolve("knn_ls.theory", profile="paper")
    return {**T, **{k: Markdown(v) for k, v in M.items()}, **_tables(P, cfg),
            "tbl_claims": _claims_table(P["claims"], cfg.get("profile")), "out_shell": f"{OUT_SHELL:g}",
            "paper_profile": f"{len(pp['seeds'])} draws, n up to {max(pp['n_grid']):,}"}
