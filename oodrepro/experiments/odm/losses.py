r"""Metric learning for novelty and anomaly detection (odm: Masana et al., BMVC 2018).

The public pieces, stable for other chapters and the classroom assignment:

* :func:`contrastive_loss` — Eq. 1 on given pairs, squared (the paper) or unsquared (the authors' code);
* :func:`mine_pairs` — ODM's pair mining inside one minibatch (§3, Eq. 2): in–in same class, in–in
  different class, in–seen-OOD counted as "different"; **never OOD–OOD**;
* :class:`ContrastiveLoss` — an :class:`oodrepro.train.Loss` that mines the pairs of a batch and applies
  Eq. 1 (ML without seen OOD, ODM with it);
* :class:`ActiveContrastiveLoss` — the same with the hinge averaged over the pairs inside the margin (ours);
* :class:`AuthorsPairsLoss` — Eq. 1 on batches paired as the authors' code pairs them (partners from the
  anchor's whole class, seen OOD replacing a quarter of every second batch);
* :class:`ConfidenceLoss` — Lee et al.'s confidence loss with seen OOD samples (the CC baseline).

Nearest-class-mean classification and odm's OOD score (the squared distance to the nearest class mean) are
in :mod:`oodrepro.detectors.ncm`.

Seen out-of-distribution samples carry the label :data:`OOD_LABEL` (−1) in a batch.
"""
from __future__ import annotations

import numpy as np
import torch

from ... import loop
from ...errors import ParameterError
from ...train import OOD_LABEL, Loss, check_embedding_dim  # noqa: F401 (re-exported)

#: Label of a seen out-of-distribution sample inside a training batch.

#: The authors' code: 25 % of the pairs are same-class pairs.
SAME_FRACTION = 0.25
#: The authors' code: on every second batch the last half of the pairs are (in, seen-OOD) pairs.
OOD_PAIR_FRACTION = 0.5
#: The authors' code: margin 10 (CIFAR-10 ↔ SVHN).
MARGIN = 10.0


def check_margin(margin) -> float:
    """The contrastive margin m as a float; m must be a finite number > 0."""
    try:
        m = float(margin)
    except (TypeError, ValueError):
        raise ParameterError(f"parameter 'margin' must be a number > 0, got {margin!r}") from None
    if not np.isfinite(m) or m <= 0:
        raise ParameterError(f"parameter 'margin' = {margin!r} is not accepted; use a number > 0")
    return m


def _check_fraction(name: str, v) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ParameterError(f"parameter {name!r} must be a number in [0, 1], got {v!r}") from None
    if not 0.0 <= f <= 1.0:
        raise ParameterError(f"parameter {name!r} = {v!r} is not accepted; use a number in [0, 1]")
    return f


def pair_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r"""Euclidean distance :math:`D = \|f(x_1) - f(x_2)\|_2` per row (gradient 0 where D = 0)."""
    diff = a - b
    sq = (diff * diff).sum(1)
    safe = torch.where(sq > 0, sq, torch.ones_like(sq))
    return torch.where(sq > 0, safe.sqrt(), torch.zeros_like(sq))


def contrastive_loss(a: torch.Tensor, b: torch.Tensor, different: torch.Tensor, margin: float = MARGIN,
                     squared: bool = True) -> torch.Tensor:
    r"""The contrastive loss of odm Eq. 1, averaged over the pairs ``(a[i], b[i])``.

    With :math:`D = \|f(x_1) - f(x_2)\|_2` and :math:`y = 1` for a "different" pair (different classes,
    or in-distribution × seen OOD), :math:`y = 0` for a same-class pair:

    * ``squared=True`` (the paper's Eq. 1):
      :math:`L = \tfrac12 (1-y) D^2 + \tfrac12\, y \max(0, m - D)^2`;
    * ``squared=False`` (the authors' TensorFlow code):
      :math:`L = \tfrac12 (1-y) D + \tfrac12\, y \max(0, m - D)`.

    Returns the mean of L over the pairs (0 for no pairs).
    """
    m = check_margin(margin)
    if len(a) == 0:
        return a.sum() * 0.0
    d = pair_distance(a, b)
    y = different.to(d.dtype)
    hinge = torch.clamp(m - d, min=0.0)
    if squared:
        d, hinge = d * d, hinge * hinge
    return (0.5 * (1.0 - y) * d + 0.5 * y * hinge).mean()


