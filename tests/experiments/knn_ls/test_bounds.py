"""oodrepro.experiments.knn_ls.bounds: the densities, their constants and the quantities of knn-ls §3 (Theorems 1-2,
Corollary 1, Proposition 1), against known and hand-computed values."""
import math

import numpy as np
import pytest
from scipy import integrate, stats

from oodrepro.experiments.knn_ls import bounds as theory
from oodrepro.errors import ParameterError

DENS = [(name, d) for name in ("bump", "beta") for d in (1, 2, 5)]


# --- v_d --------------------------------------------------------------------------------------

def test_unit_ball_volume_known_values():
    assert theory.unit_ball_volume(1) == pytest.approx(2.0)
    assert theory.unit_ball_volume(2) == pytest.approx(math.pi)
    assert theory.unit_ball_volume(3) == pytest.approx(4 * math.pi / 3)
    assert theory.unit_ball_volume(4) == pytest.approx(math.pi ** 2 / 2)
    for d in range(3, 10):  # v_d = 2π/d · v_{d-2}
        assert theory.unit_ball_volume(d) == pytest.approx(2 * math.pi / d * theory.unit_ball_volume(d - 2))


# --- densities --------------------------------------------------------------------------------

def test_normalising_constants_by_hand():
    assert theory.Bump(1).c == pytest.approx(15 / 16)
    assert theory.Bump(2).c == pytest.approx(3 / math.pi)
    assert theory.BetaProduct(3).f_max == pytest.approx(1.5 ** 3)


@pytest.mark.parametrize("name", ["bump", "beta"])
def test_pdf_integrates_to_one_in_1d_and_2d(name):
    f = theory.make_density(name, 1)
    lo, hi = f.support.box()
    val, _ = integrate.quad(lambda x: f.pdf(np.array([[x]]))[0], lo[0], hi[0], points=[0.0])
    assert val == pytest.approx(1.0, abs=1e-8)
    f2 = theory.make_density(name, 2)
    lo, hi = f2.support.box()
    # midpoint rule on a fine grid (the densities are C^1 / Lipschitz: error O(h^2))
    m = 1200
    xs = lo[0] + (np.arange(m) + 0.5) * (hi[0] - lo[0]) / m
    gx, gy = np.meshgrid(xs, xs)
    val = f2.pdf(np.c_[gx.ravel(), gy.ravel()]).sum() * ((hi[0] - lo[0]) / m) ** 2
    assert val == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("name", ["bump", "beta", "uniform_ball", "uniform_cube"])
def test_pdf_integrates_to_one_in_5d(name):
    f = theory.make_density(name, 5)
    lo, hi = f.support.box()
    u = stats.qmc.Sobol(5, scramble=True, seed=0).random(2 ** 17)
    val = f.pdf(lo + (hi - lo) * u).mean() * np.prod(hi - lo)
    assert val == pytest.approx(1.0, rel=0.01)


@pytest.mark.parametrize("name,d", DENS)
def test_sampler_matches_density_through_the_law_of_f_of_x(name, d):
    """P(f(X) <= t) from the sampler's draws against the exact tail_cdf (Bump: Beta CDF; product: the
    quadrature recursion): checks the sampler, the pdf and tail_cdf together."""
    f = theory.make_density(name, d)
    x = f.sample(40_000, seed=1)
    assert f.support.contains(x).all()
    fx = f.pdf(x)
    ts = f.f_max * np.linspace(0.02, 0.98, 25)
    emp = (fx[:, None] <= ts[None, :]).mean(axis=0)
    assert np.max(np.abs(emp - f.tail_cdf(ts))) < 0.012


def test_bump_sampler_radius_moment():
    # E|X|^2 = E Beta(d/2, 3) = (d/2) / (d/2 + 3)
    for d in (1, 2, 5):
        x = theory.Bump(d).sample(100_000, seed=3)
        assert np.mean(np.sum(x * x, axis=1)) == pytest.approx((d / 2) / (d / 2 + 3), abs=0.005)


def test_sampler_is_seeded():
    f = theory.BetaProduct(2)
    np.testing.assert_array_equal(f.sample(10, seed=5), f.sample(10, seed=5))
    assert not np.array_equal(f.sample(10, seed=5), f.sample(10, seed=6))


