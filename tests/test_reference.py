"""oodrepro.reference: the papers' tables, transcribed."""
import numpy as np
import pytest


def test_table5_is_transcribed_whole():
    from oodrepro import reference

    t5 = reference.table("kpca", "Table 5")
    assert len(t5) == 140 and t5["method"].nunique() == 14 and set(t5["metric"]) == {"fpr95", "auroc"}
    assert set(t5["ood"]) == {"inaturalist", "sun", "places", "textures", "average"}
    assert reference.lookup("kpca", "Table 5", ood="average", method="cosine_gaussian_nystroem",
                            metric="auroc") == 91.02
    assert reference.lookup("kpca", "Table 5", ood="textures", method="cosine", metric="fpr95") == 8.33
    assert reference.lookup("kpca", "Table 5", ood="inaturalist", method="pca", metric="fpr95") == 95.46


def test_reference_tables_transcribed():
    from oodrepro import reference
    from oodrepro.experiments.odm.paper import paper_value

    t = reference.table("odm")
    assert t.groupby("table").size().to_dict() == {"Table 1": 126, "Table 2": 80, "Table 3": 63, "Table 4": 80}
    assert paper_value("Table 3", "mnist267", "novelty", "odm", "fpr95", "mnist_0348") == pytest.approx(0.0016)
    assert paper_value("Table 2", "tsinghua", "background", "odm", "auroc", "background") == pytest.approx(0.9999)
    assert paper_value("Table 1", "cifar10", "gaussian", "odin", "auroc") == pytest.approx(0.102)
    assert np.isnan(paper_value("Table 3", "mnist267", "digits28", "ce", "auroc"))
