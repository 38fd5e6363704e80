"""Every detector on every training objective (the cross-paper grid): does label smoothing help KPCA as it
helps k-NN (knn-ls)? Does a metric-learned embedding (odm) make k-NN or KPCA better? Does seen-OOD training
(ODM) help detectors that never see OOD data at test time?

One network (the knn-ls MLP on the quick profile's MNIST sample) trained with four objectives — plain
cross-entropy, label smoothing α (knn-ls §2), the contrastive loss of odm Eq. 1 (ML, a ``embedding_dim``-d
embedding) and ODM (Eq. 1 with seen OOD images, here uniform noise, which no test set contains) — each in its
engine :class:`~oodrepro.engine.Context`, so the cross-entropy and α models are the very ones the knn-ls
pages trained (one cache entry serves both). Every cell's detector is built by the function the papers' own
pages use: kpca's :func:`oodrepro.experiments.kpca.methods.detector` (KPCA_rff, KPCA_nys, PCA, cosine PCA,
Mahalanobis, Energy, MSP, Sun et al.'s deep k-NN), knn-ls's k-NN radius (:class:`oodrepro.detectors.KNNRadius`,
its Table 1 detector with k, here on the one feature layer every detector sees, where Table 1 aggregates three)
and odm's nearest-class-mean score (:class:`oodrepro.detectors.ncm.NearestClassMean`).
Features: the penultimate layer of a classifier (logits for MSP and Energy), the embedding itself for ML and
ODM, which have no logits (MSP and Energy are *not applicable* there, and KPCA_nys draws its landmarks
uniformly instead of by the logits' energy).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
from IPython.display import Markdown

from ... import config, metrics, recipes, report, train
from ...config import Param, Schema
from ...detectors import KNNRadius
from ...detectors.ncm import NearestClassMean
from ...engine import Method, contexts, method_scores, needs_rows, paired_claim, paired_difference, summarise
from ...engine.core import load_ood, stored_networks
from ...errors import DataNotFoundError, OodreproError
from ...executor import Unit, executor
from ...data import tt100k
from ..knn_ls.paper import MODELS, PAPER, check_neighbours
from ..kpca import features as kpca_features, methods as kpca_methods, nets as kpca_nets
from ..kpca.features import Features
from ..kpca.paper import CIFAR_PAIRINGS, PAPER as KPCA_PAPER
from ...detectors.kpca import m_memory_check
from ..odm import tsinghua
from ..odm.losses import ContrastiveLoss
from ..odm.methods import contrastive, embedding_recipe, seed_contexts

OBJECTIVES = ("ce", "ls", "ml", "odm")
OBJECTIVE_LABELS = {"ce": "cross-entropy", "ls": "label smoothing", "ml": "metric learning (ML)",
                    "odm": "ODM (seen OOD)"}
DETECTORS = ("knn_radius", "kpca_rff", "kpca_nys", "pca", "cosine", "mahalanobis", "energy", "msp", "knn", "ncm")
DETECTOR_LABELS = {"knn_radius": "k-NN radius (knn-ls)", "kpca_rff": "KPCA_rff", "kpca_nys": "KPCA_nys",
                   "pca": "PCA", "cosine": "cosine PCA", "mahalanobis": "Mahalanobis", "energy": "Energy",
                   "msp": "MSP", "knn": "deep k-NN (Sun)", "ncm": "nearest class mean (odm)"}
#: the contrasts each detector is tested on: (a, b, claim) — "a helps D" means AUROC(a) > AUROC(b)
CONTRASTS = (("ls", "ce", "label smoothing helps"), ("ml", "ce", "a metric-learned embedding helps"),
             ("odm", "ml", "seen-OOD training (ODM) helps"))
#: smallest average-AUROC difference a claim counts (one point); with one seed the s.e. is 0
MIN_EFFECT = 0.01
RULE = (f"per-seed paired differences of the average AUROC; 'helps' if the mean exceeds {MIN_EFFECT:g} by more "
        f"than 2 s.e., the reverse if below −{MIN_EFFECT:g} by more than 2 s.e., else inconclusive")
#: kpca's CIFAR-10 speed-run recipe without its label smoothing (airbench94 smooths by 0.2): the cross-entropy
#: column on kpca's network (its label-smoothing column is kpca's own network, α = 0.2)
SPEEDRUN_CE = recipes.get("cifar_speedrun").replace(label_smoothing=0.0, name="cifar_speedrun_ls0")
#: The ML and ODM embeddings of kpca's speed-run network: odm's CPU recipe (Adam, one cycle, 5,000 steps of 128,
#: crops ±2: what trains odm's WRN-10-2 embedding to paper level) with the speed-run recipe's alternating flips
SPEEDRUN_EMBEDDING = recipes.get("odm_cpu").replace(flip="alternate", name="odm_cpu_flip")
#: odm's seen OOD for the ODM objective on TT100K: the seen sign classes (its Table 2 headline)
TT100K_SEEN = "tsinghua"
TT100K_LABELS = {"tt100k": "TT100K", "tsinghua": "unseen sign classes", "background": "background patches",
                 "noise": "Gaussian noise"}
QUICK_PAIRINGS = ["mnist5k->hflip", "mnist5k->vflip", "mnist5k->gaussian", "mnist5k->digits28"]
#: The paper profile: knn-ls Table 1's rows whose data ``$OODREPRO_DATA_ROOT`` can hold (full MNIST and Fashion-MNIST
#: with knn-ls's MLP, CIFAR-10 with its LeNet5): the cross-entropy and α = 0.1 networks are Table 1's stored ones.
PAPER_PAIRINGS = ["mnist->fashion_mnist", "mnist->hflip", "mnist->vflip", "fashion_mnist->mnist", "fashion_mnist->hflip",
                  "fashion_mnist->vflip", "cifar10->hflip", "cifar10->vflip"]

_BASE = dict(pairings=QUICK_PAIRINGS, cifar_pairings=[], tt100k_splits=0, k=1, alpha=0.1, embedding_dim=32,
             margin=10.0, seen="uniform", gamma=2.0, n_components=512, evr=0.8, epochs=None, batch_size=128, lr=1e-3,
             max_train=None, data_root=None,
             device="auto", results_dir="results")
SCHEMA = config.register(Schema(name="beyond.objectives", params=[
    Param("pairings", "strs", "rows 'IN->OOD' on knn-ls's networks (knn-ls's sets)", min_len=1,
          check=PAPER.check_pairings),
    Param("cifar_pairings", "strs", "rows 'cifar10->OOD' on kpca's CIFAR-10 network (kpca's sets; [] = none)",
          check=lambda v: _cifar_rows(v)),
    Param("tt100k_splits", "int", "odm's random TT100K class splits (Table 4's) as rows on odm's network (0 = none)",
          low=0),
    config.seeds_param(),
    Param("k", "int", "which neighbour's distance for the k-NN radius (knn-ls: 1)", low=1),
    Param("alpha", "float", "label smoothing of the LS objective (knn-ls: 0.1)", low=0, high=1, high_open=True),
    Param("embedding_dim", "int", "size of the ML / ODM embedding (odm: 32)", low=2),
    Param("margin", "float", "contrastive margin (odm's code: 10)", low=1e-6),
    Param("seen", "str", "the seen OOD of ODM's training (never a test set)", choices=("uniform", "gaussian")),
    Param("gamma", "float", "KPCA's Gaussian kernel width on cosine features (kpca)", low=1e-6),
    Param("n_components", "int", "KPCA's M random features / m landmarks", low=1, check=m_memory_check),
    Param("evr", "float", "explained-variance threshold of PCA / KPCA", low=0.01, high=1),
    Param("epochs", "int", "training epochs; None = knn-ls's (MLP 20)", low=1, allow_none=True,
          check=config.recipe_check("epochs")),
    Param("batch_size", "int", "training batch size", low=2),
    Param("lr", "float", "Adam learning rate", low=1e-8, high=1.0),
    Param("max_train", "int", "use at most this many training images (stratified)", low=20, allow_none=True),
    Param("data_root", "str", "root of real data sets; None = $OODREPRO_DATA_ROOT", allow_none=True),
    Param("device", "str", "torch device", choices=("auto", "cpu", "cuda")),
    Param("results_dir", "str", "where result files are written")],
    profiles={"smoke": dict(_BASE, pairings=["mnist5k->hflip", "mnist5k->gaussian"], seeds=[0], epochs=1,
                            max_train=300, n_components=64, device="cpu"),
              "quick": dict(_BASE, seeds=[0, 1, 2]),
              "paper": dict(_BASE, pairings=PAPER_PAIRINGS, cifar_pairings=CIFAR_PAIRINGS, tt100k_splits=3,
                            seeds=[0, 1, 2])},
    derived=lambda cfg: sizes_fit(cfg)))


def _cifar_rows(pairings) -> str | None:
    """A schema check: kpca's pairings whose in-distribution set is CIFAR-10 (the set its network is trained on)."""
    KPCA_PAPER.check_pairings(pairings)
    bad = [p for p in pairings if KPCA_PAPER.parse_pairing(p)[0] != "cifar10"]
    return f"{bad[0]!r} is not accepted; use 'cifar10->OOD' with one of kpca's OOD sets" if bad else None


