"""kpca — Fang et al., *Kernel PCA for Out-of-Distribution Detection: Non-Linear Kernel
Selections and Approximations* (NeurIPS 2024 and its journal extension): the chapter's package part.

=====================  ===============================================================
``paper``              vocabulary (data sets, methods, blocks), shared parameters and profiles
``nets``               CIFAR ResNets (``resnet18``, the paper's; ``resnet_small`` for a CPU)
``features``           feature sources: trained networks, torchvision backbones, feature banks
``methods``            every detector of the chapter on a feature source; metrics in %
``common``             the loop over features, summaries with the paper's values, claims
``pages``              main comparison (Table 7), kernel ablation (Table 5), landmarks (Fig. 7),
                       sensitivity (Figs. 8–10)
``approx``             approximations vs exact KPCA (Fig. 6), cost (Table 4), motivation (§3)
``cost``               inference time / memory measurements (also ``benchmarks/bench_kpca.py``)
``texts``              page text from the result files
=====================  ===============================================================

The detectors themselves are in :mod:`oodrepro.detectors.kpca` and
:mod:`oodrepro.detectors.feature_baselines`.
"""
from ...engine.page import PageSpec, register
from . import approx, pages, texts
from .common import blas_limited

PAGES = [
    register(PageSpec("kpca/motivation", "kpca.motivation", blas_limited(approx.motivation_page), texts.motivation_texts)),
    register(PageSpec("kpca/ablation", "kpca.ablation", blas_limited(pages.ablation_page), pages.ablation_texts)),
    register(PageSpec("kpca/approximation", "kpca.approximation", blas_limited(approx.approx_page), texts.approx_texts)),
    register(PageSpec("kpca/landmarks", "kpca.landmarks", blas_limited(pages.landmark_page), texts.landmark_texts)),
    register(PageSpec("kpca/sensitivity", "kpca.sensitivity", blas_limited(pages.sensitivity_page), texts.sensitivity_texts)),
    register(PageSpec("kpca/cost", "kpca.cost", blas_limited(approx.cost_page), texts.cost_texts)),
    register(PageSpec("kpca/main", "kpca.main", blas_limited(pages.main_page), pages.main_texts,
                      claims_title="Claims of kpca Table 7 tested by this run")),
]
