"""Feature sources of the kpca chapter: penultimate features z and logits of a classifier, for its
training set, its test set and OOD sets. One function per source, all cached on disk:

* :func:`network_features` — a network this package trains (:func:`oodrepro.train.fit`, cached) and
  embeds (:func:`oodrepro.embed.embed`, cached): ``mnist5k`` → the knn-ls chapter's 3 × 256 MLP
  (``mnist_arch="mlp"``, cross-entropy, 20 epochs: the very models that chapter caches, so the book
  trains them once) or LeNet5 (``mnist_arch="lenet5"``, a small CNN) on the embedded 4,000-image MNIST
  sample (the quick profile, offline); ``cifar10`` → a CIFAR ResNet (``arch``: ``resnet_small`` for a
  CPU, ``resnet18`` the paper's) on the CIFAR-10 JPEG copy under the data root;
* :func:`torchvision_features` — a torchvision backbone (ResNet50, MobileNetV2, ViT-B/16; the paper's
  ImageNet models) over an ImageNet-style image folder; pretrained weights when they can be had,
  random weights otherwise (offline tests);
* :func:`bank_features` — a feature bank the reader brings: ``(N, D)`` ``.npy`` / ``.npz`` or a raw
  float32 memmap (how the authors store theirs), read without loading it whole.

Missing data never stops a run: an OOD set that is not on this machine is returned in ``missing``
with the loader's one-line reason (the pages turn it into *needs data* rows).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ... import cache, data, train
from ...engine import Context, ModelSpec, contexts
from ...engine.core import DERIVED, Memo, load_in
from ...errors import DataNotFoundError, DataFormatError, ParameterError
from ...fingerprint import fingerprint
from . import nets
from .paper import FOLDER_SETS, PAPER

#: Default epochs: the MLP (knn-ls §4.1's 20, so its models are shared) or LeNet5 for 28×28 grey images
#: (``mnist_arch``); the CIFAR ResNets for 32×32 colour ones (``arch`` picks which).
MODELS = {"mlp": 20, "lenet5": 10, "resnet_small": 15, "resnet18": 15, "speednet": None, "speednet_wide": None}
HELDOUT = (8, 9)


@dataclass
class Features:
    """Penultimate features and logits: ``train``/``test`` (in-distribution) and ``ood[name]``, each a
    pair ``(z (N, D) float32, logits (N, C) or None)``; ``weight``, ``bias``: the last linear layer
    (for ReAct, ViM and the "+ReAct" fusions), or None; ``missing``: OOD set → why it is absent."""

    source: str
    train: tuple
    test: tuple
    ood: dict = field(default_factory=dict)
    missing: dict = field(default_factory=dict)
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    test_acc: float = float("nan")
    y_train: np.ndarray | None = None

    @property
    def dim(self) -> int:
        return int(self.train[0].shape[1])


def load_ood_set(name: str, in_name: str, in_test: data.Dataset, cfg: dict, seed: int) -> data.Dataset:
    """OOD set ``name`` shaped like ``in_test`` (the engine's ``ood_loader``): derived shifts, embedded /
    torchvision sets, the held-out classes 8 and 9 of ``in_test``, TT100K's crops and background patches, or
    an image folder ``<root>/<name>/`` (LSUN, iSUN, Textures, Places365)."""
    c, h, root = in_test.shape[0], in_test.shape[1], cfg["data_root"]
    if name in DERIVED:
        return data.load(f"{in_name}:{name}", "test", root=root, seed=seed)
    if name == "heldout":
        return in_test.subset(np.flatnonzero(np.isin(in_test.y, HELDOUT)), name="heldout")
    base = data.data_root(root)
    if name in ("tt100k", "tt100k_background") + FOLDER_SETS:
        sub = {"tt100k": "TT100K_Cropped/tt100k_cropped_test_32x32.npz",
               "tt100k_background": "TT100K_Cropped/tt100k_background_256.zip"}.get(name, name)
        if base is None:
            raise DataNotFoundError(name, f"$OODREPRO_DATA_ROOT/{sub}", "Set OODREPRO_DATA_ROOT")
        if name == "tt100k":
            return data.conform(data.array_bundle(base / sub, name=name), c, h)
        return data.image_folder(base / sub, size=h, channels=c, name=name)
    return data.conform(data.load(name, "test", root=root), c, h)


def without_heldout(in_name: str, oods, train_set: data.Dataset) -> data.Dataset:
    """The training set of ``mnist5k`` without classes 8 and 9 when they are an OOD set (``"heldout"``)."""
    if in_name == "mnist5k" and "heldout" in oods:
        return train_set.subset(np.flatnonzero(~np.isin(train_set.y, HELDOUT)), name=f"{train_set.name}[no 8,9]")
    return train_set


def model_spec(cfg: dict) -> ModelSpec:
    """kpca's networks: ``mnist_arch`` (default the MLP) on ``mnist5k``, ``arch`` on the others, features
    from the layer before the logits; the paper profile stores its networks (:mod:`oodrepro.checkpoints`; other
    profiles read stored networks but never add one: :func:`oodrepro.engine.contexts`)."""
    mnist, other = cfg.get("mnist_arch") or "mlp", cfg["arch"]
    return ModelSpec(lambda ds: mnist if ds.name.startswith("mnist5k") else other, epochs=MODELS,
                     layers={mnist: [-1, 0], other: [-1, 0]}, store=True)


def run_contexts(cfg: dict):
    """:func:`oodrepro.engine.contexts` with kpca's networks, OOD sets and held-out classes."""
    return contexts(PAPER, model_spec(cfg), cfg, progress=False, ood_loader=load_ood_set, prepare=without_heldout)


#: The configuration entries the features depend on (the rest — methods, grids, thresholds — do not).
FEATURE_KEYS = ("data_root", "max_train", "mnist_arch", "arch", "recipe", "epochs", "batch_size", "lr", "device")
#: The features of the current page's run (:meth:`oodrepro.engine.core.Memo.scope` around each page).
MEMO = Memo(4)


def context_features(ctx: Context, sets: dict, missing: dict, cfg: dict) -> Features:
    """Features of the context's network (trained, or read from the cache or the stored networks) for its
    training and test sets and the OOD sets ``sets``; ``missing``: OOD sets absent, with why.

    With ``"heldout"`` among the OOD sets of ``mnist5k``, the network was trained without classes 8 and 9
    (:func:`without_heldout`) and the in-distribution test set drops them too.

    The cache holds them on disk; while one page runs (:func:`~oodrepro.experiments.kpca.common.blas_limited`
    scopes :data:`MEMO`) the last few are also kept in memory, so that a page sweeping a grid (sensitivity:
    13 runs over the same features) reads them once. Treat the result as read-only."""
    oods = (*sets, *missing)
    key = (ctx.in_name, tuple(oods), ctx.seed, tuple(repr(cfg.get(k)) for k in FEATURE_KEYS))
    return MEMO.get(key, lambda: _context_features(ctx, sets, missing))


def network_features(in_name: str, oods, cfg: dict, seed: int) -> Features:
    """:func:`context_features` of one in-distribution set and seed (:class:`DataNotFoundError` when the set
    is missing)."""
    load_in(in_name, cfg)  # a missing in-distribution set raises its loader's error here
    c = dict(cfg, pairings=[f"{in_name}->{o}" for o in oods], seeds=[seed])
    _, _, ctx, sets, missing = next(run_contexts(c))
    return context_features(ctx, sets, missing, c)


def network(ctx: Context, hyper: dict | None = None):
    """The context's classifier: plain cross-entropy (the ResNets' loss class lives beside them so their
    code enters the model's key)."""
    return ctx.model(nets.CrossEntropy() if ctx.arch in nets.ARCHS else train.LabelSmoothedCE(0.0))


def head(model) -> tuple[np.ndarray, np.ndarray]:
    """The last linear layer ``(weight (C, D), bias (C,))`` in float64."""
    if hasattr(model, "classifier"):
        return model.classifier()
    return model.head.weight.detach().numpy().astype(np.float64), model.head.bias.detach().numpy().astype(np.float64)


def pair(ctx: Context, model, ds: data.Dataset) -> tuple:
    """``(z, logits)`` of ``ds``: the layer before the logits and the logits (cached embeddings)."""
    return tuple(ctx.emb(model, ds, [-1, 0], batch_size=512))


def network_parts(ctx: Context) -> Features:
    """What a detector is built from: the classifier's training features and its last linear layer (no test or
    OOD sets)."""
    model = network(ctx)
    weight, bias = head(model)
    return Features(f"{ctx.arch} on {ctx.in_name}, seed {ctx.seed}", pair(ctx, model, ctx.train_set), None,
                    weight=weight, bias=bias, y_train=ctx.train_set.y)


def in_test(ctx: Context, oods) -> data.Dataset:
    """The in-distribution test set the OOD sets ``oods`` are compared with: without classes 8 and 9 when
    they are one of them (``"heldout"``)."""
    if "heldout" in oods:
        return ctx.in_test.subset(np.flatnonzero(~np.isin(ctx.in_test.y, HELDOUT)), name=f"{ctx.in_test.name}[no 8,9]")
    return ctx.in_test


def _context_features(ctx: Context, sets: dict, missing: dict) -> Features:
    model, test_set = network(ctx), in_test(ctx, (*sets, *missing))
    feats = network_parts(ctx)
    feats.test = pair(ctx, model, test_set)
    feats.test_acc = float((feats.test[1].argmax(1) == test_set.y).mean())
    feats.ood = {o: pair(ctx, model, ds) for o, ds in sets.items()}
    feats.missing = dict(missing)
    return feats


# --- torchvision backbones over an image folder -------------------------------------------------
BACKBONES = {"resnet50": ("resnet50", "fc"), "mobilenet_v2": ("mobilenet_v2", "classifier"),
             "vit_b_16": ("vit_b_16", "heads")}


def _backbone(name: str, pretrained: bool):
    import torchvision.models as tvm

    if name not in BACKBONES:
        raise ParameterError(f"parameter 'backbone' = {name!r} is not accepted; use one of {', '.join(BACKBONES)}")
    fn, head = BACKBONES[name]
    weights = "DEFAULT" if pretrained else None
    try:
        model = getattr(tvm, fn)(weights=weights)
    except Exception as exc:  # no network, no cached weights: say so in one line
        raise DataNotFoundError(f"{name} weights", "torchvision's weight cache",
                                f"pretrained weights could not be loaded ({type(exc).__name__}); "
                                "connect once or pass pretrained=False") from None
    return model.eval(), head


def _embed_backbone(model, head: str, x: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(penultimate features, logits): the input of the classifier head (captured by a forward hook)."""
    import torch

    lin = getattr(model, head)
    lin = lin[-1] if isinstance(lin, torch.nn.Sequential) else lin
    got = []
    hook = lin.register_forward_hook(lambda mod, inp, out: got.append((inp[0].detach(), out.detach())))
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    try:
        with torch.no_grad():
            for i in range(0, len(x), batch_size):
                model((torch.from_numpy(x[i:i + batch_size]) - mean) / std)
    finally:
        hook.remove()
    return (np.concatenate([g[0].numpy() for g in got]).astype(np.float32),
            np.concatenate([g[1].numpy() for g in got]).astype(np.float32))


def torchvision_features(folder, backbone: str = "resnet50", pretrained: bool = True, size: int = 224,
                         batch_size: int = 32) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Penultimate features and logits of a torchvision ImageNet backbone (the paper's ResNet50,
    MobileNetV2, ViT-B/16) over an ImageNet-style folder ``<folder>/<class>/<image>`` (resized to
    ``size``, ImageNet normalisation); returns ``(z, logits, weight, bias)``. Cached under the folder's
    fingerprint, the backbone, the weights and this module's code."""
    ds = data.image_folder(folder, size=size, channels=3)
    model, head = _backbone(backbone, pretrained)
    lin = getattr(model, head)
    lin = lin[-1] if hasattr(lin, "__getitem__") else lin
    w, b = lin.weight.detach().numpy().astype(np.float64), lin.bias.detach().numpy().astype(np.float64)
    z, logits = cache.cached("embedding", {"backbone": backbone, "pretrained": pretrained, "size": size,
                                           "code": fingerprint(__name__)},
                             lambda: _embed_backbone(model, head, ds.x, batch_size), fingerprint=ds.fingerprint)
    return z, logits, w, b


# --- feature banks -----------------------------------------------------------------------------
RAW_DTYPES = ("float32", "float64", "float16")


def _check_raw(path: Path, bank: np.ndarray, dtype: str) -> None:
    """A raw file read as ``dtype`` must look like features: finite, no value beyond ±1e30 and almost no
    denormal-sized ones. Another element type read as float32 (a float64 bank: every other word is the low
    half of a double, uniformly random bits; uint8 or int data) fails this on its first rows."""
    flat = bank.reshape(-1)
    n = flat.size
    idx = np.unique(np.linspace(0, n - 1, min(n, 1 << 16)).astype(np.int64))
    with np.errstate(invalid="ignore", over="ignore"):
        sample = np.asarray(flat[idx], dtype=np.float64)
        a = np.abs(sample)
    tiny = float(np.mean((a > 0) & (a < 1e-30)))
    why = ("it holds NaN or inf" if not np.isfinite(sample).all() else
           f"it holds values up to {a.max():.3g}" if a.max() > 1e30 else
           f"{tiny:.0%} of its values are below 1e-30 in magnitude" if tiny > 0.01 else "")
    if why:
        other = [d for d in RAW_DTYPES if d != dtype]
        raise DataFormatError(f"{path}: read as raw {dtype}, {why} — not {dtype} features; pass dtype= "
                              f"{' or '.join(map(repr, other))} if that is how it was written, or save it as .npy")


def bank_features(path, dim: int | None = None, key: str | None = None, dtype: str = "float32") -> np.ndarray:
    """A feature bank: ``.npy`` / ``.npz`` (:func:`oodrepro.data.load_features`) or a raw file of ``N × dim``
    values of element type ``dtype`` (float32 by default: the authors' memmaps; ``dim`` required), opened as a
    read-only ``np.memmap`` so a 10⁶ × 2048 bank is streamed by :meth:`oodrepro.detectors.KPCA.fit`, never
    loaded whole. A raw file whose values do not look like ``dtype`` features (another element type) is
    refused (:class:`DataFormatError`), not read as garbage."""
    path = Path(path)
    if path.suffix in (".npy", ".npz"):
        return data.load_features(path, key=key, dim=dim)
    if not path.exists():
        raise DataNotFoundError(path.stem, str(path), "Give the path of a .npy, .npz or raw float32 feature file")
    if dtype not in RAW_DTYPES:
        raise ParameterError(f"parameter 'dtype' = {dtype!r} is not accepted; use one of {', '.join(RAW_DTYPES)}")
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ParameterError(f"parameter 'dim' = {dim!r}: a raw {dtype} bank needs its feature width (an integer >= 1)")
    item = np.dtype(dtype).itemsize
    size = path.stat().st_size
    if size == 0 or size % (item * dim):
        raise DataFormatError(f"{path}: {size} bytes is not a whole number of {dtype} rows of width {dim} "
                              "(truncated, or another dim / dtype)")
    bank = np.memmap(path, dtype=dtype, mode="r", shape=(size // (item * dim), int(dim)))
    _check_raw(path, bank, dtype)
    return bank


def subsample(z: np.ndarray, n: int | None, seed: int = 0) -> np.ndarray:
    """At most ``n`` rows of ``z`` (seeded, without replacement)."""
    if n is None or n >= len(z):
        return z
    return z[np.sort(np.random.default_rng(seed).choice(len(z), n, replace=False))]


__all__ = ["Features", "network_features", "torchvision_features", "bank_features", "subsample"]
