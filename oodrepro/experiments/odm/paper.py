"""odm's vocabulary (Masana, Ruiz, Serrat, van de Weijer, López, *Metric Learning for Novelty and Anomaly
Detection*, BMVC 2018): method and data labels, the reference lookups (the paper prints percentages),
and the parameters its pages share."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ... import config, recipes, reference, report
from ...train import torch_threads
from ...config import Param
from ...errors import ParameterError
from . import losses
from ...engine.claims import paired_claim, paired_difference, summarise

#: Method labels as the paper prints them.
METHOD_LABELS = {"ce": "CE (max softmax)", "ce_ncm": "CE (nearest class mean of the logits)", "odin": "ODIN",
                 "ccag": "CC (seen OOD)", "ml": "Ours - ML", "odm": "Ours - ODM"}
#: Our CC-AG stand-in, said on every page that shows it.
CCAG_NOTE = ("CC = Lee et al.'s confidence loss trained with seen OOD samples in place of CC-AG's GAN "
             "generator (no GAN is trained here)")
#: OOD set labels.
LABELS = {"novelty": "Novelty (5, 9, 1)", "gaussian": "Gaussian noise", "digits28": "sklearn digits",
          "cifar10": "CIFAR-10", "svhn": "SVHN", "tsinghua": "Tsinghua", "background": "Background",
          "noise": "Noise", "tiny_imagenet": "TinyImageNet", "lsun": "LSUN", "": "in-dist accuracy"}
#: The five metrics of Tables 2–4 (ODIN's definitions, in-distribution positive) and of Table 1 (CC-AG's code).
METRICS_ODIN = ("fpr95", "detection_error", "auroc", "aupr_in", "aupr_out")
METRICS_CCAG = ("tnr95", "detection_accuracy", "auroc", "aupr_in", "aupr_out")
METRIC_LABELS = {"fpr95": "FPR at 95% TPR", "detection_error": "Detection error", "auroc": "AUROC",
                 "aupr_in": "AUPR-in", "aupr_out": "AUPR-out", "tnr95": "TNR at 95% TPR",
                 "detection_accuracy": "Detection accuracy", "accuracy": "Accuracy"}


def shown_wide(s: pd.DataFrame, ours, labels: dict) -> pd.DataFrame:
    """A summary (method, ood, metric; mean, paper, delta as fractions) as the pages show it: rows (method, OOD
    set) labelled, for each metric (the paper's order, accuracy first) ``ours`` (display strings) beside the
    paper's value and Δ, in % (:func:`oodrepro.report.beside_paper`)."""
    long = pd.DataFrame({"method": [labels.get(m, m) for m in s["method"]],
                         "OOD set": [labels.get(o, o) for o in s["ood"]],
                         "metric": [f"{METRIC_LABELS[k]} (%)" for k in s["metric"]], "ours": list(ours),
                         "paper": 100 * s["paper"].to_numpy(dtype=float),
                         "delta": 100 * s["delta"].to_numpy(dtype=float)})
    order = [f"{METRIC_LABELS[k]} (%)" for k in ("accuracy", *METRICS_ODIN) if k in set(s["metric"])]
    return report.beside_paper(long, ["method", "OOD set"], "metric", digits=2, order=order)


def paper_value(table: str, in_dist: str, ood: str, method: str, metric: str, seen: str = "") -> float:
    """The paper's value as a fraction (the paper prints %), NaN where it has none."""
    df = reference.table("odm", table)
    df = df[(df.in_dist == in_dist) & (df.ood.fillna("") == ood) & (df.method == method)
            & (df.metric == metric) & (df.seen.fillna("") == seen)]
    return float(df["value"].iloc[0]) / 100 if len(df) == 1 else np.nan


def training_params() -> list[Param]:
    """The parameters every odm page shares (seeds, embedding, margin, training, data, device, results)."""
    return [
        config.seeds_param(),
        Param("embedding_dim", "int", "size of the metric-learned embedding", low=1),
        Param("margin", "float", "contrastive margin m (authors' code: 10)", low=1e-6),
        Param("squared", "bool", "True: Eq. 1 (squared distance); False: the authors' code (unsquared)"),
        Param("pairs", "str", "pairs of the contrastive loss: sampled (half the batch as anchors, partners inside the "
              "batch), all (every pair of the batch, weighted to the authors' proportions) or authors (partners from "
              "the anchor's whole class, seen OOD replacing a quarter of every second batch: the authors' code)",
              choices=losses.PAIRING_CHOICES),
        Param("ml_steps", "int", "optimiser steps of the ML and ODM networks (the CE network keeps the recipe's); "
              "None = the recipe's", low=1, allow_none=True),
        Param("hinge_mean", "str", "Eq. 1's hinge averaged over every 'different' pair (all, the authors') or over "
              "those inside the margin (active, ours; needs pairs='all')", choices=losses.HINGE_MEANS),
        Param("recipe", "str", "training recipe (oodrepro.recipes) without label smoothing (odm's losses are not "
              "plain cross-entropy); None = Adam at lr for epochs", allow_none=True,
              choices=tuple(n for n, r in recipes.RECIPES.items() if not r.label_smoothing)),
        Param("epochs", "int", "training epochs of every network; None = the recipe's", low=1, allow_none=True,
              check=config.recipe_check("epochs")),
        Param("batch_size", "int", "training batch size (images of in-distribution per batch); None = the recipe's",
              low=2, allow_none=True),
        Param("lr", "float", "learning rate; None = the recipe's", low=1e-8, high=1.0, allow_none=True),
        Param("odin_temperatures", "floats", "ODIN's temperature grid (tuned on the validation split)", low=1.0,
              min_len=1),
        Param("odin_epsilons", "floats", "ODIN's perturbation grid (tuned on the validation split)", low=0.0,
              high=1.0, min_len=1),
        Param("data_root", "str", "root of real data sets; None = $OODREPRO_DATA_ROOT", allow_none=True),
        Param("device", "str", "torch device", choices=("auto", "cpu", "cuda")),
        Param("threads", "int", "torch CPU threads while the page scores (training is pinned to "
              "$OODREPRO_TRAIN_THREADS, default 1); None = torch's default", low=1, high=1024, allow_none=True),
        Param("results_dir", "str", "where result files are written"),
    ]


def loss_sentence(cfg: dict) -> str:
    """One sentence on the contrastive loss a run trained ML and ODM with, and where it departs from the paper's."""
    pairs = {"all": "every pair of the batch, each kind weighted to the authors' proportions",
             "authors": "pairs laid out as the authors' code lays them out (each anchor's partner drawn from its whole "
                        "class or from the other classes, seen OOD replacing a quarter of every second batch)"}.get(
        cfg.get("pairs"), "half the batch as anchors, each with one partner inside the batch (the authors pair the "
                          "whole class)")
    hinge = (", the hinge averaged over the pairs inside the margin (ours: the authors average over every pair, "
             "which lets the few pairs of look-alike classes fade among the many already apart)"
             if cfg.get("hinge_mean") == "active" else "")
    eq = "Eq. 1 (squared distances)" if cfg.get("squared", True) else "the authors' code's unsquared variant of Eq. 1"
    steps = f" They train for {cfg['ml_steps']:,} steps (the CE network: the recipe's)." if cfg.get("ml_steps") else ""
    return f"ML and ODM minimise {eq} with margin {cfg['margin']:g} over {pairs}{hinge}.{steps}"


def check_loss(cfg: dict) -> dict:
    """The schema's cross-parameter checks (``Schema.derived``): the hinge averaged over the active pairs is
    defined over every pair of the batch only."""
    if cfg.get("hinge_mean") == "active" and cfg.get("pairs") != "all":
        raise ParameterError(f"parameter 'hinge_mean' = 'active' needs pairs = 'all' (every pair of the batch), got "
                             f"pairs = {cfg.get('pairs')!r}; set -p pairs all, or hinge_mean all")
    return {}


#: Smallest AUROC difference an odm claim counts (with one seed the s.e. is 0, so this alone guards against noise).
MIN_EFFECT = 0.01
CLAIM_RULE = f"per-seed paired AUROC differences; reproduced if the mean exceeds {MIN_EFFECT:g} by more than 2 s.e."


def odm_claim(claim_id: str, text: str, paper_text: str, diffs: np.ndarray, page: str) -> dict:
    """An odm claim "A beats B": :func:`oodrepro.engine.claims.paired_claim` with the margin :data:`MIN_EFFECT`."""
    return paired_claim(claim_id, text, paper_text, diffs, page, margin=MIN_EFFECT, why=CLAIM_RULE)


def method_diff(rows: pd.DataFrame, a: str, b: str, ood: str, metric: str = "auroc", **where) -> np.ndarray:
    """Per-seed ``metric`` of method a − method b on one OOD set (and the rows matching ``where``)."""
    return paired_difference(rows, a, b, metric, ood=ood, **where)


def summary_by_metric(rows: pd.DataFrame, names, paper_of, spread: str = "se") -> pd.DataFrame:
    """The engine's :func:`~oodrepro.engine.summarise` per (method, OOD set) for each metric of ``names``, in
    long format (columns method, ood, metric, mean, ``spread``, n_seeds, paper, delta; groups in the order the
    rows first show them, metrics in ``names``' order). ``paper_of(method, ood, metric)``: the paper's value
    (a fraction) or NaN."""
    ok = rows[rows.status == "ok"]
    parts = []
    for i, k in enumerate(names):
        s = summarise(ok, None, k, by=("method", "ood"), spread=spread,
                      value=lambda g, k=k: paper_of(g["method"], g["ood"], k))
        parts.append(s.assign(metric=k, _metric=i, _group=range(len(s))))
    out = pd.concat(parts, ignore_index=True).sort_values(["_group", "_metric"], kind="stable")
    return out[["method", "ood", "metric", "mean", spread, "n_seeds", "paper", "delta"]].reset_index(drop=True)


def gap_sentence(rows: pd.DataFrame, table: str, block: str, methods, novelty: str, labels: dict, training: str,
                 seen: dict | None = None) -> str:
    """"Where ours differ, and why we think so": per method of ``methods`` present in ``rows``, our novelty AUROC
    (``novelty``: the OOD set) against the paper's ``table`` value, and our accuracy on the known classes against
    the paper's; then the reason we think most likely. If the gap grows as the accuracy falls behind the paper's,
    training (``training`` says how ours differs); otherwise not training alone, with the spread of the novelty
    AUROC between our seeds when there are several. A method is ``name`` or ``name:seen kind``; ``seen`` maps a
    name to the paper's seen-OOD tag where the kind is not written in it."""
    g = rows[rows.status == "ok"] if len(rows) else rows
    if g.empty or "auroc" not in g:
        return ""
    parts, pairs, spread, beyond = [], [], [], []
    for m in [m for m in methods if m in set(g.method)]:
        meth, _, kind = m.partition(":")
        tag = (seen or {}).get(meth, kind)
        r = g[(g.method == m) & (g.ood == novelty)]
        p_auc = paper_value(table, block, novelty, meth, "auroc", tag)
        p_acc = paper_value(table, block, "", meth, "accuracy", tag)
        sd = float(r.auroc.std(ddof=1)) if len(r) > 1 else float("nan")
        parts.append(f"{labels[m]}: novelty AUROC {100 * r.auroc.mean():.2f}"
                     + (f" (sd {100 * sd:.2f} over {len(r)} seeds)" if len(r) > 1 else "")
                     + f" against {100 * p_auc:.2f} (Δ {100 * (r.auroc.mean() - p_auc):+.2f}), accuracy on the known "
                     f"classes {100 * r.accuracy.mean():.2f} % against {100 * p_acc:.2f} %")
        pairs.append((r.accuracy.mean() - p_acc, r.auroc.mean() - p_auc))
        spread.append(sd)
        if np.isfinite(sd) and abs(r.auroc.mean() - p_auc) > 2 * sd:
            beyond.append(labels[m])
    order = [b for _, b in sorted(pairs)]
    follows = len(pairs) > 1 and all(x <= y for x, y in zip(order, order[1:]))
    if follows:
        why = ("The gap on novelty grows as the network's accuracy falls behind the paper's: an embedding that "
               "separates the known classes less cleanly also leaves less room between them and the unseen ones, so "
               f"we put the gap down mostly to training — {training}.")
    else:
        why = "The gap on novelty does not follow the networks' accuracy here, so training alone does not explain it."
        if any(np.isfinite(spread)):
            why += (f" Between our seeds the novelty AUROC of one method varies by up to {100 * np.nanmax(spread):.2f} "
                    "points (sample sd): a single run can land that far from the mean.")
            why += (f" The gap of {', '.join(beyond)} is more than twice our seeds' sd, so a seed does not explain it "
                    "either; we have not measured its cause." if beyond else
                    " Every gap here is within twice that sd: what a seed changes.")
    return "**Where ours differ, and why we think so.** " + "; ".join(parts) + ". " + why


#: How the paper trains its Tsinghua network (§4.2): what the page sets our profile's training beside.
PAPER_TSINGHUA_TRAINING = {"arch": "WRN-28-10", "lr": 1e-4, "steps": 10_000}

ODIN_T = [1.0, 10.0, 100.0, 1000.0]
ODIN_EPS = [0.0, 0.0005, 0.001, 0.002, 0.004]
#: ODIN's own grid (Liang et al. 2018, §4): T in {1, 2, 5, …, 1000}, 21 ε from 0 to 0.004.
ODIN_T_PAPER = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0]
ODIN_EPS_PAPER = [round(0.0002 * i, 4) for i in range(21)]
BASE = dict(margin=10.0, squared=True, pairs="sampled", hinge_mean="all", ml_steps=None, recipe=None, lr=1e-3, odin_temperatures=ODIN_T, odin_epsilons=ODIN_EPS, data_root=None,
            device="auto", threads=1, results_dir="results")