def sizes_fit(cfg: dict) -> dict:
    """``k`` (knn-ls's check) and Nyström's m (``n_components``) fit the smallest training set, checked before
    any network trains."""
    return {**check_neighbours(cfg), **PAPER.check_train_size(cfg, lambda n: [("n_components", cfg["n_components"], n)])}


@dataclass
class Network:
    """What a cell needs beside its engine context when the context's networks are another chapter's (set as
    ``ctx.grid_network`` by the unit that builds the context; knn-ls's contexts carry none): ``chapter`` — ``kpca``
    (its CIFAR-10 network) or ``odm`` (its TT100K network); ``cfg`` — that chapter's run parameters (its recipe,
    loss, embedding size); ``seen`` — the seen OOD set of the ODM objective."""

    chapter: str
    cfg: dict
    seen: object = None


def objective_model(ctx, name: str, cfg: dict, seen):
    """The context's network trained with objective ``name``, as the chapter that owns the network trains it.

    knn-ls (no ``ctx.grid_network``): cross-entropy and α are knn-ls's own models, ML and ODM the contrastive loss
    (odm Eq. 1) on its architecture. kpca (CIFAR-10): its speed-run recipe smooths labels by 0.2, so LS is kpca's
    own network and CE the recipe without smoothing (:data:`SPEEDRUN_CE`); ML / ODM train under
    :data:`SPEEDRUN_EMBEDDING`. odm (TT100K): CE, ML and ODM (seen: the seen sign classes) are odm/tsinghua's own
    networks (its loss, recipe and steps: :func:`~oodrepro.experiments.odm.methods.contrastive`,
    :func:`~oodrepro.experiments.odm.methods.embedding_recipe`); LS is its CE network's recipe with α."""
    net = getattr(ctx, "grid_network", None)
    if net is not None and net.chapter == "odm":
        c = net.cfg
        if name in ("ce", "ls"):
            return ctx.model(train.LabelSmoothedCE(0.0), tag="ce") if name == "ce" else \
                ctx.model(train.LabelSmoothedCE(cfg["alpha"]))
        return ctx.model(contrastive(c), ood_set=seen if name == "odm" else None, embedding_dim=c["embedding_dim"],
                         tag=f"odm-{TT100K_SEEN}" if name == "odm" else "ml", recipe=embedding_recipe(c))
    if net is not None and net.chapter == "kpca":
        smooths = bool(net.cfg.get("recipe") and recipes.get(net.cfg["recipe"]).label_smoothing)
        if name == ("ls" if smooths else "ce"):
            return kpca_features.network(ctx)
        if name in ("ce", "ls"):
            return ctx.model(kpca_nets.CrossEntropy(), recipe=SPEEDRUN_CE) if name == "ce" else \
                ctx.model(train.LabelSmoothedCE(cfg["alpha"]))
        loss = ContrastiveLoss(margin=cfg["margin"], squared=True, pairs="all")
        return ctx.model(loss, ood_set=seen if name == "odm" else None, embedding_dim=cfg["embedding_dim"], tag=name,
                         recipe=SPEEDRUN_EMBEDDING if net.cfg.get("recipe") else None)
    if name in ("ce", "ls"):
        return ctx.model(train.LabelSmoothedCE(0.0 if name == "ce" else cfg["alpha"]))
    loss = ContrastiveLoss(margin=cfg["margin"], squared=True, pairs="all")
    return ctx.model(loss, ood_set=seen if name == "odm" else None, embedding_dim=cfg["embedding_dim"], tag=name)


