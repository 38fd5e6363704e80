"""oodrepro — the support package of a book that reproduces three OOD-detection papers.

Flow (one way, each arrow a plain function call)::

    data ─► models/train ─► embed ─► detectors ─► metrics ─► results ─► book page

Modules: :mod:`oodrepro.data`, :mod:`oodrepro.models`, :mod:`oodrepro.train`,
:mod:`oodrepro.embed`, :mod:`oodrepro.detectors`, :mod:`oodrepro.metrics`,
:mod:`oodrepro.results`, :mod:`oodrepro.reference`, :mod:`oodrepro.cache`,
:mod:`oodrepro.config`.
"""

__version__ = "0.1.0"

from .errors import OodreproError, DataNotFoundError, ParameterError  # noqa: F401,E402
