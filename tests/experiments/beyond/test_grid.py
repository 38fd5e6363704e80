"""The cross-paper grid (beyond/objectives): every cell computed by the papers' own functions, the contrasts
and their intervals on hand-made rows, the smoke run's shape."""
import numpy as np
import pandas as pd
import pytest

from oodrepro import config
from oodrepro.experiments.beyond import grid

#: one pytest-xdist worker runs this file (its module-scoped fixture is built once)
pytestmark = pytest.mark.xdist_group("grid")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    import os

    os.environ["OODREPRO_CACHE_DIR"] = str(tmp_path_factory.mktemp("gcache"))
    calls = []
    real = grid.kpca_methods.detector

    def traced(name, feats, cfg, seed=0, grid_=None):
        calls.append(name)
        return real(name, feats, cfg, seed)

    grid.kpca_methods.detector = traced
    try:
        out = grid.run_page(config.resolve("beyond.objectives", "smoke"))
    finally:
        grid.kpca_methods.detector = real
    return out, calls


def test_every_cell_is_computed_by_the_papers_functions(smoke):
    out, calls = smoke
    # kpca's detector() built every kpca-side cell: 8 detectors on CE and LS, 6 on ML and ODM (no logits), with
    # KPCA_nys on the embeddings built by kpca.methods.kpca (uniform landmarks) instead
    assert sorted(set(calls)) == ["cosine", "energy", "knn", "kpca_nys", "kpca_rff", "mahalanobis", "msp", "pca"]
    assert calls.count("kpca_nys") == 2 and calls.count("kpca_rff") == 4 and calls.count("msp") == 2
    r = out["rows"]
    na = r[r.status == "not applicable"]
    assert set(na.method) == {"msp", "energy"} and set(na.objective) == {"ml", "odm"}


def test_the_cross_entropy_and_ls_models_are_knn_ls_s():
    from oodrepro.engine import contexts
    from oodrepro.experiments.knn_ls.paper import MODELS, PAPER, ls_model

    cfg = config.resolve("beyond.objectives", "smoke", pairings=["mnist5k->hflip"], epochs=1, max_train=200)
    _, _, ctx, _, _ = next(contexts(PAPER, MODELS, cfg, progress=False))
    assert grid.objective_model(ctx, "ls", cfg, None) is ls_model(ctx, cfg["alpha"])
    assert grid.objective_model(ctx, "ce", cfg, None) is ls_model(ctx, 0.0)


def test_smoke_claims_one_per_detector_and_contrast(smoke):
    out, _ = smoke
    ids = [c["id"] for c in out["claims"]]
    assert len(ids) == 8 * 3 + 2 and len(set(ids)) == len(ids)  # MSP and Energy: the LS contrast only
    assert {c["verdict"] for c in out["claims"]} <= {"reproduced", "not reproduced", "inconclusive"}


def test_contrasts_by_hand():
    rows = []
    for seed, (ce, ls) in enumerate([(0.80, 0.85), (0.82, 0.86), (0.78, 0.85)]):
        for ood, shift in (("hflip", 0.0), ("gaussian", 0.1)):
            rows += [{"in_dist": "mnist5k", "ood": ood, "objective": obj, "method": "pca", "seed": seed,
                      "status": "ok", "auroc": v + shift} for obj, v in (("ce", ce), ("ls", ls))]
    c = grid.contrasts(pd.DataFrame(rows))
    (r,) = c.itertuples()
    d = np.array([0.05, 0.04, 0.07])  # LS − CE per seed (the OOD-set average shifts both alike)
    se = d.std(ddof=1) / np.sqrt(3)
    assert r.contrast == "ls − ce" and r.mean == pytest.approx(d.mean()) and r.se == pytest.approx(se)
    assert r.high - r.mean == pytest.approx(4.302652729911275 * se)  # t(0.975, 2 df)
    (claim,) = grid.grid_claims(pd.DataFrame(rows))
    assert claim["id"] == "ls-vs-ce-pca" and claim["verdict"] == "reproduced"


def test_paper_profile_rows_are_knn_ls_table1_rows_with_data_we_can_hold():
    from oodrepro.experiments.knn_ls.paper import paper_pairings

    cfg = config.resolve("beyond.objectives", "paper")
    assert set(cfg["pairings"]) <= set(paper_pairings()) and len(cfg["seeds"]) >= 3
    assert {p.split("->")[0] for p in cfg["pairings"]} == {"mnist", "fashion_mnist", "cifar10"}