def cell_detector(detector: str, feats: Features, cfg: dict, seed: int):
    """The unfitted detector of a cell, built as the papers' pages build it."""
    if detector == "knn_radius":
        return KNNRadius(k=cfg["k"])
    if detector == "ncm":
        return NearestClassMean()
    if detector == "kpca_nys" and feats.train[1] is None:  # low-energy landmarks rank by logits: none here
        return kpca_methods.kpca(feats, cfg, approximation="nystroem", landmarks="uniform", seed=seed)
    return kpca_methods.detector(detector, feats, cfg, seed)


# --- a cell as an engine Method (scores cached on disk) -------------------------------------------------------
#: What a cell's network and detector read from the page's parameters (the score cache key holds them).
HYPER = ("objective", "detector", "alpha", "margin", "embedding_dim", "seen", "data_root", "gamma", "n_components",
         "evr", "k")


def _cell_model(ctx, h: dict):
    net = getattr(ctx, "grid_network", None)
    seen = net.seen if net is not None else load_ood(h["seen"], ctx.in_name, ctx.in_test, h, seed=ctx.seed + 1000)
    return objective_model(ctx, h["objective"], h, seen)


def _cell_layers(ctx, h: dict) -> list[int]:
    """The embedding itself for ML and ODM (no logits); the penultimate layer and the logits of a classifier."""
    return [0] if h["objective"] in ("ml", "odm") else [-1, 0]


def _cell_build(ctx, h: dict):
    z = ctx.emb(_cell_model(ctx, h), ctx.train_set, _cell_layers(ctx, h))
    feats = Features(f"{h['objective']} on {ctx.in_name}, seed {ctx.seed}", (z[0], z[1] if len(z) > 1 else None), None,
                     y_train=ctx.train_set.y)
    return kpca_methods.OnFeatures(cell_detector(h["detector"], feats, h, ctx.seed), h["detector"])


#: One grid cell: the objective's network, its features, the detector (kpca's adapter fits and scores it).
CELL = Method("beyond_cell", kpca_methods.OnFeatures, HYPER, model=_cell_model, build=_cell_build,
              layers=_cell_layers, functions=(cell_detector, objective_model))


