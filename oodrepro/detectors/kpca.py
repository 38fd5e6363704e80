r"""PCA and kernel-PCA reconstruction errors for OOD detection (Fang et al., "Kernel PCA for
Out-of-Distribution Detection", IEEE TPAMI 2026, arXiv:2505.15284; §3–§4, Algorithm 1, Table 5).

Every detector here scores a point by its **unsquared reconstruction error** (higher = more OOD; the
paper's confidence is :math:`-e`):

.. math:: e(z) = \bigl\| (I - U_q U_q^\top)\,(\Phi(z) - \mu) \bigr\|_2,

where :math:`\Phi` is a feature map (identity for PCA, :math:`z/\|z\|` for the cosine kernel, random
Fourier features or a Nyström map for a kernel), :math:`\mu` the mean of the mapped training features and
:math:`U_q` the top-q eigenvectors of their covariance, q the smallest number of components whose
cumulative explained-variance ratio reaches ``evr`` (:func:`n_components_for`).

Maps (paper §3.1–§4.2, §5.4):

- cosine: :math:`\phi_{cos}(z) = z / (\|z\| + 10^{-10})` (the authors' code);
- RFF, Gaussian :math:`k(x, y) = e^{-\gamma\|x - y\|^2}`:
  :math:`\Phi(x) = \sqrt{2/M}\cos(Wx + b)`, rows of W ~ N(0, 2γI), b ~ U[0, 2π) — scikit-learn's
  :class:`~sklearn.kernel_approximation.RBFSampler` draws exactly this (checked in the tests). It draws
  the same seed-0 normals as the authors' code but shapes them (D, M) where the authors shape them
  (M, D), so the features differ; ``rff_layout="authors"`` draws theirs (:func:`authors_gaussian_rff`);
- RFF, Laplacian :math:`k(x, y) = e^{-\gamma\|x - y\|_1}` (Eq. 11): the same map with W's entries
  i.i.d. Cauchy(0, γ), the Fourier transform of the Laplacian kernel (by hand: scikit-learn has none);
- polynomial :math:`k(x, y) = (\gamma\langle x, y\rangle + c_0)^d` (Eq. 12): Tensor Sketch,
  scikit-learn's :class:`~sklearn.kernel_approximation.PolynomialCountSketch` (Pham & Pagh 2013);
- Nyström with landmarks L: :math:`K_{mm} = k(L, L) = U S U^\top`,
  :math:`\Phi(x) = S^{-1/2} U^\top k(L, x)`, eigenvalues floored at 1e-12 (scikit-learn's
  ``Nystroem`` is a rotation of this map: same errors). Landmarks: ``"low_energy"`` — the m training
  samples with the lowest :math:`\mathrm{logsumexp}` of the logits (least confident, the paper's),
  ``"high_energy"`` … the most confident, ``"uniform"`` — a seeded uniform sample.

Exact KPCA (Proposition 1) is :class:`ExactKPCA`; the "+ReAct" fusions are the ``fusion="react"``
option of :class:`KPCA`.
"""
from __future__ import annotations

import numpy as np
from sklearn.kernel_approximation import PolynomialCountSketch, RBFSampler
from sklearn.metrics.pairwise import pairwise_kernels

from ..errors import ParameterError
from .base import check_fitted, check_fraction, check_int, check_positive, check_widths
from .energy import energy_confidence
from .react import react_energy

KERNELS = ("gaussian", "laplacian", "polynomial")
APPROXIMATIONS = ("rff", "nystroem")
#: Layouts of the Gaussian RFF draw: "ours" (scikit-learn's RBFSampler), "authors" (their main.py).
RFF_LAYOUTS = ("ours", "authors")
LANDMARKS = ("low_energy", "high_energy", "uniform")
_SKLEARN_KERNEL = {"gaussian": "rbf", "laplacian": "laplacian", "polynomial": "polynomial", "linear": "linear"}
EIG_FLOOR = 1e-12


# --- pure functions ---------------------------------------------------------------------------------
def cosine_map(z: np.ndarray) -> np.ndarray:
    r""":math:`\phi_{cos}(z) = z / (\|z\|_2 + 10^{-10})`, row-wise (the cosine kernel's feature map)."""
    z = np.asarray(z, dtype=np.float64)
    return z / (np.linalg.norm(z, axis=1, keepdims=True) + 1e-10)


