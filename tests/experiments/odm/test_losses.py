"""oodrepro.experiments.odm.losses: odm's contrastive loss (Eq. 1), ODM pair mining and the confidence loss, on hand-computed cases."""
import math

import numpy as np
import pytest
import torch

from oodrepro.experiments.odm import losses
from oodrepro.errors import ParameterError
from oodrepro.experiments.odm.losses import OOD_LABEL, ContrastiveLoss, contrastive_loss, mine_pairs


def _pairs():
    a = torch.zeros(3, 2)
    b = torch.tensor([[3.0, 4.0], [3.0, 4.0], [6.0, 8.0]])  # D = 5, 5, 10
    return a, b, torch.tensor([0, 1, 1])


def test_contrastive_loss_squared_hand_values():
    a, b, diff = _pairs()
    # same: ½·5² = 12.5; different, m = 6: ½·(6 − 5)² = 0.5; different, D = 10 > m: 0
    assert float(contrastive_loss(a, b, diff, margin=6.0)) == pytest.approx((12.5 + 0.5 + 0.0) / 3)
    assert float(contrastive_loss(a[:1], b[:1], diff[:1], margin=6.0)) == pytest.approx(12.5)


def test_contrastive_loss_unsquared_hand_values():
    a, b, diff = _pairs()
    # the authors' code: same ½·5 = 2.5; different ½·max(0, 6 − 5) = 0.5; 0
    assert float(contrastive_loss(a, b, diff, margin=6.0, squared=False)) == pytest.approx((2.5 + 0.5) / 3)
    # margin 12: different pairs ½·7 and ½·2
    assert float(contrastive_loss(a, b, diff, margin=12.0, squared=False)) == pytest.approx((2.5 + 3.5 + 1.0) / 3)


def test_contrastive_loss_gradient_is_finite_at_zero_distance():
    a = torch.zeros(2, 3, requires_grad=True)
    for squared in (True, False):
        contrastive_loss(a, a.detach().clone(), torch.tensor([0, 1]), 10.0, squared).backward()
        assert torch.isfinite(a.grad).all()
        a.grad = None


@pytest.mark.parametrize("margin", [0, -1.0, "x", float("nan")])
def test_margin_must_be_positive(margin):
    with pytest.raises(ParameterError, match="'margin'"):
        ContrastiveLoss(margin=margin)


@pytest.mark.parametrize("dim", [0, -3, 2.5, True])
def test_embedding_dim_must_be_positive_int(dim):
    with pytest.raises(ParameterError, match="'embedding_dim'"):
        losses.check_embedding_dim(dim)


def _batch(gen, n_in=128, n_ood=32, n_classes=3):
    y = torch.randint(n_classes, (n_in,), generator=gen)
    return torch.cat([y, torch.full((n_ood,), OOD_LABEL)])


def test_no_ood_ood_pair_is_ever_formed_and_kinds_are_right():
    gen = torch.Generator().manual_seed(0)
    for t in range(200):
        y = _batch(gen, n_in=int(torch.randint(1, 60, (1,), generator=gen)), n_ood=int(torch.randint(0, 60, (1,), generator=gen)))
        i, j, diff, kind = mine_pairs(y, generator=gen)
        assert not ((y[i] == OOD_LABEL) & (y[j] == OOD_LABEL)).any()
        assert (y[i] != OOD_LABEL).all()  # every anchor is in-distribution
        assert (y[i][kind == 0] == y[j][kind == 0]).all()
        assert ((y[i][kind == 1] != y[j][kind == 1]) & (y[j][kind == 1] != OOD_LABEL)).all()
        assert (y[j][kind == 2] == OOD_LABEL).all()
        assert torch.equal(diff, (kind > 0).long())
    i, j, _, _ = mine_pairs(torch.full((10,), OOD_LABEL))
    assert len(i) == 0  # an all-OOD batch forms no pair at all