def context_rows(ctx, sets: dict, cfg: dict, in_dist: str | None = None, seed: int | None = None) -> list[dict]:
    """Every cell of one context: rows (in-distribution set, network, objective, detector, seed, OOD set, AUROC);
    ``in_dist`` and ``seed`` name the row when the context's own names do not (odm's TT100K splits)."""
    rows = []
    for obj in OBJECTIVES:
        for det in DETECTORS:
            base = {"in_dist": in_dist or ctx.in_name, "network": ctx.arch, "objective": obj, "method": det,
                    "seed": ctx.seed if seed is None else seed}
            if det in kpca_methods.LOGIT_METHODS and obj in ("ml", "odm"):
                rows += [dict(base, ood=o, status="not applicable") for o in sets]
                continue
            h = {**{k: cfg.get(k) for k in HYPER}, "objective": obj, "detector": det}
            s_in = method_scores(ctx, CELL, ctx.in_test, h)
            rows += [dict(base, ood=o, status="ok", auroc=metrics.evaluate(s_in, method_scores(ctx, CELL, ds, h),
                                                                           ("auroc",))["auroc"])
                     for o, ds in sets.items()]
    return rows


def _reads(rows_of):
    """``(rows, the stored networks read while computing them)``: a worker's reads reach the result file this way."""
    before = set(stored_networks())
    rows = rows_of()
    return rows, sorted(set(stored_networks()) - before)


def _context_units(paper, spec, cfg: dict, seed: int, network=None, **kw) -> list[dict]:
    """The rows of :func:`oodrepro.engine.contexts` over one seed: a set whose data is missing gives its *needs
    data* rows in the unit of the run's first seed only; ``network(ctx)`` gives the context's :class:`Network`."""
    rows = []
    for name, oods, ctx, sets, missing in contexts(paper, spec, dict(cfg, seeds=[seed]), progress=False, **kw):
        if ctx is None and seed != cfg["seeds"][0]:
            continue
        rows += needs_rows(name, list(missing), "; ".join(sorted(set(missing.values()))), methods=DETECTORS,
                           network=ctx.arch if ctx is not None else None)
        if ctx is not None and sets:
            if network is not None:
                ctx.grid_network = network(ctx)
            rows += context_rows(ctx, sets, cfg)
    return rows


def unit_rows(cfg: dict, in_name: str, seed: int) -> tuple[list[dict], list[str]]:
    """One unit of work on knn-ls's networks: every cell of one in-distribution set and seed (its networks,
    features, detectors), and the stored networks it read."""
    sub = dict(cfg, pairings=[p for p in cfg["pairings"] if PAPER.parse_pairing(p)[0] == in_name])
    return _reads(lambda: _context_units(PAPER, MODELS, sub, seed))


def chapter_cfg(name: str, profile: str, **overrides) -> dict:
    """Another chapter's parameters under ``profile`` (with ``overrides`` that are not None), each checked by its
    schema. Not :func:`oodrepro.config.resolve`: inside this page's kernel that also checks the names papermill
    injected — this page's own, e.g. ``cifar_pairings`` — against the other chapter's schema, and refuses them."""
    sch = config.schema(name)
    merged = {**sch.profiles[profile], **{k: v for k, v in overrides.items() if v is not None}}
    out = {"profile": profile, **{p.name: p.coerce(merged.get(p.name)) for p in sch.params}}
    return {**out, **(sch.derived(out) if sch.derived is not None else {})}


def speedrun_cfg(cfg: dict) -> dict:
    """The run's parameters with kpca's network settings under the same profile (kpca/main's: on the paper
    profile, the speed-run network and recipe) and its pairings ``cifar_pairings``."""
    k = chapter_cfg("kpca.main", cfg.get("profile") or "quick")
    return dict(cfg, pairings=cfg["cifar_pairings"], **{n: k[n] for n in ("arch", "recipe", "epochs", "batch_size",
                                                                          "lr", "mnist_arch")})


def speedrun_unit_rows(cfg: dict, seed: int) -> tuple[list[dict], list[str]]:
    """One unit of work on kpca's CIFAR-10 network: every cell of one seed. Networks it trains stay in the cache,
    unstored (three objectives × seeds of a 17.7 MB network would outgrow the stored networks' budget)."""
    kcfg = speedrun_cfg(cfg)
    spec = dataclasses.replace(kpca_features.model_spec(kcfg), store=False)

    def network(ctx):
        return Network("kpca", kcfg, load_ood(cfg["seen"], ctx.in_name, ctx.in_test, cfg, seed=ctx.seed + 1000))
    return _reads(lambda: _context_units(KPCA_PAPER, spec, kcfg, seed, network, ood_loader=kpca_features.load_ood_set,
                                         prepare=kpca_features.without_heldout))


def tt100k_cfg(cfg: dict) -> dict:
    """odm/tsinghua's parameters under the run's profile (its data, network, recipe, loss and steps)."""
    return chapter_cfg("odm.tsinghua", cfg.get("profile") or "quick", data_root=cfg["data_root"])


def tt100k_unit_rows(cfg: dict, k: int) -> tuple[list[dict], list[str]]:
    """One unit of work on odm's TT100K network: every cell of Table 4's ``k``-th random class split (trained with
    odm's seed, as its page does; the row's ``seed`` is ``k``). Missing data gives *needs data* rows in split 0's
    unit only."""
    c = tt100k_cfg(cfg)

    def rows_of():
        try:
            signs = tsinghua.load_signs(c)
        except DataNotFoundError as exc:
            return needs_rows("tt100k", list(tsinghua.OODS), str(exc), methods=DETECTORS, network=c["arch"]) \
                if k == 0 else []
        split = tt100k.random_splits(signs["labels"], k + 1, seed=1000 + c["split_seed"])[k]
        tr, _, _, test_in, seen, oods = tsinghua.split_sets(signs, split, c, c["seeds"][0])
        ctx, sets = next(seed_contexts(c["arch"], tr, test_in, oods, dict(c, seeds=c["seeds"][:1])))
        ctx.grid_network = Network("odm", c, seen[TT100K_SEEN])
        return context_rows(ctx, sets, cfg, in_dist="tt100k", seed=k)
    return _reads(rows_of)


