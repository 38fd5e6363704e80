"""oodrepro.reference: the papers' tables, transcribed."""


def test_table5_is_transcribed_whole():
    from oodrepro import reference

    t5 = reference.table("kpca", "Table 5")
    assert len(t5) == 140 and t5["method"].nunique() == 14 and set(t5["metric"]) == {"fpr95", "auroc"}
    assert set(t5["ood"]) == {"inaturalist", "sun", "places", "textures", "average"}
    assert reference.lookup("kpca", "Table 5", ood="average", method="cosine_gaussian_nystroem",
                            metric="auroc") == 91.02
    assert reference.lookup("kpca", "Table 5", ood="textures", method="cosine", metric="fpr95") == 8.33
    assert reference.lookup("kpca", "Table 5", ood="inaturalist", method="pca", metric="fpr95") == 95.46
