"""odm's Tsinghua (TT100K) page."""
import pandas as pd
import pytest


def test_tsinghua_page_sets_our_training_beside_the_papers_from_one_place():
    from oodrepro import config
    from oodrepro.experiments.odm import tsinghua
    from oodrepro.experiments.odm.paper import PAPER_TSINGHUA_TRAINING

    cfg = config.resolve("odm.tsinghua", profile="paper", random_splits=0)
    doc = {"rows": [{"status": "needs data", "method": "odin", "ood": "tsinghua"}], "note": "genuine crops",
           "info": [{"split": "grouped", "seed": 0, "n_train": 7045, "odin": {"T": 1.0, "eps": 0.0}}]}
    text = tsinghua.page_texts(doc, cfg)["data_md"].data
    # the paper profile's recipe odm_cpu: 5,000 steps at a peak of 2e-3 against the paper's 1e-4 for 10,000 steps
    assert "5,000 steps of 128" in text and f"{PAPER_TSINGHUA_TRAINING['steps']:,} steps" in text
    assert "20× the paper's learning rate for 50.0% of its steps" in text and "recipe `odm_cpu`" in text
    assert "Why the recipe differs: the paper trains WRN-28-10" in text
    # epochs and lr given replace the recipe's: 15 epochs × ⌈7045 / 128⌉ = 840 steps; lr 1e-3 against 1e-4
    cfg = config.resolve("odm.tsinghua", profile="paper", random_splits=0, epochs=15, lr=1e-3)
    text = tsinghua.page_texts(doc, cfg)["data_md"].data
    assert "840 steps of 128" in text and "10× the paper's learning rate for 8.4% of its steps" in text


def test_tsinghua_page_runs_on_the_synthetic_set(tmp_path, monkeypatch):
    from oodrepro import config
    from oodrepro.experiments.odm import tsinghua

    monkeypatch.setenv("OODREPRO_CACHE_DIR", str(tmp_path / "cache"))
    cfg = config.resolve("odm.tsinghua", profile="smoke")
    out = tsinghua.run_page(cfg)
    r = out["rows"]
    assert set(r.method) == {"odin", "ml", "odm:tsinghua"} and set(r.ood) == {"tsinghua", "background", "noise"}
    assert r[["auroc", "fpr95", "aupr_in"]].apply(lambda v: v.between(0, 1).all()).all()
    assert out["extra"]["points"] and len(out["extra"]["split"]) == out["extra"]["n_classes"] - 1  # pr40 dropped


def test_table2_sets_ours_beside_the_paper_with_labelled_columns(readable):
    import pandas as pd

    from oodrepro.experiments.odm import tsinghua
    from oodrepro.experiments.odm.paper import METRICS_ODIN

    rows = pd.DataFrame([{"method": m, "ood": o, "split": "grouped", "seed": 0, "status": "ok", "accuracy": 0.9,
                          **{k: 0.6 for k in METRICS_ODIN}}
                         for m in ("odin", "ml", "odm:tsinghua") for o in ("tsinghua", "background", "noise")])
    t = tsinghua.wide(tsinghua.summary(rows))
    assert readable(t) == [] and list(t.index.names) == ["method", "OOD set"]
    row = t.loc[("Ours - ODM (seen: Tsinghua)", "Tsinghua (unseen classes)")]
    assert row[("AUROC (%)", "ours")] == "60.00" and row[("AUROC (%)", "paper")] == "99.01"
    assert row[("AUROC (%)", "Δ")] == "-39.01"


def test_the_page_says_where_ours_differ_and_why():
    import pandas as pd

    from oodrepro.experiments.odm import tsinghua

    def rows(acc_ml, auc_ml):
        return pd.DataFrame([{"split": "grouped", "status": "ok", "method": m, "ood": "tsinghua", "seed": 0,
                              "accuracy": acc, "auroc": auc}
                             for m, acc, auc in (("odin", 0.99, 0.96), ("ml", acc_ml, auc_ml))])

    text = tsinghua._gap(rows(0.94, 0.90))  # ML's accuracy further behind the paper's (98.93), its gap larger
    assert "Ours - ML: novelty AUROC 90.00 against 98.77 (Δ -8.77)" in text and "down mostly to training" in text
    assert "does not follow" in tsinghua._gap(rows(0.94, 0.99))
    assert tsinghua._gap(pd.DataFrame()) == ""


