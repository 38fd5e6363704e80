"""oodrepro.reference: the papers' tables, transcribed."""
import numpy as np
import pandas as pd
import pytest

from oodrepro import reference
from oodrepro.errors import ParameterError
from oodrepro.experiments import knn_ls


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


def test_paper_facts():
    assert reference.fact("knn_ls", "table1_median_se") == 0.0071
    with pytest.raises(ParameterError, match="no recorded fact"):
        reference.fact("knn_ls", "nope")


def test_table5_is_transcribed_whole():
    from oodrepro import reference

    t5 = reference.table("kpca", "Table 5")
    assert len(t5) == 140 and t5["method"].nunique() == 14 and set(t5["metric"]) == {"fpr95", "auroc"}
    assert set(t5["ood"]) == {"inaturalist", "sun", "places", "textures", "average"}
    assert reference.lookup("kpca", "Table 5", ood="average", method="cosine_gaussian_nystroem",
                            metric="auroc") == 91.02
    assert reference.lookup("kpca", "Table 5", ood="textures", method="cosine", metric="fpr95") == 8.33
    assert reference.lookup("kpca", "Table 5", ood="inaturalist", method="pca", metric="fpr95") == 95.46


def test_tables_4_and_7_transcribed():
    assert reference.lookup("kpca", "Table 7", method="kpca_nys", metric="auroc", ood="average") == 95.25
    assert reference.lookup("kpca", "Table 7", method="msp", metric="fpr95") == 57.67
    assert reference.lookup("kpca", "Table 4", method="knn", metric="time_ms") == 15.59
    assert reference.lookup("kpca", "Table 4", method="kpca_nys", metric="memory_mib") == 83
    assert len(reference.table("kpca", "Table 7")) == 28 and len(reference.table("kpca", "Table 4")) == 15


def test_imagenet_tables_transcribed_with_averages():
    sizes = {"Table 1": 21, "Table 2": 13, "Table 3": 13, "Table 6": 17}
    for t, n in sizes.items():
        df = reference.table("kpca", t)
        assert df["method"].nunique() == n and len(df) == n * 10
    assert reference.lookup("kpca", "Table 1", method="kpca_nys", ood="average", metric="auroc") == 91.02
    assert reference.lookup("kpca", "Table 1", method="kpca_nys_supcon", ood="inaturalist", metric="fpr95") == 6.88
    assert reference.lookup("kpca", "Table 3", method="kpca_nys_react", ood="average", metric="auroc") == 96.79
    assert reference.lookup("kpca", "Table 2", method="kpca_rff_kpca_nys", ood="inaturalist", metric="fpr95") == 1.06
    assert reference.lookup("kpca", "Table 6", method="msp", ood="inaturalist", metric="fpr95") == 64.29
    # Table 4 repeats Table 1's averages for the same checkpoint
    for m in ("knn", "kpca_rff", "kpca_nys"):
        assert reference.lookup("kpca", "Table 4", method=m, metric="auroc") == \
            reference.lookup("kpca", "Table 1", method=m, ood="average", metric="auroc")


def test_reference_tables_transcribed():
    from oodrepro import reference
    from oodrepro.experiments.odm.paper import paper_value

    t = reference.table("odm")
    assert t.groupby("table").size().to_dict() == {"Table 1": 126, "Table 2": 80, "Table 3": 63, "Table 4": 80}
    assert paper_value("Table 3", "mnist267", "novelty", "odm", "fpr95", "mnist_0348") == pytest.approx(0.0016)
    assert paper_value("Table 2", "tsinghua", "background", "odm", "auroc", "background") == pytest.approx(0.9999)
    assert paper_value("Table 1", "cifar10", "gaussian", "odin", "auroc") == pytest.approx(0.102)
    assert np.isnan(paper_value("Table 3", "mnist267", "digits28", "ce", "auroc"))
