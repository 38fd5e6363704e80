"""The example chapter's page: schema, runner, claim and page text."""
import pandas as pd

from oodrepro import config, metrics, report, results
from oodrepro.config import Param, Schema
from oodrepro.engine import contexts, method_scores, needs_rows, summarise

from .methods import KNN
from .paper import MODELS, PAPER

_BASE = dict(pairings=["mnist5k->hflip", "mnist5k->gaussian"], k=1, epochs=None, batch_size=128, lr=1e-3,
             max_train=None, data_root=None, device="cpu", recipe=None, layers=None, results_dir="results")
SCHEMA = config.register(Schema(name="toy.page", params=[
    Param("pairings", "strs", "rows 'IN->OOD'", min_len=1, check=PAPER.check_pairings),
    config.seeds_param(),
    Param("k", "int", "which neighbour's distance", low=1),
    Param("epochs", "int", "training epochs; None = 20", low=1, allow_none=True),
    Param("batch_size", "int", "training batch size", low=1),
    Param("lr", "float", "Adam learning rate", low=1e-8, high=1.0),
    Param("max_train", "int", "at most this many training images", low=20, allow_none=True),
    Param("data_root", "str", "root of real data sets", allow_none=True),
    Param("device", "str", "torch device", choices=("auto", "cpu", "cuda")),
    Param("recipe", "str", "training recipe", allow_none=True),
    Param("layers", "ints", "layer depths", high=0, min_len=1, allow_none=True),
    Param("results_dir", "str", "where result files are written")],
    profiles={"smoke": dict(_BASE, seeds=[0, 1], epochs=1, max_train=300),
              "quick": dict(_BASE, seeds=[0, 1, 2])}))


def run_page(cfg: dict) -> dict:
    rows = []
    for in_name, oods, ctx, sets, missing in contexts(PAPER, MODELS, cfg, progress=False):
        for o, why in missing.items():
            rows += needs_rows(in_name, [o], why, methods=("knn",))
        if ctx is None:
            continue
        s_in = method_scores(ctx, KNN, ctx.in_test, {"k": cfg["k"]})
        for o, ds in sets.items():
            auroc = metrics.evaluate(s_in, method_scores(ctx, KNN, ds, {"k": cfg["k"]}), ("auroc",))["auroc"]
            rows.append({"in_dist": in_name, "ood": o, "method": "knn", "seed": ctx.seed, "status": "ok",
                         "auroc": auroc})
    rows = pd.DataFrame(rows)
    return {"rows": rows, "claims": [flip_claim(rows)]}


def flip_claim(rows: pd.DataFrame) -> dict:
    """The made-up paper's claim: k-NN separates MNIST from its horizontal flip (AUROC above 0.6)."""
    s = summarise(rows, PAPER, "auroc", paper_table="Table 1")
    s = s[(s.ood == "hflip") & (s.status == "ok")]
    if s.empty:
        return results.claim("knn-flip", "k-NN separates MNIST from HFlip", "0.900", "", "needs data", page="toy/page")
    m = float(s["mean"].iloc[0])
    return results.claim("knn-flip", "k-NN separates MNIST from HFlip (AUROC > 0.6)", "0.900", f"{m:.3f}",
                         "reproduced" if m > 0.6 else "not reproduced", why="mean AUROC over seeds > 0.6",
                         page="toy/page")


def page_texts(doc: dict, cfg: dict) -> dict:
    s = summarise(pd.DataFrame(doc["rows"]), PAPER, "auroc", paper_table="Table 1")
    return {"tbl_auroc": report.styled(s[["ood", "mean", "se", "paper", "delta"]].rename(columns={
        "ood": "OOD set", "mean": "AUROC, ours", "se": "± s.e.", "paper": "AUROC, paper", "delta": "Δ"}),
        "AUROC of the k-NN distance, ours beside the made-up paper's.", index=False)}
