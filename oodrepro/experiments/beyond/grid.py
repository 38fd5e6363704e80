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

import numpy as np
import pandas as pd
from IPython.display import Markdown

from ... import config, metrics, report, train
from ...config import Param, Schema
from ...detectors import KNNRadius
from ...detectors.ncm import NearestClassMean
from ...engine import Method, contexts, method_scores, needs_rows, paired_claim, paired_difference, summarise
from ...engine.core import load_ood, stored_networks
from ...errors import OodreproError
from ...executor import Unit, executor
from ..knn_ls.paper import MODELS, PAPER, check_neighbours
from ..kpca import methods as kpca_methods
from ..kpca.features import Features
from ...detectors.kpca import m_memory_check
from ..odm.losses import ContrastiveLoss

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
QUICK_PAIRINGS = ["mnist5k->hflip", "mnist5k->vflip", "mnist5k->gaussian", "mnist5k->digits28"]
#: The paper profile: knn-ls Table 1's rows whose data ``$OODREPRO_DATA_ROOT`` can hold (full MNIST and Fashion-MNIST
#: with knn-ls's MLP, CIFAR-10 with its LeNet5): the cross-entropy and α = 0.1 networks are Table 1's stored ones.
PAPER_PAIRINGS = ["mnist->fashion_mnist", "mnist->hflip", "mnist->vflip", "fashion_mnist->mnist", "fashion_mnist->hflip",
                  "fashion_mnist->vflip", "cifar10->hflip", "cifar10->vflip"]

_BASE = dict(pairings=QUICK_PAIRINGS, k=1, alpha=0.1, embedding_dim=32, margin=10.0, seen="uniform", gamma=2.0,
             n_components=512, evr=0.8, epochs=None, batch_size=128, lr=1e-3, max_train=None, data_root=None,
             device="auto", results_dir="results")
SCHEMA = config.register(Schema(name="beyond.objectives", params=[
    Param("pairings", "strs", "rows 'IN->OOD' (knn-ls's sets)", min_len=1, check=PAPER.check_pairings),
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
              "paper": dict(_BASE, pairings=PAPER_PAIRINGS, seeds=[0, 1, 2])},
    derived=lambda cfg: sizes_fit(cfg)))


def sizes_fit(cfg: dict) -> dict:
    """``k`` (knn-ls's check) and Nyström's m (``n_components``) fit the smallest training set, checked before
    any network trains."""
    return {**check_neighbours(cfg), **PAPER.check_train_size(cfg, lambda n: [("n_components", cfg["n_components"], n)])}


def objective_model(ctx, name: str, cfg: dict, seen):
    """The context's network trained with objective ``name`` (cross-entropy and α are knn-ls's models)."""
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
    seen = load_ood(h["seen"], ctx.in_name, ctx.in_test, h, seed=ctx.seed + 1000)
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


def context_rows(ctx, sets: dict, cfg: dict) -> list[dict]:
    rows = []
    for obj in OBJECTIVES:
        for det in DETECTORS:
            base = {"in_dist": ctx.in_name, "objective": obj, "method": det, "seed": ctx.seed}
            if det in kpca_methods.LOGIT_METHODS and obj in ("ml", "odm"):
                rows += [dict(base, ood=o, status="not applicable") for o in sets]
                continue
            h = {**{k: cfg.get(k) for k in HYPER}, "objective": obj, "detector": det}
            s_in = method_scores(ctx, CELL, ctx.in_test, h)
            rows += [dict(base, ood=o, status="ok", auroc=metrics.evaluate(s_in, method_scores(ctx, CELL, ds, h),
                                                                           ("auroc",))["auroc"])
                     for o, ds in sets.items()]
    return rows


def unit_rows(cfg: dict, in_name: str, seed: int) -> tuple[list[dict], list[str]]:
    """One unit of work: every cell of one in-distribution set and seed (its networks, features, detectors), and
    the stored networks it read (a worker's reads reach the result file this way). A set whose data is missing gives
    its *needs data* rows in the unit of the run's first seed only."""
    sub = dict(cfg, pairings=[p for p in cfg["pairings"] if PAPER.parse_pairing(p)[0] == in_name], seeds=[seed])
    rows, before = [], set(stored_networks())
    for name, oods, ctx, sets, missing in contexts(PAPER, MODELS, sub, progress=False):
        if ctx is None and seed != cfg["seeds"][0]:
            continue
        rows += needs_rows(name, list(missing), "; ".join(sorted(set(missing.values()))), methods=DETECTORS)
        if ctx is not None and sets:
            rows += context_rows(ctx, sets, cfg)
    return rows, sorted(set(stored_networks()) - before)


