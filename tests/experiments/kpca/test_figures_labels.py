"""kpca's bar charts label their rows as the tables do (no raw method keys such as ``cosine_gaussian_nystroem``)."""
import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402

from oodrepro.experiments.kpca import figures  # noqa: E402
from oodrepro.experiments.kpca.common import SHOWN_LABELS  # noqa: E402


def test_auroc_bars_label_every_row_as_the_tables_do():
    order = ["pca", "cosine", "cosine_gaussian_rff", "cosine_gaussian_nystroem", "kpca_rff"]
    summary = pd.DataFrame({"in_dist": "cifar10", "ood": "average", "status": "ok", "method": order,
                            "auroc": [60.0, 80.0, 90.0, 85.0, 91.0], "auroc_se": 0.5})
    fig = figures.auroc_bars(summary, order)
    shown = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert shown == [SHOWN_LABELS[m] for m in order]
    assert not any(s == m or "nystroem" in s for s, m in zip(shown, order)), shown  # no raw key shown
