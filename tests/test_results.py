"""oodrepro.results: result files, verdicts and the scorecard."""
from __future__ import annotations

import pandas as pd

from oodrepro import results


def test_scorecard_collects_every_chapter_and_its_csv_parses_back(tmp_path, write_chapter_results):
    write_chapter_results(tmp_path)
    card = results.scorecard(tmp_path)
    assert card["chapter"].tolist() == ["knn_ls", "kpca"] and card["profile"].tolist() == ["quick", "paper"]
    back = results.from_csv(results.to_csv(card))
    pd.testing.assert_frame_equal(back, card.astype(object).fillna(""), check_dtype=False)
    cells = results.cells(tmp_path)
    assert cells[["chapter", "ours", "paper"]].values.tolist() == [["knn_ls", 0.91, 0.95], ["kpca", 0.8, 0.82]]
    assert cells["delta"].round(6).tolist() == [-0.04, -0.02] and "ood=hflip" in cells["cell"].iloc[0]
    pd.testing.assert_frame_equal(results.from_csv(results.to_csv(cells)), cells, check_dtype=False)
    fig = results.paper_figure(cells, "knn_ls")
    assert "1 cells, 0% within ±0.02" in fig.axes[0].get_title()