def run_page(cfg: dict) -> dict:
    """Every cell, one unit per (in-distribution set, seed) of knn-ls's networks, per seed of kpca's CIFAR-10
    network and per TT100K split of odm's: on a Dask cluster when ``$OODREPRO_SCHEDULER`` names one (``oodrepro run
    --workers N``), else one after another here; rows in the same order either way. A unit that fails is reported
    on the page (``failed``) while the others finish."""
    units = [Unit(f"{i}, seed {s}", unit_rows, (cfg, i, s))
             for i in PAPER.group_pairings(cfg["pairings"]) for s in cfg["seeds"]]
    units += [Unit(f"CIFAR-10 on kpca's network, seed {s}", speedrun_unit_rows, (cfg, s))
              for s in (cfg["seeds"] if cfg["cifar_pairings"] else [])]
    units += [Unit(f"TT100K random split {k}", tt100k_unit_rows, (cfg, k)) for k in range(cfg["tt100k_splits"])]
    rows, failed, networks = [], [], set()
    with executor() as ex:
        for o in ex.run(units, progress=False):
            if o.ok:
                rows += o.value[0]
                networks |= set(o.value[1])
            else:
                failed.append({"unit": o.label, "error": o.error})
    if not rows:
        raise OodreproError("every unit of beyond/objectives failed: " + "; ".join(f"{f['unit']}: {f['error']}"
                                                                                   for f in failed))
    rows = pd.DataFrame(rows)
    extra = {"networks": sorted(networks), **({"failed": failed} if failed else {})}
    return {"rows": rows, "claims": grid_claims(rows), "extra": extra}


def _per_seed_average(rows: pd.DataFrame) -> pd.DataFrame:
    """AUROC averaged over the pairings (every in-distribution and OOD set of the run), per (objective, detector,
    seed): each seed gives one number per cell, so the contrasts pair seeds."""
    ok = rows[rows["status"] == "ok"]
    return (ok.groupby(["objective", "method", "seed"], sort=False)["auroc"].mean().reset_index()
            .assign(status="ok", in_dist="all", ood="average"))


def contrasts(rows: pd.DataFrame) -> pd.DataFrame:
    """Per detector and contrast: the per-seed paired AUROC difference (averaged over the OOD sets), its mean,
    standard error and 95 % confidence interval (t distribution, n − 1 degrees of freedom)."""
    from scipy import stats

    avg = _per_seed_average(rows) if len(rows) and (rows["status"] == "ok").any() else pd.DataFrame()
    out = []
    for det in DETECTORS:
        for a, b, text in CONTRASTS:
            d = paired_difference(avg.rename(columns={"method": "detector", "objective": "method"}), a, b, "auroc",
                                  detector=det) if len(avg) else np.array([])
            if d.size == 0:
                continue
            m, se = metrics.mean_se(d)
            half = float(stats.t.ppf(0.975, d.size - 1) * se) if d.size > 1 else float("nan")
            out.append({"method": det, "contrast": f"{a} − {b}", "text": text, "mean": m, "se": se,
                        "low": m - half, "high": m + half, "n_seeds": int(d.size), "diffs": d})
    return pd.DataFrame(out)


def grid_claims(rows: pd.DataFrame, page: str = "beyond/objectives") -> list[dict]:
    """"``a`` helps D" for every detector D and contrast, by per-seed paired differences (beyond the papers:
    no paper states them, so each claim's paper column says what the nearest paper claims)."""
    near = {"ls − ce": "knn-ls: label smoothing helps k-NN", "ml − ce": "odm: ML beats CE on novelty",
            "odm − ml": "odm: ODM beats ML on novelty"}
    c = contrasts(rows)
    return [paired_claim(f"{r.contrast.replace(' − ', '-vs-')}-{r.method}", f"{r.text[0].upper()}{r.text[1:]} "
                         f"{DETECTOR_LABELS[r.method]} (AUROC, average over the OOD sets)", near[r.contrast], r.diffs,
                         page, margin=MIN_EFFECT, why=RULE) for r in c.itertuples()]


# --- page text and figure -----------------------------------------------------------------------------------
#: The networks of the grid, by the ``network`` column of its rows (the architecture each chapter trains)
NETWORK_LABELS = {"mlp": "knn-ls's MLP", "lenet5": "LeNet5", "speednet_wide": "kpca's speed-run net",
                  "speednet": "kpca's speed-run net", "resnet_small": "kpca's small ResNet",
                  "resnet18": "kpca's ResNet-18", "wrn10_2": "odm's WRN-10-2"}