def test_pair_proportions_over_many_batches():
    loss = ContrastiveLoss()
    gen = torch.Generator().manual_seed(1)
    counts = np.zeros((2, 3))
    for step in range(400):
        share = loss.ood_share(step)
        y = _batch(gen, n_in=128, n_ood=int(round(share * 128)), n_classes=10)
        _, _, _, kind = mine_pairs(y, generator=gen)
        counts[step % 2] += np.bincount(kind.numpy(), minlength=3)
    even, odd = counts[0] / counts[0].sum(), counts[1] / counts[1].sum()
    np.testing.assert_allclose(even, [0.25, 0.75, 0.0], atol=1e-9)  # no OOD on even batches
    np.testing.assert_allclose(odd, [0.25, 0.25, 0.5], atol=1e-9)  # every second batch: half in-OOD
    total = counts.sum(0) / counts.sum()
    assert total[2] == pytest.approx(0.5 * odd.sum() * counts[1].sum() / counts.sum())


def test_mining_is_seeded():
    y = _batch(torch.Generator().manual_seed(2))
    a = mine_pairs(y, generator=torch.Generator().manual_seed(5))
    b = mine_pairs(y, generator=torch.Generator().manual_seed(5))
    assert all(torch.equal(u, v) for u, v in zip(a, b))


def test_confidence_loss_hand_value():
    loss = losses.ConfidenceLoss(beta=1.0)
    out = torch.tensor([[0.0, 0.0], [0.0, math.log(3.0)]])
    y = torch.tensor([0, OOD_LABEL])
    kl = -math.log(2) - 0.5 * (math.log(0.25) + math.log(0.75))  # KL(U || [1/4, 3/4])
    assert float(loss(out, y, 2)) == pytest.approx(math.log(2) + kl)
    with pytest.raises(ParameterError, match="'beta'"):
        losses.ConfidenceLoss(beta=-1)


def test_the_hinge_averaged_over_active_pairs_by_hand():
    """Four points on a line, margin 10: same pairs (0,3) D=3 and (4,30) D=26; different pairs D = 4, 1 (inside the
    margin: hinge² 36, 81) and 30, 27 (outside: 0). The authors' mean divides the hinge sum by all 4 pairs, the
    active mean by the 2 inside the margin; a seen-OOD point at 2 adds in×OOD pairs D = 2, 1, 2, 28."""
    import torch

    from oodrepro.experiments.odm.losses import ActiveContrastiveLoss, ContrastiveLoss, active_pairs_loss, all_pairs_loss

    z = torch.tensor([[0.0, 0.0], [3.0, 0.0], [4.0, 0.0], [30.0, 0.0]])
    y = torch.tensor([0, 0, 1, 1])
    same = 0.25 * (0.5 * 9 + 0.5 * 676) / 2
    assert float(all_pairs_loss(z, y, 10.0, True, 0.25, 0.5)) == pytest.approx(same + 0.75 * 0.5 * (36 + 81) / 4)
    assert float(active_pairs_loss(z, y, 10.0, True, 0.25, 0.5)) == pytest.approx(same + 0.75 * 0.5 * (36 + 81) / 2)
    zo, yo = torch.cat([z, torch.tensor([[2.0, 0.0]])]), torch.cat([y, torch.tensor([-1])])
    want = same / 0.25 * 0.25 + 0.25 * 0.5 * (36 + 81) / 2 + 0.5 * 0.5 * (64 + 81 + 64) / 3
    assert float(ActiveContrastiveLoss(10.0)(zo, yo, 2)) == pytest.approx(want)
    assert ActiveContrastiveLoss().key() == dict(ContrastiveLoss(pairs="all").key(), hinge_mean="active")
    with pytest.raises(ParameterError, match="needs pairs='all'"):
        ActiveContrastiveLoss(pairs="sampled")


def test_hinge_mean_active_needs_every_pair_of_the_batch():
    from oodrepro import config

    with pytest.raises(ParameterError, match="parameter 'hinge_mean' = 'active' needs pairs = 'all'"):
        config.resolve("odm.mnist", "quick", hinge_mean="active")
    assert config.resolve("odm.mnist", "quick", hinge_mean="active", pairs="all")["hinge_mean"] == "active"


