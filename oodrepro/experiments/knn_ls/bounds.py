r"""The theory of knn-ls (Bahri et al., arXiv:2102.05131, §3 and appendix A), as numbers one can check.

The paper proves four finite-sample statements about the k-NN radius
:math:`r_k(x) = r_k(x; X_{[n]})` of a sample of n points drawn i.i.d. from a density f with compact
support :math:`\mathcal X \subset \mathbb R^d`:

* **Theorem 1** (high recall): with probability at least 1 − δ, uniformly in x, every x with
  f(x) = 0 has :math:`r_k(x) \ge r`, and every x with :math:`r_k(x) \ge r` has f(x) ≤ λ.
* **Corollary 1** (precision): the rule "OOD iff :math:`r_k(x) \ge r`" has recall 1 and a false-positive
  rate at most :math:`C_\eta\lambda` under the boundary-smoothness Assumption 2.
* **Theorem 2** (ranking): pairs whose densities differ by more than :math:`\varepsilon_{k,n}` are
  ordered correctly by their k-NN radii.
* **Proposition 1** (label smoothing): a contraction φ that shrinks the support faster
  (:math:`\gamma_{in}`) than it pulls outliers towards it (:math:`\gamma_{out}`) raises
  :math:`r_k(x_{out})/r_k(x_{in})`.

This module holds test densities whose constants are known in closed form (a polynomial bump on the
unit ball, a product of Beta(2, 2) densities on the unit cube, and the uniform densities on the same
two convex sets for Proposition 1), and the quantities the statements use: :func:`unit_ball_volume`
(:math:`v_d`), :func:`c_delta_n`, :func:`k_min`, :func:`theorem1_radius` (r), :func:`theorem1_density_cut`
(λ), :func:`corollary1_error`, :func:`epsilon_kn`, :func:`contraction` (φ) and
:func:`proposition1_k_max`.

Two misprints of the paper are corrected here and said so where they matter (:func:`contraction`,
and the appendix proof of Theorem 1, which the book page discusses); the theorems' *statements* are
the reference for everything else.

References
----------
Bahri, Jiang, Tay, Metzler. Label Smoothed Embedding Hypothesis for Out-of-Distribution Detection.
Preprint, arXiv:2102.05131, 2021, Section 3 and Appendix A.
Chaudhuri, Dasgupta. Rates of convergence for the cluster tree. NeurIPS 2010 (Lemma 1 of knn-ls).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import special, stats

from ...errors import ParameterError

__all__ = [
    "Ball", "Cube", "Bump", "BetaProduct", "Uniform", "DENSITIES", "make_density",
    "unit_ball_volume", "c_delta_n", "k_min", "k_proof", "theorem1_radius", "theorem1_density_cut",
    "corollary1_error", "epsilon_kn", "contraction", "proposition1_k_max", "n_nonvacuous", "n_k_min_fits",
    "proposition1_n_needed", "misordered_gap",
]


# ----------------------------------------------------------------------------------------------
# validation helpers
# ----------------------------------------------------------------------------------------------

def _int(name: str, v, low: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) and not (isinstance(v, float) and v.is_integer()):
        raise ParameterError(f"parameter {name!r} = {v!r} is not accepted; use an integer >= {low}")
    v = int(v)
    if v < low:
        raise ParameterError(f"parameter {name!r} = {v} is out of range; use an integer >= {low}")
    return v


def _pos(name: str, v, upper: float | None = None, upper_closed: bool = True) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ParameterError(f"parameter {name!r} = {v!r} is not accepted; use a number > 0") from None
    ok = math.isfinite(f) and f > 0 and (upper is None or (f <= upper if upper_closed else f < upper))
    if not ok:
        rng = "> 0" if upper is None else f"in (0, {upper:g}{']' if upper_closed else ')'}"
        raise ParameterError(f"parameter {name!r} = {v!r} is out of range; use a number {rng}")
    return f


def _delta(delta) -> float:
    return _pos("delta", delta, 1.0, upper_closed=False)


def _n(n) -> int:
    return _int("n", n, low=2)


def _d(d) -> int:
    return _int("d", d, low=1)


def _beta(beta) -> float:
    return _pos("beta", beta, 1.0)


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _points(x, d: int) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim == 1 and d == 1:
        x = x[:, None]
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != d:
        raise ParameterError(f"points must be an array of shape (m, {d}), got shape {np.shape(x)}")
    return x


# ----------------------------------------------------------------------------------------------
# the constants of the statements
# ----------------------------------------------------------------------------------------------

def unit_ball_volume(d) -> float:
    r""":math:`v_d = \pi^{d/2} / \Gamma(d/2 + 1)`, the volume of the unit ball of :math:`\mathbb R^d`.

    knn-ls uses it in Theorem 1, Corollary 1 and Proposition 1. :math:`v_1 = 2`, :math:`v_2 = \pi`,
    :math:`v_3 = 4\pi/3`.
    """
    d = _d(d)
    return math.pi ** (d / 2) / math.gamma(d / 2 + 1)


def c_delta_n(delta, n, d) -> float:
    r""":math:`C_{\delta,n} = 16\,\log(2/\delta)\,\sqrt{d \log n}` (knn-ls Theorem 2 and Lemma 1)."""
    return 16 * math.log(2 / _delta(delta)) * math.sqrt(_d(d) * math.log(_n(n)))


def k_min(delta, n, d) -> float:
    r"""The smallest k the statements allow: :math:`k \ge 28\,\log(2/\delta)^2\, d \log n`.

    The condition of knn-ls Theorem 1, Corollary 1, Theorem 2 and Proposition 1, as printed.
    Returned as a real number; the smallest admissible integer is its ceiling.
    """
    return 28 * math.log(2 / _delta(delta)) ** 2 * _d(d) * math.log(_n(n))


def k_proof(delta, n, d) -> float:
    r"""The k the appendix proof of Theorem 1 needs with Lemma 1 as printed:
    :math:`k \ge 4C_{\delta,n}^2 = 1024\,\log(2/\delta)^2\, d\log n`.

    The proof's first step needs :math:`k/(2n) \le k/n - C_{\delta,n}\sqrt k/n`, i.e.
    :math:`\sqrt k \ge 2C_{\delta,n}`; at the stated :func:`k_min`, :math:`C_{\delta,n}/\sqrt k = 16/\sqrt{28}
    \approx 3.02`, so the right-hand side is negative. Not a statement of the paper: our reading of its
    proof, shown beside :func:`k_min`.
    """
    return 4 * c_delta_n(delta, n, d) ** 2


def _kn(k, n):
    n = _n(n)
    k = _pos("k", k)
    return k, n


def theorem1_radius(k, n, d, c_beta, beta=1.0) -> float:
    r"""The threshold of knn-ls Theorem 1 (and Corollary 1):
    :math:`r = \left(\frac{k}{2C_\beta\, n\, v_d}\right)^{1/(\beta+d)}`.

    Parameters
    ----------
    k, n, d : number of neighbours, sample size, dimension.
    c_beta, beta : the Hölder constant and exponent of Assumption 1 (0 < β ≤ 1).
    """
    k, n = _kn(k, n)
    d, beta, c = _d(d), _beta(beta), _pos("c_beta", c_beta)
    return (k / (2 * c * n * unit_ball_volume(d))) ** (1 / (beta + d))


def theorem1_density_cut(k, n, d, c_beta, beta=1.0) -> float:
    r"""The density cut of knn-ls Theorem 1:
    :math:`\lambda = 5\, C_\beta^{d/(\beta+d)} \left(\frac{k}{n\, v_d}\right)^{\beta/(\beta+d)}`.

    Points with :math:`r_k(x) \ge r` have :math:`f(x) \le \lambda` (with probability ≥ 1 − δ). The
    statement says something only where λ is below the density's maximum.
    """
    k, n = _kn(k, n)
    d, beta, c = _d(d), _beta(beta), _pos("c_beta", c_beta)
    return 5 * c ** (d / (beta + d)) * (k / (n * unit_ball_volume(d))) ** (beta / (beta + d))


def corollary1_error(k, n, d, c_beta, c_eta, beta=1.0, eta=1.0) -> float:
    r"""The false-positive bound of knn-ls Corollary 1: :math:`C_\eta\, \lambda^\eta`.

    As printed, the bound is :math:`5\,C_\eta\,C_\beta^{d/(\beta+d)}(k/(n v_d))^{\beta/(\beta+d)}
    = C_\eta\lambda`, which is the case η = 1 (the default). The proof — a false positive has
    :math:`r_k(x) \ge r`, hence :math:`f(x) \le \lambda` by Theorem 1, and Assumption 2 bounds
    :math:`P(f(X) \le \lambda) \le C_\eta\lambda^\eta` — gives :math:`C_\eta\lambda^\eta` for any
    0 < η ≤ 1, which is what this function returns.
    """
    lam = theorem1_density_cut(k, n, d, c_beta, beta)
    return _pos("c_eta", c_eta) * lam ** _pos("eta", eta, 1.0)


def epsilon_kn(k, n, d, delta, C=1.0) -> float:
    r"""The density gap of knn-ls Theorem 2:
    :math:`\varepsilon_{k,n} = C\left(\frac{C_{\delta,n}}{\sqrt k} + (k/n)^{1/d}\right)`.

    C is a constant "depending on f" that the paper does not give; ``C = 1`` returns the shape, which
    the book fits to simulations.
    """
    k, n = _kn(k, n)
    return _pos("C", C) * (c_delta_n(delta, n, d) / math.sqrt(k) + (k / n) ** (1 / _d(d)))


def proposition1_k_max(n, d, r_min, gamma_in, gamma_out, c0, lambda0) -> float:
    r"""The largest k knn-ls Proposition 1 allows:
    :math:`k \le \tfrac12 c_0\lambda_0 v_d\left(\frac{\gamma_{out}-\gamma_{in}}{\gamma_{in}}\, r_{min}\right)^d n`.

    The printed condition has no :math:`\lambda_0`; the proof's step
    :math:`\max_{x\in\mathcal X} r_k(x) \le (2k/(c_0 n v_d))^{1/d}` needs the mass of a ball,
    :math:`F(B(x,\rho)) \ge \lambda_0 c_0 v_d \rho^d`, so :math:`\lambda_0` belongs there (the printed
    form is the case :math:`\lambda_0 = 1`). Returns 0 when :math:`\lambda_0 = 0` (the proposition
    does not apply).
    """
    n, d = _n(n), _d(d)
    gi, go = _gammas(gamma_in, gamma_out)
    r_min, c0 = _pos("r_min", r_min), _pos("c0", c0, 1.0)
    lambda0 = float(lambda0)
    if not (math.isfinite(lambda0) and lambda0 >= 0):
        raise ParameterError(f"parameter 'lambda0' = {lambda0!r} is out of range; use a number >= 0")
    return 0.5 * c0 * lambda0 * unit_ball_volume(d) * ((go - gi) / gi * r_min) ** d * n


def _gammas(gamma_in, gamma_out) -> tuple[float, float]:
    gi = _pos("gamma_in", gamma_in, 1.0, upper_closed=False)
    go = _pos("gamma_out", gamma_out, 1.0, upper_closed=False)
    if not gi < go:
        raise ParameterError(f"parameters 'gamma_in' = {gi:g} and 'gamma_out' = {go:g}: Proposition 1 needs "
                             "0 < gamma_in < gamma_out < 1")
    return gi, go


def _bisect_log_n(ok, lo: float = 3.0, hi: float = 1e30) -> float:
    """Smallest n in [lo, hi] with ok(n) (ok monotone: False then True); inf if none."""
    if not ok(hi):
        return math.inf
    if ok(lo):
        return lo
    a, b = math.log(lo), math.log(hi)
    for _ in range(200):
        m = 0.5 * (a + b)
        if ok(math.exp(m)):
            b = m
        else:
            a = m
    return math.exp(b)


def n_nonvacuous(density: "Density", delta, rule: str = "stated") -> float:
    r"""The smallest n at which Theorem 1 at :math:`k = \lceil k_{min}\rceil` says something about
    ``density``: :math:`k \le n` and :math:`\lambda(k, n) < \max f`.

    ``rule="stated"`` uses :func:`k_min` (the theorem as printed); ``rule="proof"`` uses
    :func:`k_proof`. λ at :math:`k = k_{min}(n)` falls like :math:`(\log n / n)^{\beta/(\beta+d)}`, so
    the answer is found by bisection in log n. Returns ``inf`` beyond 10^30.
    """
    if rule not in ("stated", "proof"):
        raise ParameterError(f"parameter 'rule' = {rule!r} is not accepted; use 'stated' or 'proof'")
    kf = k_min if rule == "stated" else k_proof
    delta = _delta(delta)

    def ok(n):
        kk = kf(delta, max(int(n), 2), density.d)
        return kk <= n and _lam_real(kk, n, density) < density.f_max

    return _bisect_log_n(ok)


def _lam_real(k, n, density) -> float:
    # λ for real-valued n (bisection): same formula as theorem1_density_cut
    d, b, c = density.d, density.beta, density.holder_constant
    return 5 * c ** (d / (b + d)) * (k / (n * unit_ball_volume(d))) ** (b / (b + d))


def n_k_min_fits(delta, d) -> float:
    """The smallest n with :func:`k_min` ≤ n: below it the statements cannot be applied at all."""
    d, delta = _d(d), _delta(delta)
    return _bisect_log_n(lambda n: 28 * math.log(2 / delta) ** 2 * d * math.log(n) <= n)


def proposition1_n_needed(d, r_min, gamma_in, gamma_out, c0, lambda0, delta) -> float:
    r"""The smallest n at which Proposition 1's k range :math:`[k_{min}(n),\, k_{max}(n)]` is not empty
    (:func:`k_min` ≤ :func:`proposition1_k_max`); ``inf`` if :math:`\lambda_0 = 0` or beyond 10^30."""
    d, delta = _d(d), _delta(delta)
    slope = proposition1_k_max(2, d, r_min, gamma_in, gamma_out, c0, lambda0) / 2
    if slope <= 0:
        return math.inf
    return _bisect_log_n(lambda n: 28 * math.log(2 / delta) ** 2 * d * math.log(n) <= slope * n)


def misordered_gap(f, r) -> float:
    r"""The smallest gap ε such that every pair with :math:`f(x_1) > f(x_2) + \varepsilon` has
    :math:`r_k(x_1) < r_k(x_2)`: :math:`\hat\varepsilon = \max\{f(x_1) - f(x_2) : r_k(x_1) \ge r_k(x_2)\}`
    over the given points (0 if no pair is misordered). The empirical counterpart of
    :math:`\varepsilon_{k,n}` in knn-ls Theorem 2; O(m log m) by sorting on the radius.
    """
    f, r = np.asarray(f, dtype=float), np.asarray(r, dtype=float)
    if f.shape != r.shape or f.ndim != 1:
        raise ParameterError(f"f and r must be 1-D arrays of one length, got shapes {f.shape} and {r.shape}")
    if f.size < 2:
        return 0.0
    order = np.lexsort((f, r))  # by radius; among equal radii, every pair counts as misordered
    fs, rs = f[order], r[order]
    # a pair (i, j) is misordered when r_i >= r_j: j runs over all points with radius <= r_i
    last = np.searchsorted(rs, rs, side="right") - 1
    prefmin = np.minimum.accumulate(fs)
    return float(max(0.0, np.max(fs - prefmin[last])))


# ----------------------------------------------------------------------------------------------
# convex supports
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ball:
    r"""The closed ball :math:`\{x : |x - c| \le \rho\}` (centre c = 0 unless given, radius ρ).

    ``c0`` and ``r0`` are Proposition 1's regularity constants: :math:`\mathrm{Vol}(B(x, r)\cap\mathcal X)
    \ge c_0\,\mathrm{Vol}(B(x, r))` for x in the ball and r ≤ r0, with :math:`c_0 = 2^{-d}`,
    :math:`r_0 = \rho` (the ball :math:`B(x - \tfrac r2 x/|x|, r/2)` lies in both).
    """

    d: int
    radius: float = 1.0

    @property
    def center(self) -> np.ndarray:
        return np.zeros(self.d)

    @property
    def volume(self) -> float:
        return unit_ball_volume(self.d) * self.radius ** self.d

    @property
    def diameter(self) -> float:
        return 2 * self.radius

    @property
    def c0(self) -> float:
        return 2.0 ** -self.d

    @property
    def r0(self) -> float:
        return self.radius

    def box(self, pad: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """A bounding box, padded by ``pad`` on every side."""
        return np.full(self.d, -self.radius - pad), np.full(self.d, self.radius + pad)

    def contains(self, x) -> np.ndarray:
        x = _points(x, self.d)
        return np.linalg.norm(x, axis=1) <= self.radius * (1 + 1e-12)

    def project(self, x) -> np.ndarray:
        """Euclidean projection onto the ball (points inside are returned unchanged)."""
        x = _points(x, self.d)
        nrm = np.linalg.norm(x, axis=1, keepdims=True)
        return np.where(nrm > self.radius, x * (self.radius / np.maximum(nrm, 1e-300)), x)

    def distance(self, x) -> np.ndarray:
        x = _points(x, self.d)
        return np.maximum(np.linalg.norm(x, axis=1) - self.radius, 0.0)

    def boundary(self, m: int, seed=None) -> tuple[np.ndarray, np.ndarray]:
        """``m`` points uniform on the sphere, and their outward unit normals."""
        g = _rng(seed).standard_normal((_int("m", m), self.d))
        u = g / np.linalg.norm(g, axis=1, keepdims=True)
        return self.radius * u, u

    def uniform(self, m: int, seed=None) -> np.ndarray:
        """``m`` points uniform in the ball."""
        rng = _rng(seed)
        _, u = self.boundary(m, rng)
        s = rng.random(m) ** (1 / self.d)
        return self.radius * s[:, None] * u


@dataclass(frozen=True)
class Cube:
    r"""The cube :math:`[0, 1]^d`. Proposition 1's constants: :math:`c_0 = 2^{-d}`, :math:`r_0 = 1/2`
    (the orthant from x towards the centre holds a :math:`2^{-d}` share of B(x, r) for r ≤ 1/2)."""

    d: int

    @property
    def center(self) -> np.ndarray:
        return np.full(self.d, 0.5)

    @property
    def volume(self) -> float:
        return 1.0

    @property
    def diameter(self) -> float:
        return math.sqrt(self.d)

    @property
    def c0(self) -> float:
        return 2.0 ** -self.d

    @property
    def r0(self) -> float:
        return 0.5

    def box(self, pad: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        return np.full(self.d, -pad), np.full(self.d, 1.0 + pad)

    def contains(self, x) -> np.ndarray:
        x = _points(x, self.d)
        return np.all((x >= -1e-12) & (x <= 1 + 1e-12), axis=1)

    def project(self, x) -> np.ndarray:
        return np.clip(_points(x, self.d), 0.0, 1.0)

    def distance(self, x) -> np.ndarray:
        x = _points(x, self.d)
        return np.linalg.norm(x - self.project(x), axis=1)

    def boundary(self, m: int, seed=None) -> tuple[np.ndarray, np.ndarray]:
        """``m`` points uniform on the surface (a random face of the 2d, then uniform on it) and their
        outward normals; a point pushed along its normal projects back onto itself."""
        rng = _rng(seed)
        m = _int("m", m)
        x = rng.random((m, self.d))
        axis = rng.integers(0, self.d, m)
        side = rng.integers(0, 2, m).astype(float)
        x[np.arange(m), axis] = side
        nrm = np.zeros((m, self.d))
        nrm[np.arange(m), axis] = 2 * side - 1
        return x, nrm

    def uniform(self, m: int, seed=None) -> np.ndarray:
        return _rng(seed).random((_int("m", m), self.d))


# ----------------------------------------------------------------------------------------------
# densities
# ----------------------------------------------------------------------------------------------

class Density:
    r"""A density on :math:`\mathbb R^d` with compact convex support and known constants.

    Attributes every density has: ``d``; ``support`` (:class:`Ball` or :class:`Cube`); ``beta`` and
    ``holder_constant`` (Assumption 1, :math:`|f(x) - f(x')| \le C_\beta |x - x'|^\beta` on all of
    :math:`\mathbb R^d`, f = 0 outside the support); ``f_max``; ``lambda0`` (the infimum of f on the
    support, Proposition 1). Methods: ``pdf``, ``sample``, ``tail_cdf`` (:math:`G(t) = P(f(X) \le t)`)
    and ``c_eta`` (Assumption 2).
    """

    name = "density"
    label = "density"
    beta = 1.0

    def __init__(self, d):
        self.d = _d(d)

    def __repr__(self):
        return f"{type(self).__name__}(d={self.d})"

    def pdf(self, x) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def sample(self, n: int, seed=None) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def tail_cdf(self, t) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def c_eta(self, eta: float = 1.0) -> float:
        r"""Assumption 2's constant for exponent η: :math:`C_\eta = \sup_{t > 0} P(f(X) \le t) / t^\eta`.

        Computed from the exact :meth:`tail_cdf` on a log-spaced grid of t in (0, max f] (the sup over
        t ≥ max f is at t = max f, where G = 1), refined by a bounded 1-D search. For η = 1 every
        density has the bound :math:`C_1 \le \mathrm{Vol}(\mathcal X)`, because
        :math:`P(f(X)\le t) = \int_{f \le t} f \le t\,\mathrm{Vol}(\mathcal X)` (:meth:`c_eta_bound`).
        """
        from scipy.optimize import minimize_scalar

        eta = _pos("eta", eta, 1.0)
        ts = self.f_max * np.logspace(-8, 0, 4001)
        vals = self.tail_cdf(ts) / ts ** eta
        i = int(np.argmax(vals))
        best = float(vals[i])
        lo, hi = ts[max(i - 1, 0)], ts[min(i + 1, len(ts) - 1)]
        if hi > lo:
            res = minimize_scalar(lambda t: -float(self.tail_cdf(np.array([t]))[0]) / t ** eta, bounds=(lo, hi),
                                  method="bounded", options={"xatol": 1e-12 * hi})
            best = max(best, -float(res.fun))
        return best

    def c_eta_bound(self) -> float:
        r"""The analytic bound :math:`C_1 \le \mathrm{Vol}(\mathcal X)` of Assumption 2 with η = 1."""
        return self.support.volume


class Bump(Density):
    r"""The polynomial bump :math:`f(x) = c_d\,(1 - |x|^2)^2` on the unit ball (0 outside).

    * Normalisation: :math:`\int (1-|x|^2)^2 dx = d\,v_d \int_0^1 s^{d-1}(1-s^2)^2 ds
      = \tfrac{d\, v_d}{2} B(d/2, 3)`, so :math:`c_d = 2 / (d\, v_d\, B(d/2, 3))`
      (:math:`c_1 = 15/16`, :math:`c_2 = 3/\pi`).
    * Sampler: :math:`|X|^2 \sim \mathrm{Beta}(d/2, 3)`, direction uniform on the sphere.
    * Assumption 1 with β = 1: f is :math:`C^1` on :math:`\mathbb R^d` (f and ∇f vanish on the
      sphere), :math:`|\nabla f| = 4 c_d\, s (1 - s^2)` at radius s, maximal at :math:`s = 1/\sqrt3`:
      :math:`C_1 = 8 c_d / (3\sqrt3)`, attained (radially, at that radius).
    * :math:`P(f(X) \le t) = P(1 - |X|^2 \le \sqrt{t/c_d})` with :math:`1 - |X|^2 \sim \mathrm{Beta}(3, d/2)`;
      near 0 it behaves like :math:`t^{3/2}`, so Assumption 2 holds for every η ≤ 1.
    """

    name = "bump"
    label = "bump $c_d(1-|x|^2)^2$ on the unit ball"

    def __init__(self, d):
        super().__init__(d)
        self.support = Ball(self.d)
        self.c = 2.0 / (self.d * unit_ball_volume(self.d) * special.beta(self.d / 2, 3))
        self.f_max = self.c
        self.holder_constant = 8 * self.c / (3 * math.sqrt(3))
        self.lambda0 = 0.0
        self.argmax_gradient = np.r_[1 / math.sqrt(3), np.zeros(self.d - 1)]

    def pdf(self, x) -> np.ndarray:
        x = _points(x, self.d)
        s2 = np.sum(x * x, axis=1)
        return np.where(s2 < 1, self.c * (1 - s2) ** 2, 0.0)

    def sample(self, n: int, seed=None) -> np.ndarray:
        rng = _rng(seed)
        n = _int("n", n)
        _, u = self.support.boundary(n, rng)
        s = np.sqrt(rng.beta(self.d / 2, 3, n))
        return s[:, None] * u

    def tail_cdf(self, t) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        w = np.sqrt(np.clip(t, 0, None) / self.c)
        return np.where(t >= self.c, 1.0, stats.beta.cdf(np.minimum(w, 1.0), 3, self.d / 2))


class BetaProduct(Density):
    r"""The product of Beta(2, 2) densities, :math:`f(x) = \prod_{i=1}^d 6x_i(1-x_i)` on :math:`[0,1]^d`.

    * Assumption 1 with β = 1: f is Lipschitz on :math:`\mathbb R^d` with
      :math:`C_1 = 6\cdot 1.5^{d-1}`, attained at the centre of a face. Proof: with
      :math:`t_i = 1 - 2x_i`, :math:`|\nabla f|^2 = 36\cdot 2.25^{d-1}\sum_i s_i\prod_{j\ne i}(1-s_j)^2`,
      :math:`s_i = t_i^2 \in [0,1]`, and :math:`\sum_i s_i\prod_{j\ne i}(1-s_j)^2 \le \sum_i s_i\prod_{j\ne i}(1-s_j)
      \le 1` (the probability of exactly one success among independent Bernoulli(:math:`s_i`)).
      Outside the cube f = 0, and f is continuous, so the bound holds on all of :math:`\mathbb R^d`.
    * :math:`P(f(X) \le t)`: one factor :math:`a = 6X(1-X) = 1.5(1-u^2)` with :math:`u = |1-2X|`
      of density :math:`1.5(1-u^2)` on [0, 1], so :math:`G_1(s) = 1 - 1.5u + 0.5u^3`,
      :math:`u = \sqrt{1 - s/1.5}`; the d-fold product by the recursion
      :math:`G_j(t) = \int_0^1 G_{j-1}(t / a(u))\, 1.5(1-u^2)\, du` (Gauss–Legendre in u, log-grid
      interpolation in t). Near 0 it behaves like :math:`t^2(\log 1/t)^{d-1}`: Assumption 2 holds for η ≤ 1.
    """

    name = "beta"
    label = "product of Beta(2, 2) on $[0,1]^d$"

    def __init__(self, d):
        super().__init__(d)
        self.support = Cube(self.d)
        self.f_max = 1.5 ** self.d
        self.holder_constant = 6 * 1.5 ** (self.d - 1)
        self.lambda0 = 0.0
        self.argmax_gradient = np.r_[0.0, np.full(self.d - 1, 0.5)]

    def pdf(self, x) -> np.ndarray:
        x = _points(x, self.d)
        inside = np.all((x >= 0) & (x <= 1), axis=1)
        return np.where(inside, np.prod(6 * x * (1 - x), axis=1), 0.0)

    def sample(self, n: int, seed=None) -> np.ndarray:
        return _rng(seed).beta(2, 2, (_int("n", n), self.d))

    @staticmethod
    def _g1(s):
        s = np.asarray(s, dtype=float)
        u = np.sqrt(np.clip(1 - s / 1.5, 0, 1))
        return np.where(s <= 0, 0.0, np.where(s >= 1.5, 1.0, 1 - 1.5 * u + 0.5 * u ** 3))

    @cached_property
    def _grid(self):
        """(log t, G_d(t)) on a log grid of t in [1e-16, 1.5^d] (d ≥ 2; d = 1 is closed form)."""
        x, w = np.polynomial.legendre.leggauss(400)
        u, w = 0.5 * (x + 1), 0.5 * w
        a = 1.5 * (1 - u ** 2)          # the factor 6X(1-X) as a function of u = |1 - 2X|
        weight = w * 1.5 * (1 - u ** 2)  # times the density of u
        lg = np.linspace(math.log(1e-16), math.log(1.5), 3000)
        g = self._g1(np.exp(lg))
        for j in range(2, self.d + 1):
            lg_new = np.linspace(math.log(1e-16), math.log(1.5 ** j), 3000)
            vals = np.interp(lg_new[:, None] - np.log(a)[None, :], lg, g, left=0.0, right=1.0)
            lg, g = lg_new, np.clip(vals @ weight, 0.0, 1.0)
        return lg, np.maximum.accumulate(g)

    def tail_cdf(self, t) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        if self.d == 1:
            return self._g1(t)
        logt, g = self._grid
        out = np.interp(np.log(np.clip(t, 1e-300, None)), logt, g, left=0.0, right=1.0)
        return np.where(t >= self.f_max, 1.0, np.where(t <= 0, 0.0, out))


class Uniform(Density):
    r"""The uniform density on a convex set (:class:`Ball` or :class:`Cube`).

    Not Hölder on :math:`\mathbb R^d` (it jumps at the boundary: ``holder_constant`` is ∞), so
    Theorems 1–2 do not apply; it is the density of Proposition 1, which needs
    :math:`f \ge \lambda_0 > 0` on the support: :math:`\lambda_0 = 1/\mathrm{Vol}(\mathcal X)`.
    """

    name = "uniform"
    beta = 1.0

    def __init__(self, d, support: str = "cube"):
        super().__init__(d)
        if support not in ("ball", "cube"):
            raise ParameterError(f"parameter 'support' = {support!r} is not accepted; use 'ball' or 'cube'")
        self.support = Ball(self.d) if support == "ball" else Cube(self.d)
        self.name = f"uniform_{support}"
        self.label = f"uniform on the unit {support}"
        self.f_max = self.lambda0 = 1.0 / self.support.volume
        self.holder_constant = math.inf

    def pdf(self, x) -> np.ndarray:
        return np.where(self.support.contains(x), self.f_max, 0.0)

    def sample(self, n: int, seed=None) -> np.ndarray:
        return self.support.uniform(n, seed)

    def tail_cdf(self, t) -> np.ndarray:
        return np.where(np.asarray(t, dtype=float) >= self.f_max, 1.0, 0.0)


DENSITIES = {"bump": Bump, "beta": BetaProduct,
             "uniform_ball": lambda d: Uniform(d, "ball"), "uniform_cube": lambda d: Uniform(d, "cube")}


def make_density(name: str, d) -> Density:
    """The density called ``name`` (``bump``, ``beta``, ``uniform_ball``, ``uniform_cube``) in dimension d."""
    if name not in DENSITIES:
        raise ParameterError(f"parameter 'density' = {name!r} is not accepted; use one of "
                             + ", ".join(map(repr, DENSITIES)))
    return DENSITIES[name](_d(d))


# ----------------------------------------------------------------------------------------------
# Proposition 1's contraction
# ----------------------------------------------------------------------------------------------

def contraction(x, support, x0=None, gamma_in=0.5, gamma_out=0.9) -> np.ndarray:
    r"""The contraction φ of knn-ls Proposition 1, as intended:

    .. math::
        \varphi(x) = \begin{cases} x_0 + \gamma_{in}\,(x - x_0) & x \in \mathcal X,\\
        \Pi(x) + \gamma_{out}\,(x - \Pi(x)) & x \notin \mathcal X, \end{cases}
        \qquad 0 < \gamma_{in} < \gamma_{out} < 1,

    with Π the Euclidean projection onto the convex support and :math:`x_0` an interior point (default:
    the support's centre). Points of the support move towards :math:`x_0` (and stay in the support,
    by convexity); outliers move towards the boundary, their distance to the support scaled by
    :math:`\gamma_{out}`.

    **Erratum.** The paper prints :math:`\varphi(x) = \gamma_{in}(x - x_0) - x_0` and
    :math:`\gamma_{out}(x - \mathrm{Proj}(x)) - \mathrm{Proj}(x)`: those maps subtract the anchor
    instead of adding it (:math:`x_0` is not their fixed point, outliers land near
    :math:`-\mathrm{Proj}(x)`, and :math:`x \mapsto \gamma(x - x_0) - x_0` does not map a support off
    the origin into itself), while the text says "points in X move closer to the origin x0 … outlier
    points move closer to the boundary". The proof uses only that in-support distances scale by
    :math:`\gamma_{in}` and :math:`d(\varphi(x), \mathcal X) = \gamma_{out}\, d(x, \mathcal X)`, which the
    form above satisfies.
    """
    gi, go = _gammas(gamma_in, gamma_out)
    x = _points(x, support.d)
    x0 = support.center if x0 is None else np.asarray(x0, dtype=float).reshape(-1)
    if x0.shape != (support.d,) or not support.contains(x0[None, :])[0]:
        raise ParameterError(f"parameter 'x0' = {x0.tolist()} is not accepted; use a point inside the support")
    inside = support.contains(x)
    p = support.project(x)
    return np.where(inside[:, None], x0 + gi * (x - x0), p + go * (x - p))
