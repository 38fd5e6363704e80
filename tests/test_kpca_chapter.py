"""kpca chapter: feature sources (network, torchvision backbone, feature banks), the methods' wiring, the
claim rules on hand-made rows, the transcribed tables, bad parameters. Small models and arrays only."""
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from oodrepro import config, reference
from oodrepro.detectors import KPCA, PCA
from oodrepro.errors import DataFormatError, DataNotFoundError, ParameterError
from oodrepro.experiments.kpca import approx, common, cost, features, methods, pages


def _cfg(**kw):
    return config.resolve("kpca.main", profile="smoke", **kw)


@pytest.fixture(scope="module")
def quick_feats(tmp_path_factory):
    import os

    os.environ["OODREPRO_CACHE_DIR"] = str(tmp_path_factory.mktemp("kcache"))
    cfg = config.resolve("kpca.main", profile="smoke", epochs=1, max_train=300, mnist_arch="lenet5")
    return features.network_features("mnist5k", ["hflip", "gaussian", "heldout"], cfg, seed=0), cfg


# --- parameters --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, value", [("gamma", 0.0), ("gamma", -1.0), ("evr", 0.0), ("evr", 1.5),
                                         ("n_components", 0), ("pairings", ["mnist5k->nowhere"]),
                                         ("arch", "vgg"), ("rff_layout", "theirs")])
def test_bad_page_parameters_name_the_parameter(name, value):
    with pytest.raises(ParameterError, match=name if name != "pairings" else "nowhere"):
        config.resolve("kpca.main", profile="smoke", **{name: value})


def test_every_page_resolves_on_every_profile():
    for name in ("main", "ablation", "approximation", "landmarks", "sensitivity", "cost", "motivation"):
        for profile in ("smoke", "quick", "paper"):
            assert config.resolve(f"kpca.{name}", profile=profile)


# --- feature sources ---------------------------------------------------------------------------------
def test_network_features_shapes_head_and_heldout(quick_feats):
    f, _ = quick_feats
    z, logits = f.train
    assert z.shape[1] == 84 and logits.shape[1] == 8 and len(z) == len(f.y_train)
    assert not np.isin(f.y_train, features.HELDOUT).any()  # trained without 8, 9
    np.testing.assert_allclose(z @ f.weight.T + f.bias, logits, atol=1e-3)  # the head is the last linear layer
    assert set(f.ood) == {"hflip", "gaussian", "heldout"} and f.ood["hflip"][0].shape[1] == 84


def test_missing_data_becomes_needs_data_rows(tmp_path):
    cfg = _cfg(pairings=["cifar10->svhn", "mnist5k->lsun"], data_root=str(tmp_path), methods=["msp", "knn"],
               epochs=1, max_train=200)
    rows = common.run_methods(cfg, ["msp", "knn"])
    nd = rows[rows["status"] == "needs data"]
    assert set(nd["ood"]) == {"svhn", "lsun"} and nd["why"].str.len().min() > 10
    assert "cifar10" in " ".join(nd["why"]).lower() or "lsun" in " ".join(nd["why"]).lower()


def _folder(tmp_path, n=3, size=40):
    rng = np.random.default_rng(0)
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(tmp_path / c / f"{i}.png")
    return tmp_path


@pytest.mark.parametrize("backbone, size, width", [("resnet50", 64, 2048), ("mobilenet_v2", 64, 1280),
                                                   ("vit_b_16", 224, 768)])
def test_torchvision_backbones_offline_random_weights(tmp_path, backbone, size, width):
    z, logits, w, b = features.torchvision_features(_folder(tmp_path), backbone, pretrained=False, size=size)
    assert z.shape == (6, width) and logits.shape == (6, 1000) and w.shape == (1000, width)
    np.testing.assert_allclose(z.astype(np.float64) @ w.T + b, logits, rtol=1e-3, atol=1e-3)


def test_unknown_backbone_names_the_parameter(tmp_path):
    with pytest.raises(ParameterError, match="backbone"):
        features.torchvision_features(_folder(tmp_path), "vgg", pretrained=False)


def test_feature_banks_npy_npz_and_raw_memmap(tmp_path, rng):
    a = rng.normal(size=(50, 8)).astype(np.float32)
    np.save(tmp_path / "f.npy", a)
    np.savez(tmp_path / "f.npz", feats=a)
    a.tofile(tmp_path / "f.bin")
    np.testing.assert_array_equal(features.bank_features(tmp_path / "f.npy"), a)
    np.testing.assert_array_equal(features.bank_features(tmp_path / "f.npz"), a)
    raw = features.bank_features(tmp_path / "f.bin", dim=8)
    assert isinstance(raw, np.memmap) and raw.shape == (50, 8)
    np.testing.assert_array_equal(raw, a)
    # the streaming fit reads the memmap in chunks and equals the in-memory fit
    e1 = KPCA(n_components=64, chunk_size=7).fit([raw]).reconstruction_error([a[:5]])
    e2 = KPCA(n_components=64, chunk_size=None).fit([a]).reconstruction_error([a[:5]])
    np.testing.assert_allclose(e1, e2, rtol=1e-9)
    with pytest.raises(ParameterError, match="dim"):
        features.bank_features(tmp_path / "f.bin")
    with pytest.raises(DataFormatError, match="width 7"):
        features.bank_features(tmp_path / "f.bin", dim=7)
    with pytest.raises(DataNotFoundError):
        features.bank_features(tmp_path / "nope.bin", dim=8)


