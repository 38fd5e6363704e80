"""The detector protocol: every detector in oodrepro.detectors.REGISTRY through the same checks."""
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from oodrepro import detectors
from oodrepro.errors import ParameterError


def _toy(rng, n=60, d=5, c=3):
    y = np.arange(n) % c
    layers = [rng.normal(size=(n, d)) + y[:, None], rng.normal(size=(n, c)) + 3 * np.eye(c)[y]]
    return layers, y


#: tiny settings for the 60 x 5 toy data (the cosine map would send every far point to one direction)
SMALL_KWARGS = {"robust_knn": {"k": 3}, "isolation_forest": {"n_estimators": 10},
                "kpca": {"n_components": 64, "cosine": False, "gamma": 0.1},
                "exact_kpca": {"cosine": False, "gamma": 0.1}, "deep_knn": {"k": 5},
                "vim": {"weight": np.eye(3, 5), "bias": np.zeros(3), "dim": 2},
                "react": {"weight": np.eye(3, 5), "bias": np.zeros(3)}}
#: detectors of the logits alone (nothing to learn; their score need not grow far away)
LOGIT_ONLY = ("max_softmax", "deconf", "max_logit", "energy", "odin")


@pytest.mark.parametrize("name", sorted(detectors.REGISTRY))
def test_every_detector_follows_the_protocol(name, rng):
    cls = detectors.REGISTRY[name]
    kw = SMALL_KWARGS.get(name, {})
    layers, y = _toy(rng)
    det = cls(**kw)
    if name not in LOGIT_ONLY:  # these learn nothing: scoring unfitted is allowed
        with pytest.raises(NotFittedError):
            det.score(layers)
    assert det.fit(layers, y=y, logits=layers[-1]) is det
    far = [a + 50 for a in layers]
    s_in, s_out = det.score(layers), det.score(far, logits=far[-1])
    assert s_in.shape == (60,) and np.isfinite(s_in).all() and s_in.dtype == np.float64
    # logit scores need not grow far away, nor ReAct's (clipped), ViM's (its energy term grows with the
    # logits) or deep k-NN's (z + 50 normalises to one direction near class 2's): the others must
    if name not in LOGIT_ONLY + ("react", "vim", "deep_knn"):
        assert s_out.mean() > s_in.mean()
    with pytest.raises((ValueError, ParameterError), match="NaN or inf"):
        det.score([np.full((4, 5), np.nan), np.full((4, 3), np.nan)])
    with pytest.raises((ValueError, ParameterError)):  # a layer missing, or no point at all
        det.score([np.zeros((4, 5))] if name not in LOGIT_ONLY else [np.zeros((0, 3))])


def test_robust_knn_needs_labels_and_logit_detectors_need_logits(rng):
    layers, _ = _toy(rng)
    with pytest.raises(ParameterError, match="needs the training labels"):
        detectors.RobustKNN(k=3).fit(layers)
    with pytest.raises(ParameterError, match="needs logits"):
        detectors.MaxSoftmax().score(None)
