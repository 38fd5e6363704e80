"""knn-ls — Bahri, Jiang, Tay & Metzler, *Label Smoothed Embedding Hypothesis for Out-of-Distribution
Detection*, preprint arXiv:2102.05131, 2021: the chapter's package part.

=====================  ===============================================================
``paper``              vocabulary (data sets, methods, the paper's blocks), models, shared parameters
``methods``            the seven methods as :class:`~oodrepro.engine.Method` specs
``table1``             Table 1: schema, runner, claims;  ``table1_text``: the page's text
``ablations``          Table 2 and Figures 1–3: schemas, runners, claims, page text
``theory``             §3 (Theorems 1–2, Corollary 1, Proposition 1) checked by simulation
=====================  ===============================================================

Importing it registers the chapter's schemas (:mod:`oodrepro.config`) and pages
(:mod:`oodrepro.engine.page`); ``config.schema("knn_ls.…")`` imports it on demand.
"""
from ...engine.page import PageSpec, register
from . import ablations, table1, table1_text, theory
from .methods import table1_column  # noqa: F401
from ...engine import summarise  # noqa: F401
from .paper import (IN_DISTRIBUTION, LABELS, METHOD_LABELS, METHOD_ORDER, MODELS, OOD_NAMES, PAPER,  # noqa: F401
                    PAPER_BLOCK, data_sentence, paper_pairings)
from .table1 import methods_run, normalisation_spread, run_table1, spread_max, spread_table, table1_claims  # noqa: F401

PAGES = [
    register(PageSpec("knn_ls/table1", table1.run_page, table1_text.page_texts,
                      claims_title="Claims of knn-ls Table 1 tested by this run")),
    register(PageSpec("knn_ls/table2", ablations.table2_page, ablations.table2_texts)),
    register(PageSpec("knn_ls/figure1", ablations.figure1_page, ablations.figure1_texts)),
    register(PageSpec("knn_ls/figure2", ablations.figure2_page, ablations.data_texts)),
    register(PageSpec("knn_ls/figure3", ablations.figure3_page, ablations.figure3_texts)),
    register(PageSpec("knn_ls/theory", theory.run_page, theory.page_texts)),
]