@pytest.mark.parametrize("name,d", DENS)
def test_holder_constant_not_violated_on_random_pairs(name, d, rng):
    f = theory.make_density(name, d)
    lo, hi = f.support.box(0.3)
    x = lo + (hi - lo) * rng.random((200_000, d))
    # near pairs (where a Lipschitz bound is tight) and far pairs, across the boundary too
    scale = np.where(rng.random(len(x)) < 0.5, 1e-3, 0.5)[:, None]
    y = x + scale * rng.standard_normal((len(x), d))
    lhs = np.abs(f.pdf(x) - f.pdf(y))
    rhs = f.holder_constant * np.linalg.norm(x - y, axis=1) ** f.beta
    assert np.all(lhs <= rhs * (1 + 1e-9) + 1e-15)


@pytest.mark.parametrize("name,d", DENS)
def test_holder_constant_is_attained(name, d):
    """The analytic constant is the Lipschitz constant, not a loose bound: at the argmax of |∇f|,
    a small step along e_1 gives a slope within 0.1% of it."""
    f = theory.make_density(name, d)
    x = f.argmax_gradient[None, :]
    h = 1e-6
    y = x.copy()
    y[0, 0] += h
    slope = abs(f.pdf(y)[0] - f.pdf(x)[0]) / h
    assert slope == pytest.approx(f.holder_constant, rel=1e-3)


def test_holder_constants_by_hand():
    assert theory.BetaProduct(1).holder_constant == 6.0
    assert theory.BetaProduct(2).holder_constant == 9.0
    assert theory.Bump(1).holder_constant == pytest.approx(15 / 16 * 8 / (3 * math.sqrt(3)))
    assert theory.Uniform(2).holder_constant == math.inf


@pytest.mark.parametrize("name,d", DENS)
def test_boundary_smoothness_constant(name, d):
    f = theory.make_density(name, d)
    c = f.c_eta(1.0)
    assert 1 / f.f_max - 1e-9 <= c <= f.c_eta_bound() + 1e-9  # G(f_max)/f_max = 1/f_max; Vol bound
    t = f.f_max * np.logspace(-4, 0, 200)
    assert np.all(f.tail_cdf(t) <= c * t + 1e-9)  # Assumption 2 with η = 1 holds with it


def test_boundary_smoothness_hand_cases():
    # Beta(2,2) in d = 1: G(t)/t is largest at t = max f = 1.5 -> 2/3; bump d = 1: 16/15
    assert theory.BetaProduct(1).c_eta(1.0) == pytest.approx(2 / 3, rel=1e-6)
    assert theory.Bump(1).c_eta(1.0) == pytest.approx(16 / 15, rel=1e-6)
    # bump tail by hand: P(f <= c/4) = P(1 - |X|^2 <= 1/2), 1 - |X|^2 ~ Beta(3, 1/2) in d = 1
    f = theory.Bump(1)
    assert f.tail_cdf(np.array([f.c / 4]))[0] == pytest.approx(stats.beta.cdf(0.5, 3, 0.5))


# --- the theorems' quantities -----------------------------------------------------------------

def test_theorem_quantities_hand_computed():
    # δ = 0.1, n = 10,000, d = 2: log(2/δ) = 2.9957323, log n = 9.2103404
    assert theory.c_delta_n(0.1, 10_000, 2) == pytest.approx(16 * 2.9957323 * math.sqrt(2 * 9.2103404), rel=1e-7)
    assert theory.c_delta_n(0.1, 10_000, 2) == pytest.approx(205.71967, rel=1e-6)
    assert theory.k_min(0.1, 10_000, 2) == pytest.approx(28 * 2.9957323 ** 2 * 2 * 9.2103404, rel=1e-7)
    assert theory.k_min(0.1, 10_000, 2) == pytest.approx(4628.8137, rel=1e-6)
    # d = 1, C_β = 1, β = 1, k = 2, n = 50, v_1 = 2: r = (2/(2·50·2))^(1/2) = 0.1, λ = 5·(2/100)^(1/2)
    assert theory.theorem1_radius(2, 50, 1, 1.0) == pytest.approx(0.1)
    assert theory.theorem1_density_cut(2, 50, 1, 1.0) == pytest.approx(5 * math.sqrt(0.02))
    assert theory.corollary1_error(2, 50, 1, 1.0, c_eta=2.0) == pytest.approx(10 * math.sqrt(0.02))
    # d = 2, C_β = 2, k = 8, n = 100: r = (8/(400π))^(1/3), λ = 5·2^(2/3)·(8/(100π))^(1/3)
    assert theory.theorem1_radius(8, 100, 2, 2.0) == pytest.approx(0.18533611, rel=1e-7)
    assert theory.theorem1_density_cut(8, 100, 2, 2.0) == pytest.approx(2.3350886, rel=1e-7)
    # ε_{k,n} with C = 0.5, k = 4, n = 10,000, d = 2: 0.5·(205.71967/2 + (4/10000)^(1/2))
    assert theory.epsilon_kn(4, 10_000, 2, 0.1, C=0.5) == pytest.approx(0.5 * (205.71967 / 2 + 0.02), rel=1e-6)
    # Proposition 1: ½·c0·λ0·v_2·((γout−γin)/γin·r_min)²·n = ½·¼·1·π·(0.25)²·1000
    assert theory.proposition1_k_max(1000, 2, 0.5, 0.5, 0.75, 0.25, 1.0) == pytest.approx(
        0.125 * math.pi * 0.0625 * 1000)
    assert theory.proposition1_k_max(1000, 2, 0.5, 0.5, 0.75, 0.25, 0.0) == 0.0


