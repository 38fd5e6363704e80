"""knn-ls's ablation pages (Table 2, Figures 1-3): the claim rules on hand-made rows."""
import pandas as pd

from oodrepro import config

from oodrepro.experiments.knn_ls import ablations as A


def test_figure_claim_rules_on_hand_made_curves():
    rows = pd.DataFrame([{"in_dist": "mnist5k", "ood": "hflip", "alpha": a, "seed": s, "status": "ok",
                          "auroc": v + 0.001 * s}
                         for s in range(3) for a, v in ((0.0, 0.80), (0.01, 0.85), (0.1, 0.90), (0.5, 0.82))])
    cl = A.figure3_claims(rows, {"max_train": None}, "p")
    assert [c["verdict"] for c in cl] == ["reproduced", "reproduced"]
    rows_k = pd.DataFrame([{"in_dist": "mnist5k", "ood": "hflip", "alpha": 0.0, "k": k, "seed": s, "status": "ok",
                            "auroc": 0.9 - 0.001 * k + 0.0001 * s} for s in range(3) for k in (1, 10, 100)])
    cl = A.figure2_claims(rows_k, {"max_train": None}, "p")
    assert cl[0]["verdict"] == "reproduced"          # decreasing with k
    assert cl[1]["verdict"] == "not reproduced"      # but by 0.099 > 0.02: not small


def test_table2_claims_on_hand_made_layers():
    rows = pd.DataFrame([{"in_dist": "fashion_mnist", "ood": "mnist", "method": m, "depth": d, "seed": s,
                          "status": "ok", "auroc": v + 0.001 * s}
                         for s in range(3) for d in (0, -1, -2)
                         for m, v in (("knn", 0.9), ("knn_ls", 0.95 if d == -1 else 0.93))])
    summary = A.summarise_table2(rows)
    cl = A.table2_claims(rows, summary, {"max_train": None}, "p")
    assert [c["verdict"] for c in cl] == ["reproduced", "reproduced"]
    assert "LS better (> 2 s.e.) on 3 of 3 layers" in cl[0]["ours"]
    assert "best depth -1" in cl[1]["ours"]


def test_table2_sets_ours_beside_the_paper(readable):
    rows = pd.DataFrame([{"in_dist": "fashion_mnist", "ood": o, "method": m, "depth": d, "seed": s, "status": "ok",
                          "auroc": 0.95 + 0.001 * s}
                         for s in range(3) for d in (0, -1) for m in ("knn", "knn_ls") for o in ("mnist", "hflip")
                         if not (d == -1 and o == "hflip" and m == "knn")])  # one cell missing: it reads "—"
    t = A.table2_wide(A.summarise_table2(rows), 0.1)
    assert readable(t) == [] and list(t.index.names) == ["Train/In", "OOD set", "LS"]
    assert list(t.columns) == [(f"depth {d}", p) for d in (0, -1) for p in ("ours", "paper", "Δ")]
    row = t.loc[("Fashion MNIST", "MNIST", 0.1)]
    assert (row[("depth 0", "ours")], row[("depth 0", "paper")], row[("depth 0", "Δ")]) == ("0.951 ± 0.001", "0.992",
                                                                                        "-0.041")
    assert t.loc[("Fashion MNIST", "HFlip", 0.0), ("depth -1", "ours")] == "—"


def test_figure1_claims_and_ratio_table(readable):
    med = pd.DataFrame([{"in_dist": "mnist5k", "ood": "hflip", "alpha": a, "panel": p, "set": st, "seed": s,
                         "status": "ok", "median": (1.0 if a == 0 else (0.5 if st == "in" else 0.8)) + 0.01 * s}
                        for s in range(3) for a in (0.0, 0.1) for p in ("depth 0", "depth -1") for st in ("in", "out")])
    cl = A.figure1_claims(med, {"alpha": 0.1, "max_train": None}, "p")
    assert [c["verdict"] for c in cl] == ["reproduced", "reproduced"]
    t = A.radius_ratio_table(med, 0.1)
    assert t.iloc[0]["in: median LS / median no-LS"] < t.iloc[0]["out: median LS / median no-LS"] < 1
    assert readable(t) == [] and list(t.index.names) == ["Train/In", "OOD set", "panel"]


def test_figure3_reads_stored_networks_but_stores_none(monkeypatch):
    """Figure 3's eight extra α × five seeds would outgrow the stored networks' budget: its paper run must not add
    them (Table 1's α = 0 and 0.1 networks are still read: :func:`oodrepro.train.fit` looks them up whatever
    ``store`` says)."""
    seen = []
    monkeypatch.setattr(A, "contexts", lambda paper, spec, cfg, progress: seen.append(spec) or [])
    A.run_figure3(config.resolve("knn_ls.figure3", "paper"), progress=False)
    assert A.MODELS.store and seen == [A.FIGURE3_MODELS] and not seen[0].store
    assert (seen[0].epochs, seen[0].layers) == (A.MODELS.epochs, A.MODELS.layers)


def test_figure1_points_are_stored_compactly_and_read_back():
    pts = pd.DataFrame([{"in_dist": "mnist", "ood": o, "alpha": a, "panel": "depth -1", "set": s, "value": v}
                        for o in ("hflip", "vflip") for a in (0.0, 0.1) for s in ("in", "out")
                        for v in (0.123456789, 2.5, 1e-7)])
    recs = A.compact_points(pts)
    assert len(recs) == 8 and recs[0]["values"] == [0.12346, 2.5, 1e-7]
    back = A.radius_points(recs)
    assert list(back.columns) == ["in_dist", "ood", "alpha", "panel", "set", "value"] and len(back) == len(pts)
    assert (back.drop(columns="value") == pts.drop(columns="value")).all().all()
    assert abs(back["value"] - pts["value"]).max() < 1e-5 and back["value"].dtype == float
    assert A.radius_points(pts.to_dict(orient="records")).equals(pts)   # an older result file: a record per point
    assert A.compact_points(pts.iloc[:0]) == [] and A.radius_points([]).empty