def _partners(anchor_labels: torch.Tensor, pool: torch.Tensor, pool_labels: torch.Tensor, same: bool,
              anchors: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """For each anchor, a random partner from ``pool`` with the same (or a different) label.

    Same-class partners avoid the anchor itself when its class has another member. Anchors with no
    possible partner are dropped; returns (kept anchors, their partners)."""
    keep, chosen = [], []
    for a, lab in zip(anchors.tolist(), anchor_labels.tolist()):
        cand = pool[(pool_labels == lab) & (pool != a)] if same else pool[pool_labels != lab]
        if same and len(cand) == 0:
            cand = torch.tensor([a])
        if len(cand) == 0:
            continue
        keep.append(a)
        chosen.append(int(cand[torch.randint(len(cand), (1,), generator=gen)]))
    return torch.tensor(keep, dtype=torch.long), torch.tensor(chosen, dtype=torch.long)


def mine_pairs(y: torch.Tensor, n_pairs: int | None = None, same_fraction: float = SAME_FRACTION,
               ood_fraction: float = OOD_PAIR_FRACTION, generator: torch.Generator | None = None):
    r"""ODM pair mining inside one minibatch (odm §3, Eq. 2; proportions from the authors' code).

    ``y`` holds the batch's labels, in-distribution classes ≥ 0 and seen OOD = :data:`OOD_LABEL`.
    Every pair's first element (the anchor) is an in-distribution sample, so **no OOD–OOD pair is
    ever formed**. Of ``n_pairs`` (default: half the batch, as the authors pair image i with i + B/2):

    * the first ``round(same_fraction · n_pairs)`` pairs are same-class (``different = 0``);
    * if the batch holds seen OOD, the last ``round(ood_fraction · n_pairs)`` pairs are
      (in, seen-OOD) pairs, counted as "different" (``different = 1``);
    * the rest are in–in pairs of different classes (``different = 1``).

    Anchors are drawn without replacement from the in-distribution samples (cycled if there are
    fewer than pairs). A pair without a possible partner (a batch with one class, no other class to
    pair with) is dropped. Returns ``(i, j, different, kind)``: index tensors into the batch, the
    0/1 pair label of Eq. 1 and ``kind`` (0 same, 1 different class, 2 in–OOD).
    """
    y = torch.as_tensor(y).long()
    same_fraction = _check_fraction("same_fraction", same_fraction)
    ood_fraction = _check_fraction("ood_fraction", ood_fraction)
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    idx = torch.arange(len(y))
    ins, oods = idx[y != OOD_LABEL], idx[y == OOD_LABEL]
    n_pairs = len(y) // 2 if n_pairs is None else int(n_pairs)
    if len(ins) == 0 or n_pairs < 1:
        empty = torch.zeros(0, dtype=torch.long)
        return empty, empty, empty, empty
    reps = -(-n_pairs // len(ins))
    anchors = torch.cat([ins[torch.randperm(len(ins), generator=gen)] for _ in range(reps)])[:n_pairs]
    n_same = int(round(same_fraction * n_pairs))
    n_ood = int(round(ood_fraction * n_pairs)) if len(oods) else 0
    n_ood = min(n_ood, n_pairs - n_same)
    a_same, b_same = _partners(y[anchors[:n_same]], ins, y[ins], True, anchors[:n_same], gen)
    mid = anchors[n_same:n_pairs - n_ood]
    a_diff, b_diff = _partners(y[mid], ins, y[ins], False, mid, gen)
    a_ood = anchors[n_pairs - n_ood:]
    b_ood = oods[torch.randint(len(oods), (len(a_ood),), generator=gen)] if n_ood else a_ood[:0]
    i = torch.cat([a_same, a_diff, a_ood])
    j = torch.cat([b_same, b_diff, b_ood])
    kind = torch.cat([torch.zeros(len(a_same)), torch.ones(len(a_diff)), torch.full((len(a_ood),), 2.0)]).long()
    return i, j, (kind > 0).long(), kind


#: How :class:`ContrastiveLoss` forms its pairs: ``sampled`` (:func:`mine_pairs`, half the batch as anchors) or
#: ``all`` (:func:`all_pairs`: every pair of the batch, weighted to the authors' proportions)
PAIRINGS = ("sampled", "all")


def all_pairs(y: torch.Tensor):
    """Every pair of a batch by kind: ``(same, different, in_ood)``, each ``(i, j)`` index tensors —
    in–in pairs of one class (i < j), of two classes (i < j), and in × seen-OOD; never OOD–OOD."""
    y = torch.as_tensor(y).long()
    ins = y != OOD_LABEL
    i, j = torch.triu_indices(len(y), len(y), offset=1)
    both_in = ins[i] & ins[j]
    same, diff = both_in & (y[i] == y[j]), both_in & (y[i] != y[j])
    cross = ins[i] ^ ins[j]
    a, b = torch.where(ins[i], i, j), torch.where(ins[i], j, i)  # the in-distribution one first
    return (i[same], j[same]), (i[diff], j[diff]), (a[cross], b[cross])


def all_pairs_loss(z: torch.Tensor, y: torch.Tensor, margin: float, squared: bool, same_fraction: float,
                   ood_fraction: float) -> torch.Tensor:
    r"""Eq. 1 over every pair of the batch, each kind's mean weighted as the authors' batches mix them:
    same-class ``same_fraction``; in × OOD ``ood_fraction`` (when the batch holds seen OOD); different
    classes the rest. The expected loss is the authors' (their pairs are a sample of these); the variance is
    far lower, since a batch of B images gives B(B − 1)/2 pairs instead of B/2."""
    same, diff, cross = all_pairs(y)
    w = {"same": same_fraction, "ood": ood_fraction if len(cross[0]) else 0.0}
    w["diff"] = 1.0 - w["same"] - w["ood"]
    total = z.sum() * 0.0
    for kind, (i, j), different in (("same", same, 0), ("diff", diff, 1), ("ood", cross, 1)):
        if len(i) and w[kind] > 0:
            total = total + w[kind] * contrastive_loss(z[i], z[j], torch.full((len(i),), different), margin, squared)
    return total


class ContrastiveLoss(Loss):
    r"""The contrastive loss of odm Eq. 1 on pairs mined inside each batch by :func:`mine_pairs`.

    ``outputs`` are the embeddings f(x) of a batch; labels ≥ 0 are in-distribution classes and
    :data:`OOD_LABEL` marks seen OOD samples. **ML** is this loss trained without seen OOD; **ODM**
    (Eq. 2) is the same loss with seen-OOD samples in the batches: :meth:`ood_share` asks
    :func:`oodrepro.train.fit` for them on every ``ood_every``-th batch (the authors: every second
    batch, a quarter of the images, so that half of that batch's pairs are in–OOD).

    Parameters: ``margin`` m (> 0), ``squared`` (True: Eq. 1; False: the authors' unsquared D),
    ``same_fraction`` (0.25), ``ood_fraction`` (0.5 of the pairs on an OOD batch), ``ood_every`` (2).
    """

    classifies = False

    def __init__(self, margin: float = MARGIN, squared: bool = True, same_fraction: float = SAME_FRACTION,
                 ood_fraction: float = OOD_PAIR_FRACTION, ood_every: int = 2, pairs: str = "sampled"):
        if pairs not in PAIRINGS:
            raise ParameterError(f"parameter 'pairs' = {pairs!r} is not accepted; use one of {', '.join(PAIRINGS)}")
        self.pairs = pairs
        self.margin = check_margin(margin)
        self.squared = bool(squared)
        self.same_fraction = _check_fraction("same_fraction", same_fraction)
        self.ood_fraction = _check_fraction("ood_fraction", ood_fraction)
        if isinstance(ood_every, bool) or not isinstance(ood_every, (int, np.integer)) or ood_every < 1:
            raise ParameterError(f"parameter 'ood_every' = {ood_every!r} is not accepted; use an integer >= 1")
        self.ood_every = int(ood_every)
        self.start(0)

    def key(self) -> dict:
        return {"loss": "contrastive", "margin": self.margin, "squared": self.squared,
                "same_fraction": self.same_fraction, "ood_fraction": self.ood_fraction, "ood_every": self.ood_every,
                **({"pairs": self.pairs} if self.pairs != "sampled" else {})}

    def start(self, seed: int) -> None:
        """Reset the mining's random generator (called by :func:`oodrepro.train.fit` before training)."""
        self.generator = torch.Generator().manual_seed(int(seed) + 7919)

    def ood_share(self, step: int) -> float:
        """Fraction of batch ``step`` made of seen-OOD samples: ``ood_fraction / 2`` on every
        ``ood_every``-th batch (odd-numbered batches for 2), else 0. (Pairs are half the batch, so
        this makes ``ood_fraction`` of that batch's pairs in–OOD.)"""
        return self.ood_fraction / 2 if step % self.ood_every == self.ood_every - 1 else 0.0

    def __call__(self, outputs, y, n_classes):
        if self.pairs == "all":
            return all_pairs_loss(outputs, y.to(outputs.device), self.margin, self.squared, self.same_fraction,
                                  self.ood_fraction)
        i, j, different, _ = mine_pairs(y, None, self.same_fraction, self.ood_fraction, self.generator)
        i, j, different = i.to(outputs.device), j.to(outputs.device), different.to(outputs.device)
        return contrastive_loss(outputs[i], outputs[j], different, self.margin, self.squared)


class AuthorsPairsLoss(ContrastiveLoss):
    r"""Eq. 1 on batches laid out as the authors' code lays them out (``pairs="authors"``; odm's
    ``OoD_Mining``, see ``shared/papers/README.md``): the loop's batch of B images keeps its first
    h = B / 2 as anchors, and :meth:`batch_mixer` appends one partner per anchor, so that pair p is
    (image p, image p + h):

    * pairs 0 … round(``same_fraction`` · h) − 1: a partner drawn from the anchor's **whole class** in the
      training set (so, rarely, the anchor itself);
    * the other pairs: a partner drawn from the training images of the other classes;
    * on every ``ood_every``-th batch (odd-numbered for 2) the partners of the last round(``ood_fraction`` · h)
      pairs are **replaced** by seen-OOD images (label :data:`OOD_LABEL`).

    With the defaults the pairs are 25 % same-class, 50 % different-class and 25 % in × OOD over two batches,
    and never OOD × OOD. Ours (:class:`ContrastiveLoss`) instead appends a quarter of seen OOD to every second
    batch and mines partners inside it: 25 / 47 / 28 %, and a class with one image in the batch has no
    same-class partner. Partners go through the recipe's crops (not its flips) as the anchors did; they are
    drawn from a generator seeded by the training seed. Without seen OOD (ML) only the in-distribution
    pairs are formed.
    """

    def __init__(self, margin: float = MARGIN, squared: bool = True, same_fraction: float = SAME_FRACTION,
                 ood_fraction: float = OOD_PAIR_FRACTION, ood_every: int = 2):
        super().__init__(margin, squared, same_fraction, ood_fraction, ood_every)
        self.pairs = "authors"  # in the key (ContrastiveLoss.key)

    def batch_mixer(self, train_set, ood_set, recipe, seed: int):
        """``mix(xb, yb, step)``: the first half of ``xb`` as anchors, then their partners (see the class)."""
        x, y = loop.stage(train_set.x), torch.as_tensor(np.asarray(train_set.y)).long()
        order = torch.argsort(y, stable=True)
        counts = torch.bincount(y)
        if int((counts > 0).sum()) < 2:
            raise ParameterError(f"pairs 'authors' needs at least two classes in the training set "
                                 f"{getattr(train_set, 'name', '')!r}")
        starts = torch.cumsum(counts, 0) - counts
        ood_x = None if ood_set is None else loop.stage(ood_set.x)
        gen = torch.Generator().manual_seed(int(seed) + 104729)

        def mix(xb, yb, step):
            h = len(yb) // 2
            a = yb[:h].long()
            n_same = int(round(self.same_fraction * h))
            u = torch.rand(h, generator=gen)
            same_pos = starts[a] + (u * counts[a]).long().clamp(max=counts[a] - 1)
            r = (u * (len(y) - counts[a])).long().clamp(max=len(y) - counts[a] - 1)
            diff_pos = torch.where(r < starts[a], r, r + counts[a])  # uniform over the other classes' images
            idx = order[torch.where(torch.arange(h) < n_same, same_pos, diff_pos)]
            partners, labels = loop.augment(loop.unstage(x[idx]), None, recipe, gen), y[idx].to(yb.dtype)
            n_ood = min(int(round(self.ood_fraction * h)), h - n_same)
            if ood_x is not None and n_ood and step % self.ood_every == self.ood_every - 1:
                j = torch.randint(len(ood_x), (n_ood,), generator=gen)
                partners = torch.cat([partners[:h - n_ood], loop.augment(loop.unstage(ood_x[j]), None, recipe, gen)])
                labels = torch.cat([labels[:h - n_ood], torch.full((n_ood,), OOD_LABEL, dtype=yb.dtype)])
            return torch.cat([xb[:h], partners]), torch.cat([yb[:h], labels])

        return mix

    def __call__(self, outputs, y, n_classes):
        h = len(y) // 2
        y = y.to(outputs.device)
        return contrastive_loss(outputs[:h], outputs[h:2 * h], (y[:h] != y[h:2 * h]).long(), self.margin,
                                self.squared)


#: Every choice of a page's ``pairs`` parameter: :data:`PAIRINGS` (:class:`ContrastiveLoss`) and ``authors``
#: (:class:`AuthorsPairsLoss`)
PAIRING_CHOICES = PAIRINGS + ("authors",)


#: How the hinge term of Eq. 1 is averaged over a batch's "different" pairs: ``all`` (every pair, inside the margin or
#: not: the authors' mean) or ``active`` (:class:`ActiveContrastiveLoss`: only the pairs still inside the margin)
HINGE_MEANS = ("all", "active")


def active_pairs_loss(z: torch.Tensor, y: torch.Tensor, margin: float, squared: bool, same_fraction: float,
                      ood_fraction: float) -> torch.Tensor:
    r""":func:`all_pairs_loss` with each "different" kind's hinge averaged over its *active* pairs only — those
    with :math:`D < m`, whose hinge is not 0:

    .. math:: L = w_s\,\overline{\tfrac12 D^2}^{\,same}
              + \sum_{k \in \{diff,\ ood\}} w_k\,\frac{\sum_{(i,j) \in k} \tfrac12 \max(0, m - D_{ij})^2}
              {\max(1, |\{(i,j) \in k : D_{ij} < m\}|)}

    (unsquared D and hinge when ``squared`` is False). Weights as :func:`all_pairs_loss`. Why: with every pair of
    a batch in the mean, the few pairs of look-alike classes (weight limits 10 and 20 t, heights 4.2 and 4.5 m) are
    averaged with thousands already beyond the margin, and their push fades (the grouped TT100K split's ML
    embedding with and without this mean: docs/lab-log.md, 2026-12-06 evening)."""
    same, diff, cross = all_pairs(y)
    w_ood = ood_fraction if len(cross[0]) else 0.0
    total = z.sum() * 0.0
    i, j = same
    if len(i) and same_fraction > 0:
        d = pair_distance(z[i], z[j])
        total = total + same_fraction * 0.5 * (d * d if squared else d).mean()
    for (i, j), w in ((diff, 1.0 - same_fraction - w_ood), (cross, w_ood)):
        if len(i) and w > 0:
            hinge = torch.clamp(margin - pair_distance(z[i], z[j]), min=0.0)
            if squared:
                hinge = hinge * hinge
            total = total + w * 0.5 * hinge.sum() / (hinge > 0).sum().clamp(min=1)
    return total


class ActiveContrastiveLoss(ContrastiveLoss):
    """:class:`ContrastiveLoss` over every pair of the batch (``pairs='all'``) with the hinge averaged over the
    pairs inside the margin (:func:`active_pairs_loss`) — a training choice of ours, not the paper's or the
    authors' code's (both average over every pair)."""

    def __init__(self, margin: float = MARGIN, squared: bool = True, same_fraction: float = SAME_FRACTION,
                 ood_fraction: float = OOD_PAIR_FRACTION, ood_every: int = 2, pairs: str = "all"):
        if pairs != "all":
            raise ParameterError(f"the hinge averaged over the active pairs needs pairs='all' (every pair of the "
                                 f"batch), got pairs={pairs!r}; use pairs='all' or hinge_mean='all'")
        super().__init__(margin, squared, same_fraction, ood_fraction, ood_every, pairs)

    def key(self) -> dict:
        return dict(super().key(), hinge_mean="active")

    def __call__(self, outputs, y, n_classes):
        return active_pairs_loss(outputs, y.to(outputs.device), self.margin, self.squared, self.same_fraction,
                                 self.ood_fraction)


class ConfidenceLoss(Loss):
    r"""The confidence loss of Lee et al. (ICLR 2018, Eq. 1) with **seen OOD samples** in place of the
    GAN's generated ones (our stand-in for odm's CC-AG baseline; the pages say so):

    .. math:: L = \mathbb{E}_{in}\,[-\log P_\theta(y\,|\,x)]
              + \beta\, \mathbb{E}_{out}\,[\mathrm{KL}(\mathcal U(y) \,\|\, P_\theta(y\,|\,x))],
       \qquad \mathrm{KL}(\mathcal U \| P) = -\log C - \tfrac1C \textstyle\sum_j \log P_j .

    Samples labelled :data:`OOD_LABEL` form the second term; :meth:`ood_share` asks
    :func:`oodrepro.train.fit` for ``ood_share`` of a batch of them on every batch.
    """

    def __init__(self, beta: float = 1.0, share: float = 0.5):
        try:
            self.beta = float(beta)
        except (TypeError, ValueError):
            raise ParameterError(f"parameter 'beta' must be a number >= 0, got {beta!r}") from None
        if not np.isfinite(self.beta) or self.beta < 0:
            raise ParameterError(f"parameter 'beta' = {beta!r} is not accepted; use a number >= 0")
        self.share = _check_fraction("share", share)

    def key(self) -> dict:
        return {"loss": "confidence_seen_ood", "beta": self.beta, "share": self.share}

    def ood_share(self, step: int) -> float:
        """The same fraction of seen-OOD samples on every batch."""
        return self.share

    def __call__(self, outputs, y, n_classes):
        logp = torch.log_softmax(outputs, dim=1)
        inn = y != OOD_LABEL
        ce = torch.nn.functional.nll_loss(logp[inn], y[inn]) if inn.any() else outputs.sum() * 0.0
        if (~inn).any():
            kl = (-np.log(n_classes) - logp[~inn].mean(1)).mean()
            return ce + self.beta * kl
        return ce