def test_theorem1_identities_the_proof_uses():
    for d, c, k, n in [(1, 1.4, 30, 1000), (2, 9.0, 100, 50_000), (5, 30.0, 7, 10 ** 6)]:
        r = theory.theorem1_radius(k, n, d, c)
        lam = theory.theorem1_density_cut(k, n, d, c)
        v = theory.unit_ball_volume(d)
        assert c * v * r ** (1 + d) == pytest.approx(k / (2 * n))  # F(B(x, r)) <= k/(2n) for f(x) = 0
        assert (lam - c * r) * v * r ** d >= 2 * k / n  # F(B(x, r)) >= 2k/n for f(x) > λ
        assert lam == pytest.approx(5 * 2 ** (1 / (1 + d)) * c * r)


def test_k_min_leaves_c_delta_n_over_sqrt_k_at_16_over_sqrt_28():
    """At the stated k_min, C_{δ,n}/√k = 16/√28 ≈ 3.02 whatever δ, n, d: the proof's k/n − C_{δ,n}√k/n
    is negative there; k_proof = 4·C_{δ,n}² makes it k/(2n)."""
    for delta, n, d in [(0.1, 1000, 1), (0.01, 10 ** 6, 5), (0.5, 77, 3)]:
        km = theory.k_min(delta, n, d)
        assert theory.c_delta_n(delta, n, d) / math.sqrt(km) == pytest.approx(16 / math.sqrt(28))
        kp = theory.k_proof(delta, n, d)
        assert kp / n - theory.c_delta_n(delta, n, d) * math.sqrt(kp) / n == pytest.approx(kp / (2 * n))
        assert kp == pytest.approx(1024 / 28 * km)


def test_n_nonvacuous_is_where_lambda_drops_below_max_f():
    f = theory.Bump(1)
    n_star = theory.n_nonvacuous(f, 0.1)
    for n, below in ((int(n_star * 0.9), False), (int(n_star * 1.1) + 1, True)):
        k = theory.k_min(0.1, n, 1)
        assert bool(theory.theorem1_density_cut(k, n, 1, f.holder_constant) < f.f_max) is below
    assert theory.n_nonvacuous(f, 0.1, "proof") > n_star


@pytest.mark.parametrize("call,match", [
    (lambda: theory.k_min(0.0, 100, 2), "'delta'"),
    (lambda: theory.k_min(1.0, 100, 2), "'delta'"),
    (lambda: theory.c_delta_n(0.1, 1, 2), "'n'"),
    (lambda: theory.unit_ball_volume(0), "'d'"),
    (lambda: theory.theorem1_radius(0, 100, 2, 1.0), "'k'"),
    (lambda: theory.theorem1_radius(1, 100, 2, 1.0, beta=1.5), "'beta'"),
    (lambda: theory.theorem1_density_cut(1, 100, 2, -1.0), "'c_beta'"),
    (lambda: theory.corollary1_error(1, 100, 2, 1.0, 1.0, eta=2.0), "'eta'"),
    (lambda: theory.make_density("gauss", 2), "'density'"),
    (lambda: theory.Uniform(2, "simplex"), "'support'"),
    (lambda: theory.proposition1_k_max(100, 2, 0.1, 0.9, 0.5, 0.25, 1.0), "'gamma_in'"),
    (lambda: theory.n_nonvacuous(theory.Bump(1), 0.1, rule="best"), "'rule'"),
])
def test_parameter_errors_name_the_parameter(call, match):
    with pytest.raises(ParameterError, match=match):
        call()


