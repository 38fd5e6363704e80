"""What every detector shares: input validation, hyper-parameter checks and the two small base classes
of the detectors that score logits alone (:class:`LogitDetector`) or one feature layer
(:class:`FeatureDetector`). Every check raises :class:`oodrepro.errors.ParameterError` or ``ValueError``
naming the argument, and scoring before fitting raises :class:`sklearn.exceptions.NotFittedError`.
"""
from __future__ import annotations

import numpy as np
from sklearn.exceptions import NotFittedError

from ..errors import ParameterError


def as_layers(layers, name: str = "layers") -> list[np.ndarray]:
    """Validate a list of per-layer embedding arrays: non-empty, each 2-D, finite, same N."""
    if isinstance(layers, np.ndarray):
        layers = [layers]
    layers = list(layers)
    if not layers:
        raise ParameterError(f"{name}: empty layer list; pass at least one (N, D) embedding array")
    out = []
    for i, a in enumerate(layers):
        a = np.asarray(a)
        if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
            raise ValueError(f"{name}[{i}]: embeddings must be a non-empty 2-D array (N, D), got shape {a.shape}")
        if a.dtype == object or a.dtype.kind not in "biuf":
            raise ParameterError(f"{name}[{i}]: embeddings must hold real numbers, got dtype {a.dtype}")
        if not np.isfinite(a).all():
            raise ValueError(f"{name}[{i}]: embeddings contain NaN or inf")
        with np.errstate(over="ignore"):
            f = np.ascontiguousarray(a, dtype=np.float32)
        if not np.isfinite(f).all():  # finite in float64, inf in float32: every score would be inf or NaN
            raise ParameterError(f"{name}[{i}]: embeddings overflow float32 (|value| up to "
                                 f"{float(np.max(np.abs(a))):.3g} > 3.4e38); rescale them")
        out.append(f)
    if len({a.shape[0] for a in out}) != 1:
        raise ValueError(f"{name}: layers disagree on the number of samples: {[a.shape[0] for a in out]}")
    return out


def check_dims(train: list[np.ndarray], test: list[np.ndarray]) -> None:
    """``test`` has as many layers as ``train``, each as wide."""
    if len(train) != len(test):
        raise ValueError(f"fitted on {len(train)} layer(s) but given {len(test)}")
    for i, (a, b) in enumerate(zip(train, test)):
        if a.shape[1] != b.shape[1]:
            raise ValueError(f"layer {i}: fitted on dimension {a.shape[1]}, given dimension {b.shape[1]}")


def check_k(k, n_train: int, loo: bool = True) -> int:
    """The neighbour count k: an integer >= 1 that the training set allows (k < n with leave-one-out)."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ParameterError(f"parameter 'k' = {k!r} is not accepted; use an integer >= 1")
    limit = n_train - 1 if loo else n_train
    if n_train and k > limit:
        raise ParameterError(f"parameter 'k' = {k} is larger than the training set allows "
                             f"({n_train} points: k <= {limit}{' with the leave-one-out normaliser' if loo else ''})")
    return int(k)


def check_widths(layers, dims, name: str = "layers") -> list[np.ndarray]:
    """``layers`` validated (:func:`as_layers`) and checked against the widths ``dims`` seen by ``fit``."""
    layers = as_layers(layers, name)
    check_dims([np.empty((1, d)) for d in dims], layers)
    return layers


def check_fitted(detector, attribute: str, call: str = "fit(train_layers)") -> None:
    """NotFittedError naming the detector unless it has the learned ``attribute``."""
    if not hasattr(detector, attribute):
        raise NotFittedError(f"{type(detector).__name__} is not fitted yet: call {call} first")


def logits_of(layers, logits, who: str) -> np.ndarray:
    """The logits a logit-based detector scores: ``logits`` if given, else the last of ``layers``."""
    if logits is None:
        if layers is None:
            raise ParameterError(f"{who}.score needs logits: pass logits=… or layers whose last entry is the logits")
        logits = layers[-1] if isinstance(layers, (list, tuple)) else layers
    (z,) = as_layers([logits], "logits")
    return z


def check_int(name: str, value, low: int, allow_none: bool = False):
    """A hyper-parameter that must be an integer ≥ ``low`` (or None where ``allow_none``)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ParameterError(f"parameter {name!r} = {value!r} is not accepted; use an integer >= {low}"
                             + (" or None" if allow_none else ""))
    return int(value)


