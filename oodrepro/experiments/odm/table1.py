"""odm's Table 1 (§4.1): SVHN ↔ CIFAR-10 on the authors' VGG (10 conv + 2 FC), each set in turn
in-distribution with the other as seen OOD; tested on the seen set, TinyImageNet, LSUN and Gaussian noise.
ODIN, CC (our seen-OOD stand-in for CC-AG) and ODM (10-d embedding, margin 10), with the metric
definitions of the CC-AG evaluation code the paper used (:data:`oodrepro.metrics.AUTHORS`).

SVHN, TinyImageNet and LSUN are not on this machine: their rows read *needs data*, and since every block
needs SVHN (as in-distribution or as seen OOD), so does the whole table here."""
from __future__ import annotations

import numpy as np
import pandas as pd
from IPython.display import Markdown

from ... import config, data, report
from ...config import Param, Schema
from ...data.core import gaussian_noise
from ...engine.core import needs_rows
from ...errors import DataNotFoundError
from .methods import Scorer, metric_row, seed_contexts, split_validation, train_models, tune_odin
from .paper import (BASE, check_loss, CCAG_NOTE, LABELS, METHOD_LABELS, METRIC_LABELS, METRICS_CCAG, method_diff, odm_claim,
                    paper_value, torch_threads, training_params)

BLOCKS = {"svhn": "cifar10", "cifar10": "svhn"}
TESTS = ("tiny_imagenet", "lsun", "gaussian")
#: Data sets the package has no loader for yet (TinyImageNet, LSUN): always *needs data*.
NO_LOADER = {"tiny_imagenet": "TinyImageNet", "lsun": "LSUN"}

SCHEMA = config.register(Schema(
    name="odm.table1",
    params=[Param("in_dists", "strs", "in-distribution sets (each trains with the other as seen OOD)",
                  choices=tuple(BLOCKS), min_len=1),
            Param("max_train", "int", "cap on training images per set (None = all)", low=100, allow_none=True),
            *training_params()],
    profiles={
        "smoke": dict(BASE, in_dists=["svhn"], max_train=500, seeds=[0], embedding_dim=10, epochs=1, batch_size=128,
                      device="cpu", odin_temperatures=[1000.0], odin_epsilons=[0.0]),
        "quick": dict(BASE, in_dists=list(BLOCKS), max_train=5000, seeds=[0], embedding_dim=10, epochs=5,
                      batch_size=128),
        "paper": dict(BASE, in_dists=list(BLOCKS), max_train=None, seeds=[0], embedding_dim=10, epochs=100,
                      batch_size=128, lr=1e-4),
    },
    derived=check_loss,
))


def _load(name: str, split: str, cfg: dict, cap: int | None = None) -> data.Dataset:
    if name in NO_LOADER:
        raise DataNotFoundError(name, f"a {NO_LOADER[name]} copy", "odm's Table 1 test set; not on this machine")
    ds = data.load(name, split, root=cfg["data_root"])
    if cap and len(ds) > cap:
        ds = ds.subset(np.random.default_rng(0).permutation(len(ds))[:cap])
    return ds


def run_block(in_name: str, cfg: dict) -> list[dict]:
    """Rows of one in-distribution set (every seed), or *needs data* rows."""
    seen_name, oods_all = BLOCKS[in_name], [BLOCKS[in_name], *TESTS]
    try:
        tr_all = _load(in_name, "train", cfg, cfg["max_train"])
        test_in = _load(in_name, "test", cfg)
        seen_all = _load(seen_name, "train", cfg, cfg["max_train"])
    except DataNotFoundError as exc:
        return needs_rows(in_name, oods_all, str(exc), methods=("odin", "ccag", "odm"))
    oods, rows = {"gaussian": gaussian_noise(test_in)}, []
    for o in oods_all[:-1]:
        try:
            oods[o] = _load(o, "test", cfg)
        except DataNotFoundError as exc:
            rows += needs_rows(in_name, [o], str(exc), methods=("odin", "ccag", "odm"))
    tr, val = split_validation(tr_all, 0.1)
    seen_tr, seen_val = split_validation(seen_all.subset(np.arange(len(seen_all))), 0.1)
    for ctx, sets in seed_contexts("vgg_odm", tr, test_in, oods, cfg):
        seed, models = ctx.seed, train_models(ctx, seen_tr, cfg)
        sc = Scorer(ctx, models, tune_odin(ctx, models["ce"], val, seen_val, cfg["odin_temperatures"],
                                           cfg["odin_epsilons"]))
        for m in ("odin", "ccag", f"odm/{cfg['embedding_dim']}"):
            s_in, acc = sc.score(m, test_in), sc.accuracy(m, test_in)
            rows += [{"in_dist": in_name, "ood": o, "method": m.split("/")[0], "seed": seed, "status": "ok",
                      "accuracy": acc, **metric_row(s_in, sc.score(m, ds), "authors")} for o, ds in sets.items()]
    return rows