def test_ml_steps_trains_the_embeddings_longer_than_the_classifier():
    """``ml_steps`` gives ML and ODM their own recipe (the run's, for that many steps; its own name in a stored file),
    the CE network keeps the run's (``epochs`` then sets the CE network's length only)."""
    from oodrepro import config
    from oodrepro.experiments.odm.methods import embedding_recipe

    cfg = config.resolve("odm.tsinghua", "paper", ml_steps=7500)
    r = embedding_recipe(cfg)
    assert r.name == "odm_cpu-7500steps" and r.total_steps(10_000) == 7500 and r.lr == 2e-3
    assert embedding_recipe(config.resolve("odm.tsinghua", "quick")) is None
    assert embedding_recipe(config.resolve("odm.tsinghua", "paper")).name == "odm_cpu-7500steps"  # the profile's
    assert embedding_recipe(config.resolve("odm.tsinghua", "paper", ml_steps=7500, epochs=3)).total_steps(10_000) == 7500


def test_a_context_trains_a_network_under_its_own_recipe(tmp_path):
    from oodrepro import config, data
    from oodrepro.experiments.odm.methods import context, embedding_recipe

    cfg = config.resolve("odm.mnist", "paper", seeds=[0], ml_steps=2)
    ctx = context("mlp", data.load("digits", "train").subset(range(64)), cfg, 0)
    rec = embedding_recipe(cfg)
    m = ctx.model(ContrastiveLoss(), embedding_dim=4, tag="ml", recipe=rec)
    assert m.steps == 2 and m.recipe.name == "adam-2steps"
    assert ctx.model(ContrastiveLoss(), embedding_dim=4, tag="ml").steps > 2  # the context's own recipe: 20 epochs
    assert ctx.store_name("mlp", "ml", rec).endswith("-ml-adam-2steps-s0")


# --- the authors' pairing (pairs="authors") --------------------------------------------------------------------
def _authors_sets(n_per_class=(5, 40, 40), n_ood=30):
    from oodrepro.data import Dataset

    y = np.concatenate([np.full(k, c) for c, k in enumerate(n_per_class)])
    # each image's pixels hold its index in the set (+1), so a partner image tells which one it was
    x = (np.arange(1, len(y) + 1, dtype=np.float32)[:, None, None, None] * np.ones((1, 1, 2, 2), np.float32))
    ins = Dataset("toy", x / 1000.0, y)
    ood = Dataset("toy_ood", np.full((n_ood, 1, 2, 2), 0.999, np.float32), np.zeros(n_ood, int))
    return ins, ood, y


def test_authors_pairing_lays_out_the_pairs_as_the_authors_code():
    from oodrepro import recipes

    ins, ood, y_all = _authors_sets()
    loss = losses.AuthorsPairsLoss()
    mix = loss.batch_mixer(ins, ood, recipes.Recipe("adam", lr=1e-3, epochs=1, batch_size=64), seed=0)
    counts = {"same": 0, "diff": 0, "ood": 0}
    for step in range(40):
        idx = torch.randperm(len(y_all), generator=torch.Generator().manual_seed(step))[:64]
        xb, yb = torch.from_numpy(ins.x[idx.numpy()]), torch.from_numpy(y_all[idx.numpy()])
        xm, ym = mix(xb, yb, step)
        assert xm.shape == (64, 1, 2, 2) and len(ym) == 64
        h = 32
        assert torch.equal(xm[:h], xb[:h]) and torch.equal(ym[:h], yb[:h])  # the first half are the anchors
        partner = ym[h:]
        assert (partner[:8] == yb[:8]).all()  # pairs 0–7 (a quarter): same class
        if step % 2 == 1:  # odd batches: the last half of the pairs are in × seen OOD, replaced
            assert (partner[16:] == OOD_LABEL).all() and torch.allclose(xm[h + 16:], torch.full_like(xm[h + 16:], 0.999))
            assert ((partner[8:16] != yb[8:16]) & (partner[8:16] != OOD_LABEL)).all()
        else:
            assert (partner[8:] != yb[8:32]).all() and (partner != OOD_LABEL).all()
        # every in-distribution partner is a training image with the label it carries
        pid = torch.round(xm[h:, 0, 0, 0] * 1000).long() - 1
        inn = partner != OOD_LABEL
        assert torch.equal(torch.from_numpy(y_all)[pid[inn]], partner[inn])
        counts["same"] += 8
        counts["ood"] += 16 if step % 2 else 0
        counts["diff"] += 8 if step % 2 else 24
    total = sum(counts.values())
    assert (counts["same"] / total, counts["diff"] / total, counts["ood"] / total) == (0.25, 0.5, 0.25)


