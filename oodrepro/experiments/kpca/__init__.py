"""kpca — Fang et al., *Kernel PCA for Out-of-Distribution Detection: Non-Linear Kernel
Selection and Approximation*, IEEE TPAMI 2026 (arXiv:2505.15284): the chapter's package part.

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

The detectors themselves are in :mod:`oodrepro.detectors.kpca` and, one file each, the baselines
:mod:`~oodrepro.detectors.msp`, :mod:`~oodrepro.detectors.maxlogit`, :mod:`~oodrepro.detectors.energy`,
:mod:`~oodrepro.detectors.odin`, :mod:`~oodrepro.detectors.mahalanobis`, :mod:`~oodrepro.detectors.vim`,
:mod:`~oodrepro.detectors.deep_knn` and :mod:`~oodrepro.detectors.react`.
"""
from ...engine.page import PageSpec, register
from . import approx, pages, texts
from .common import blas_limited

PAGES = [register(PageSpec(f"kpca/{name}", blas_limited(run), texts_fn, **kw))
         for name, run, texts_fn, kw in (
             ("motivation", approx.motivation_page, texts.motivation_texts, {}),
             ("ablation", pages.ablation_page, pages.ablation_texts, {}),
             ("approximation", approx.approx_page, texts.approx_texts, {}),
             ("landmarks", pages.landmark_page, texts.landmark_texts, {}),
             ("sensitivity", pages.sensitivity_page, texts.sensitivity_texts, {}),
             ("cost", approx.cost_page, texts.cost_texts, {}),
             ("main", pages.main_page, pages.main_texts,
              {"claims_title": "Claims of kpca Table 7 tested by this run"}))]