def table1_claims(rows: pd.DataFrame, page: str = "odm/table1") -> list[dict]:
    """§4.1's sentences: ODM (like CC-AG) is near perfect on the seen distribution where ODIN is not, and ODM
    is never the worst performer on the unseen sets (here: ODM beats the worse of ODIN and CC), by AUROC."""
    out = []
    for i, seen in BLOCKS.items():
        r = rows[rows.in_dist == i]
        p = [100 * paper_value("Table 1", i, seen, m, "auroc", "" if m == "odin" else seen) for m in ("odm", "odin")]
        out.append(odm_claim(f"odm-t1-odm-odin-{i}", f"ODM beats ODIN on the seen {LABELS[seen]} ({LABELS[i]} in, AUROC)",
                          f"{p[0]:.1f} vs {p[1]:.1f}", method_diff(r, "odm", "odin", seen), page))
        for o in TESTS:
            worst = _worse(r, o)
            out.append(odm_claim(f"odm-t1-not-worst-{i}-{o}", f"ODM is not the worst of ODIN / CC / ODM on {LABELS[o]} "
                              f"({LABELS[i]} in, AUROC)", "ODM never the worst (§4.1)", worst, page))
    return out


def _worse(rows: pd.DataFrame, ood: str) -> np.ndarray:
    """Per-seed AUROC of ODM minus the worse of ODIN and CC."""
    a, b = method_diff(rows, "odm", "odin", ood), method_diff(rows, "odm", "ccag", ood)
    return np.minimum(a, b) if a.size and a.size == b.size else np.array([])


def run_page(cfg: dict) -> dict:
    with torch_threads(cfg["threads"]):
        rows = pd.DataFrame([r for i in cfg["in_dists"] for r in run_block(i, cfg)])
    return {"rows": rows, "claims": table1_claims(rows)}


def table1_wide(rows: pd.DataFrame) -> pd.DataFrame:
    """Table 1's layout: (in, OOD) rows, 'ODIN / CC / ODM' per metric, ours (paper) in %, or *needs data*."""
    out = []
    for (i, o), g in rows.groupby(["in_dist", "ood"], sort=False):
        rec = {"in-dist": LABELS.get(i, i.upper()), "out-dist": LABELS.get(o, o) + ("*" if o == BLOCKS[i] else "")}
        for k in METRICS_CCAG:
            cells = []
            for m in ("odin", "ccag", "odm"):
                gm = g[(g.method == m) & (g.status == "ok")]
                ours = f"{100 * gm[k].mean():.1f}" if len(gm) else "needs data"
                p = paper_value("Table 1", i, o, m, k, "" if m == "odin" else BLOCKS[i])
                cells.append(ours if np.isnan(p) else f"{ours} ({100 * p:.1f})")
            rec[METRIC_LABELS[k] + " % (ODIN / CC / ODM)"] = " / ".join(cells)
        out.append(rec)
    return pd.DataFrame(out)


def page_texts(doc: dict, cfg: dict) -> dict:
    rows = pd.DataFrame(doc["rows"])
    need = rows[rows.status == "needs data"]
    why = sorted(set(need["why"])) if len(need) else []
    cap = ("Table 1, ours (paper in brackets), in %; * = the seen distribution. Metrics as the paper's Table 1 "
           "computed them: the CC-AG evaluation code's definitions (TNR averaged over TPR ∈ [0.94, 0.96], detection "
           f"accuracy at the best threshold, AUROC with ties counted 0, class-balanced AUPR). {CCAG_NOTE}.")
    txt = (f"{len(need)} of {len(rows)} rows read *needs data*: " + "; ".join(why)) if why else "Every row has data."
    return {"data_md": Markdown(txt), "tbl_t1": report.styled(table1_wide(rows), cap, index=False, profile=cfg.get("profile")),
            "methods_md": Markdown(", ".join(f"{k} = {v}" for k, v in METHOD_LABELS.items()))}
