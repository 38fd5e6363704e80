"""oodrepro.engine.core: method scores and their cache keys, which follow the code."""
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from oodrepro import cache, data, fingerprint, train
from oodrepro.engine import Context, method_scores
from oodrepro.engine.core import score_key
from oodrepro.experiments.knn_ls import methods as M
from oodrepro.experiments.knn_ls.paper import MODELS

#: one pytest-xdist worker runs this file (its module-scoped fixture is built once)
pytestmark = pytest.mark.xdist_group("engine_core")


ROOT = Path(__file__).resolve().parents[2]
CFG = {"epochs": 1, "batch_size": 128, "lr": 1e-3, "device": "cpu", "layers": None}


@pytest.fixture(scope="module")
def ctx():
    tr, te = data.load("digits28", "train"), data.load("digits28", "test")
    return Context("digits28", tr.subset(np.arange(300)), te.subset(np.arange(100)), 0, MODELS, dict(CFG), False)


def test_score_keys_follow_hyper_parameters_context_and_code(ctx):
    h = {"alpha": 0.1, "k": 1, "layers": None}
    k0 = score_key(ctx, M.KNN, h)
    assert k0 == score_key(ctx, M.KNN, dict(h))
    assert k0 != score_key(ctx, M.KNN, dict(h, k=2)) != score_key(ctx, M.KNN, dict(h, alpha=0.0))
    assert k0["code"] != score_key(ctx, M.CONTROL, {"baseline_alpha": 0.0})["code"]  # other detector module
    other = Context("digits28", ctx.train_set, ctx.in_test, 1, MODELS, dict(CFG), False)
    assert score_key(other, M.KNN, h) != k0  # another seed
    assert k0["train_code"] == fingerprint.fingerprint(train, __import__("oodrepro.models").models)


def test_method_scores_are_cached_per_method_and_data(ctx):
    h = {"alpha": 0.1, "k": 1, "layers": None}
    hits, misses = cache.CacheStats.hits, cache.CacheStats.misses
    s = method_scores(ctx, M.KNN, ctx.in_test, h)
    assert s.shape == (100,) and cache.CacheStats.misses > misses
    hits = cache.CacheStats.hits
    np.testing.assert_array_equal(method_scores(ctx, M.KNN, ctx.in_test, h), s)
    assert cache.CacheStats.hits == hits + 1
    flipped = data.hflip(ctx.in_test)
    misses = cache.CacheStats.misses
    method_scores(ctx, M.KNN, flipped, h)
    assert cache.CacheStats.misses > misses  # other data: other entry
    with pytest.raises(TypeError, match="needs the hyper-parameter"):
        method_scores(ctx, M.KNN, ctx.in_test, {"alpha": 0.1})


def test_svm_fits_once_for_every_normalisation(ctx):
    h = {"baseline_alpha": 0.0, "svm_max_fit": 100, "layers": None}
    a = method_scores(ctx, M.SVM, ctx.in_test, dict(h, normalise="rank"))
    n_det = len(ctx._detectors)
    b = method_scores(ctx, M.SVM, ctx.in_test, dict(h, normalise="zscore"))
    assert len(ctx._detectors) == n_det and not np.array_equal(a, b)


SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from oodrepro import cache, data
    from oodrepro.engine import Context, method_scores
    from oodrepro.experiments.knn_ls import methods as M
    from oodrepro.experiments.knn_ls.paper import MODELS
    tr, te = data.load("digits28", "train"), data.load("digits28", "test")
    ctx = Context("digits28", tr.subset(np.arange(300)), te.subset(np.arange(100)), 0, MODELS,
                  {"epochs": 1, "batch_size": 128, "lr": 1e-3, "device": "cpu", "layers": None}, False)
    s = method_scores(ctx, M.KNN, ctx.in_test, {"alpha": 0.1, "k": 1, "layers": None})
    kinds = {}
    root = cache.root()
    for kind in ("model", "scores"):
        kinds[kind] = len([p for p in (root / kind).iterdir() if not p.name.startswith(".")]) if (root / kind).is_dir() else 0
    print(json.dumps({"hits": cache.CacheStats.hits, "misses": cache.CacheStats.misses, "kinds": kinds,
                      "first": float(s[0]), "file": __import__("oodrepro").__file__}))
""")


def _run_copy(pkg_parent: Path, cache_dir: Path) -> dict:
    import json
    import os

    env = dict(os.environ, PYTHONPATH=str(pkg_parent), OODREPRO_CACHE_DIR=str(cache_dir))
    r = subprocess.run([sys.executable, "-c", SCRIPT], cwd=pkg_parent, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # three fresh interpreters, each importing torch and training: make test, not test-fast
def test_editing_a_detector_recomputes_its_scores_but_not_the_model(tmp_path):
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "oodrepro", copy / "oodrepro", ignore=shutil.ignore_patterns("__pycache__"))
    cache_dir = tmp_path / "cache"
    first = _run_copy(copy, cache_dir)
    assert first["file"].startswith(str(copy)) and first["kinds"] == {"model": 1, "scores": 1}
    again = _run_copy(copy, cache_dir)  # nothing changed: the scores come from the cache
    assert again["misses"] == 0 and again["kinds"] == {"model": 1, "scores": 1}
    knn = copy / "oodrepro/detectors/knn.py"
    text = knn.read_text()
    edited = text.replace("        return self.radii(layers) / self.q_[:, None]",
                          "        return 2.0 * self.radii(layers) / self.q_[:, None]")
    assert edited != text
    knn.write_text(edited)
    after = _run_copy(copy, cache_dir)
    assert after["kinds"] == {"model": 1, "scores": 2}          # new scores, the same trained model
    assert after["first"] == pytest.approx(2 * first["first"])  # and they are the edited detector's
    assert after["misses"] >= 1 and after["hits"] >= 1          # the model (at least) was read from the cache
