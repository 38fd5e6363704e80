"""knn-ls Table 1's sentences, computed from the summary."""
import numpy as np
import pytest

from oodrepro.engine import summarise
from oodrepro.experiments.knn_ls import table1_text as T1
from oodrepro.experiments.knn_ls.paper import PAPER


def test_table1_sentences_and_inversion_check_on_a_hand_made_summary(knn_ls_rows):
    s = summarise(knn_ls_rows(), PAPER)
    assert "MNIST → HFlip" in T1.row_sentences(s, ["knn_ls", "knn"])
    assert "(paper 0.914, Δ -0.004)" in T1.row_sentences(s, ["knn_ls"])
    gap = T1.gap_sentence(s)
    assert gap.startswith("Across the 3 cells") and "the largest gap is MNIST → HFlip" in gap
    assert T1.extension_sentence(s) == ""  # every cell of this run has a paper value
    assert T1.below_chance_sentence(s) == ""
    chk = T1.inversion_check(s.assign(method="iforest").iloc[:1])
    r = chk.loc["Isolation Forest"]
    paper = s.iloc[0]["paper"]
    assert r["cells"] == 1 and r["mean |ours − paper|"] == pytest.approx(abs(0.91 - paper), abs=1e-3)
    c = T1.paper_column_correlation()
    assert c.shape == (7, 7) and (np.diag(c) == 1).all()


def test_below_chance_sentence_takes_the_paper_values_from_the_reference(knn_ls_rows):
    s = summarise(knn_ls_rows(), PAPER)
    low = summarise(knn_ls_rows().assign(method="svm", auroc=0.3), PAPER)
    text = T1.below_chance_sentence(low[low.ood == "hflip"])
    paper = PAPER.lookup("Table 1", in_dist="mnist", ood="hflip", method="svm")
    assert f"({paper:.3f} to {paper:.3f})" in text and "SVM on MNIST → HFlip (0.300)" in text
    assert T1.below_chance_sentence(s) == ""
