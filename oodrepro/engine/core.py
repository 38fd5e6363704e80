"""Data for a pairing, trained models per (in-distribution set, seed), and cached method scores.

* :func:`load_in` / :func:`load_ood` — a pairing's data: the training and test splits of the
  in-distribution set (training capped at ``max_train``, stratified) and the OOD set shaped like them;
* :class:`ModelSpec` — how a chapter trains: the architecture for a training set, default epochs and
  layers; the loss is chosen per model (:class:`oodrepro.train.Loss`);
* :class:`Context` — one (in-distribution set, seed): trained models (cached by :func:`oodrepro.train.fit`),
  embeddings (cached by :func:`oodrepro.embed.embed`) and fitted detectors (kept in memory);
* :class:`Method` — one column of a results table: which model, which inputs, which detector, which
  typed hyper-parameters; :func:`method_scores` computes its OOD scores on a data set, cached on disk
  under the hyper-parameters, the context, the data's fingerprint and the code's fingerprint
  (:func:`oodrepro.fingerprint.fingerprint`);
* :func:`contexts` — the loop over in-distribution sets and seeds that every runner shares; missing
  data never stops a run, it becomes *needs data* rows (:func:`needs_rows`).
"""
from __future__ import annotations

from contextlib import contextmanager
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .. import cache, data, embed, models, train
from ..errors import DataNotFoundError
from ..fingerprint import fingerprint
from .paper import Paper

#: OOD sets derived from the in-distribution test split (spec suffixes of :func:`oodrepro.data.load`).
DERIVED = ("hflip", "vflip", "gaussian", "uniform")


# --- data ------------------------------------------------------------------------------------
def stratified_subset(ds: data.Dataset, n: int | None, seed: int = 0) -> data.Dataset:
    """At most ``n`` points of ``ds``, every class in proportion (seeded); ``ds`` itself if it is smaller."""
    if n is None or n >= len(ds):
        return ds
    from sklearn.model_selection import train_test_split

    idx, _ = train_test_split(np.arange(len(ds)), train_size=n, stratify=ds.y, random_state=seed)
    return ds.subset(np.sort(idx), name=f"{ds.name}[:{n}]")


def load_in(name: str, cfg: dict) -> tuple[data.Dataset, data.Dataset]:
    """(training set, test set) of an in-distribution set, the training set capped at ``max_train``."""
    tr = data.load(name, "train", root=cfg["data_root"])
    te = data.load(name, "test", root=cfg["data_root"])
    return stratified_subset(tr, cfg.get("max_train")), te


def load_ood(name: str, in_name: str, in_test: data.Dataset, cfg: dict, seed: int = 0) -> data.Dataset:
    """OOD set ``name`` for in-distribution set ``in_name``, shaped like its test images.

    Derived shifts apply to the in-distribution *test* split (noise is seeded by ``seed``); other sets
    use their test split, resized/converted with :func:`oodrepro.data.conform`.
    """
    if name in DERIVED:
        return data.load(f"{in_name}:{name}", "test", root=cfg["data_root"], seed=seed)
    ds = data.load(name, "test", root=cfg["data_root"])
    c, h, _ = in_test.shape
    return data.conform(ds, c, h)


# --- an in-memory memo ----------------------------------------------------------------------
class Memo:
    """The last ``size`` values computed by :meth:`get`, kept in memory (the disk cache is
    :mod:`oodrepro.cache`): for a page that sweeps a grid over the same features. :meth:`scope` empties it
    before and after a page's run, so nothing outlives the run that computed it."""

    def __init__(self, size: int = 4):
        self.size, self._values = size, {}

    def get(self, key, compute: Callable[[], Any]):
        """The value under ``key``, computed by ``compute()`` on first use (the oldest one leaves when full)."""
        if key not in self._values:
            if len(self._values) >= self.size:
                self._values.pop(next(iter(self._values)))
            self._values[key] = compute()
        return self._values[key]

    def __len__(self) -> int:
        return len(self._values)

    @contextmanager
    def scope(self):
        """Empty the memo on entry and on exit."""
        self._values.clear()
        try:
            yield self
        finally:
            self._values.clear()


