"""knn-ls Table 1: the claims, the normalisation spread, parameter checks, the paper profile without data."""
import pandas as pd
import pytest

from oodrepro.errors import ParameterError
from oodrepro.experiments import knn_ls


def test_table1_claims_pick_the_columns_that_ran(knn_ls_rows):
    rows = knn_ls_rows()
    cfg = {"pairings": ["mnist->hflip", "mnist->kmnist"], "methods": ["knn_ls", "knn", "control"], "alpha": 0.1}
    cl = knn_ls.table1_claims(rows, cfg, "p")
    assert [c["id"] for c in cl] == ["knn_ls-vs-knn-mnist-hflip", "knn_ls-vs-control-mnist-hflip",
                                     "knn_ls-vs-knn-mnist-kmnist", "knn_ls-vs-control-mnist-kmnist"]
    assert [c["verdict"] for c in cl] == ["reproduced", "reproduced", "needs data", "needs data"]
    assert all(c["page"] == "p" for c in cl) and "α = 0.1" in cl[0]["claim"]
    assert knn_ls.table1_claims(rows, dict(cfg, methods=["knn"]), "p") == []


def test_spread_max_and_table(readable):
    spread = pd.DataFrame([{"in_dist": "mnist5k", "ood": o, "method": "svm", "normalise": n, "seed": s,
                            "auroc": v + 0.01 * s} for o in ("hflip", "vflip")
                           for s in range(2) for n, v in (("rank", 0.5), ("zscore", 0.6), ("train_mean", 0.4))])
    assert knn_ls.spread_max(spread) == pytest.approx(0.2)
    t = knn_ls.spread_table(spread)
    assert t.loc[("MNIST (5k sample)", "HFlip", "SVM"), "spread (max − min)"] == pytest.approx(0.2)
    assert readable(t) == [] and list(t.columns) == ["rank (training CDF)", "z-score", "÷ training mean",
                                                     "spread (max − min)"]
    assert list(t.index.names) == ["Train/In", "OOD set", "method"]


@pytest.mark.parametrize("schema,kw,match", [
    ("knn_ls.table1", {"k": 4000}, "parameter 'k' = 4000 is larger than the training set allows"),
    ("knn_ls.table1", {"max_train": 100, "k": 100}, "use k <= 99"),
    ("knn_ls.table1", {"max_train": 100, "robust_k": 95}, "parameter 'robust_k' = 95"),
    ("knn_ls.figure2", {"max_train": 50, "k_grid": "1,5,60"}, "parameter 'k_grid' = 60"),
])
def test_neighbour_counts_are_checked_against_the_training_set_before_training(schema, kw, match):
    from oodrepro import config

    with pytest.raises(ParameterError, match=match):
        config.resolve(schema, "quick", **kw)
    assert config.resolve("knn_ls.table1", "quick", max_train=100, k=99, methods="knn_ls,knn")["k"] == 99


def test_item3_paper_profile_without_data_gives_needs_data_rows(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from oodrepro import config, report
    from oodrepro.experiments import knn_ls

    cfg = config.resolve("knn_ls.table1", "paper", data_root=str(tmp_path))
    rows = knn_ls.run_table1(cfg, progress=False)
    assert set(rows["status"]) == {"needs data"}
    claims = knn_ls.table1_claims(rows, cfg, page="knn_ls/table1")  # KeyError: 'auroc' before
    assert claims and {c["verdict"] for c in claims} == {"needs data"}
    summary = knn_ls.summarise(rows, knn_ls.PAPER)
    report.auroc_figure(rows, summary, list(cfg["methods"]), knn_ls.LABELS)  # plt.subplots(1, 0) before


def test_a_cap_above_the_training_split_is_not_reported_as_the_size_used():
    """Issue 21, class 1: max_train = 1,000,000 on the 4,000-image sample trains on 4,000 images; the claims and
    the data sentence said "1,000,000 training images"."""
    import pandas as pd

    from oodrepro.experiments.knn_ls.paper import data_note, data_sentence

    assert data_note("mnist5k", {"max_train": 1_000_000}) == data_note("mnist5k", {"max_train": None})
    assert "4,000 training images" in data_note("mnist5k", {"max_train": 1_000_000})
    assert data_note("mnist", {"max_train": 1_000_000}) == ""
    assert data_note("mnist", {"max_train": 1000}) == " (ours: 1,000 training images)"
    rows = pd.DataFrame({"in_dist": ["mnist5k"], "ood": ["hflip"], "status": ["ok"]})
    text = data_sentence({"pairings": ["mnist5k->hflip", "fashion_mnist->mnist"], "max_train": 1_000_000}, rows)
    assert "(4,000 training images" in text and "1,000,000" not in text and "capped" not in text
