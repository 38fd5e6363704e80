"""knn-ls's theory page (oodrepro.experiments.knn_ls.theory): its building blocks and claims."""
import math

import numpy as np
import pandas as pd
import pytest

from oodrepro import config, results
from oodrepro.experiments.knn_ls import bounds as theory
from oodrepro.detectors import knn_radius
from oodrepro.errors import ParameterError
from oodrepro.experiments.knn_ls import theory as K


DENS = [(name, d) for name in ("bump", "beta") for d in (1, 2, 5)]


def test_schema_profiles_resolve_and_gamma_order_is_checked():
    for prof in config.PROFILES:
        cfg = config.resolve("knn_ls.theory", prof)
        assert cfg["gamma_in"] < cfg["gamma_out"] and cfg["n_grid"] == sorted(cfg["n_grid"])
    with pytest.raises(ParameterError, match="gamma_in"):
        config.resolve("knn_ls.theory", "smoke", gamma_in=0.95)
    with pytest.raises(ParameterError, match="'density'"):
        config.resolve("knn_ls.theory", "smoke", density="gauss")


def test_ks_for_adds_k_min_only_below_n():
    assert K.ks_for(1000, [1, 10], 0.1, 1) == [(1, "k = 1"), (10, "k = 10")]
    ks = K.ks_for(2000, [1, 10, 5000], 0.1, 1)
    assert ks[-1] == (math.ceil(theory.k_min(0.1, 2000, 1)), "k = ⌈k_min⌉") and len(ks) == 3


def test_evaluation_points_outliers_have_zero_density():
    for name, d in DENS:
        f = theory.make_density(name, d)
        ev = K.evaluation_points(f, 200, seed=0)
        assert np.all(f.pdf(ev["out"]) < 1e-20) and np.all(f.pdf(ev["test"]) > 0)  # 0 up to rounding of |x| = 1


def test_chunked_radii_equal_knn_radius(rng):
    X, q = rng.random((500, 2)), rng.random((300, 2))
    np.testing.assert_allclose(K.radii(q, X, 50, budget=1000), knn_radius(q, X, 50))


def test_kth_distance_1d_by_hand():
    # sample 0, 1, 3, 7; query 2: distances 2, 1, 1, 5 -> r_1 = 1, r_2 = 1, r_3 = 2, r_4 = 5
    X = np.array([[7.0], [0.0], [3.0], [1.0]])
    assert [K.kth_distance_1d(np.array([[2.0]]), X, k)[0] for k in (1, 2, 3, 4)] == [1.0, 1.0, 2.0, 5.0]
    # queries outside the sample and on a sample point
    np.testing.assert_array_equal(K.kth_distance_1d(np.array([[-1.0], [9.0], [3.0]]), X, 2), [2.0, 6.0, 2.0])
    with pytest.raises(ParameterError, match="k = 5"):
        K.kth_distance_1d(np.array([[0.0]]), X, 5)


@pytest.mark.parametrize("n,k", [(1, 1), (50, 1), (200, 7), (300, 300), (1000, 64)])
def test_kth_distance_1d_equals_brute_force_float64(rng, n, k):
    """Against the sorted |x − q| of every pair (float64), with ties (a rounded sample) and queries outside:
    equal up to the rounding of the subtraction (two points at the same true distance on either side of q)."""
    X = np.round(rng.normal(size=(n, 1)), 1)
    q = np.concatenate([rng.normal(size=(150, 1)) * 2, X[:20]])
    brute = np.sort(np.abs(q - X.T), axis=1)[:, k - 1]
    np.testing.assert_allclose(K.kth_distance_1d(q, X, k), brute, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(K.radii(q, X, k), brute, rtol=1e-14, atol=1e-15)  # the page's radii take this path in 1-d


def test_kth_distance_1d_agrees_with_faiss_up_to_float32(rng):
    X, q = rng.random((5000, 1)), rng.random((400, 1))
    np.testing.assert_allclose(K.kth_distance_1d(q, X, 10), knn_radius(q, X, 10), atol=2e-3)


def test_tiny_run_end_to_end():
    cfg = config.resolve("knn_ls.theory", "smoke", n_grid=[300, 2500], seeds=2, n_eval=100, prop1_n=600,
                         prop1_ks=[1, 8])
    out = K.run(cfg)
    assert set(out["t1"]["k_label"]) == {"k = 1", "k = 10", "k = ⌈k_min⌉"}
    assert out["t1"]["p_all_out"].between(0, 1).all() and (out["rows"]["eps_hat"] >= 0).all()
    assert (out["p1"]["in_ratio_dev"] < 1e-5).all()  # x_in's radius scales by exactly γ_in
    assert [c["id"] for c in out["claims"]] == ["thm1-recall", "thm1-cut", "cor1-fpr", "thm2-rank",
                                                "prop1-contraction"]
    assert all(c["verdict"] in results.VERDICTS and c["page"] == "knn_ls/theory" for c in out["claims"])


def test_theory_claims_are_one_function_per_statement():
    t1 = pd.DataFrame([{"k_label": "k = ⌈k_min⌉", "n": 1000, "k": 500, "p_all_out": 1.0, "p_cut": 1.0,
                        "lam_over_fmax": 2.0, "fmax_above_max": 0.5, "lam": 2.0, "fpr": 0.5, "fpr_bound": 3.0,
                        "p_fpr": 1.0}])
    cfg = {"density": "bump", "d": 1, "delta": 0.1, "seeds": list(range(20))}  # tolerance 0.13
    assert K.claim_t1_recall(t1, cfg)["verdict"] == "reproduced"
    assert K.claim_t1_cut(t1, cfg)["verdict"] == "inconclusive"   # λ ≥ max f: vacuous
    assert K.claim_cor1(t1, cfg)["verdict"] == "inconclusive"     # bound ≥ 1: vacuous
    assert K.claim_t1_recall(t1.assign(p_all_out=0.5), cfg)["verdict"] == "not reproduced"
    assert K.claim_t1_recall(t1.iloc[:0], cfg)["verdict"] == "inconclusive"


def test_proposition1_table_names_its_columns(readable):
    p1 = pd.DataFrame([{"density": d, "margin": r, "k": k, "k_max": km, "in_range": k <= km, "p_all": 1.0,
                        "min_improvement": 3.1, "median_improvement": 3.2}
                       for d, km in (("uniform_ball", 328.0), ("bump", 0.0)) for r in (0.05, 0.5) for k in (1, 512)])
    t = K.table_proposition1(p1)
    assert readable(t) == []
    assert list(t.columns[:5]) == ["density", "margin r_min", "k", "largest allowed k, k_max", "k ≤ k_max"]
    assert t["density"].iloc[0] == "uniform (ball)" and t["k ≤ k_max"].tolist()[:2] == ["yes", "no"]