def check_fraction(name: str, value, high_inclusive: bool = False) -> float:
    """A hyper-parameter that must be a number in (0, 1) (or (0, 1] with ``high_inclusive``)."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.floating)) and 0 < value and (
        value <= 1 if high_inclusive else value < 1)
    if not ok:
        raise ParameterError(f"parameter {name!r} = {value!r} is not accepted; use 0 < {name} "
                             f"{'<=' if high_inclusive else '<'} 1")
    return float(value)


def check_positive(name: str, value) -> float:
    """A hyper-parameter that must be a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or value <= 0:
        raise ParameterError(f"parameter {name!r} = {value!r} is not accepted; use a number > 0")
    return float(value)


def check_eps(eps) -> float:
    """A perturbation magnitude ε: a finite number >= 0."""
    try:
        e = float(eps)
    except (TypeError, ValueError):
        raise ParameterError(f"parameter 'eps' must be a number >= 0, got {eps!r}") from None
    if isinstance(eps, bool) or not np.isfinite(e) or e < 0:
        raise ParameterError(f"parameter 'eps' = {eps!r} is not accepted; use a finite number >= 0")
    return e


def as_inputs(x) -> np.ndarray:
    """A non-empty batch of network inputs (N, ...) as float32; an :class:`oodrepro.data.Dataset` gives its ``x``."""
    x = getattr(x, "x", x)
    x = np.asarray(x, dtype=np.float32)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x: need a non-empty batch of inputs (N, ...), got shape {x.shape}")
    return x


class LogitDetector:
    """A score of the logits alone, with a ``temperature`` (> 0): nothing to learn, ``fit`` exists for the
    common protocol. Subclasses implement ``_score(z)`` on float64 logits."""

    def __init__(self, temperature: float = 1.0):
        self.temperature = temperature

    def fit(self, train_layers=None, y=None, logits=None):
        """Check the hyper-parameters; nothing to learn. Returns ``self``."""
        check_positive("temperature", self.temperature)
        self.fitted_ = True
        return self

    def _score(self, z):  # pragma: no cover - abstract
        raise NotImplementedError

    def score(self, layers=None, logits=None) -> np.ndarray:
        """OOD score of ``logits`` (or of the last of ``layers``)."""
        check_positive("temperature", self.temperature)
        return self._score(logits_of(layers, logits, type(self).__name__).astype(np.float64))


class FeatureDetector:
    """A detector of one feature layer (``self.layer``): widths checked at ``score``, NotFittedError before
    ``fit``; ``_linear`` checks the last linear layer (``self.weight``, ``self.bias``) of those that need it."""

    def _train(self, train_layers):
        layers = as_layers(train_layers, "train_layers")
        check_int("layer", self.layer, 0)
        if self.layer >= len(layers):
            raise ParameterError(f"parameter 'layer' = {self.layer} is not accepted: only {len(layers)} layer(s) given")
        self.dims_ = [a.shape[1] for a in layers]
        return layers[self.layer].astype(np.float64)

    def _test(self, layers):
        check_fitted(self, "fitted_")
        return check_widths(layers, self.dims_)[self.layer].astype(np.float64)

    def _linear(self, d: int):
        w = np.asarray(self.weight, dtype=np.float64) if self.weight is not None else None
        b = np.asarray(self.bias, dtype=np.float64).ravel() if self.bias is not None else None
        if w is None or b is None or w.ndim != 2 or w.shape[1] != d or b.shape != w.shape[:1]:
            raise ParameterError(f"{type(self).__name__} needs the last linear layer: parameters 'weight' (C, {d}) "
                                 f"and 'bias' (C,), got {None if w is None else w.shape}, "
                                 f"{None if b is None else b.shape}")
        return w, b