def n_components_for(eigenvalues: np.ndarray, evr: float) -> int:
    r"""q = the smallest i with :math:`\sum_{j \le i} \lambda_j / \sum_j \lambda_j \ge` ``evr``
    (eigenvalues in any order; negative rounding noise counts as 0). A tolerance of 1e-12 on the ratio
    absorbs rounding, so ``evr = 1`` keeps every component with non-zero variance."""
    lam = np.clip(np.sort(np.asarray(eigenvalues, dtype=np.float64))[::-1], 0.0, None)
    if lam.sum() <= 0:
        raise ValueError("the training features have zero variance: no principal component to keep")
    ratio = np.cumsum(lam) / lam.sum()
    return int(np.argmax(ratio >= evr - 1e-12)) + 1


def top_components(cov: np.ndarray, evr: float) -> tuple[np.ndarray, np.ndarray]:
    """Eigen-decomposition of a covariance (descending): ``(eigenvalues, U_q)``, q from ``evr``."""
    lam, vec = np.linalg.eigh(np.asarray(cov, dtype=np.float64))
    lam, vec = lam[::-1], vec[:, ::-1]
    return lam, vec[:, :n_components_for(lam, evr)]


def reconstruction_error(features: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    r""":math:`e = \|(I - U_q U_q^\top)(\Phi - \mu)\|_2` per row (unsquared; higher = more OOD)."""
    c = np.asarray(features, dtype=np.float64) - mean
    return np.linalg.norm(c - (c @ components) @ components.T, axis=1)


def select_landmarks(n: int, m: int, how: str = "low_energy", logits=None, seed: int = 0) -> np.ndarray:
    """Indices of m landmarks among n training points: ``"low_energy"`` = the m lowest logsumexp of
    ``logits`` (ascending), ``"high_energy"`` = the m highest (descending), ``"uniform"`` = seeded sample."""
    if how not in LANDMARKS:
        raise ParameterError(f"parameter 'landmarks' = {how!r} is not accepted; use one of "
                             f"{', '.join(map(repr, LANDMARKS))}")
    if m > n:
        raise ParameterError(f"parameter 'n_components' = {m} is larger than the training set ({n} points): "
                             f"Nyström needs m <= {n} landmarks")
    if how == "uniform":
        return np.sort(np.random.default_rng(seed).choice(n, size=m, replace=False))
    if logits is None:
        raise ParameterError(f"landmarks={how!r} needs the training logits: pass fit(..., logits=…) "
                             "or use landmarks='uniform'")
    s = energy_confidence(logits)
    order = np.argsort(s, kind="stable")
    return order[:m] if how == "low_energy" else order[::-1][:m]


def laplacian_rff(n_features: int, n_components: int, gamma: float, seed: int = 0):
    r"""Random Fourier features of :math:`e^{-\gamma\|x - y\|_1}`: ``(W, b)`` with W (D, M) i.i.d.
    Cauchy(0, γ), b ~ U[0, 2π); the map is :math:`\sqrt{2/M}\cos(xW + b)` (Rahimi & Recht 2007)."""
    rng = np.random.default_rng(seed)
    w = gamma * rng.standard_cauchy(size=(n_features, n_components))
    return w, rng.uniform(0.0, 2.0 * np.pi, size=n_components)


def authors_gaussian_rff(n_features: int, n_components: int, gamma: float, seed: int = 0):
    r"""The authors' Gaussian random Fourier features (``ood-kernel-pca-ext``, main.py, after
    ``np.random.seed(seed)``): ``W = sqrt(2γ)·normal(size=(M, D))`` (rows ~ N(0, 2γI)), then
    ``b = 2π·rand(M)``; the map is :math:`\sqrt{2/M}\cos(xW^\top + b)`. Returns ``(W, b)`` with W (M, D).
    scikit-learn's ``RBFSampler(random_state=seed)`` reads the same normals as a (D, M) matrix: same
    distribution, different features. Drawn from its own ``RandomState``: the global state is untouched."""
    rs = np.random.RandomState(seed)
    w = np.sqrt(2 * gamma) * rs.normal(size=(n_components, n_features))
    return w, 2 * np.pi * rs.rand(n_components)


def nystroem_map(landmarks: np.ndarray, kernel: str, **kw):
    r"""Nyström map from landmarks L: returns ``(L, T)`` with :math:`T = U S^{-1/2}` from
    :math:`k(L, L) = U S U^\top` (eigenvalues floored at 1e-12), so :math:`\Phi(x) = k(x, L)\,T`."""
    lam, u = np.linalg.eigh(pairwise_kernels(landmarks, metric=_SKLEARN_KERNEL[kernel], **kw))
    return landmarks, u / np.sqrt(np.maximum(lam, EIG_FLOOR))


def kernel_kwargs(kernel: str, gamma: float, degree: int = 2, coef0: float = 1.0) -> dict:
    """scikit-learn ``pairwise_kernels`` keyword arguments for one of :data:`KERNELS` (or "linear")."""
    if kernel == "polynomial":
        return {"gamma": gamma, "degree": degree, "coef0": coef0}
    return {} if kernel == "linear" else {"gamma": gamma}


def available_memory() -> int:
    """This machine's physical memory in bytes (``SC_PHYS_PAGES`` × ``SC_PAGE_SIZE``); 0 when unknown."""
    import os

    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return 0


def _size(n: float) -> str:
    for unit, f in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= f:
            return f"{n / f:.1f} {unit}"
    return f"{n / 1e3:.1f} kB"


#: float64 M×M (N×N) arrays counted at the peak of fit: the summed covariance, the normalised copy and the
#: outer-product temporary, the eigenvectors and LAPACK's workspace (5); exact KPCA: the kernel matrix, its
#: centred copy and temporary, two sets of eigenvectors and k_inv_half (6). An estimate, for refusing early.
SQUARE_COPIES, EXACT_SQUARE_COPIES = 5, 6


def square_bytes(m: int, copies: int = SQUARE_COPIES) -> int:
    """Bytes of ``copies`` float64 m×m arrays."""
    return copies * 8 * int(m) ** 2


def memory_message(value: int, need: int, what: str, hint: str) -> str | None:
    """The one-line reason ``value`` cannot run here (``need`` bytes > physical memory), or None."""
    avail = available_memory()
    if avail and need > avail:
        return (f"{value} needs about {_size(need)} of memory ({what}) but this machine has {_size(avail)}; {hint}")
    return None


def check_memory(name: str, value: int, need: int, what: str, hint: str) -> None:
    """Raise :class:`ParameterError` naming ``name`` before a float64 allocation that cannot fit."""
    msg = memory_message(value, need, what, hint)
    if msg:
        raise ParameterError(f"parameter {name!r} = {msg}")


def m_memory_check(m) -> str | None:
    """A schema ``check`` for M / m (``n_components``, ``m_grid``): the M×M covariance must fit in memory."""
    ms = m if isinstance(m, list) else [m]
    big = max(ms, default=0)
    return memory_message(big, square_bytes(big), f"{SQUARE_COPIES} float64 {big}×{big} matrices: the covariance "
                          "of the mapped features and its eigendecomposition", "use a smaller M / m")


def n_exact_memory_check(n) -> str | None:
    """A schema ``check`` for exact KPCA's training points: the N×N kernel matrix must fit in memory."""
    return memory_message(n, square_bytes(n, EXACT_SQUARE_COPIES), f"{EXACT_SQUARE_COPIES} float64 {n}×{n} "
                          "matrices: the kernel matrix and its eigendecompositions", "use fewer training points")


def check_choice(name: str, value, allowed) -> str:
    if value not in allowed:
        raise ParameterError(f"parameter {name!r} = {value!r} is not accepted; use one of "
                             f"{', '.join(map(repr, allowed))}")
    return value


def kernel_diag(z: np.ndarray, kernel: str, **kw) -> np.ndarray:
    """:math:`k(x, x)` per row, without the (N, N) matrix."""
    if kernel in ("gaussian", "laplacian"):
        return np.ones(len(z))
    sq = (np.asarray(z, dtype=np.float64) ** 2).sum(1)
    if kernel == "linear":
        return sq
    return (kw["gamma"] * sq + kw["coef0"]) ** kw["degree"]


def _chunk_rows(bank, start: int, stop: int, name: str) -> np.ndarray:
    """Rows [start, stop) of a (possibly memory-mapped) bank as float64, checked finite."""
    block = np.asarray(bank[start:stop], dtype=np.float64)
    if not np.isfinite(block).all():
        raise ValueError(f"{name}: embeddings contain NaN or inf (rows {start}–{stop - 1})")
    return block


def streamed_moments(bank, fmap, chunk_size: int | None = None, name: str = "train_layers"):
    r"""Mean and covariance :math:`\frac1N\sum_i (\Phi(z_i) - \mu)(\Phi(z_i) - \mu)^\top` of the mapped
    rows of ``bank`` (an (N, D) array or ``np.memmap``), read ``chunk_size`` rows at a time; sums are
    float64 and shifted by the first chunk's mean (the shifted-data algorithm, no cancellation)."""
    n = len(bank)
    step = n if chunk_size is None else int(chunk_size)
    shift = s1 = s2 = None
    for start in range(0, n, step):
        f = fmap(_chunk_rows(bank, start, min(start + step, n), name))
        if shift is None:
            shift = f.mean(axis=0)
            s1, s2 = np.zeros_like(shift), np.zeros((len(shift), len(shift)))
        f = f - shift
        s1 += f.sum(axis=0)
        s2 += f.T @ f
    d = s1 / n
    return shift + d, s2 / n - np.outer(d, d)


def _bank_of(train_layers, layer: int):
    """The layer a reconstruction detector fits on, left as given (a memmap stays a memmap), and the
    widths of every layer (checked again at ``score``)."""
    if isinstance(train_layers, np.ndarray):
        train_layers = [train_layers]
    train_layers = list(train_layers)
    if not train_layers:
        raise ParameterError("train_layers: empty layer list; pass at least one (N, D) embedding array")
    check_int("layer", layer, 0)
    if layer >= len(train_layers):
        raise ParameterError(f"parameter 'layer' = {layer} is not accepted: only {len(train_layers)} layer(s) given")
    shapes = [np.shape(a) for a in train_layers]
    if any(len(s) != 2 or 0 in s for s in shapes):
        raise ValueError(f"train_layers: embeddings must be non-empty 2-D arrays (N, D), got shapes {shapes}")
    if len({s[0] for s in shapes}) != 1:
        raise ValueError(f"train_layers: layers disagree on the number of samples: {[s[0] for s in shapes]}")
    return train_layers[layer], [s[1] for s in shapes]


class PCA:
    r"""PCA reconstruction error (Fang et al. §2.2, §3.1; the "PCA" and "Cosine" rows of Table 5):
    :math:`e(z) = \|(I - U_q U_q^\top)(\phi(z) - \mu)\|_2`, :math:`\phi` the identity or, with
    ``cosine=True``, :math:`z/\|z\|`. OOD score = e (the paper's confidence is −e).

    Parameters
    ----------
    evr : float in (0, 1], default 0.9
        Explained-variance threshold: q = smallest number of components whose cumulative explained
        variance ratio reaches it.
    cosine : bool, default False
        L2-normalise the features first (the cosine kernel's map).
    layer : int, default 0
        Which entry of ``layers`` holds the (penultimate) features.
    chunk_size : int or None, default 65536
        ``fit`` reads the training bank this many rows at a time (a ``np.memmap`` is never loaded
        whole); None = all at once.

    Attributes
    ----------
    mean_ : ndarray (F,)  ·  eigenvalues_ : ndarray (F,), descending  ·  components_ : ndarray (F, q)
    n_components_ : int, q.

    References
    ----------
    Fang, Tao, He, Lv, Yang, Hu, Huang, Yang, Cao. Kernel PCA for Out-of-Distribution Detection: Non-Linear
    Kernel Selection and Approximation. IEEE TPAMI 2026; arXiv:2505.15284 (Algorithm 1).
    """

    def __init__(self, evr: float = 0.9, cosine: bool = False, layer: int = 0, chunk_size: int | None = 65536):
        self.evr, self.cosine, self.layer, self.chunk_size = evr, cosine, layer, chunk_size

    # hooks a kernel map overrides
    def _validate(self):
        check_fraction("evr", self.evr, high_inclusive=True)
        check_int("chunk_size", self.chunk_size, 1, allow_none=True)

    def _prepare(self, bank, logits):
        self.dim_ = bank.shape[1]

    def _map(self, z: np.ndarray) -> np.ndarray:
        return cosine_map(z) if self.cosine else np.asarray(z, dtype=np.float64)

    def _output(self, err: np.ndarray, z: np.ndarray) -> np.ndarray:
        return err

    def fit(self, train_layers, y=None, logits=None):
        """Fit the map, then the mean and covariance of the mapped training features (streamed in
        chunks), and keep the top-q eigenvectors. ``y``: unused. Returns ``self``."""
        self._validate()
        bank, self.dims_ = _bank_of(train_layers, self.layer)
        self._prepare(bank, logits)
        self.mean_, cov = streamed_moments(bank, self._map, self.chunk_size)
        self.eigenvalues_, self.components_ = top_components(cov, self.evr)
        self.n_components_ = self.components_.shape[1]
        return self

    def _features(self, layers) -> np.ndarray:
        check_fitted(self, "components_")
        return check_widths(layers, self.dims_)[self.layer].astype(np.float64)

    def reconstruction_error(self, layers) -> np.ndarray:
        """:math:`e(z)` of each point (unsquared)."""
        return reconstruction_error(self._map(self._features(layers)), self.mean_, self.components_)

    def score(self, layers, logits=None) -> np.ndarray:
        """OOD score (higher = more OOD): e, or the "+ReAct" fusion where the detector has one."""
        z = self._features(layers)
        return self._output(reconstruction_error(self._map(z), self.mean_, self.components_), z)


class KPCA(PCA):
    r"""KPCA reconstruction error through an explicit kernel map (Fang et al. §3.2–§4.2, Algorithm 1;
    Table 5): map :math:`\Phi` (RFF or Nyström, optionally after the cosine map), then PCA in the
    mapped space, centred on the mapped training mean; OOD score :math:`e = \|(I - U_qU_q^\top)
    (\Phi(z) - \mu)\|_2`. ``KPCA()`` is the paper's "KPCA_rff" (cosine-Gaussian);
    ``KPCA(approximation="nystroem")`` is "KPCA_nys" with low-energy landmarks.

    "+ReAct" (``fusion="react"``, §5.2, Table 3): features are clipped at c before everything,
    :math:`S = \mathrm{logsumexp}(W\min(z, c) + b)`, and the fused confidence is
    :math:`(1 - e)\,S` for RFF, :math:`S / e` for Nyström (the authors' code); the OOD score is its
    negative. Nyström landmarks are then the training points with the lowest S.

    Parameters
    ----------
    kernel : {"gaussian", "laplacian", "polynomial"}, default "gaussian"
    approximation : {"rff", "nystroem"}, default "rff"
        "rff": Gaussian by scikit-learn's ``RBFSampler``, Laplacian by Cauchy-weight RFF
        (:func:`laplacian_rff`), polynomial by Tensor Sketch (``PolynomialCountSketch``).
    cosine : bool, default True
        Apply the cosine map first (the paper's cosine-X kernels).
    gamma : float > 0, default 1.0
        Kernel width, scikit-learn's convention (:math:`\gamma = 1/(2\sigma^2)` for the Gaussian).
    n_components : int >= 1, default 2048
        M, the number of random features, or m, the number of Nyström landmarks (m <= N).
    evr : float in (0, 1], default 0.9
    landmarks : {"low_energy", "high_energy", "uniform"}, default "low_energy"
    degree, coef0 : polynomial kernel :math:`(\gamma\langle x, y\rangle + c_0)^d`, default 2, 1.0.
    fusion : None or "react", default None
    weight, bias : arrays (C, D), (C,) — the classifier's last linear layer (needed by ``fusion``).
    clip : float > 0 or None, default 1.0
        ReAct's threshold c (1.0 in the authors' ImageNet code); None = ReAct's own rule, the 90th
        percentile of the training activations.
    layer, chunk_size : as :class:`PCA`.
    seed : int, default 0 — random features and uniform landmarks.
    rff_layout : {"ours", "authors"}, default "ours"
        Gaussian RFF only: "ours" draws W with scikit-learn's ``RBFSampler`` ((D, M) normals);
        "authors" as the authors' code, the same normals shaped (M, D) (:func:`authors_gaussian_rff`),
        so that seed 0 gives their features exactly.

    Attributes
    ----------
    landmark_index_ : ndarray (Nyström) · clip_ : float (fusion) · as :class:`PCA` otherwise.
    """

    def __init__(self, kernel: str = "gaussian", approximation: str = "rff", cosine: bool = True,
                 gamma: float = 1.0, n_components: int = 2048, evr: float = 0.9, landmarks: str = "low_energy",
                 degree: int = 2, coef0: float = 1.0, fusion: str | None = None, weight=None, bias=None,
                 clip: float | None = 1.0, layer: int = 0, seed: int = 0, chunk_size: int | None = 65536,
                 rff_layout: str = "ours"):
        super().__init__(evr, cosine, layer, chunk_size)
        self.kernel, self.approximation, self.gamma, self.n_components = kernel, approximation, gamma, n_components
        self.landmarks, self.degree, self.coef0, self.seed = landmarks, degree, coef0, seed
        self.fusion, self.weight, self.bias, self.clip = fusion, weight, bias, clip
        self.rff_layout = rff_layout

    def _validate(self):
        super()._validate()
        check_choice("kernel", self.kernel, KERNELS)
        check_choice("approximation", self.approximation, APPROXIMATIONS)
        check_choice("landmarks", self.landmarks, LANDMARKS)
        check_choice("fusion", self.fusion, (None, "react"))
        check_choice("rff_layout", self.rff_layout, RFF_LAYOUTS)
        if self.rff_layout == "authors" and (self.kernel, self.approximation) != ("gaussian", "rff"):
            raise ParameterError(f"parameter 'rff_layout' = 'authors' is not accepted with kernel={self.kernel!r}, "
                                 f"approximation={self.approximation!r}; it applies to kernel='gaussian', "
                                 "approximation='rff' only (use 'ours')")
        check_positive("gamma", self.gamma)
        check_int("n_components", self.n_components, 1)
        check_int("degree", self.degree, 1)
        if self.clip is not None:
            check_positive("clip", self.clip)

    def _kw(self) -> dict:
        return kernel_kwargs(self.kernel, float(self.gamma), int(self.degree), float(self.coef0))

    def _prepare_react(self, bank):
        if self.weight is None or self.bias is None:
            raise ParameterError("fusion='react' needs the last linear layer: pass weight=(C, D) and bias=(C,)")
        self.weight_ = np.asarray(self.weight, dtype=np.float64)
        self.bias_ = np.asarray(self.bias, dtype=np.float64).ravel()
        w, b = self.weight_, self.bias_
        if w.ndim != 2 or w.shape[1] != bank.shape[1] or b.shape != w.shape[:1]:
            raise ParameterError(f"parameters 'weight', 'bias' have shapes {self.weight_.shape}, {self.bias_.shape}; "
                                 f"use (C, {bank.shape[1]}) and (C,)")
        self.clip_ = float(self.clip) if self.clip is not None else float(np.percentile(np.asarray(bank), 90))

    def _prepare(self, bank, logits):
        super()._prepare(bank, logits)
        m, d = int(self.n_components), bank.shape[1]
        rows = len(bank) if self.chunk_size is None else min(int(self.chunk_size), len(bank))
        check_memory("n_components", m, square_bytes(m) + 8 * m * (2 * rows + d),
                     f"{SQUARE_COPIES} float64 {m}×{m} matrices for the covariance of the mapped features and its "
                     f"eigendecomposition, plus {rows}-row chunks of mapped features", "use a smaller n_components")
        if self.fusion == "react":
            self._prepare_react(bank)
        if self.approximation == "nystroem":
            if self.fusion == "react":
                logits = np.asarray(bank, dtype=np.float64).clip(max=self.clip_) @ self.weight_.T + self.bias_
            self.landmark_index_ = select_landmarks(len(bank), m, self.landmarks, logits, self.seed)
            self.nystroem_ = nystroem_map(self._pre(_chunk_rows(bank[np.sort(self.landmark_index_)], 0, m,
                                                                "train_layers")), self.kernel, **self._kw())
        elif self.kernel == "gaussian" and self.rff_layout == "authors":
            self.rff_ = authors_gaussian_rff(d, m, float(self.gamma), self.seed)
        elif self.kernel == "gaussian":
            self.sampler_ = RBFSampler(gamma=float(self.gamma), n_components=m, random_state=self.seed)
            self.sampler_.fit(np.zeros((1, d)))
        elif self.kernel == "laplacian":
            self.rff_ = laplacian_rff(d, m, float(self.gamma), self.seed)
        else:
            self.sampler_ = PolynomialCountSketch(gamma=float(self.gamma), degree=int(self.degree),
                                                  coef0=float(self.coef0), n_components=m, random_state=self.seed)
            self.sampler_.fit(np.zeros((1, d)))

    def _pre(self, z: np.ndarray) -> np.ndarray:
        """Clip (with "+ReAct") and the cosine map, before the kernel map."""
        z = np.asarray(z, dtype=np.float64)
        if self.fusion == "react":
            z = np.minimum(z, self.clip_)
        return cosine_map(z) if self.cosine else z

    def _map(self, z: np.ndarray) -> np.ndarray:
        z = self._pre(z)
        if self.approximation == "nystroem":
            land, t = self.nystroem_
            return pairwise_kernels(z, land, metric=_SKLEARN_KERNEL[self.kernel], **self._kw()) @ t
        if self.kernel == "laplacian":
            w, b = self.rff_
            return np.sqrt(2.0 / w.shape[1]) * np.cos(z @ w + b)
        if self.kernel == "gaussian" and self.rff_layout == "authors":
            w, b = self.rff_  # (M, D), as theirs: np.sqrt(2/M)*np.cos(f.dot(w.T) + u)
            return np.sqrt(2 / w.shape[0]) * np.cos(z.dot(w.T) + b[np.newaxis, :])
        return self.sampler_.transform(z).astype(np.float64)

    def _output(self, err: np.ndarray, z: np.ndarray) -> np.ndarray:
        if self.fusion != "react":
            return err
        s = react_energy(z, self.weight_, self.bias_, self.clip_)
        return -(1.0 - err) * s if self.approximation == "rff" else -s / np.maximum(err, 1e-300)


def exact_kpca_fit(x: np.ndarray, kernel: str, evr: float, **kw) -> dict:
    r"""Exact KPCA on training points x: the centred kernel matrix
    :math:`\tilde K = HKH = V\Lambda V^\top` (descending), q from ``evr`` on Λ, and what scoring needs."""
    x = np.asarray(x, dtype=np.float64)
    k = pairwise_kernels(x, metric=_SKLEARN_KERNEL[kernel], **kw)
    r, t = k.mean(axis=1), k.mean()
    lam, v = np.linalg.eigh(k - r[:, None] - r[None, :] + t)
    lam, v = lam[::-1], v[:, ::-1]
    q = n_components_for(lam, evr)
    s, u = np.linalg.eigh(k)
    return {"x": x, "row_mean": r, "mean": t, "q": q, "eigenvalues": lam,
            "proj": v[:, :q] / np.sqrt(np.maximum(lam[:q], EIG_FLOOR)),
            "k_inv_half": u / np.sqrt(np.maximum(s, EIG_FLOOR))}


def exact_kpca_error(z: np.ndarray, state: dict, kernel: str, reading: str = "full", **kw) -> np.ndarray:
    r"""Exact KPCA reconstruction error (Proposition 1), unsquared.

    With :math:`k_x` the kernel vector, :math:`\tilde k_x` its centred version and
    :math:`p(x) = \sum_{j\le q} (v_j^\top\tilde k_x)^2/\lambda_j` the energy in the top-q directions:

    - ``"full"``: :math:`e^2 = \|\phi(x) - \bar\phi\|^2 - p(x)`, with
      :math:`\|\phi(x) - \bar\phi\|^2 = k(x, x) - \frac2n\sum_i k(x, x_i) + \frac1{n^2}\sum_{ij}K_{ij}`
      — the whole RKHS residual, including the part of φ(x) outside the span of the training points;
    - ``"in_span"``: :math:`e^2 = a^\top K^{-1} a - p(x)`, :math:`a_i = k(x_i, x) - \frac1n\sum_l K_{il}`
      — the residual of the projection of :math:`\phi(x) - \bar\phi` onto span{φ(x_i)}, what a
      Nyström map with every training point as a landmark computes.

    The two differ by :math:`k(x, x) - k_x^\top K^{-1} k_x` (squared errors)."""
    z = np.asarray(z, dtype=np.float64)
    kx = pairwise_kernels(z, state["x"], metric=_SKLEARN_KERNEL[kernel], **kw)
    kc = kx - state["row_mean"][None, :] - kx.mean(axis=1, keepdims=True) + state["mean"]
    p = ((kc @ state["proj"]) ** 2).sum(axis=1)
    if reading == "full":
        total = kernel_diag(z, kernel, **kw) - 2.0 * kx.mean(axis=1) + state["mean"]
    else:
        total = (((kx - state["row_mean"][None, :]) @ state["k_inv_half"]) ** 2).sum(axis=1)
    return np.sqrt(np.maximum(total - p, 0.0))


class ExactKPCA(PCA):
    r"""Exact KPCA reconstruction error through the centred kernel matrix (Fang et al., Proposition 1;
    Fig. 6): O(n²) memory and O(n³) time in the training-set size n, so fit it on a subsample (it is
    the reference RFF / Nyström are measured against). Formulas: :func:`exact_kpca_error`.

    Parameters
    ----------
    kernel : {"gaussian", "laplacian", "polynomial", "linear"}, default "gaussian"
    cosine : bool, default True — cosine map first.
    gamma, degree, coef0 : as :class:`KPCA`.
    evr : float in (0, 1], default 0.9 — q from the eigenvalues of the centred kernel matrix.
    reading : {"full", "in_span"}, default "full" — see :func:`exact_kpca_error`.
    layer : int, default 0.

    Attributes
    ----------
    state_ : dict (training points, centring terms, projections) · n_components_ : int, q.
    """

    def __init__(self, kernel: str = "gaussian", cosine: bool = True, gamma: float = 1.0, evr: float = 0.9,
                 reading: str = "full", degree: int = 2, coef0: float = 1.0, layer: int = 0):
        super().__init__(evr, cosine, layer, None)
        self.kernel, self.gamma, self.reading, self.degree, self.coef0 = kernel, gamma, reading, degree, coef0

    def _kw(self) -> dict:
        return kernel_kwargs(self.kernel, float(self.gamma), int(self.degree), float(self.coef0))

    def fit(self, train_layers, y=None, logits=None) -> "ExactKPCA":
        """Kernel matrix of the training points, its centred eigen-decomposition. Returns ``self``."""
        self._validate()
        check_choice("kernel", self.kernel, KERNELS + ("linear",))
        check_choice("reading", self.reading, ("full", "in_span"))
        check_positive("gamma", self.gamma)
        bank, self.dims_ = _bank_of(train_layers, self.layer)
        n = len(bank)
        check_memory("train_layers", n, square_bytes(n, EXACT_SQUARE_COPIES) + 8 * n * bank.shape[1],
                     f"rows; exact KPCA holds {EXACT_SQUARE_COPIES} float64 {n}×{n} matrices: the kernel matrix and "
                     "its eigendecompositions", "fit it on a subsample, or use KPCA (RFF / Nyström)")
        self.state_ = exact_kpca_fit(self._map(_chunk_rows(bank, 0, len(bank), "train_layers")),
                                     self.kernel, self.evr, **self._kw())
        self.n_components_ = self.state_["q"]
        self.components_ = self.state_["proj"]  # marks the detector fitted
        return self

    def reconstruction_error(self, layers, reading: str | None = None) -> np.ndarray:
        """e(z) under ``reading`` (default: the constructor's)."""
        return exact_kpca_error(self._map(self._features(layers)), self.state_, self.kernel,
                                reading or self.reading, **self._kw())

    def score(self, layers, logits=None) -> np.ndarray:
        """OOD score = e (higher = more OOD)."""
        return self.reconstruction_error(layers)