def test_heatmap_has_one_panel_per_pairing_when_several_in_distribution_sets():
    import matplotlib

    matplotlib.use("Agg")
    rows = [{"in_dist": i, "ood": o, "objective": obj, "method": "pca", "seed": s, "status": "ok", "auroc": 0.7}
            for i, o in (("mnist", "hflip"), ("fashion_mnist", "hflip"), ("fashion_mnist", "mnist"))
            for obj in grid.OBJECTIVES for s in (0, 1)]
    fig = grid.heatmap(pd.DataFrame(rows), per_row=2)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["MNIST → HFlip", "Fashion MNIST → HFlip", "Fashion MNIST → MNIST"]
    avg = grid._per_seed_average(pd.DataFrame(rows))
    assert len(avg) == len(grid.OBJECTIVES) * 2  # one number per (objective, detector, seed) across the pairings


def test_units_one_per_set_and_seed_a_missing_set_reported_once_a_failing_unit_shown(monkeypatch, tmp_path):
    """run_page splits the grid into (in-distribution set, seed) units on the executor: a set without data gives its
    needs-data rows once, not once per seed; a unit that raises is reported while the others finish."""
    monkeypatch.setenv("OODREPRO_DATA_ROOT", str(tmp_path))          # empty: no CIFAR-10
    cfg = config.resolve("beyond.objectives", "smoke", pairings=["cifar10->hflip", "mnist5k->hflip"], seeds=[0, 1])
    labels = []
    real = grid.unit_rows

    def fake(cfg_, in_name, seed):
        labels.append((in_name, seed))
        if in_name == "mnist5k":
            if seed == 1:
                raise RuntimeError("worker lost")
            return [{"in_dist": "mnist5k", "objective": "ce", "method": "msp", "seed": 0, "ood": "hflip",
                     "status": "ok", "auroc": 0.9}], ["a-network-a worker read.pt"]
        return real(cfg_, in_name, seed)

    monkeypatch.setattr(grid, "unit_rows", fake)
    out = grid.run_page(cfg)
    assert labels == [("cifar10", 0), ("cifar10", 1), ("mnist5k", 0), ("mnist5k", 1)]
    needs = out["rows"][out["rows"].status == "needs data"]
    assert len(needs) == len(grid.DETECTORS) and set(needs.in_dist) == {"cifar10"}
    assert out["extra"]["failed"] == [{"unit": "mnist5k, seed 1", "error": "RuntimeError: worker lost"}]
    assert out["extra"]["networks"] == ["a-network-a worker read.pt"]   # what a worker read reaches the result file
    text = grid.page_texts({"rows": out["rows"].to_dict(orient="records"), "claims": [], **out["extra"]}, cfg)
    assert "Failed and left out of the grid:** mnist5k, seed 1 (RuntimeError: worker lost)" in text["findings_md"].data


def test_tt100k_cells_read_odm_tsinghuas_own_networks(monkeypatch, tmp_path):
    """The TT100K column: one unit per random class split of odm's Table 4, on odm/tsinghua's networks (the very
    models its page trains for that split: same cache keys), label smoothing on its cross-entropy recipe."""
    from oodrepro.data import tt100k
    from oodrepro.experiments.odm import tsinghua

    monkeypatch.setenv("OODREPRO_CACHE_DIR", str(tmp_path))
    cfg = config.resolve("beyond.objectives", "smoke", tt100k_splits=1)
    rows, _ = grid.tt100k_unit_rows(cfg, 0)
    rows = pd.DataFrame(rows)
    assert set(rows.in_dist) == {"tt100k"} and set(rows.seed) == {0} and set(rows.network) == {"lenet5"}
    assert set(rows.ood) == set(tsinghua.OODS) and (rows[rows.status == "ok"].auroc.between(0, 1)).all()
    # odm/tsinghua's networks of the same split: the grid's CE, ML and ODM cells read them (no second training)
    c = grid.tt100k_cfg(cfg)
    signs = tsinghua.load_signs(c)
    split = tt100k.random_splits(signs["labels"], 1, seed=1000 + c["split_seed"])[0]
    tr, _, _, test_in, seen, oods = tsinghua.split_sets(signs, split, c, 0)
    ctx, page_models = tsinghua.networks(c, tr, seen, 0)
    gctx, _ = next(grid.seed_contexts(c["arch"], tr, test_in, oods, dict(c, seeds=[0])))
    gctx.grid_network = grid.Network("odm", c, seen[grid.TT100K_SEEN])
    d = c["embedding_dim"]
    for obj, name in (("ce", "ce"), ("ml", f"ml/{d}"), ("odm", f"odm:{grid.TT100K_SEEN}/{d}")):
        assert grid.objective_model(gctx, obj, cfg, seen[grid.TT100K_SEEN]).cache_key == page_models[name].cache_key
    ls = grid.objective_model(gctx, "ls", cfg, None)
    assert ls.cache_key != page_models["ce"].cache_key and ls.recipe == page_models["ce"].recipe


