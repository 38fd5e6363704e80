"""odm's Tsinghua experiment (§4.2; Table 2, Table 4, Figure 3): traffic-sign classes split into
in-distribution / seen OOD / unseen OOD (grouped split, and Table 4's random ungrouped splits); ODIN, ML
and ODM with each kind of seen OOD (Tsinghua novelty, background patches, Gaussian noise); five metrics
(ODIN's definitions, as the paper's Tables 2 and 4); PCA of the embeddings (Figure 3).

Data (``source``): ``synthetic`` — the package's synthetic sign set in TT100K's format, read by the real
loader (the offline default: a stand-in, and the page says so); ``release`` — TT100K's release under
``<data_root>/TT100K`` (``annotations.json`` + frames); ``cropped`` — the ready-made 32×32 crops and genuine
background patches under ``<data_root>/TT100K_Cropped``."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Markdown

from ... import cache, config, data, report, train
from ...config import Param, Schema
from ...data import tt100k
from ...data.core import from_uint8, gaussian_noise
from ...data.tt100k_synth import write_synthetic
from ...engine.core import needs_rows
from ...errors import ParameterError, DataNotFoundError, OodreproError
from ...executor import Unit, executor
from .methods import Scorer, context, contrastive, embedding_recipe, metric_row, split_validation, tune_odin
from .paper import (BASE, check_loss, loss_sentence, METRICS_ODIN, PAPER_TSINGHUA_TRAINING, gap_sentence, method_diff, odm_claim, paper_value,
                    shown_wide, summary_by_metric, torch_threads, training_params)

SEEN_KINDS = ("tsinghua", "background", "noise")
#: The data set a run reads, by ``source`` (its files enter the provenance: oodrepro.data.SOURCE_FILES)
DATASET = {"cropped": "tt100k_cropped", "release": "tt100k_release", "synthetic": "tt100k_synthetic"}
OODS = ("tsinghua", "background", "noise")
LABELS = {"odin": "ODIN", "ml": "Ours - ML", "odm:tsinghua": "Ours - ODM (seen: Tsinghua)",
          "odm:background": "Ours - ODM (seen: background)", "odm:noise": "Ours - ODM (seen: noise)",
          "tsinghua": "Tsinghua (unseen classes)", "background": "Background", "noise": "Noise"}

SCHEMA = config.register(Schema(
    name="odm.tsinghua",
    params=[Param("source", "str", "synthetic (offline stand-in), release (TT100K annotations.json + frames) or "
                  "cropped (TT100K_Cropped)", choices=("synthetic", "release", "cropped")),
            Param("arch", "str", "network: lenet5 (CPU, quick), wrn10_2 (CPU-sized WRN) or wrn28_10 (the paper's; GPU)",
                  choices=("lenet5", "wrn10_2", "wrn28_10")),
            Param("split_seed", "int", "seed of the grouped 50/20/30 class split", low=0),
            Param("random_splits", "int", "Table 4: number of random ungrouped splits (paper: 10; 0 = skip)", low=0),
            Param("seen_kinds", "strs", "ODM variants: the kind of seen OOD each trains with", choices=SEEN_KINDS,
                  min_len=1),
            Param("n_anomaly", "int", "background / noise images per test and per seen set", low=20),
            *[Param("embedding_dim", "int", "size of the metric-learned embedding, >= 2 (the page draws its 2-d PCA)",
                    low=2) if p.name == "embedding_dim" else p for p in training_params()]],
    profiles={
        "smoke": dict(BASE, source="synthetic", arch="lenet5", split_seed=0, random_splits=0, seen_kinds=["tsinghua"],
                      n_anomaly=100, seeds=[0], embedding_dim=32, epochs=2, batch_size=64, device="cpu",
                      odin_temperatures=[1.0, 1000.0], odin_epsilons=[0.0, 0.002]),
        "quick": dict(BASE, source="synthetic", arch="lenet5", split_seed=0, random_splits=0, seen_kinds=list(SEEN_KINDS),
                      n_anomaly=240, seeds=[0], embedding_dim=32, epochs=15, batch_size=64),
        "paper": dict(BASE, source="cropped", arch="wrn10_2", split_seed=0, random_splits=3, seen_kinds=list(SEEN_KINDS),
                      n_anomaly=1200, seeds=[0], embedding_dim=32, recipe="odm_cpu", pairs="all", epochs=None,
                      batch_size=None, lr=None,
                      # the settings that bring ML and ODM to paper level on the grouped split (97.95-98.16 %
                      # nearest-class-mean accuracy against 94.05 % for ML with the authors' mean over every pair
                      # and the recipe's 5,000 steps; docs/lab-log.md, 2026-12-06)
                      hinge_mean="active", ml_steps=7500),
    },
    derived=check_loss,
))


def _synthetic_root() -> Path:
    return write_synthetic(cache.ensure_writable() / "tt100k_synthetic")


def load_signs(cfg: dict) -> dict:
    """``{"x": uint8 NHWC, "labels": str array, "bg_seen": uint8, "bg_test": uint8, "note": str}``."""
    n = cfg["n_anomaly"]
    if cfg["source"] == "cropped":
        root = data.data_root(cfg["data_root"])
        if root is None:
            raise DataNotFoundError("tt100k_cropped", "a data root (set OODREPRO_DATA_ROOT)", "See the README's 'Data'")
        folder = root / "TT100K_Cropped"
        tr, te = tt100k.load_cropped(folder, "train"), tt100k.load_cropped(folder, "test")
        return {"x": np.concatenate([tr["x"], te["x"]]), "labels": np.concatenate([tr["labels"], te["labels"]]),
                "bg_seen": tt100k.cropped_background(folder, n, seed=1, split="train"),
                "bg_test": tt100k.cropped_background(folder, n, seed=2, split="test"),
                "note": "genuine TT100K crops (TT100K_Cropped, 32×32) and sub-patches of its genuine background patches"}
    if cfg["source"] == "release":
        root = data.data_root(cfg["data_root"])
        root = Path("TT100K") if root is None else root / "TT100K"
        note = "TT100K's release (annotations.json + frames)"
    else:
        root, note = _synthetic_root(), "the package's SYNTHETIC sign set (a stand-in written in TT100K's format)"
    ann = tt100k.read_annotations(root)
    signs = tt100k.crop_signs(root, ann=ann)
    bg = tt100k.background_patches(root, 2 * n, seed=1, ann=ann)["x"]
    if len(bg) < 2 * n:  # too few frames: never a smaller test set than the page says
        raise ParameterError(f"parameter 'n_anomaly' = {n} needs {2 * n:,} background patches (a seen and a test set) "
                             f"but the frames of {note} give {len(bg):,}; use n_anomaly <= {len(bg) // 2:,}")
    return {"x": signs["x"], "labels": signs["labels"], "bg_seen": bg[:n], "bg_test": bg[n:], "note": note}


def split_sets(signs: dict, split: dict, cfg: dict, seed: int):
    """Data sets of one split: in-distribution train / valid / test, seen sets by kind, test OOD sets."""
    classes = split["in"]
    lut = {c: i for i, c in enumerate(classes)}
    keep = np.isin(signs["labels"], classes)
    ds = from_uint8("tsinghua:in", signs["x"][keep], [lut[c] for c in signs["labels"][keep]], classes)
    rest, test_in = split_validation(ds, 0.3, seed=seed)
    tr, val = split_validation(rest, 0.1, seed=seed)
    def pick(part, name):
        m = np.isin(signs["labels"], split[part])
        return from_uint8(name, signs["x"][m], np.full(m.sum(), -1), [])
    seen_novel = pick("seen", "tsinghua:seen")
    seen_tr, seen_val = split_validation(seen_novel.subset(np.arange(len(seen_novel))), 0.1, seed=seed)
    bg_seen = from_uint8("background:seen", signs["bg_seen"], np.full(len(signs["bg_seen"]), -1), [])
    seen = {"tsinghua": seen_tr, "background": bg_seen,
            "noise": gaussian_noise(bg_seen, seed=seed + 100)}
    oods = {"tsinghua": pick("unseen", "tsinghua:unseen"),
            "background": from_uint8("background:test", signs["bg_test"], np.full(len(signs["bg_test"]), -1), []),
            "noise": gaussian_noise(test_in, seed=seed + 200)}
    return tr, val, seen_val, test_in, seen, oods


def networks(cfg: dict, tr, seen: dict, seed: int, progress: bool = False) -> dict:
    """The networks of one split and seed: ``ce`` (ODIN's), ``ml/d`` and ``odm:<seen kind>/d``; stored ones
    (:mod:`oodrepro.checkpoints`) are read, not trained."""
    ctx, loss, d = context(cfg["arch"], tr, cfg, seed, progress), contrastive(cfg), cfg["embedding_dim"]
    rec = embedding_recipe(cfg)
    out = {"ce": ctx.model(train.LabelSmoothedCE(0.0), tag="ce"),
           f"ml/{d}": ctx.model(loss, embedding_dim=d, tag="ml", recipe=rec)}
    for kind in cfg["seen_kinds"]:
        out[f"odm:{kind}/{d}"] = ctx.model(loss, ood_set=seen[kind], embedding_dim=d, tag=f"odm-{kind}", recipe=rec)
    return ctx, out


def _pca_points(sc: Scorer, test_in, oods: dict, d: int, n: int = 300, seed: int = 0) -> list[dict]:
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(seed)
    out = []
    for m in [k for k in sc.models if k.startswith(("odm:tsinghua", "ml"))]:
        for o, ds in oods.items():
            a, b = [x.subset(rng.permutation(len(x))[:n]) for x in (test_in, ds)]
            za, zb = sc.embedding(m, a), sc.embedding(m, b)
            p = PCA(2).fit(za)
            for grp, z in (("in", za), ("out", zb)):
                out += [{"method": m.split("/")[0], "ood": o, "group": grp, "x": float(u), "y": float(v)}
                        for u, v in p.transform(z)]
    return out


def run_split(cfg: dict, signs: dict, split: dict, seed: int, split_name: str, points: bool = False):
    """Rows of one split and training seed (and Figure 3's PCA points when ``points``)."""
    tr, val, seen_val, test_in, seen, oods = split_sets(signs, split, cfg, seed)
    ctx, models = networks(cfg, tr, seen, seed)
    odin = tune_odin(ctx, models["ce"], val, seen_val, cfg["odin_temperatures"], cfg["odin_epsilons"])
    sc = Scorer(ctx, models, odin)
    rows, d = [], cfg["embedding_dim"]
    for m in ["odin", *[k for k in models if "/" in k]]:
        s_in, acc = sc.score(m, test_in), sc.accuracy(m, test_in)
        for o, ds in oods.items():
            rows.append({"split": split_name, "dataset": DATASET[cfg["source"]], "method": m.split("/")[0], "ood": o,
                         "seed": seed, "status": "ok",
                         "accuracy": acc, **metric_row(s_in, sc.score(m, ds))})
    info = {"split": split_name, "seed": seed, "odin": odin, "n_train": len(tr), "n_test_in": len(test_in),
            "n_unseen": len(oods["tsinghua"]), "fit_seconds": {k: round(v.fit_seconds, 2) for k, v in models.items()},
            "networks": sorted(m.stored["file"] for m in models.values() if m.stored)}
    return rows, (_pca_points(sc, test_in, oods, d, seed=seed) if points else []), info


def run_page(cfg: dict) -> dict:
    with torch_threads(cfg["threads"]):
        return _run_page(cfg)


def _run_page(cfg: dict) -> dict:
    try:
        signs = load_signs(cfg)
    except DataNotFoundError as exc:
        rows = needs_rows("tsinghua", list(OODS), str(exc), methods=("odin",))
        return {"rows": pd.DataFrame(rows), "claims": tsinghua_claims(pd.DataFrame(rows)), "extra": {"note": str(exc)}}
    split = tt100k.protocol_split(signs["labels"], seed=cfg["split_seed"])
    # one unit of work per grouped-split seed and per random split (Table 4): on a Dask cluster when
    # $OODREPRO_SCHEDULER names one (oodrepro run --workers N), else one after another here
    units = [Unit(f"grouped split, seed {s}", run_split, (cfg, signs, split, s, "grouped", s == cfg["seeds"][0]))
             for s in cfg["seeds"]]
    units += [Unit(f"random split {k}", run_split, (cfg, signs, rs, cfg["seeds"][0], f"random{k}"))
              for k, rs in enumerate(tt100k.random_splits(signs["labels"], cfg["random_splits"],
                                                          seed=1000 + cfg["split_seed"]))]
    rows, pts, info = [], [], []
    with executor() as ex:
        for o in ex.run(units, progress=False):
            if not o.ok:
                info.append({"split": o.label, "error": o.error})
                continue
            r, p, i = o.value
            rows, pts, info = rows + r, pts + p, info + [i]
    if not rows:
        raise OodreproError("every split of odm/tsinghua failed: " + "; ".join(f"{i['split']}: {i['error']}" for i in info))
    rows = pd.DataFrame(rows)
    groups = pd.DataFrame([{"class": c, "group": g, "part": next(p for p in tt100k.PARTS if c in split[p])}
                           for c, g in split["groups"].items()])
    return {"rows": rows, "claims": tsinghua_claims(rows),
            "extra": {"note": signs["note"], "points": pts, "info": info, "split": groups.to_dict(orient="records"),
                      "networks": sorted({n for i in info for n in i.get("networks", [])}),
                      "n_signs": int(len(signs["labels"])), "n_classes": int(len(set(signs["labels"])))}}


# --- claims and page text ----------------------------------------------------------------------------------
def _pair(rows, a, b, ood, split="grouped"):
    """Per-seed AUROC of a − b on one OOD set of one split (Table 2: the grouped one)."""
    return method_diff(rows, a, b, ood, split=split)


def tsinghua_claims(rows: pd.DataFrame, page: str = "odm/tsinghua") -> list[dict]:
    """§4.2's sentences as claims on the grouped split, by per-seed AUROC differences."""
    def pv(m, o, seen=""):
        return 100 * paper_value("Table 2", "tsinghua", o, m, "auroc", seen)

    c = [odm_claim("odm-t2-ml-odin-novelty", "ML beats ODIN on Tsinghua novelty (AUROC)",
                f"{pv('ml', 'tsinghua'):.2f} vs {pv('odin', 'tsinghua'):.2f}", _pair(rows, "ml", "odin", "tsinghua"), page),
         odm_claim("odm-t2-ml-odin-background", "ML beats ODIN on background patches (AUROC)",
                f"{pv('ml', 'background'):.2f} vs {pv('odin', 'background'):.2f}",
                _pair(rows, "ml", "odin", "background"), page),
         odm_claim("odm-t2-odm-ml-novelty", "ODM with seen Tsinghua novelty beats ML on unseen novelty (AUROC)",
                f"{pv('odm', 'tsinghua', 'tsinghua'):.2f} vs {pv('ml', 'tsinghua'):.2f}",
                _pair(rows, "odm:tsinghua", "ml", "tsinghua"), page),
         odm_claim("odm-t2-odm-bg-background", "ODM with seen background beats ML on background (AUROC)",
                f"{pv('odm', 'background', 'background'):.2f} vs {pv('ml', 'background'):.2f}",
                _pair(rows, "odm:background", "ml", "background"), page)]
    return c


def summary(rows: pd.DataFrame, split: str = "grouped", table: str = "Table 2") -> pd.DataFrame:
    """Mean and sample sd over seeds (or random splits) per (method, ood) and metric, with the paper's value and
    Δ (:func:`~.paper.summary_by_metric`); ``split``: ``"grouped"`` or ``"random"`` (every random split)."""
    ok = rows[(rows.status == "ok")]
    ok = ok[ok.split == split] if split != "random" else ok[ok.split.str.startswith("random")]
    block = "tsinghua" if table == "Table 2" else "tsinghua_random"

    def paper_of(m, o, k):
        meth, _, seen = m.partition(":")
        return paper_value(table, block, "" if k == "accuracy" else o, meth, k, seen)
    return summary_by_metric(ok, ("accuracy", *METRICS_ODIN), paper_of, spread="sd").rename(columns={"n_seeds": "n"})


def wide(s: pd.DataFrame) -> pd.DataFrame:
    """Tables 2 and 4's layout: rows (method, OOD set), for each metric ours (mean, ± sd over runs when there
    are several) beside the paper's value and Δ, in % (:func:`report.beside_paper`)."""
    ours = [f"{100 * m:.2f}" + (f" ± {100 * d:.2f}" if n > 1 else "") for m, d, n in zip(s["mean"], s["sd"], s["n"])]
    return shown_wide(s, ours, LABELS)


def _gap(rows: pd.DataFrame) -> str:
    grouped = rows[rows["split"] == "grouped"] if "split" in rows else rows
    pt = PAPER_TSINGHUA_TRAINING
    return gap_sentence(grouped, "Table 2", "tsinghua", ("odin", "ml", "odm:tsinghua"), "tsinghua", LABELS,
                        f"a WRN-10-2 for the steps above on a CPU, not the paper's {pt['arch']} for {pt['steps']:,} steps")


def page_texts(doc: dict, cfg: dict) -> dict:
    rows = pd.DataFrame(doc["rows"])
    ok = (rows.status == "ok").any()
    arch = {"lenet5": "LeNet5 (a CPU stand-in for the paper's WRN-28-10)",
            "wrn10_2": "a CPU-sized WRN-10-2 (the paper: WRN-28-10)", "wrn28_10": "WRN-28-10, the paper's network"}
    n_train = next((i["n_train"] for i in doc.get("info", []) if i.get("split") == "grouped"), 0)
    r = train.resolve_recipe(cfg.get("recipe"), cfg["epochs"], cfg["batch_size"], cfg["lr"])
    steps, pt = r.total_steps(n_train) if n_train else 0, PAPER_TSINGHUA_TRAINING
    how = (f"recipe `{r.name}`: Adam, peak lr {r.lr:g} ({r.schedule} schedule), weight decay {r.weight_decay:g}"
           if cfg.get("recipe") else f"Adam lr {r.lr:g}")
    data_txt = (f"Data: {doc.get('note', '')}; {doc.get('n_signs', 0):,} signs of {doc.get('n_classes', 0)} classes. "
                f"Network: {arch[cfg['arch']]}, {cfg['embedding_dim']}-d embedding, {steps:,} steps of "
                f"{r.batch_size} in-distribution images, {how} (paper: {pt['arch']}, Adam lr {pt['lr']:g}, "
                f"{pt['steps']:,} steps; this run: {r.lr / pt['lr']:g}× the paper's learning rate for "
                f"{steps / pt['steps']:.1%} of its steps, to fit a CPU)."
                + (f" Why the recipe differs: {r.deviation}." if r.deviation else "") + " " + loss_sentence(cfg))
    left = [k for k in SEEN_KINDS if k not in cfg["seen_kinds"]]
    if left:
        data_txt += (f" ODM with seen {' and '.join(left)} was not trained in this run (`seen_kinds` = "
                     f"{', '.join(cfg['seen_kinds'])}), so the tables below leave out the paper's rows for it.")
    if cfg["source"] == "synthetic":
        data_txt = ("**This run uses a synthetic stand-in**, not TT100K: drawn signs written in TT100K's format and read "
                    "by the real loader, so the numbers show that the pipeline runs, not the paper's. " + data_txt)
    cap = ("{t}, ours beside the paper's, in %{sd}; Δ = ours − paper. Metrics as the paper computed them for Tables 2 and 4 (ODIN's "
           "definitions: FPR and detection error at 95 % TPR, in-distribution positive). The novelty test set is "
           "always the *unseen* 30 % of the groups; a network's '(seen: …)' names the kind of OOD it trained with.")
    t2 = report.styled(wide(summary(rows)), cap.format(t="Table 2", sd=""), profile=cfg.get("profile")) if ok else "No data on this machine."
    if ok and cfg["random_splits"] > 0:
        t4 = report.styled(wide(summary(rows, "random", "Table 4")),
                           cap.format(t=f"Table 4 ({cfg['random_splits']} random ungrouped splits)", sd=", mean ± sd over splits"), profile=cfg.get("profile"))
    else:
        t4 = ("Table 4's random ungrouped splits were not run here (`random_splits` = 0; the paper has 10, and each "
              f"trains all {2 + len(cfg['seen_kinds'])} networks of the grouped split again).")
    split = pd.DataFrame(doc.get("split", []))
    grp = (split.groupby(["part", "group"])["class"].apply(lambda c: ", ".join(sorted(c))).reset_index()
           if len(split) else pd.DataFrame())
    picks = "; ".join(f"{i['split']} split, seed {i['seed']}: T = {i['odin']['T']:g}, ε = {i['odin']['eps']:g}, "
                      f"{i['n_train']:,} training images" for i in doc.get("info", []) if "odin" in i)
    failed = [i for i in doc.get("info", []) if "error" in i]
    odin = (f"ODIN's T and ε were chosen on a validation split (10 % of the in-distribution training images against "
            f"10 % of the seen-OOD classes' images) by the smallest FPR at 95 % TPR over T ∈ {cfg['odin_temperatures']}, "
            f"ε ∈ {cfg['odin_epsilons']}: {picks or 'no run'}."
            + ("" if not failed else " **Failed and left out of the tables:** "
               + "; ".join(f"{i['split']} ({i['error']})" for i in failed) + "."))
    return {"data_md": Markdown(data_txt), "odin_md": Markdown(odin),
            "gap_md": Markdown(_gap(rows) if cfg["source"] != "synthetic" else ""), "tbl_t2": t2, "tbl_t4": t4,
            "tbl_split": report.styled(grp, "The grouped split: classes with ≥ 10 images, grouped by the table "
                                       "tt100k_groups.csv, groups split 50/20/30 % with the split seed.", index=False, profile=cfg.get("profile"))
            if len(grp) else "No split: no data."}


def figure3(points: pd.DataFrame):
    """Figure 3: 2-d PCA of the embeddings of ODM (seen Tsinghua) and ML, in vs each OOD set."""
    import matplotlib.pyplot as plt

    methods = [m for m in ("odm:tsinghua", "ml") if m in set(points.method)]
    fig, axes = plt.subplots(len(OODS), len(methods), figsize=(4.2 * len(methods), 3.4 * len(OODS)), squeeze=False)
    for j, m in enumerate(methods):
        for i, o in enumerate(OODS):
            ax, p = axes[i, j], points[(points.method == m) & (points.ood == o)]
            for grp, col in (("in", "tab:blue"), ("out", "tab:orange")):
                q = p[p.group == grp]
                ax.scatter(q.x, q.y, s=4, alpha=0.5, c=col, label="in-dist" if grp == "in" else LABELS[o])
            ax.set_title(f"{LABELS[m]}", fontsize=9)
            ax.legend(fontsize=7, markerscale=2)
    fig.tight_layout()
    return fig
