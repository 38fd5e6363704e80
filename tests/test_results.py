"""oodrepro.results: result files, verdicts and the scorecard."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

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


def test_result_roundtrip(tmp_path):
    rows = pd.DataFrame({"ood": ["hflip"], "auroc": [0.9], "x": [np.nan]})
    c = results.claim("c1", "A beats B", "0.9 vs 0.8", "0.91 vs 0.7", "reproduced", page="p")
    p = results.write(tmp_path / "r" / "t.json", "knn_ls/t", {"k": 3, "seeds": [0, 1]}, rows, [c], 1.5)
    doc = results.read(p)
    assert doc["meta"]["params"]["k"] == 3 and doc["meta"]["seeds"] == [0, 1]
    assert doc["meta"]["version"] and doc["meta"]["wall_time_s"] == 1.5
    assert doc["rows"][0]["x"] is None and p.with_suffix(".csv").exists()
    card = results.scorecard(tmp_path)
    assert card.verdict.tolist() == ["reproduced"] and card.page.tolist() == ["p"]
    (tmp_path / "r" / "bad.json").write_text("{nope")
    with pytest.raises(ValueError, match="bad.json is unreadable"):
        results.collect(tmp_path)
    with pytest.raises(ValueError, match="verdict"):
        results.claim("c", "s", "", "", "maybe")


def test_directional_verdict():
    assert results.directional_verdict([0.05, 0.06, 0.055]) == "reproduced"
    assert results.directional_verdict([-0.05, -0.06, -0.055]) == "not reproduced"
    assert results.directional_verdict([0.05, -0.04, 0.01]) == "inconclusive"
    assert results.directional_verdict([0.01]) == "reproduced"