# --- models ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelSpec:
    """How a chapter trains its models.

    ``arch(train_set) -> str`` names the architecture (:data:`oodrepro.models.ARCHITECTURES`) for a
    training set; ``epochs`` and ``layers`` give, per architecture, the default number of epochs and
    the depths that embedding-based detectors aggregate (0 = logits, −1 = the layer before, …).
    ``store``: on the paper profile, every network is kept in :mod:`oodrepro.checkpoints` as
    ``<arch>-<in-distribution set>-<tag>-<recipe>-s<seed>`` (recipe ``adam`` when the page names none) and
    read from there on any profile; other profiles never add one (:func:`contexts`).
    """

    arch: Callable[[data.Dataset], str]
    epochs: Mapping[str, int]
    layers: Mapping[str, Sequence[int]]
    store: bool = False


#: The files of the stored networks (:mod:`oodrepro.checkpoints`) this process's contexts read or stored since
#: :func:`stored_networks` last emptied it: what a page run's result file lists (``networks``).
_STORED_READ: set[str] = set()


def stored_networks(reset: bool = False) -> list[str]:
    """The stored networks this process's contexts read or stored (sorted file names); ``reset`` empties the
    record afterwards (:func:`oodrepro.engine.page.execute` does, around each page run)."""
    out = sorted(_STORED_READ)
    if reset:
        _STORED_READ.clear()
    return out


def loss_tag(loss: train.Loss) -> str:
    """A word naming a loss in a stored network's file name: ``ce``, ``ls0.1`` (label smoothing α), else the
    loss's own name (the file name is for people; the stored network's definition holds the loss exactly)."""
    k = loss.key()
    if k.get("loss") == "label_smoothed_ce":
        return f"ls{k['alpha']:g}" if k.get("alpha") else "ce"
    return str(k.get("loss", type(loss).__name__))


#: The training settings a context reads from a run's parameters (all typed in the chapter's schema).
TRAINING = ("epochs", "batch_size", "lr", "device", "layers", "recipe")


@dataclass
class Context:
    """Everything one (in-distribution set, seed) needs: data, trained models, embeddings, detectors.

    ``training`` holds the run's ``epochs`` (None = the spec's default), ``batch_size``, ``lr``,
    ``device`` and ``layers`` (None = the spec's default).
    """

    in_name: str
    train_set: data.Dataset
    in_test: data.Dataset | None
    seed: int
    spec: ModelSpec
    training: dict
    progress: bool = True
    _models: dict = field(default_factory=dict)
    _detectors: dict = field(default_factory=dict)

    @property
    def arch(self) -> str:
        return self.spec.arch(self.train_set)

    @property
    def layers(self) -> list[int]:
        return list(self.training.get("layers") or self.spec.layers[self.arch])

    @property
    def epochs(self) -> int:
        return self.training.get("epochs") or self.spec.epochs[self.arch]

    def model(self, loss: train.Loss, variant: str = "", ood_set: data.Dataset | None = None,
              embedding_dim: int | None = None, tag: str = "", recipe=None):
        """The model trained with ``loss`` (``variant``: an architecture suffix, e.g. ``"deconf"``; ``ood_set``:
        seen OOD data mixed into the batches, ``embedding_dim``: an embedding instead of class scores — odm's
        networks; ``tag``: a word naming the network in its stored file's name; ``recipe``: a
        :class:`~oodrepro.recipes.Recipe` for this network instead of the context's — odm's embeddings train
        longer than its classifier)."""
        rec = recipe if recipe is not None else self.training.get("recipe")
        key = (tuple(sorted(loss.key().items())), variant, ood_set.fingerprint if ood_set is not None else None,
               embedding_dim, None if recipe is None else repr(sorted(recipe.key().items())))
        if key not in self._models:
            arch = self.arch + (f"_{variant}" if variant else "")
            self._models[key] = m = train.fit(
                arch, self.train_set, loss=loss, epochs=self.epochs, batch_size=self.training["batch_size"],
                lr=self.training["lr"], seed=self.seed, device=self.training["device"], progress=self.progress,
                recipe=rec, ood_set=ood_set, embedding_dim=embedding_dim,
                store=self.store_name(arch, tag or loss_tag(loss), rec))
            if m.stored:
                _STORED_READ.add(m.stored["file"])
        return self._models[key]

    def trained(self, cache_key: str):
        """The model this context trained (or read) whose cache key is ``cache_key`` (a :class:`Method`'s
        ``model`` may name a network by its key)."""
        for m in self._models.values():
            if m.cache_key == cache_key:
                return m
        raise KeyError(f"no model of context ({self.in_name}, seed {self.seed}) has the cache key {cache_key!r}")

    def store_name(self, arch: str, tag: str = "", recipe=None) -> str | None:
        """The name a network of this context is stored under (:attr:`ModelSpec.store`), else None."""
        if not self.spec.store:
            return None
        recipe = recipe or self.training.get("recipe") or "adam"  # no recipe: Adam at the page's lr for its epochs
        name = "-".join(p for p in (arch, self.in_name, tag, getattr(recipe, "name", recipe), f"s{self.seed}") if p)
        return name.replace(":", "-").replace("/", "-")

    def emb(self, model, ds: data.Dataset, layers=None, batch_size: int = 2048) -> list[np.ndarray]:
        """Embeddings of ``ds`` at ``layers`` (default: the context's) from ``model`` (cached)."""
        return embed.embed(model, ds, self.layers if layers is None else layers, batch_size=batch_size)

    def detector(self, key, build: Callable[[], Any]):
        """A fitted detector kept in memory under ``key`` (built by ``build()`` on first use)."""
        if key not in self._detectors:
            self._detectors[key] = build()
        return self._detectors[key]

    def key_params(self) -> dict:
        """What identifies this context's models in a score's cache key (training code included)."""
        return {"in": self.in_name, "seed": self.seed, "train": self.train_set.fingerprint, "arch": self.arch,
                "epochs": self.epochs, "layers_default": self.layers, "batch_size": self.training["batch_size"],
                "lr": self.training["lr"], "train_code": fingerprint(train, models),
                **({"recipe": self.training["recipe"]} if self.training.get("recipe") else {})}