# --- Theorem 2's empirical gap ----------------------------------------------------------------

def test_misordered_gap_hand_cases():
    assert theory.misordered_gap([3.0, 2.0, 1.0], [1.0, 2.0, 3.0]) == 0.0  # perfectly ordered
    assert theory.misordered_gap([3.0, 2.0, 1.0], [2.0, 1.0, 3.0]) == pytest.approx(1.0)  # (3, r=2) vs (2, r=1)
    assert theory.misordered_gap([3.0, 1.0], [5.0, 1.0]) == pytest.approx(2.0)
    assert theory.misordered_gap([3.0, 1.0], [2.0, 2.0]) == pytest.approx(2.0)  # a tie is not "r1 < r2"


def test_misordered_gap_matches_brute_force(rng):
    for _ in range(20):
        f, r = rng.random(60), rng.integers(0, 10, 60).astype(float)
        brute = max(0.0, max(f[i] - f[j] for i in range(60) for j in range(60) if r[i] >= r[j] and i != j))
        assert theory.misordered_gap(f, r) == pytest.approx(brute)


# --- Proposition 1's contraction --------------------------------------------------------------

@pytest.mark.parametrize("support", [theory.Ball(1), theory.Ball(2), theory.Ball(5), theory.Cube(1),
                                     theory.Cube(2), theory.Cube(5)])
def test_contraction_keeps_the_support_inside_and_outliers_outside(support, rng):
    d = support.d
    x_in = support.uniform(2000, rng)
    x0 = support.uniform(1, rng)[0] * 0.9 + 0.1 * support.center  # an interior point, off-centre
    phi = theory.contraction(x_in, support, x0=x0, gamma_in=0.4, gamma_out=0.8)
    assert support.contains(phi).all()
    # pairwise distances inside the support scale by γ_in exactly
    i, j = rng.integers(0, 2000, (2, 500))
    np.testing.assert_allclose(np.linalg.norm(phi[i] - phi[j], axis=1),
                               0.4 * np.linalg.norm(x_in[i] - x_in[j], axis=1), rtol=1e-12, atol=1e-14)
    b, nrm = support.boundary(500, rng)
    x_out = b + rng.uniform(0.01, 2.0, (500, 1)) * nrm
    phi_out = theory.contraction(x_out, support, x0=x0, gamma_in=0.4, gamma_out=0.8)
    assert not support.contains(phi_out).any()
    np.testing.assert_allclose(support.distance(phi_out), 0.8 * support.distance(x_out), rtol=1e-12)
    np.testing.assert_allclose(support.project(phi_out), support.project(x_out), atol=1e-12)


def test_contraction_hand_case_and_the_printed_form():
    cube = theory.Cube(2)
    x = np.array([[1.0, 1.0], [0.5, 0.5], [2.0, 0.5], [1.0, 3.0]])
    got = theory.contraction(x, cube, gamma_in=0.25, gamma_out=0.5)  # x0 = centre (0.5, 0.5)
    np.testing.assert_allclose(got, [[0.625, 0.625], [0.5, 0.5], [1.5, 0.5], [1.0, 2.0]])
    # the paper's printed map γ(x − x0) − x0 sends the cube's corner (1, 1) out of the cube
    printed = 0.5 * (np.array([1.0, 1.0]) - cube.center) - cube.center
    assert not cube.contains(printed[None, :])[0]


def test_contraction_parameter_errors():
    with pytest.raises(ParameterError, match="'gamma_in'.*'gamma_out'"):
        theory.contraction(np.zeros((1, 2)), theory.Ball(2), gamma_in=0.8, gamma_out=0.5)
    with pytest.raises(ParameterError, match="'x0'"):
        theory.contraction(np.zeros((1, 2)), theory.Ball(2), x0=[3.0, 0.0])
    with pytest.raises(ParameterError, match="'gamma_out'"):
        theory.contraction(np.zeros((1, 2)), theory.Ball(2), gamma_in=0.5, gamma_out=1.0)