def with_networks(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows with a ``network`` column: a result file from before the grid covered kpca's and odm's networks has
    none (its networks are knn-ls's: LeNet5 on CIFAR-10, the MLP on the rest)."""
    if "network" in rows and rows["network"].notna().all():
        return rows
    knn_ls = rows["in_dist"].map(lambda i: "lenet5" if i == "cifar10" else "mlp")
    if "network" not in rows:
        return rows.assign(network=knn_ls)
    return rows.assign(network=rows["network"].astype(object).where(rows["network"].notna(), knn_ls))


def _chapter(in_dist: str, network: str) -> str:
    return "odm" if in_dist == "tt100k" else "kpca" if network in kpca_nets.ARCHS else "knn_ls"


def ood_label(in_dist: str, network: str, ood: str) -> str:
    return {"odm": TT100K_LABELS.get(ood, ood), "kpca": KPCA_PAPER.label(ood), "knn_ls": PAPER.label(ood)}[
        _chapter(in_dist, network)]


def in_label(in_dist: str, network: str) -> str:
    """``"CIFAR-10 (speed-run net)"``: the in-distribution set, and the network where two chapters train on it."""
    ch = _chapter(in_dist, network)
    if ch == "odm":
        return "TT100K"
    if ch == "kpca":  # the network kpca's profile trains: the speed-run net on paper, a small ResNet on quick
        name = NETWORK_LABELS.get(network, network).removeprefix("kpca's ")
        return f"CIFAR-10 ({name})"
    return PAPER.label(PAPER.block(in_dist)) + (" (LeNet5)" if in_dist == "cifar10" else "")


def _pairs(ok: pd.DataFrame) -> list[tuple]:
    return list(dict.fromkeys(zip(ok["in_dist"], ok["network"], ok["ood"])))


def _pair_label(p: tuple, one_in: bool, width: int = 0) -> str:
    """``"MNIST → HFlip"`` (the OOD set alone when the run has one in-distribution set); broken after the arrow when
    longer than ``width`` characters (a heatmap panel's title)."""
    if one_in:
        return ood_label(*p)
    head, tail = in_label(*p[:2]), ood_label(*p)
    return f"{head} →\n{tail}" if width and len(head) + len(tail) + 3 > width else f"{head} → {tail}"


def heat_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Detectors × objectives: AUROC (average over the OOD sets, mean ± s.e. over seeds, in %)."""
    s = summarise(_per_seed_average(rows), PAPER, "auroc", by=("method", "objective"), paper_table=None)
    t = s.assign(cell=[_cell(m, e) for m, e in zip(s["mean"], s["se"])]).pivot(index="method", columns="objective",
                                                                                 values="cell")
    t = t.reindex(index=[d for d in DETECTORS if d in t.index], columns=list(OBJECTIVES)).astype(object).fillna("n/a")
    t.index = [DETECTOR_LABELS[d] for d in t.index]
    t.columns = [OBJECTIVE_LABELS[o] for o in t.columns]
    t.index.name, t.columns.name = "detector", None  # the caption says what the cells are
    return t


def _cell(v, se):
    return "n/a" if pd.isna(v) else f"{100 * v:.1f} ± {100 * se:.1f}"


def by_network(rows: pd.DataFrame) -> pd.DataFrame:
    """Per network (in-distribution set and the network trained on it), detector and contrast: the mean paired
    AUROC difference in points over seeds (each seed's average over that network's OOD sets)."""
    rows = with_networks(rows)
    out = []
    for (i, net), part in rows[rows.status == "ok"].groupby(["in_dist", "network"], sort=False):
        c = contrasts(part)
        out += [{"network": in_label(i, net), "method": r.method, "contrast": r.text, "mean": r.mean, "se": r.se,
                 "n_seeds": r.n_seeds} for r in c.itertuples()]
    return pd.DataFrame(out)


def contrast_table(rows: pd.DataFrame) -> pd.DataFrame:
    c = contrasts(rows)
    if c.empty:
        return pd.DataFrame()
    return pd.DataFrame({"detector": [DETECTOR_LABELS[d] for d in c["method"]], "contrast": c["text"],
                         "Δ AUROC (points)": [f"{100 * m:+.2f} ± {100 * e:.2f}" for m, e in zip(c["mean"], c["se"])],
                         "95 % interval": [f"[{100 * lo:+.2f}, {100 * hi:+.2f}]" if pd.notna(lo) else "one seed: none"
                                           for lo, hi in zip(c["low"], c["high"])],
                         "seeds": c["n_seeds"]})


#: Short names of the contrasts for narrow tables
CONTRAST_SHORT = {text: f"{a.upper()} − {b.upper()}" for a, b, text in CONTRASTS}


def network_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Detector × contrast rows, one column per network: the mean paired difference in points on that network's own
    OOD sets (does a contrast's direction hold on every network?)."""
    per = by_network(rows)
    if per.empty:
        return pd.DataFrame()
    per = per.assign(detector=[DETECTOR_LABELS[d] for d in per["method"]],
                     contrast=per["contrast"].map(CONTRAST_SHORT),
                     cell=[f"{100 * m:+.1f}".replace("-0.0", "+0.0") for m in per["mean"]])  # no "−0.0"
    t = per.pivot_table(index=["detector", "contrast"], columns="network", values="cell", aggfunc="first", sort=False)
    t = t.reindex(columns=list(dict.fromkeys(per["network"]))).fillna("n/a").reset_index()
    t.columns.name = None
    return t


def largest_effects(rows: pd.DataFrame, n: int = 3) -> str:
    """The ``n`` largest per-network paired differences (by size, either sign), as a sentence: where a contrast
    matters most, which the run-wide averages dilute."""
    per = by_network(rows)
    if per.empty or per["network"].nunique() < 2:
        return ""
    top = per.reindex(per["mean"].abs().sort_values(ascending=False).index).head(n)
    items = [f"{DETECTOR_LABELS[r.method]} {CONTRAST_SHORT[r.contrast]} {100 * r.mean:+.1f} ± {100 * r.se:.1f} "
             f"points over {r.n_seeds} seed{'s' if r.n_seeds != 1 else ''} on {r.network}" for r in top.itertuples()]
    return (" The largest effects on one network (the table above; its heatmap panels show which OOD sets carry "
            "them): " + "; ".join(items) + ".")


def scale_sentence(rows: pd.DataFrame, cfg: dict) -> str:
    """What networks and data the run's numbers come from, the objectives' settings on each, and what the run
    did not cover."""
    ok = with_networks(rows[rows.status == "ok"])
    parts = []
    for i, net in dict.fromkeys(zip(ok["in_dist"], ok["network"])):
        ch = _chapter(i, net)
        if ch == "knn_ls":
            parts.append(f"{PAPER.label(i)} with knn-ls's {'LeNet5' if net == 'lenet5' else 'MLP'}"
                         f"{PAPER.data_note(i, cfg)} (its cross-entropy and α = {cfg['alpha']:g} networks are knn-ls's "
                         f"own; ODM's seen OOD: {cfg['seen']} noise)")
        elif ch == "kpca":
            k = speedrun_cfg(cfg)
            smooth = recipes.get(k["recipe"]).label_smoothing if k.get("recipe") else 0
            ls = (f"label smoothing is kpca's own network (its recipe smooths by α = {smooth:g}) and cross-entropy the "
                  "same recipe without it" if smooth else f"α = {cfg['alpha']:g}")
            parts.append(f"CIFAR-10 with {NETWORK_LABELS.get(net, net)} ({ls}; ML and ODM trained under "
                         f"{SPEEDRUN_EMBEDDING.name if k.get('recipe') else 'the same recipe'}; ODM's seen OOD: "
                         f"{cfg['seen']} noise; the networks other than kpca's own are kept in the run's cache, not "
                         "stored — a network per objective and seed would outgrow the stored networks' budget — so "
                         "a rerun on a clean cache trains them again)")
        else:
            parts.append(f"TT100K's sign crops with {NETWORK_LABELS.get(net, net)}, one network per random class "
                         f"split of odm's Table 4 (a row's 'seed' is its split; its cross-entropy, ML and ODM networks "
                         f"are odm/tsinghua's own, ODM seeing the seen sign classes; label smoothing α = "
                         f"{cfg['alpha']:g} on its cross-entropy recipe)")
    left = ([] if cfg.get("cifar_pairings") else ["kpca's CIFAR-10 network (`cifar_pairings`)"]) + \
        ([] if cfg.get("tt100k_splits") else ["odm's TT100K network (`tt100k_splits`)"])
    gaps = missing_sets(rows)
    return ("The networks: " + "; ".join(parts) + "."
            + (f" Not in this run: {' and '.join(left)}." if left else "")
            + (f" Asked for but without data on the machine that ran it, so not in the grid: {'; '.join(gaps)}."
               if gaps else ""))


def missing_sets(rows: pd.DataFrame) -> list[str]:
    """``"CIFAR-10 (speed-run net) → SVHN, LSUN"``: per network, the OOD sets of the run whose rows are *needs
    data* (their data were not under ``$OODREPRO_DATA_ROOT``)."""
    need = rows[rows["status"] == "needs data"]
    if need.empty:
        return []
    need = with_networks(need)
    return [f"{in_label(i, n)} → {', '.join(dict.fromkeys(ood_label(i, n, o) for o in g['ood']))}"
            for (i, n), g in need.groupby(["in_dist", "network"], sort=False)]


def _wrapped_headers(st):
    """A table whose column headers may break between words ("CIFAR-10 / (speed-run net)"): one column per network
    keeps it inside the page's width."""
    return st.set_table_styles([{"selector": "th.col_heading", "props": "white-space: normal; max-width: 7em; "
                                                                          "vertical-align: bottom;"}], overwrite=False)


def page_texts(doc: dict, cfg: dict) -> dict:
    rows = pd.DataFrame(doc["rows"])
    if rows.empty or not (rows["status"] == "ok").any():
        return {"tbl_grid": "No pairing of this run has data.", "tbl_contrasts": "", "tbl_by_network": "",
                "findings_md": Markdown("")}
    rows = with_networks(rows)
    ok = rows[rows.status == "ok"]
    pairs = _pairs(ok)
    one_in = len({p[:2] for p in pairs}) == 1
    nets = list(dict.fromkeys(in_label(*p[:2]) for p in pairs))
    oods = (", ".join(_pair_label(p, one_in) for p in pairs) if len(pairs) <= 6 else
            f"{len(pairs)} pairings on {len(nets)} in-distribution sets ({'; '.join(nets)}; one heatmap panel each)")
    cl = pd.DataFrame(doc.get("claims", []))
    counts = cl["verdict"].value_counts().to_dict() if len(cl) else {}
    n = len(cfg["seeds"])
    findings = (f"**New findings, and how strong the evidence is.** None of these contrasts is in the papers. "
                f"Over {n} seed{'s' if n != 1 else ''} on {oods}: {counts.get('reproduced', 0)} of {len(cl)} "
                f"'helps' claims hold (the paired difference more than 2 s.e. above +{MIN_EFFECT:g} AUROC), "
                f"{counts.get('not reproduced', 0)} go the other way (more than 2 s.e. below −{MIN_EFFECT:g}) "
                f"and {counts.get('inconclusive', 0)} are inside the noise or smaller than that. With {n} seeds a "
                "standard error is itself uncertain: read a verdict within a few tenths of a point as a direction, "
                "not a result."
                + largest_effects(rows) + " "
                + scale_sentence(rows, cfg)
                + "".join(f" **Failed and left out of the grid:** {f['unit']} ({f['error']})."
                          for f in doc.get("failed", [])))
    several = len({p[:2] for p in pairs}) > 1
    return {"tbl_grid": report.styled(heat_table(rows), "AUROC of every detector (rows) on every training "
                                      f"objective (columns), averaged over {oods}; mean ± s.e. over seeds, in %. "
                                      "n/a: a score that needs logits, on an embedding that has none (KPCA_nys on "
                                      "ML and ODM: uniform landmarks).", profile=cfg.get("profile")),
            "tbl_contrasts": report.styled(contrast_table(rows), "Per-seed paired differences of the average "
                                           "AUROC, in points: mean ± s.e. and the 95 % interval (t distribution).",
                                           index=False, profile=cfg.get("profile")),
            "tbl_by_network": (_wrapped_headers(report.styled(
                network_table(rows), "The same contrasts on each network alone (one column per in-distribution set "
                "and its network): the mean paired AUROC difference in points over seeds, each seed's AUROC averaged "
                "over that network's own OOD sets. LS − CE: label smoothing minus cross-entropy; ML − CE: metric "
                "learning minus cross-entropy; ODM − ML: seen-OOD training minus metric learning.",
                index=False, profile=cfg.get("profile")))
                if several else "This run has one network: the contrasts above are its own."),
            "findings_md": Markdown(findings)}


#: A heatmap cell's colour below AUROC 0.5 (worse than chance), outside the colour scale's viridis
BELOW_CHANCE = "#e8464b"


def heatmap(rows: pd.DataFrame, per_row: int = 4):
    """One panel per pairing (per OOD set when the run has one in-distribution set), at most ``per_row`` panels a
    row: detectors × objectives, AUROC (mean over seeds) annotated with ± s.e."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    rows = with_networks(rows)
    ok = rows[rows["status"] == "ok"]
    pairs = _pairs(ok)
    one_in = len({p[:2] for p in pairs}) == 1
    ncol = min(per_row, len(pairs))
    nrow = -(-len(pairs) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.1 * ncol + 1.5, 4.6 * nrow), squeeze=False, sharey=True)
    # below 0.5 the detector ranks the OOD set as more typical than the test images: its own colour, not 0.5's
    cmap = plt.get_cmap("viridis").with_extremes(under=BELOW_CHANCE)
    for n, (i, net, o) in enumerate(pairs):
        ax = axes[n // ncol][n % ncol]
        g = ok[(ok.in_dist == i) & (ok.network == net) & (ok.ood == o)].groupby(["method", "objective"])["auroc"]
        mean = g.mean().unstack().reindex(index=list(DETECTORS), columns=list(OBJECTIVES))
        se = g.apply(lambda v: metrics.mean_se(v)[1]).unstack().reindex_like(mean)
        notes = np.where(mean.isna(), "n/a", (100 * mean).round(0).astype("Int64").astype(str) + "±"
                         + (100 * se).round(0).astype("Int64").astype(str))
        sns.heatmap(mean, ax=ax, vmin=0.5, vmax=1.0, cmap=cmap, annot=notes, fmt="", cbar=n % ncol == ncol - 1,
                    annot_kws={"fontsize": 7}, cbar_kws={"label": "AUROC", "extend": "min"})
        for a, b in zip(*np.where(mean.isna().to_numpy())):
            ax.text(b + 0.5, a + 0.5, "n/a", ha="center", va="center", fontsize=7, color="#888")
        ax.set_title(_pair_label((i, net, o), one_in, width=30), fontsize=10 if one_in else 9)
        ax.set_xticklabels([OBJECTIVE_LABELS[c].split(" (")[0] for c in mean.columns], rotation=30, ha="right",
                           fontsize=8)
        ax.set_yticklabels([DETECTOR_LABELS[r] for r in mean.index], fontsize=8)
        ax.set_xlabel("")
        ax.set_ylabel("")
    for n in range(len(pairs), nrow * ncol):
        axes[n // ncol][n % ncol].axis("off")
    fig.tight_layout()
    return fig
