"""The paper-neutral chapter engine: what every chapter of the book needs, whatever its paper.

* :mod:`.paper` — :class:`~oodrepro.engine.paper.Paper`, a paper's vocabulary (data-set and method
  labels, the paper's blocks, its reference tables) and its *pairings* ``"IN->OOD"``;
* :mod:`.core` — data loading for a pairing, a trained-model :class:`~oodrepro.engine.core.Context`
  per (in-distribution set, seed) with a pluggable :class:`~oodrepro.engine.core.ModelSpec` and loss,
  :class:`~oodrepro.engine.core.Method` (model + inputs + detector + typed hyper-parameters) and
  :func:`~oodrepro.engine.core.method_scores`, cached on disk with the code's fingerprint;
* :mod:`.claims` — summaries over seeds with the paper's value beside ours, paired differences and
  directional claims, each taking the paper as an argument;
* :mod:`.page` — the one call a notebook makes: resolve parameters → run → write the result file →
  read it back → glue the numbers → claims table (:func:`~oodrepro.engine.page.run`).

A chapter (``oodrepro/experiments/<paper>/``) supplies the schema, the runners, the claims and the
page text; ``CONTRIBUTING.md`` lists the files of a new chapter.
"""
from .paper import Paper  # noqa: F401
from .core import Context, Memo, Method, ModelSpec, contexts, load_in, load_ood, method_scores, needs_rows  # noqa: F401
from .claims import directional_claim, fmt, paired_claim, paired_difference, summarise  # noqa: F401