def test_the_gap_names_the_seeds_spread_when_training_does_not_explain_it():
    import pandas as pd

    from oodrepro.experiments.odm import mnist
    from oodrepro.experiments.odm.paper import METHOD_LABELS, gap_sentence

    # CE and ML as accurate as the paper's (99.70, 99.54 %), their novelty AUROC below it: sd over three seeds of ML
    # = sd(0.90, 0.94, 0.98) = 0.04 -> "4.00 points"
    recs = [{"status": "ok", "method": m, "ood": "novelty", "seed": s, "accuracy": acc, "auroc": auc}
            for s, auc_ml in enumerate((0.90, 0.94, 0.98)) for m, acc, auc in (("ce", 0.997, 0.85), ("ml", 0.995, auc_ml))]
    text = gap_sentence(pd.DataFrame(recs), "Table 3", "mnist267", ("ce", "ml", "odm"), "novelty", METHOD_LABELS,
                        "x", seen={"odm": mnist.SEEN_TAG})
    assert "Ours - ML: novelty AUROC 94.00 (sd 4.00 over 3 seeds) against 94.48 (Δ -0.48)" in text
    assert "does not follow" in text and "varies by up to 4.00 points" in text
    # CE's gap (85.00 against 92.33) is more than twice its sd (0): named; ML's (-0.48 against sd 4.00) is not
    assert "The gap of CE (max softmax) is more than twice our seeds' sd" in text


@pytest.mark.slow
def test_table4_random_splits_run_on_a_dask_cluster_with_the_serial_runs_numbers(tmp_path, monkeypatch):
    """Table 4's splits are units of work: with $OODREPRO_SCHEDULER naming a cluster (two worker processes on
    127.0.0.1, their own cache) every split runs there and gives the numbers of the run in this process."""
    from oodrepro import config, executor
    from oodrepro.experiments.odm import tsinghua

    cfg = config.resolve("odm.tsinghua", profile="smoke", random_splits=1)
    monkeypatch.setenv("OODREPRO_CACHE_DIR", str(tmp_path / "workers"))  # the workers' cache (set at their start)
    with executor.executor(workers=2) as ex:
        monkeypatch.setenv(executor.ENV, ex.client.scheduler.address)
        monkeypatch.setenv("OODREPRO_CACHE_DIR", str(tmp_path / "client"))
        remote = tsinghua.run_page(cfg)
    assert (tmp_path / "workers" / "model").is_dir() and not (tmp_path / "client" / "model").exists()  # trained there
    monkeypatch.delenv(executor.ENV)
    monkeypatch.setenv("OODREPRO_CACHE_DIR", str(tmp_path / "serial"))  # nothing read from the workers' cache
    local = tsinghua.run_page(cfg)
    cols = ["split", "method", "ood", "accuracy", "auroc", "fpr95", "aupr_in", "aupr_out"]
    a, b = (o["rows"][cols].sort_values(cols[:3]).reset_index(drop=True) for o in (remote, local))
    assert set(a.split) == {"grouped", "random0"}
    pd.testing.assert_frame_equal(a, b)


def test_the_page_says_which_seen_kinds_it_did_not_train():
    from oodrepro import config
    from oodrepro.experiments.odm import tsinghua

    doc = {"rows": [{"status": "needs data", "method": "odin", "ood": "tsinghua"}], "note": "genuine crops", "info": []}
    cfg = config.resolve("odm.tsinghua", profile="paper", random_splits=0, seen_kinds=["tsinghua", "background"])
    text = tsinghua.page_texts(doc, cfg)["data_md"].data
    assert "ODM with seen noise was not trained in this run (`seen_kinds` = tsinghua, background)" in text
    full = tsinghua.page_texts(doc, config.resolve("odm.tsinghua", profile="paper", random_splits=0))["data_md"].data
    assert "was not trained in this run" not in full


def test_the_page_names_the_loss_and_the_active_hinge_as_ours():
    from oodrepro import config
    from oodrepro.experiments.odm import tsinghua

    doc = {"rows": [{"status": "needs data", "method": "odin", "ood": "tsinghua"}], "note": "genuine crops", "info": []}
    text = tsinghua.page_texts(doc, config.resolve("odm.tsinghua", "paper"))["data_md"].data  # the profile's
    assert "ML and ODM minimise Eq. 1 (squared distances) with margin 10 over every pair of the batch" in text
    assert "the hinge averaged over the pairs inside the margin (ours" in text
    assert "They train for 7,500 steps" in text
    text = tsinghua.page_texts(doc, config.resolve("odm.tsinghua", "paper", hinge_mean="all"))["data_md"].data
    assert "every pair of the batch" in text and "inside the margin" not in text
