"""knn-ls Table 1: the claims, the normalisation spread, parameter checks, the paper profile without data."""
from __future__ import annotations


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
