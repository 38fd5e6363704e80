import json

import numpy as np
import pandas as pd
import pytest

from oodrepro import reference, results
from oodrepro.experiments import knn_ls
from oodrepro.errors import ParameterError


def test_table1_transcription_shape_and_spot_values():
    t1 = reference.table("knn_ls", "Table 1")
    assert len(t1) == 31 * 7
    assert t1.groupby("in_dist").size().to_dict() == {"mnist": 35, "fashion_mnist": 35, "svhn": 49,
                                                      "cifar10": 49, "celeba": 49}
    assert set(t1.method) == set(knn_ls.METHOD_LABELS)
    # spot checks against the paper's text
    assert reference.lookup("knn_ls", "Table 1", in_dist="mnist", ood="hflip", method="knn_ls") == 0.914
    assert reference.lookup("knn_ls", "Table 1", in_dist="mnist", ood="vflip", method="control") == 0.833
    assert reference.lookup("knn_ls", "Table 1", in_dist="cifar10", ood="svhn", method="iforest") == 0.677
    assert reference.lookup("knn_ls", "Table 1", in_dist="celeba", ood="omniglot", method="knn") == 0.899
    assert t1.value.between(0, 1).all()


def test_table2_transcription():
    t2 = reference.table("knn_ls", "Table 2")
    assert len(t2) == 50
    assert reference.lookup("knn_ls", "Table 2", in_dist="fashion_mnist", ood="mnist", alpha="0.1", depth=-1) == 0.996
    assert reference.lookup("knn_ls", "Table 2", in_dist="celeba", ood="omniglot", alpha="0.0", depth=-3) == 0.993
    assert reference.lookup("knn_ls", "Table 2", in_dist="fashion_mnist", ood="mnist", alpha="0.1", depth=-3) is None


def test_beside_and_lookup_errors():
    ours = pd.DataFrame({"ood": ["hflip", "gaussian"], "method": ["knn_ls", "knn_ls"], "mean": [0.9, 0.8]})
    b = reference.beside(ours, "knn_ls", "Table 1", on=["ood", "method"], fixed={"in_dist": "mnist"})
    assert b.paper.iloc[0] == 0.914 and b.delta.iloc[0] == pytest.approx(0.9 - 0.914)
    assert np.isnan(b.paper.iloc[1])
    with pytest.raises(ParameterError, match="match"):
        reference.lookup("knn_ls", "Table 1", ood="hflip")
    with pytest.raises(ParameterError, match="no reference table for paper 'x'"):
        reference.table("x")


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


def test_paper_facts():
    assert reference.fact("knn_ls", "table1_median_se") == 0.0071
    with pytest.raises(ParameterError, match="no recorded fact"):
        reference.fact("knn_ls", "nope")
