"""The paper-neutral engine: no import cycles, one detector protocol, cache keys that follow the code,
a pluggable training loss, report tables. Fast: no notebook is executed here."""
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError

from oodrepro import cache, data, detectors, fingerprint, report, train
from oodrepro.engine import Context, method_scores
from oodrepro.engine.core import score_key
from oodrepro.errors import ParameterError
from oodrepro.experiments.knn_ls import methods as M
from oodrepro.experiments.knn_ls.paper import MODELS

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(m for m in fingerprint.module_files() if not m.endswith("__main__"))  # __main__ runs the CLI


# --- import cycles -----------------------------------------------------------------------------
def test_the_package_import_graph_has_no_cycle():
    g = fingerprint.import_graph()
    assert "oodrepro.engine.core" in g and "oodrepro.train" in g["oodrepro.engine.core"]
    assert fingerprint.cycles(g) == []


def test_cycle_finder_finds_a_cycle(tmp_path):
    pkg = tmp_path / "oodrepro"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from .a import x\n")  # a lazy import still closes the cycle
    assert fingerprint.cycles(fingerprint.import_graph(pkg)) == [["oodrepro.a", "oodrepro.b", "oodrepro.a"]]


ALONE = textwrap.dedent("""
    import importlib, sys
    failed = {}
    for m in sys.argv[1:]:
        for name in [n for n in sys.modules if n == "oodrepro" or n.startswith("oodrepro.")]:
            del sys.modules[name]  # no module of the package is loaded before m: m is imported alone
        try:
            importlib.import_module(m)
        except Exception as exc:
            failed[m] = repr(exc)
    print(failed)
""")


