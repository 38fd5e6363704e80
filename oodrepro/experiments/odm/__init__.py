"""odm — Masana, Ruiz, Serrat, van de Weijer & López, *Metric Learning for Novelty and Anomaly Detection*,
BMVC 2018: the chapter's package part.

=====================  ===============================================================
``paper``              labels, the reference lookups (the paper prints %), shared parameters
``methods``            CE, ODIN (tuned on a validation split), CC (seen OOD), ML, ODM on one split
``mnist``              Figure 1 and Table 3 (MNIST 2/6/7)
``table1``             Table 1 (SVHN ↔ CIFAR-10 on VGG; needs SVHN, TinyImageNet, LSUN)
``tsinghua``           Tables 2 and 4, Figure 3 (TT100K traffic signs; a synthetic stand-in offline)
=====================  ===============================================================

The losses, the pair mining and the nearest-class-mean score are in :mod:`oodrepro.experiments.odm.losses`; the authors'
metric definitions in :mod:`oodrepro.metrics` (``AUTHORS``).
"""
from ...engine.page import PageSpec, register
from . import mnist, table1, tsinghua

PAGES = [
    register(PageSpec("odm/mnist", mnist.run_page, mnist.page_texts,
                      claims_title="Claims of odm's MNIST experiment tested by this run")),
    register(PageSpec("odm/tsinghua", tsinghua.run_page, tsinghua.page_texts,
                      claims_title="Claims of odm's Tsinghua experiment tested by this run")),
    register(PageSpec("odm/table1", table1.run_page, table1.page_texts)),
]