def test_kpca_network_columns_follow_its_recipe(monkeypatch):
    """On kpca's CIFAR-10 network the column that is kpca's own network is the one its recipe makes: label smoothing
    under the speed-run recipe (α = 0.2 built in; cross-entropy is that recipe without it), cross-entropy under a
    recipe without smoothing (then LS is α on top)."""
    class Ctx:
        arch = "speednet_wide"

        def model(self, loss, recipe=None, embedding_dim=None, ood_set=None, tag=""):
            return (loss.key().get("alpha"), getattr(recipe, "name", recipe), embedding_dim, ood_set)

    cfg = config.resolve("beyond.objectives", "paper")
    ctx = Ctx()
    ctx.grid_network = grid.Network("kpca", grid.speedrun_cfg(cfg), "seen")
    own = grid.kpca_features.network(ctx)
    assert grid.objective_model(ctx, "ls", cfg, "seen") == own
    assert grid.objective_model(ctx, "ce", cfg, "seen") == (0.0, "cifar_speedrun_ls0", None, None)
    assert grid.objective_model(ctx, "odm", cfg, "seen") == (None, "odm_cpu_flip", cfg["embedding_dim"], "seen")
    ctx.grid_network = grid.Network("kpca", dict(grid.speedrun_cfg(cfg), recipe=None), "seen")
    assert grid.objective_model(ctx, "ce", cfg, "seen") == own
    assert grid.objective_model(ctx, "ls", cfg, "seen") == (cfg["alpha"], None, None, None)


def test_rows_without_a_network_column_are_knn_ls_s():
    """A result file from before the grid had other chapters' networks (no ``network`` column) still renders."""
    rows = pd.DataFrame([{"in_dist": i, "ood": "hflip", "objective": "ce", "method": "pca", "seed": 0,
                          "status": "ok", "auroc": 0.7} for i in ("mnist", "cifar10")])
    assert list(grid.with_networks(rows).network) == ["mlp", "lenet5"]
    assert [grid.in_label(i, n) for i, n in zip(rows.in_dist, grid.with_networks(rows).network)] == \
        ["MNIST", "CIFAR10 (LeNet5)"]  # knn-ls's own labels


def test_other_chapters_parameters_resolve_inside_the_pages_kernel(monkeypatch):
    """Under papermill the grid's kernel holds its own injected names (``cifar_pairings``); reading kpca's and odm's
    parameters must not check those against their schemas (the paper run's TT100K units failed so), and gives what
    config.resolve gives outside a kernel."""
    from oodrepro import config as cfg_module

    cfg = config.resolve("beyond.objectives", "paper")
    want = cfg_module.resolve("odm.tsinghua", "paper"), cfg_module.resolve("kpca.main", "paper")
    monkeypatch.setattr(cfg_module, "_papermill_injected", lambda: ["cifar_pairings", "results_dir"])
    with pytest.raises(Exception, match="cifar_pairings"):  # what config.resolve does with them
        cfg_module.resolve("odm.tsinghua", "paper")
    assert grid.tt100k_cfg(cfg) == want[0] and grid.chapter_cfg("kpca.main", "paper") == want[1]
    assert grid.speedrun_cfg(cfg)["arch"] == want[1]["arch"] == "speednet_wide"


