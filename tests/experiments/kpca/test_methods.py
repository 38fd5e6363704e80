"""kpca's methods: the wiring of each detector, metrics in percent."""
import numpy as np
import pytest

from oodrepro import config
from oodrepro.detectors import PCA
from oodrepro.experiments.kpca import methods


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


def test_raw_kernels_scale_gamma_by_the_mean_squared_norm(quick_feats):
    f, cfg = quick_feats
    msq = np.mean(np.sum(f.train[0].astype(np.float64) ** 2, axis=1))
    assert methods.kernel_gamma("gaussian", True, 2.0, f) == 2.0
    assert methods.kernel_gamma("gaussian", False, 2.0, f) == pytest.approx(2.0 / msq)
    assert methods.kernel_gamma("polynomial", True, 2.0, f) == 1.0


def test_every_method_scores_every_set(quick_feats):
    f, cfg = quick_feats
    for name in methods.METHODS:
        rows = methods.method_rows(name, f, cfg, "mnist5k", 0)
        assert [r["ood"] for r in rows] == ["hflip", "gaussian", "heldout", "average"]
        assert all(0 <= r["auroc"] <= 100 and 0 <= r["fpr95"] <= 100 for r in rows)
        avg = rows[-1]
        assert avg["auroc"] == pytest.approx(np.mean([r["auroc"] for r in rows[:-1]]))


def test_metrics_in_percent_on_a_known_case():
    m = methods.evaluate(np.array([0.0, 1.0, 2.0, 3.0]), np.array([10.0, 11.0]))
    assert m["auroc"] == pytest.approx(100.0) and m["fpr95"] == pytest.approx(0.0)


def _cfg(**kw):
    return config.resolve("kpca.main", profile="smoke", **kw)


def test_page_rff_layout_reaches_the_gaussian_rff_only():
    from types import SimpleNamespace

    f = SimpleNamespace(train=[np.ones((4, 3))], weight=None, bias=None)
    cfg = _cfg(rff_layout="authors")
    assert _cfg()["rff_layout"] == "ours" and config.resolve("kpca.main", profile="quick")["rff_layout"] == "ours"
    assert methods.kpca(f, cfg).rff_layout == "authors"
    assert methods.kpca(f, cfg, cosine=False).rff_layout == "authors"
    assert methods.kpca(f, cfg, kernel="laplacian").rff_layout == "ours"
    assert methods.kpca(f, cfg, approximation="nystroem").rff_layout == "ours"
