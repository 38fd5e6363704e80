"""Experiment runners: the loops a notebook would otherwise write, one module per paper.

Importing this package registers every notebook's parameter schema with :mod:`oodrepro.config`.
"""
from . import knn_ls  # noqa: F401
from . import knn_ls_theory  # noqa: F401
from . import knn_ls_ablations  # noqa: F401
