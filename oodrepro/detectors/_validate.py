from __future__ import annotations

import numpy as np

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
        if not np.isfinite(a).all():
            raise ValueError(f"{name}[{i}]: embeddings contain NaN or inf")
        out.append(np.ascontiguousarray(a, dtype=np.float32))
    if len({a.shape[0] for a in out}) != 1:
        raise ValueError(f"{name}: layers disagree on the number of samples: {[a.shape[0] for a in out]}")
    return out


def check_dims(train: list[np.ndarray], test: list[np.ndarray]) -> None:
    if len(train) != len(test):
        raise ValueError(f"fitted on {len(train)} layer(s) but given {len(test)}")
    for i, (a, b) in enumerate(zip(train, test)):
        if a.shape[1] != b.shape[1]:
            raise ValueError(f"layer {i}: fitted on dimension {a.shape[1]}, given dimension {b.shape[1]}")


def check_k(k, n_train: int, loo: bool = True) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ParameterError(f"parameter 'k' = {k!r} is not accepted; use an integer >= 1")
    limit = n_train - 1 if loo else n_train
    if n_train and k > limit:
        raise ParameterError(f"parameter 'k' = {k} is larger than the training set allows "
                             f"({n_train} points: k <= {limit}{' with the leave-one-out normaliser' if loo else ''})")
    return int(k)


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