# --- methods ---------------------------------------------------------------------------------
def _same(ctx, hyper, model, ds):
    return ds


def _score(det, layers, hyper):
    return det.score(layers)


@dataclass(frozen=True)
class Method:
    """One detection method as a table column: model → (inputs) → embeddings → detector → score.

    Parameters
    ----------
    name
        Its name in cache keys.
    detector
        The detector class (:mod:`oodrepro.detectors`); its module's code enters the cache key.
    params
        Names of its hyper-parameters (typed in the chapter's schema); :func:`method_scores` is given
        their values explicitly, as ``hyper``.
    model
        ``(ctx, hyper) -> trained model``.
    build
        ``(ctx, hyper) -> unfitted detector``; it is fitted on the training set's embeddings and labels.
    layers
        ``(ctx, hyper) -> depths`` (default: the context's layers).
    inputs
        ``(ctx, hyper, model, ds) -> ds``: a transformation of the scored inputs (e.g. DeConf's ε).
    score
        ``(fitted detector, embeddings, hyper) -> scores`` (default ``detector.score(embeddings)``).
    score_only
        Hyper-parameters that only ``score`` reads: one fitted detector serves every value.
    batch_size
        Embedding batch size.
    functions
        Further functions whose source enters the cache key (e.g. a chapter's detector factory that
        ``build`` calls).
    """

    name: str
    detector: type
    params: tuple[str, ...]
    model: Callable
    build: Callable
    layers: Callable | None = None
    inputs: Callable = _same
    score: Callable = _score
    score_only: tuple[str, ...] = ()
    batch_size: int = 2048
    functions: tuple = ()

    def code(self) -> str:
        """Fingerprint of the code behind this method's scores: the detector's module (and what it
        imports), the wiring functions and the engine's scoring function."""
        fns = [f for f in (self.model, self.build, self.layers, self.inputs, self.score, *self.functions)
               if f is not None]
        return fingerprint(self.detector, embed, functions=fns + [compute_scores])

    def depths(self, ctx: Context, hyper: dict) -> list[int]:
        return list(self.layers(ctx, hyper)) if self.layers is not None else ctx.layers