def test_network_table_gives_each_networks_own_difference():
    """Per network: LS − CE on its own OOD sets (+5 points on MNIST's MLP, −2 on TT100K's WRN) — the pooled
    contrast (+1.5) hides that they disagree."""
    rows = [{"in_dist": i, "network": n, "ood": o, "objective": obj, "method": "pca", "seed": s, "status": "ok",
             "auroc": 0.8 + (d if obj == "ls" else 0.0) + 0.01 * s}
            for i, n, o, d in (("mnist", "mlp", "hflip", 0.05), ("tt100k", "wrn10_2", "noise", -0.02))
            for obj in ("ce", "ls") for s in (0, 1, 2)]
    t = grid.network_table(pd.DataFrame(rows))
    assert list(t.columns) == ["detector", "contrast", "MNIST", "TT100K"]
    assert t.values.tolist() == [["PCA", "LS − CE", "+5.0", "-2.0"]]
    (claim,) = grid.grid_claims(pd.DataFrame(rows))
    assert claim["claim"].startswith("Label smoothing helps PCA")
    assert grid.grid_claims(pd.DataFrame([dict(r, objective={"ce": "ml", "ls": "odm"}[r["objective"]])
                                          for r in rows]))[0]["claim"].startswith("Seen-OOD training (ODM) helps")


def test_findings_name_the_ood_sets_that_had_no_data():
    """kpca's CIFAR-10 pairings whose data are missing give *needs data* rows: the page names them per network
    instead of dropping them silently (the heatmap has panels only for sets with scores)."""
    cfg = config.resolve("beyond.objectives", "paper")
    ok = [{"in_dist": "cifar10", "network": "speednet_wide", "ood": "mnist", "objective": obj, "method": "pca",
           "seed": 0, "status": "ok", "auroc": 0.7} for obj in ("ce", "ls")]
    need = [{"in_dist": "cifar10", "network": "speednet_wide", "ood": o, "objective": None, "method": "pca",
             "seed": 0, "status": "needs data"} for o in ("svhn", "lsun", "svhn")]
    rows = pd.DataFrame(ok + need)
    assert grid.missing_sets(rows) == ["CIFAR-10 (speed-run net) → SVHN, LSUN"]
    assert "without data on the machine that ran it, so not in the grid: CIFAR-10 (speed-run net) → SVHN, LSUN." \
        in grid.scale_sentence(rows, cfg)
    assert grid.missing_sets(pd.DataFrame(ok)) == []
    assert grid.in_label("cifar10", "resnet_small") == "CIFAR-10 (small ResNet)"  # kpca's quick-profile network
    assert "without data" not in grid.scale_sentence(pd.DataFrame(ok), cfg)


def test_largest_effects_names_the_biggest_per_network_differences():
    """The sentence ranks per-network differences by size, either sign: PCA's −29 points on TT100K before MNIST's
    +6, each with its s.e. and seeds; a run with one network has no such sentence (its table is the contrasts')."""
    rows = [{"in_dist": i, "network": n, "ood": "hflip", "objective": obj, "method": "pca", "seed": s,
             "status": "ok", "auroc": 0.8 + (d if obj == "ls" else 0.0) + 0.01 * s * (obj == "ls")}
            for i, n, d in (("mnist", "mlp", 0.05), ("tt100k", "wrn10_2", -0.3)) for obj in ("ce", "ls")
            for s in (0, 1, 2)]
    text = grid.largest_effects(pd.DataFrame(rows), n=2)
    assert text.index("PCA LS − CE -29.0 ± 0.6 points over 3 seeds on TT100K") < text.index(
        "PCA LS − CE +6.0 ± 0.6 points over 3 seeds on MNIST")
    assert grid.largest_effects(pd.DataFrame([r for r in rows if r["in_dist"] == "mnist"])) == ""


def test_heatmap_marks_below_chance_cells_outside_the_colour_scale():
    """An AUROC below 0.5 is drawn in its own colour (the colour bar's 'under' end), not as 0.5's."""
    import matplotlib.colors as mcolors

    rows = pd.DataFrame([{"in_dist": "mnist", "network": "mlp", "ood": "hflip", "objective": o, "method": "pca",
                          "seed": 0, "status": "ok", "auroc": a} for o, a in (("ce", 0.1), ("ls", 0.9))])
    mesh = grid.heatmap(rows).axes[0].collections[0]
    colours = mesh.to_rgba(mesh.get_array()).reshape(len(grid.DETECTORS), len(grid.OBJECTIVES), 4)
    pca = grid.DETECTORS.index("pca")
    assert mcolors.to_hex(colours[pca, 0]) == grid.BELOW_CHANCE != mcolors.to_hex(mesh.cmap(0.0))
    assert mcolors.to_hex(colours[pca, 1]) == mcolors.to_hex(mesh.cmap(mesh.norm(0.9)))