def run_page(cfg: dict) -> dict:
    """Every cell, one unit per (in-distribution set, seed): on a Dask cluster when ``$OODREPRO_SCHEDULER`` names
    one (``oodrepro run --workers N``), else one after another here; rows in the same order either way. A unit
    that fails is reported on the page (``failed``) while the others finish."""
    units = [Unit(f"{i}, seed {s}", unit_rows, (cfg, i, s))
             for i in PAPER.group_pairings(cfg["pairings"]) for s in cfg["seeds"]]
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
    return [paired_claim(f"{r.contrast.replace(' − ', '-vs-')}-{r.method}", f"{r.text.capitalize()} "
                         f"{DETECTOR_LABELS[r.method]} (AUROC, average over the OOD sets)", near[r.contrast], r.diffs,
                         page, margin=MIN_EFFECT, why=RULE) for r in c.itertuples()]


# --- page text and figure -----------------------------------------------------------------------------------
def _cell(v, se):
    return "n/a" if pd.isna(v) else f"{100 * v:.1f} ± {100 * se:.1f}"


def heat_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Detectors × objectives: AUROC (average over the OOD sets, mean ± s.e. over seeds, in %)."""
    s = summarise(_per_seed_average(rows), PAPER, "auroc", by=("method", "objective"), paper_table=None)
    t = s.assign(cell=[_cell(m, e) for m, e in zip(s["mean"], s["se"])]).pivot(index="method", columns="objective",
                                                                                 values="cell")
    t = t.reindex(index=[d for d in DETECTORS if d in t.index], columns=list(OBJECTIVES)).fillna("n/a")
    t.index = [DETECTOR_LABELS[d] for d in t.index]
    t.columns = [OBJECTIVE_LABELS[o] for o in t.columns]
    t.index.name, t.columns.name = "detector", "AUROC (%), by training objective"
    return t


def contrast_table(rows: pd.DataFrame) -> pd.DataFrame:
    c = contrasts(rows)
    if c.empty:
        return pd.DataFrame()
    t = pd.DataFrame({"detector": [DETECTOR_LABELS[d] for d in c["method"]], "contrast": c["text"],
                      "Δ AUROC (points)": [f"{100 * m:+.2f} ± {100 * e:.2f}" for m, e in zip(c["mean"], c["se"])],
                      "95 % interval": [f"[{100 * lo:+.2f}, {100 * hi:+.2f}]" if pd.notna(lo) else "one seed: none"
                                        for lo, hi in zip(c["low"], c["high"])],
                      "seeds": c["n_seeds"]})
    return t


def scale_sentence(rows: pd.DataFrame, cfg: dict) -> str:
    """What networks and data the run's numbers come from (with knn-ls's note where ``max_train`` caps a set), and
    what the grid has not covered yet."""
    ins = list(dict.fromkeys(rows[rows.status == "ok"]["in_dist"]))
    nets = {"mnist5k": f"{PAPER.label('mnist5k')} with knn-ls's MLP", "mnist": "MNIST with knn-ls's MLP",
            "fashion_mnist": "Fashion-MNIST with knn-ls's MLP", "cifar10": "CIFAR-10 with knn-ls's LeNet5"}
    which = "; ".join(nets.get(i, PAPER.label(i)) + PAPER.data_note(i, cfg) for i in ins)
    return (f"The networks: {which} — the cross-entropy and α networks are the very ones knn-ls's pages use. Not "
            "covered yet: kpca's CIFAR-10 speed-run network and odm's TT100K crops (their metric-learned objectives "
            "need recipes of their own).")


def page_texts(doc: dict, cfg: dict) -> dict:
    rows = pd.DataFrame(doc["rows"])
    if rows.empty or not (rows["status"] == "ok").any():
        return {"tbl_grid": "No pairing of this run has data.", "tbl_contrasts": "", "findings_md": Markdown("")}
    ok = rows[rows.status == "ok"]
    pairs = list(dict.fromkeys(zip(ok["in_dist"], ok["ood"])))
    oods = ", ".join(PAPER.label(o) if len({i for i, _ in pairs}) == 1 else PAPER.pair_label(i, o) for i, o in pairs)
    cl = pd.DataFrame(doc.get("claims", []))
    counts = cl["verdict"].value_counts().to_dict() if len(cl) else {}
    n = len(cfg["seeds"])
    findings = (f"**New findings, and how strong the evidence is.** None of these contrasts is in the papers. "
                f"Over {n} seed{'s' if n != 1 else ''} on {oods}: {counts.get('reproduced', 0)} of {len(cl)} "
                f"'helps' claims hold (the paired difference more than 2 s.e. above +{MIN_EFFECT:g} AUROC), "
                f"{counts.get('not reproduced', 0)} go the other way (more than 2 s.e. below −{MIN_EFFECT:g}) "
                f"and {counts.get('inconclusive', 0)} are inside the noise or smaller than that. With {n} seeds a "
                "standard error is itself uncertain: read a verdict within a few tenths of a point as a direction, "
                "not a result. "
                + scale_sentence(rows, cfg)
                + "".join(f" **Failed and left out of the grid:** {f['unit']} ({f['error']})."
                          for f in doc.get("failed", [])))
    return {"tbl_grid": report.styled(heat_table(rows), "AUROC of every detector (rows) on every training "
                                      f"objective (columns), averaged over {oods}; mean ± s.e. over seeds, in %. "
                                      "n/a: a score that needs logits, on an embedding that has none (KPCA_nys on ML and ODM: uniform landmarks).", profile=cfg.get("profile")),
            "tbl_contrasts": report.styled(contrast_table(rows), "Per-seed paired differences of the average "
                                           "AUROC, in points: mean ± s.e. and the 95 % interval (t distribution).",
                                           index=False, profile=cfg.get("profile")),
            "findings_md": Markdown(findings)}


def heatmap(rows: pd.DataFrame, per_row: int = 4):
    """One panel per pairing (per OOD set when the run has one in-distribution set), at most ``per_row`` panels a
    row: detectors × objectives, AUROC (mean over seeds) annotated with ± s.e."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    ok = rows[rows["status"] == "ok"]
    pairs = list(dict.fromkeys(zip(ok["in_dist"], ok["ood"])))
    one_in = len({i for i, _ in pairs}) == 1
    ncol = min(per_row, len(pairs))
    nrow = -(-len(pairs) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.1 * ncol + 1.5, 4.6 * nrow), squeeze=False, sharey=True)
    for n, (i, o) in enumerate(pairs):
        ax = axes[n // ncol][n % ncol]
        g = ok[(ok.in_dist == i) & (ok.ood == o)].groupby(["method", "objective"])["auroc"]
        mean = g.mean().unstack().reindex(index=list(DETECTORS), columns=list(OBJECTIVES))
        se = g.apply(lambda v: metrics.mean_se(v)[1]).unstack().reindex_like(mean)
        notes = np.where(mean.isna(), "n/a", (100 * mean).round(0).astype("Int64").astype(str) + "±"
                         + (100 * se).round(0).astype("Int64").astype(str))
        sns.heatmap(mean, ax=ax, vmin=0.5, vmax=1.0, cmap="viridis", annot=notes, fmt="", cbar=n % ncol == ncol - 1,
                    annot_kws={"fontsize": 7}, cbar_kws={"label": "AUROC"})
        for a, b in zip(*np.where(mean.isna().to_numpy())):
            ax.text(b + 0.5, a + 0.5, "n/a", ha="center", va="center", fontsize=7, color="#888")
        ax.set_title(PAPER.label(o) if one_in else PAPER.pair_label(i, o), fontsize=10)
        ax.set_xticklabels([OBJECTIVE_LABELS[c].split(" (")[0] for c in mean.columns], rotation=30, ha="right",
                           fontsize=8)
        ax.set_yticklabels([DETECTOR_LABELS[r] for r in mean.index], fontsize=8)
        ax.set_xlabel("")
        ax.set_ylabel("")
    for n in range(len(pairs), nrow * ncol):
        axes[n // ncol][n % ncol].axis("off")
    fig.tight_layout()
    return fig
