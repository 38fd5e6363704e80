"""OOD detectors. Every detector returns an **OOD score: higher = more likely out-of-distribution**.

The protocol, the same for every detector (the test-suite runs each one in :data:`REGISTRY` through it):

* ``fit(train_layers, y=None, logits=None) -> self`` — ``train_layers`` is a list of per-layer
  embeddings of the training set, each (N, D_ℓ); ``y`` their labels (detectors that need them say so);
  ``logits`` the training logits (N, C) for logit-based detectors;
* ``score(layers, logits=None) -> ndarray (N,)`` — the OOD score of new points given the same layers;
  logit-based detectors take ``logits`` or, if it is None, the last entry of ``layers``.

Scoring before fitting raises :class:`sklearn.exceptions.NotFittedError`; malformed inputs raise
``ValueError`` / :class:`oodrepro.errors.ParameterError` naming the argument.

One file per detector, its formula and the paper's equation in the class docstring (the PCA / KPCA /
exact KPCA family shares ``kpca.py``); the validation and the base classes they share are in ``base.py``,
the per-layer normalisation and averaging of the one-class SVM and Isolation Forest in ``per_layer.py``,
and ODIN's input perturbation (also DeConf's and odm's) in ``odin.py``. Each class follows
scikit-learn's conventions (hyper-parameters in ``__init__``, which does no work; ``fit`` validates and
returns ``self``; learned state ends in ``_``) and wraps a pure function that can be tested alone.
"""
from .knn import KNNRadius, knn_radius, loo_normaliser  # noqa: F401
from .msp import MaxSoftmax, max_softmax_score  # noqa: F401
from .robust_knn import RobustKNN, conformal_p_values, cosine_neighbours, nonconformity  # noqa: F401
from .per_layer import NORMALISATIONS, normalise_scores  # noqa: F401
from .one_class_svm import OneClassSVMDetector  # noqa: F401
from .isolation_forest import IsolationForestDetector  # noqa: F401
from .deconf import (DeConf, DeConfLeNet5, DeConfMLP, deconf_scores, max_cosine_score,  # noqa: F401
                     perturb_dataset, select_epsilon)
from .kpca import PCA, KPCA, ExactKPCA, exact_kpca_error, reconstruction_error  # noqa: F401
from .maxlogit import MaxLogit  # noqa: F401
from .energy import Energy  # noqa: F401
from .odin import ODIN  # noqa: F401
from .mahalanobis import Mahalanobis  # noqa: F401
from .vim import ViM  # noqa: F401
from .deep_knn import DeepKNN  # noqa: F401
from .react import ReAct  # noqa: F401
from .ncm import NearestClassMean  # noqa: F401

#: Every detector class, by name (a detector's name in the book's methods may differ: see the chapters).
REGISTRY = {"knn_radius": KNNRadius, "max_softmax": MaxSoftmax, "deconf": DeConf, "robust_knn": RobustKNN,
            "one_class_svm": OneClassSVMDetector, "isolation_forest": IsolationForestDetector,
            "pca": PCA, "kpca": KPCA, "exact_kpca": ExactKPCA,
            "max_logit": MaxLogit, "energy": Energy, "odin": ODIN, "mahalanobis": Mahalanobis, "vim": ViM,
            "deep_knn": DeepKNN, "react": ReAct, "nearest_class_mean": NearestClassMean}
