"""OOD detectors. Every detector returns an **OOD score: higher = more likely out-of-distribution**.

One file per family; each class follows scikit-learn's conventions (hyper-parameters in
``__init__``, which does no work; ``fit`` validates and returns ``self``; learned state ends in ``_``)
and wraps a pure function that can be tested alone.
"""
from .knn import KNNRadius, knn_radius, loo_normaliser  # noqa: F401
from .logits import MaxSoftmax, max_softmax_score  # noqa: F401
from .robust_knn import RobustKNN, conformal_p_values, cosine_neighbours, nonconformity  # noqa: F401
from .classical import (NORMALISATIONS, IsolationForestDetector, OneClassSVMDetector,  # noqa: F401
                        normalise_scores)
from .deconf import DeConfLeNet5, DeConfMLP, deconf_scores, max_cosine_score, select_epsilon  # noqa: F401
