"""A paper's vocabulary: the names the book shows, the paper's blocks and reference tables, its pairings.

A *pairing* ``"IN->OOD"`` (``"mnist->fashion_mnist"``, ``"mnist5k->hflip"``) is one row of a paper's
results table: a classifier trained on IN, tested against OOD. Each paper accepts its own sets.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from .. import reference
from ..data import TRAIN_SIZES
from ..errors import ParameterError


@dataclass(frozen=True)
class Paper:
    """What the engine needs to know of one paper.

    Parameters
    ----------
    name
        The paper's short name: its reference CSV (``oodrepro/reference/<name>.csv``) and result folder.
    labels
        Display names of data sets (the paper's row names where it has them).
    method_labels
        Display names of methods, as the paper prints them.
    blocks
        Our in-distribution set → the paper's block it stands for (``mnist5k`` → ``mnist``).
    in_sets, ood_sets
        The sets a pairing may name.
    data_note
        ``(in_name, cfg) -> str``: what a reader should know of our data for this set (appended to claims).
    """

    name: str
    labels: Mapping[str, str]
    method_labels: Mapping[str, str]
    blocks: Mapping[str, str]
    in_sets: Sequence[str]
    ood_sets: Sequence[str]
    data_note: Callable[[str, dict], str] = field(default=lambda in_name, cfg: "")

    def label(self, name) -> str:
        return self.labels.get(name, name)

    def method_label(self, method) -> str:
        return self.method_labels.get(method, method)

    def block(self, in_name: str) -> str:
        return self.blocks.get(in_name, in_name)

    def pair_label(self, in_name: str, ood: str, cfg: dict | None = None) -> str:
        """``"MNIST → HFlip (ours: 4,000 training images, …)"``: the paper's row name and our data note."""
        note = self.data_note(in_name, cfg) if cfg is not None else ""
        return f"{self.label(self.block(in_name))} → {self.label(ood)}{note}"

    def lookup(self, table: str | None, **keys) -> float | None:
        """The paper's value in ``table`` for ``keys`` (``in_dist`` is mapped to the paper's block), or None."""
        if not table:
            return None
        if "in_dist" in keys:
            keys["in_dist"] = self.block(keys["in_dist"])
        return reference.lookup(self.name, table, **keys)

    def parse_pairing(self, p: str) -> tuple[str, str]:
        a, sep, b = p.partition("->")
        if not sep:
            raise ParameterError(f"pairing {p!r} must look like 'IN->OOD', e.g. 'mnist->fashion_mnist'")
        a, b = a.strip(), b.strip()
        if a not in self.in_sets:
            raise ParameterError(f"pairing {p!r}: in-distribution set {a!r} is not accepted; use one of "
                                 + ", ".join(map(repr, self.in_sets)))
        if b not in self.ood_sets:
            raise ParameterError(f"pairing {p!r}: OOD set {b!r} is not accepted; use one of "
                                 + ", ".join(map(repr, self.ood_sets)))
        return a, b

    def check_pairings(self, pairings) -> str | None:
        """A schema ``check``: None if every pairing parses (else :meth:`parse_pairing` raises)."""
        for p in pairings:
            self.parse_pairing(p)
        return None

    def group_pairings(self, pairings) -> dict[str, list[str]]:
        """``{in-distribution set: [OOD sets]}`` in first-seen order, duplicates dropped: each model is
        trained once per in-distribution set."""
        out: dict[str, list[str]] = {}
        for p in pairings:
            a, b = self.parse_pairing(p)
            if b not in out.setdefault(a, []):
                out[a].append(b)
        return out

    def smallest_train(self, cfg: dict, adjust: Callable[[str, list, int], int] | None = None) -> int | None:
        """The smallest training set a run's ``pairings`` train on: each in-distribution set's nominal size
        (:data:`oodrepro.data.TRAIN_SIZES`) capped at ``cfg["max_train"]``, then ``adjust(in_name, oods, n)``
        (a chapter that trains without some classes); None if a set's size is unknown."""
        cap, sizes = cfg.get("max_train"), []
        for a, oods in self.group_pairings(cfg["pairings"]).items():
            n = TRAIN_SIZES.get(a)
            if n is None:
                return None
            n = min(n, cap) if cap else n
            sizes.append(adjust(a, oods, n) if adjust else n)
        return min(sizes) if sizes else None

    def check_train_size(self, cfg: dict, limits: Callable[[int], Sequence[tuple[str, int, int]]],
                         adjust: Callable[[str, list, int], int] | None = None) -> dict:
        """A schema's last check (its ``derived``): every size bounded by the training set (a number of neighbours,
        of landmarks, of points) fits the run's smallest training set ``n`` (:meth:`smallest_train`), so a run
        cannot fail on it, or quietly use less, after its networks are trained. ``limits(n)`` gives
        ``(parameter name, value, largest accepted value)`` triples."""
        n = self.smallest_train(cfg, adjust)
        for name, k, limit in ([] if n is None else limits(n)):
            if k > limit:
                raise ParameterError(f"parameter {name!r} = {k} is larger than the training set allows: the smallest "
                                     f"training set of this run has {n:,} images (max_train = {cfg.get('max_train')}); "
                                     f"use {name} <= {limit:,}")
        return {}