def compute_scores(ctx: Context, method: Method, ds: data.Dataset, hyper: dict) -> np.ndarray:
    """``method``'s OOD scores on ``ds`` (uncached): fit on the training set's embeddings, score ``ds``."""
    model = method.model(ctx, hyper)
    layers = method.depths(ctx, hyper)
    fit_hyper = tuple((k, repr(v)) for k, v in sorted(hyper.items()) if k not in method.score_only)
    det = ctx.detector(
        (method.detector.__name__, model.cache_key, tuple(layers), fit_hyper),
        lambda: method.build(ctx, hyper).fit(ctx.emb(model, ctx.train_set, layers, method.batch_size),
                                             y=ctx.train_set.y))
    feats = ctx.emb(model, method.inputs(ctx, hyper, model, ds), layers, method.batch_size)
    return np.asarray(method.score(det, feats, hyper), dtype=np.float64)


def score_key(ctx: Context, method: Method, hyper: dict) -> dict:
    """The parameters of a score's cache entry (the data set enters as its fingerprint)."""
    return {"method": method.name, **hyper, **ctx.key_params(), "code": method.code()}


def method_scores(ctx: Context, method: Method, ds: data.Dataset, hyper: dict) -> np.ndarray:
    """OOD scores of ``method`` with hyper-parameters ``hyper`` on ``ds`` for this context; cached on disk.

    The key holds the method, its hyper-parameters, the context (in-distribution set, seed, training
    data, architecture, epochs, batch size, learning rate, training code), the method's code
    fingerprint and the data's fingerprint: editing a detector recomputes its scores, not the models.
    """
    missing = [p for p in method.params if p not in hyper]
    if missing:
        raise TypeError(f"method {method.name!r} needs the hyper-parameter(s) {missing}")
    hyper = {p: hyper[p] for p in method.params}
    return cache.cached("scores", score_key(ctx, method, hyper), lambda: compute_scores(ctx, method, ds, hyper),
                        fingerprint=ds.fingerprint)


# --- the loop every runner shares ------------------------------------------------------------
def needs_rows(in_name: str, oods, why: str, methods=(None,), **cols) -> list[dict]:
    """*needs data* rows: one per (OOD set, method) with the reason (the loader's one-line message)."""
    return [{"in_dist": in_name, "ood": o, **({"method": m} if m is not None else {}), "seed": None,
             "status": "needs data", "why": why, **cols} for o in oods for m in methods]


def contexts(paper: Paper | None, spec: ModelSpec, cfg: dict, progress: bool = True, ood_loader: Callable = load_ood,
             prepare: Callable | None = None, groups: Mapping[str, Sequence[str]] | None = None,
             in_loader: Callable = load_in):
    """Yield ``(in_name, oods, context or None, {ood: data set}, {ood: why missing})`` per in-distribution
    set of ``cfg["pairings"]`` and seed of ``cfg["seeds"]``; a missing in-distribution set gives one
    item with context None.

    ``ood_loader(name, in_name, in_test, cfg, seed)`` loads an OOD set (default :func:`load_ood`; a chapter
    with sets of its own passes its loader); ``prepare(in_name, oods, train_set) -> train_set`` may change
    the training set for the pairing's OOD sets (kpca: without the classes held out as OOD). A chapter whose
    pages have no ``pairings`` gives ``groups`` (in-distribution name → OOD names) and ``in_loader(in_name,
    cfg) -> (train set, test set)`` (odm: its own splits of the data); ``paper`` may then be None."""
    training = {k: cfg.get(k) for k in TRAINING}
    stored_spec = dataclasses.replace(spec, store=spec.store and cfg.get("profile") == "paper")
    for in_name, oods in (groups if groups is not None else paper.group_pairings(cfg["pairings"])).items():
        try:
            train_set, in_test = in_loader(in_name, cfg)
        except DataNotFoundError as exc:
            yield in_name, oods, None, {}, {o: str(exc) for o in oods}
            continue
        if prepare is not None:
            train_set = prepare(in_name, oods, train_set)
        for seed in cfg["seeds"]:
            ctx = Context(in_name, train_set, in_test, seed, stored_spec, training, progress)
            sets, missing = {}, {}
            for o in oods:
                try:
                    sets[o] = ood_loader(o, in_name, in_test, cfg, seed)
                except DataNotFoundError as exc:
                    missing[o] = str(exc)
            yield in_name, oods, ctx, sets, missing