# --- methods -----------------------------------------------------------------------------------------
def test_ablation_rows_build_the_named_kernel(quick_feats):
    f, cfg = quick_feats
    assert len(methods.ABLATION) == 14
    for name in methods.ABLATION:
        det = methods.ablation_detector(name, f, cfg)
        if name in ("pca", "cosine"):
            assert isinstance(det, PCA) and det.cosine == (name == "cosine")
            continue
        assert det.cosine == name.startswith("cosine_") and det.kernel in name
        assert det.approximation == ("nystroem" if name.endswith("nystroem") else "rff")


def test_page_rff_layout_reaches_the_gaussian_rff_only():
    from types import SimpleNamespace

    f = SimpleNamespace(train=[np.ones((4, 3))], weight=None, bias=None)
    cfg = _cfg(rff_layout="authors")
    assert _cfg()["rff_layout"] == "ours" and config.resolve("kpca.main", profile="quick")["rff_layout"] == "ours"
    assert methods.kpca(f, cfg).rff_layout == "authors"
    assert methods.kpca(f, cfg, cosine=False).rff_layout == "authors"
    assert methods.kpca(f, cfg, kernel="laplacian").rff_layout == "ours"
    assert methods.kpca(f, cfg, approximation="nystroem").rff_layout == "ours"


def test_raw_kernels_scale_gamma_by_the_mean_squared_norm(quick_feats):
    f, cfg = quick_feats
    msq = np.mean(np.sum(f.train[0].astype(np.float64) ** 2, axis=1))
    assert methods.kernel_gamma("gaussian", True, 2.0, f) == 2.0
    assert methods.kernel_gamma("gaussian", False, 2.0, f) == pytest.approx(2.0 / msq)
    assert methods.kernel_gamma("polynomial", True, 2.0, f) == 1.0


def test_every_method_scores_every_set(quick_feats):
    f, cfg = quick_feats
    for name in methods.METHODS:
        rows = methods.method_rows(name, f, dict(cfg, _seed=0), "mnist5k", 0)
        assert [r["ood"] for r in rows] == ["hflip", "gaussian", "heldout", "average"]
        assert all(0 <= r["auroc"] <= 100 and 0 <= r["fpr95"] <= 100 for r in rows)
        avg = rows[-1]
        assert avg["auroc"] == pytest.approx(np.mean([r["auroc"] for r in rows[:-1]]))


def test_metrics_in_percent_on_a_known_case():
    m = methods.evaluate(np.array([0.0, 1.0, 2.0, 3.0]), np.array([10.0, 11.0]))
    assert m["auroc"] == pytest.approx(100.0) and m["fpr95"] == pytest.approx(0.0)


# --- claims and summaries on hand-made rows ----------------------------------------------------------
def _rows(a_vals, b_vals, a="kpca_nys", b="knn"):
    recs = []
    for s, (va, vb) in enumerate(zip(a_vals, b_vals)):
        recs += [{"in_dist": "mnist5k", "ood": "average", "method": a, "seed": s, "status": "ok", "auroc": va,
                  "fpr95": 10.0},
                 {"in_dist": "mnist5k", "ood": "average", "method": b, "seed": s, "status": "ok", "auroc": vb,
                  "fpr95": 20.0}]
    return pd.DataFrame(recs)


def test_versus_claims_follow_the_paired_rule_and_show_table7():
    cfg = {"pairings": ["mnist5k->hflip"]}
    up = common.versus(_rows([90, 91, 92], [80, 80.5, 81]), common.PAPER, cfg, "p", "kpca_nys", "knn", "t", "Table 7")
    down = common.versus(_rows([70, 71, 72], [80, 80.5, 81]), common.PAPER, cfg, "p", "kpca_nys", "knn", "t", "Table 7")
    assert up[0]["verdict"] == "reproduced" and down[0]["verdict"] == "not reproduced"
    assert "95.250" in up[0]["paper"] and "94.150" in up[0]["paper"]  # Table 7 AUROC: KPCA_nys vs KNN


def test_summary_puts_the_paper_average_beside_ours():
    s = common.summary(_rows([90, 92], [80, 82]), common.PAPER, "Table 7").set_index("method")
    assert s.loc["kpca_nys", "auroc"] == 91 and s.loc["kpca_nys", "paper_auroc"] == 95.25
    assert s.loc["knn", "delta_fpr95"] == pytest.approx(20 - 30.77)