def test_every_module_imports_alone_in_a_fresh_interpreter():
    r = subprocess.run([sys.executable, "-c", ALONE, *MODULES], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == "{}", r.stdout + r.stderr[-2000:]


# --- one detector protocol ------------------------------------------------------------------------
def _toy(rng, n=60, d=5, c=3):
    y = np.arange(n) % c
    layers = [rng.normal(size=(n, d)) + y[:, None], rng.normal(size=(n, c)) + 3 * np.eye(c)[y]]
    return layers, y


#: tiny settings for the 60 x 5 toy data (the cosine map would send every far point to one direction)
SMALL_KWARGS = {"robust_knn": {"k": 3}, "isolation_forest": {"n_estimators": 10},
                "kpca": {"n_components": 64, "cosine": False, "gamma": 0.1},
                "exact_kpca": {"cosine": False, "gamma": 0.1}, "deep_knn": {"k": 5},
                "vim": {"weight": np.eye(3, 5), "bias": np.zeros(3), "dim": 2},
                "react": {"weight": np.eye(3, 5), "bias": np.zeros(3)}}
#: detectors of the logits alone (nothing to learn; their score need not grow far away)
LOGIT_ONLY = ("max_softmax", "deconf", "max_logit", "energy", "odin")


@pytest.mark.parametrize("name", sorted(detectors.REGISTRY))
def test_every_detector_follows_the_protocol(name, rng):
    cls = detectors.REGISTRY[name]
    kw = SMALL_KWARGS.get(name, {})
    layers, y = _toy(rng)
    det = cls(**kw)
    if name not in LOGIT_ONLY:  # these learn nothing: scoring unfitted is allowed
        with pytest.raises(NotFittedError):
            det.score(layers)
    assert det.fit(layers, y=y, logits=layers[-1]) is det
    far = [a + 50 for a in layers]
    s_in, s_out = det.score(layers), det.score(far, logits=far[-1])
    assert s_in.shape == (60,) and np.isfinite(s_in).all() and s_in.dtype == np.float64
    # logit scores need not grow far away, nor ReAct's (clipped), ViM's (its energy term grows with the
    # logits) or deep k-NN's (z + 50 normalises to one direction near class 2's): the others must
    if name not in LOGIT_ONLY + ("react", "vim", "deep_knn"):
        assert s_out.mean() > s_in.mean()
    with pytest.raises((ValueError, ParameterError), match="NaN or inf"):
        det.score([np.full((4, 5), np.nan), np.full((4, 3), np.nan)])
    with pytest.raises((ValueError, ParameterError)):  # a layer missing, or no point at all
        det.score([np.zeros((4, 5))] if name not in LOGIT_ONLY else [np.zeros((0, 3))])


def test_robust_knn_needs_labels_and_logit_detectors_need_logits(rng):
    layers, _ = _toy(rng)
    with pytest.raises(ParameterError, match="needs the training labels"):
        detectors.RobustKNN(k=3).fit(layers)
    with pytest.raises(ParameterError, match="needs logits"):
        detectors.MaxSoftmax().score(None)


def test_deconf_detector_equals_the_score_on_raw_inputs():
    ds = data.load("digits", "train")
    net = train.fit_classifier("mlp_deconf", ds, alpha=0.0, epochs=1, seed=0, progress=False)
    from oodrepro import embed

    h = embed.embed(net, ds, [0], batch_size=1024)
    np.testing.assert_array_equal(detectors.DeConf().fit().score(h), detectors.deconf_scores(net, ds))
    pert = detectors.perturb_dataset(net, ds, 0.01)
    np.testing.assert_allclose(detectors.DeConf().score(embed.embed(net, pert, [0])),
                               detectors.deconf_scores(net, ds, eps=0.01), rtol=1e-6)


# --- training with a pluggable loss -----------------------------------------------------------
class _SquaredError(train.Loss):
    """A loss that is not cross-entropy: squared error to the one-hot target."""

    def key(self):
        return {"loss": "squared_error"}

    def __call__(self, outputs, y, n_classes):
        return ((outputs - torch.nn.functional.one_hot(y, n_classes).float()) ** 2).mean()


def test_fit_takes_any_loss_and_keys_the_cache_on_it():
    ds = data.load("digits", "train")
    a = train.fit("mlp", ds, loss=_SquaredError(), epochs=2, seed=0, progress=False)
    b = train.fit("mlp", ds, loss=train.LabelSmoothedCE(0.0), epochs=2, seed=0, progress=False)
    assert a.cache_key != b.cache_key and a.history[-1]["loss"] < a.history[0]["loss"]
    hits = cache.CacheStats.hits
    assert train.fit("mlp", ds, loss=_SquaredError(), epochs=2, seed=0, progress=False).cache_key == a.cache_key
    assert cache.CacheStats.hits == hits + 1
    with pytest.raises(ParameterError, match="'loss' must be"):
        train.fit("mlp", ds, loss="mse", epochs=1)


def test_label_smoothed_ce_matches_fit_classifier():
    ds = data.load("digits", "train")
    a = train.fit_classifier("mlp", ds, alpha=0.1, epochs=1, seed=3, progress=False)
    b = train.fit("mlp", ds, loss=train.LabelSmoothedCE(0.1), epochs=1, seed=3, progress=False)
    assert a.cache_key == b.cache_key


# --- method scores and their cache keys ----------------------------------------------------------
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


def test_code_fingerprint_ignores_comments_and_docstrings():
    src = "def f(x):\n    'doc'\n    return x + 1  # note\n"
    assert fingerprint.normalised_source(src) == fingerprint.normalised_source('def f(x):\n    """other"""\n\n    return x + 1\n')
    assert fingerprint.normalised_source(src) != fingerprint.normalised_source("def f(x):\n    return x + 2\n")


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


# --- report tables -----------------------------------------------------------------------------
def _summary():
    return pd.DataFrame([
        {"in_dist": "mnist", "ood": "hflip", "method": "a", "mean": 0.90, "se": 0.01, "status": "ok", "paper": 0.91,
         "delta": -0.01},
        {"in_dist": "mnist", "ood": "hflip", "method": "b", "mean": 0.89, "se": 0.01, "status": "ok", "paper": np.nan,
         "delta": np.nan},
        {"in_dist": "mnist", "ood": "hflip", "method": "c", "mean": 0.70, "se": 0.01, "status": "ok", "paper": 0.8,
         "delta": -0.1},
        {"in_dist": "mnist", "ood": "kmnist", "method": "a", "mean": np.nan, "se": np.nan, "status": "needs data",
         "paper": 0.95, "delta": np.nan}])


def test_best_within_2se_marks_ties_with_the_best():
    assert report.best_within_2se(_summary()).tolist() == [True, True, False, False]


def test_ours_vs_paper_table():
    t = report.ours_vs_paper(_summary(), ["a", "b", "c"], {"mnist": "MNIST", "hflip": "HFlip"},
                             method_labels={"a": "A"})
    assert t.index.tolist() == [("MNIST", "HFlip"), ("MNIST", "kmnist")]
    row = t.loc[("MNIST", "HFlip")]
    assert row[("A", "ours")] == "<b>0.900 ± 0.010</b>" and row[("A", "paper")] == "0.910" and row[("A", "Δ")] == "-0.010"
    assert row[("b", "paper")] == "—" and row[("c", "ours")] == "0.700 ± 0.010"
    assert t.loc[("MNIST", "kmnist"), ("A", "ours")] == "needs data" and t.loc[("MNIST", "kmnist"), ("A", "paper")] == "0.950"


def test_claims_table_counts_and_caption():
    from oodrepro import results

    cl = [results.claim("x", "A beats B", "1 vs 0", "1 vs 0", "reproduced"),
          results.claim("y", "A beats C", "", "", "needs data")]
    styled, n_rep, n = report.claims_table(cl, "Claims here")
    assert (n_rep, n) == (1, 2) and "Claims here: 1 of 2 reproduced" in styled.to_html()


def test_a_table_key_given_a_sentence_is_glued_as_markdown():
    """``{glue}`` of a plain string renders a quoted literal block (seen on the Tsinghua page's Table 4 line);
    a sentence standing in for a table is glued as Markdown, everything else as it is."""
    from IPython.display import Markdown

    from oodrepro.engine.page import as_block

    shown = as_block("tbl_t4", "Table 4 was not run.")
    assert isinstance(shown, Markdown) and shown.data == "Table 4 was not run."
    assert as_block("wall_time", "12 s") == "12 s"
    table = object()
    assert as_block("tbl_main", table) is table
