"""kpca's vocabulary (Fang et al., *Kernel PCA for Out-of-Distribution Detection*, IEEE TPAMI 2026,
arXiv:2505.15284): data sets, methods, the paper's blocks, and the parameters every kpca page shares."""
from __future__ import annotations

from ... import config, recipes
from ...config import Param
from ...detectors.kpca import m_memory_check
from ...engine import Paper
from ...engine.core import DERIVED

IN_DISTRIBUTION = ("mnist5k", "cifar10")
#: OOD sets of the CIFAR-10 block (App. B.2) that load as image folders ``<data root>/<name>/`` when present.
FOLDER_SETS = ("lsun", "isun", "textures", "places365")
OOD_NAMES = DERIVED + ("digits28", "heldout", "mnist", "fashion_mnist", "svhn", "tt100k", "tt100k_background")\
    + FOLDER_SETS
LABELS = {"hflip": "HFlip", "vflip": "VFlip", "gaussian": "Gaussian noise", "uniform": "Uniform noise",
          "digits28": "sklearn digits (28×28)", "heldout": "held-out classes 8, 9", "mnist": "MNIST (32×32 RGB)",
          "fashion_mnist": "Fashion-MNIST (32×32 RGB)", "svhn": "SVHN", "tt100k": "TT100K sign crops",
          "tt100k_background": "TT100K background patches", "lsun": "LSUN", "isun": "iSUN", "textures": "Textures",
          "places365": "Places365", "mnist5k": "MNIST (5k sample)", "cifar10": "CIFAR-10",
          "imagenet": "ImageNet-1K", "average": "average"}
METHOD_LABELS = {
    "msp": "MSP", "maxlogit": "MaxLogit", "energy": "Energy", "odin": "ODIN", "mahalanobis": "Mahalanobis",
    "vim": "ViM", "knn": "KNN", "react": "ReAct", "pca": "PCA", "cosine": "Cosine (PCA on z/‖z‖)",
    "kpca_rff": "KPCA_rff", "kpca_nys": "KPCA_nys", "kpca_rff_react": "KPCA_rff+ReAct",
    "kpca_nys_react": "KPCA_nys+ReAct"}
PAPER_BLOCK = {"mnist5k": "cifar10", "cifar10": "cifar10"}


def data_note(in_name: str, cfg: dict) -> str:
    if in_name == "mnist5k":
        return (f" (ours: {cfg.get('mnist_arch', 'mlp')} features of a 4,000-image MNIST sample; "
                "the paper: ResNet18 on CIFAR-10)")
    return f" (ours: {cfg.get('arch', 'resnet_small')} on the CIFAR-10 JPEG copy)"


PAPER = Paper("kpca", LABELS, METHOD_LABELS, PAPER_BLOCK, IN_DISTRIBUTION, OOD_NAMES, data_note)

QUICK_PAIRINGS = ["mnist5k->hflip", "mnist5k->vflip", "mnist5k->digits28", "mnist5k->gaussian",
                  "mnist5k->uniform"]
CIFAR_PAIRINGS = ["cifar10->svhn", "cifar10->lsun", "cifar10->isun", "cifar10->textures", "cifar10->places365",
                  "cifar10->tt100k", "cifar10->tt100k_background", "cifar10->mnist", "cifar10->fashion_mnist",
                  "cifar10->gaussian"]


def pairings_param() -> Param:
    return Param("pairings", "strs", "'IN->OOD' pairs; IN is mnist5k (embedded) or cifar10 (needs data)",
                 min_len=1, check=PAPER.check_pairings)


def _positive(v):
    """A schema check: None for a positive value, else the message."""
    return None if v is None or v > 0 else f"{v!r} is not accepted; use a number > 0"


def common_params() -> list[Param]:
    """Parameters every kpca page shares: features (source, model, training) and the kernel's defaults."""
    return [
        config.seeds_param(),
        Param("mnist_arch", "str", "network on mnist5k: mlp (3 × 256, shared with the knn-ls chapter's cached "
              "models) or lenet5 (a small CNN)", choices=("mlp", "lenet5")),
        Param("arch", "str", "CIFAR-10 backbone (the paper's: resnet18; speednet_wide, airbench94's net widened, "
              "reaches 91 % on a CPU; speednet is airbench94's own; resnet_small is a small ResNet)",
              choices=("resnet_small", "speednet", "speednet_wide", "resnet18")),
        Param("recipe", "str", "training recipe (oodrepro.recipes); None = Adam at lr for epochs", allow_none=True,
              choices=tuple(recipes.RECIPES)),
        Param("epochs", "int", "training epochs of the feature network; None = 20 (MLP), 10 (LeNet5), 15 (ResNets)",
              low=1, allow_none=True, check=config.recipe_check("epochs")),
        Param("batch_size", "int", "training batch size; None = the recipe's", low=1, allow_none=True),
        Param("lr", "float", "learning rate; None = the recipe's", low=1e-8, high=10.0, allow_none=True),
        Param("max_train", "int", "use at most this many training images (stratified); None = all",
              low=100, allow_none=True),
        Param("gamma", "float", "kernel width γ > 0 of the Gaussian (scikit-learn's convention; paper's CIFAR-10: 2)",
              check=_positive),
        Param("n_components", "int", "M random features / m Nyström landmarks", low=1, check=m_memory_check),
        Param("rff_layout", "str", "Gaussian RFF draw: ours (scikit-learn's RBFSampler, normals shaped (D, M)) or "
              "authors (their code: the same seed-0 normals shaped (M, D), so seed 0 gives their features)",
              choices=("ours", "authors")),
        Param("evr", "float", "explained-variance threshold in (0, 1] that sets q", high=1, check=_positive),
        Param("data_root", "str", "root of real data sets; None = $OODREPRO_DATA_ROOT", allow_none=True),
        Param("device", "str", "torch device", choices=("auto", "cpu", "cuda")),
        Param("results_dir", "str", "where result files are written"),
    ]


_BASE = dict(mnist_arch="mlp", arch="resnet_small", recipe=None, epochs=None, batch_size=128, lr=1e-3, max_train=None,
             gamma=2.0, n_components=1024, rff_layout="ours", evr=0.8, data_root=None, device="auto", results_dir="results")
SMOKE = dict(_BASE, seeds=[0], epochs=2, max_train=1000, n_components=256, device="cpu",
             pairings=["mnist5k->hflip", "mnist5k->gaussian"])
QUICK = dict(_BASE, seeds=[0, 1, 2], n_components=512, pairings=QUICK_PAIRINGS)
#: the paper profile's CIFAR-10 network: airbench94's net widened to 96 / 384 / 384 channels, with its recipe
#: (stored under checkpoints/, three seeds): 91.2 % test accuracy with airbench's test-time augmentation, where
#: the 64 / 256 / 256 original reached 90.7 % on the JPEG copy (docs/lab-log.md)
PAPER_PROFILE = dict(_BASE, seeds=[0, 1, 2], n_components=2048, pairings=CIFAR_PAIRINGS, arch="speednet_wide",
                     recipe="cifar_speedrun", batch_size=None, lr=None)