def test_threshold_claim_and_needs_data():
    c = common.threshold_claim("x", "t", "p", 0.5, lambda v: v < 1, "0.5", "rule", "page")
    assert c["verdict"] == "reproduced"
    c = common.threshold_claim("x", "t", "p", 2.0, lambda v: v < 1, "2", "rule", "page")
    assert c["verdict"] == "not reproduced"
    assert common.threshold_claim("x", "t", "p", None, lambda v: v < 1, "", "rule", "page")["verdict"] == "needs data"


def test_table5_inconsistent_rows_are_the_low_auroc_low_fpr_cells():
    bad = pages.table5_inconsistent()
    t = reference.table("kpca", "Table 5").pivot_table(index=["method", "ood"], columns="metric", values="value")
    assert len(bad) >= 1
    for r in bad.itertuples():
        assert t.loc[(r.method, r.ood), "auroc"] < 50 and t.loc[(r.method, r.ood), "fpr95"] < 80


# --- reference tables and cost -----------------------------------------------------------------------
def test_tables_4_and_7_transcribed():
    assert reference.lookup("kpca", "Table 7", method="kpca_nys", metric="auroc", ood="average") == 95.25
    assert reference.lookup("kpca", "Table 7", method="msp", metric="fpr95") == 57.67
    assert reference.lookup("kpca", "Table 4", method="knn", metric="time_ms") == 15.59
    assert reference.lookup("kpca", "Table 4", method="kpca_nys", metric="memory_mib") == 83
    assert len(reference.table("kpca", "Table 7")) == 28 and len(reference.table("kpca", "Table 4")) == 15


def test_cost_measure_reports_ratios_to_knn():
    rows = cost.measure(400, 16, 32, queries=20, repeat=1)
    assert [r["detector"] for r in rows] == list(cost.DETECTORS)
    knn = rows[-1]
    assert knn["time_vs_knn"] == 1 and knn["memory_vs_knn"] == 1
    assert knn["kept_mib"] == pytest.approx(400 * 16 * 4 / 2 ** 20)
    capped = cost.measure(400, 16, 32, queries=20, repeat=1, fit_cap=100)
    assert [r["fitted"] for r in capped] == [100, 100, 100, 400]  # k-NN always indexes all N
    # KPCA_nys's state: m landmarks and the m × m map whatever the rows fitted; only q may move a little
    assert capped[0]["kept_mib"] == pytest.approx(rows[0]["kept_mib"], rel=0.1)


def test_norm_and_raw_knn_scores():
    z = np.array([[3.0, 4.0], [1.0, 0.0]])
    assert np.allclose(approx.NormScore().fit([z]).score([z]), [-5.0, -1.0])
    d = approx.RawKNN(1).fit([np.array([[0.0, 0.0], [10.0, 0.0]])]).score([np.array([[1.0, 0.0]])])
    assert d[0] == pytest.approx(1.0)


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


def test_the_mnist_mlp_is_the_knn_ls_chapters_cached_model():
    """mnist_arch="mlp" trains exactly knn-ls's no-smoothing model: one cache entry serves both chapters."""
    from oodrepro.engine import Context
    from oodrepro.experiments.knn_ls.paper import MODELS, ls_model

    cfg = config.resolve("kpca.main", profile="smoke", epochs=1, max_train=200)
    ctx, model = features._network("mnist5k", cfg, 0)
    training = {"epochs": 1, "batch_size": cfg["batch_size"], "lr": cfg["lr"], "device": "cpu"}
    other = Context("mnist5k", ctx.train_set, ctx.in_test, 0, MODELS, training, progress=False)
    assert ls_model(other, 0.0).cache_key == model.cache_key


def test_versus_with_a_method_the_paper_lacks_is_our_extension():
    cfg = {"pairings": ["mnist5k->hflip"]}
    c = common.versus(_rows([90, 91, 92], [80, 80.5, 81], a="kpca_rff", b="cosine"), common.PAPER, cfg, "p",
                      "kpca_rff", "cosine", "t", "Table 7")[0]
    assert c["verdict"] == "reproduced" and "our extension" in c["paper"]


def test_features_are_read_once_per_page_and_forgotten_after_it(monkeypatch):
    calls = []
    monkeypatch.setattr(features, "_network_features", lambda *a: calls.append(a) or object())

    def page(cfg):
        a = features.network_features("mnist5k", ["hflip"], dict(cfg, evr=0.5), 0)
        b = features.network_features("mnist5k", ["hflip"], dict(cfg, evr=0.9, gamma=4.0), 0)  # grid keys only
        c = features.network_features("mnist5k", ["hflip"], dict(cfg, epochs=3), 0)  # another network
        return a, b, c

    a, b, c = common.blas_limited(page)(_cfg())
    assert a is b and c is not a and len(calls) == 2
    assert not features._MEMO  # a later page (new data under the data root) reads afresh