def test_authors_pairing_draws_same_class_partners_from_the_whole_class():
    from oodrepro import recipes

    ins, _, y_all = _authors_sets()
    mix = losses.AuthorsPairsLoss().batch_mixer(ins, None, recipes.Recipe("adam", lr=1e-3, epochs=1, batch_size=8),
                                                seed=1)
    seen = set()
    anchor = torch.from_numpy(ins.x[[0, 10, 50, 60, 1, 11, 51, 61]])  # class 0's image 0 leads: pair 0 is same-class
    for step in range(0, 400, 2):
        xm, ym = mix(anchor, torch.from_numpy(y_all[[0, 10, 50, 60, 1, 11, 51, 61]]), step)
        assert int(ym[4]) == 0
        seen.add(int(round(float(xm[4, 0, 0, 0]) * 1000)) - 1)
    assert seen == {0, 1, 2, 3, 4}  # all of class 0, the anchor itself included (the authors' draw)


def test_authors_pairing_is_seeded_and_the_loss_pairs_i_with_i_plus_half():
    from oodrepro import recipes

    ins, ood, y_all = _authors_sets()
    rec = recipes.Recipe("adam", lr=1e-3, epochs=1, batch_size=16)
    xb, yb = torch.from_numpy(ins.x[:16]), torch.from_numpy(y_all[:16])
    a = losses.AuthorsPairsLoss().batch_mixer(ins, ood, rec, seed=3)(xb, yb, 1)
    b = losses.AuthorsPairsLoss().batch_mixer(ins, ood, rec, seed=3)(xb, yb, 1)
    c = losses.AuthorsPairsLoss().batch_mixer(ins, ood, rec, seed=4)(xb, yb, 1)
    assert torch.equal(a[0], b[0]) and not torch.equal(a[0], c[0])
    z = torch.randn(16, 3)
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 0, 2, 2, 0, OOD_LABEL, OOD_LABEL, 1, 1])
    loss = losses.AuthorsPairsLoss(margin=4.0)
    expected = contrastive_loss(z[:8], z[8:], (y[:8] != y[8:]).long(), 4.0)
    assert float(loss(z, y, 3)) == pytest.approx(float(expected))
    assert loss.key()["pairs"] == "authors" and "pairs" not in ContrastiveLoss().key()


def test_authors_pairing_trains_through_fit_and_needs_two_classes():
    from oodrepro.data import Dataset
    from oodrepro.train import fit_mixed

    ins, ood, _ = _authors_sets()
    a = fit_mixed("mlp", ins, losses.AuthorsPairsLoss(), ood_set=ood, embedding_dim=3, epochs=2, batch_size=16,
                  seed=0, progress=False, use_cache=False)
    b = fit_mixed("mlp", ins, losses.AuthorsPairsLoss(), ood_set=ood, embedding_dim=3, epochs=2, batch_size=16,
                  seed=0, progress=False, use_cache=False)
    for u, v in zip(a.state_dict().values(), b.state_dict().values()):
        torch.testing.assert_close(u, v)
    one = Dataset("one_class", ins.x[:5], np.zeros(5, int))
    with pytest.raises(ParameterError, match="two classes"):
        fit_mixed("mlp", one, losses.AuthorsPairsLoss(), embedding_dim=3, epochs=1, batch_size=4, progress=False,
                  use_cache=False)
