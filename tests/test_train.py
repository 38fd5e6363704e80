import numpy as np
import pytest
import torch

from oodrepro import cache, data, embed, train
from oodrepro.errors import ParameterError
from oodrepro.experiments.odm.losses import OOD_LABEL, ContrastiveLoss


def test_smooth_targets_hand_values():
    t = train.smooth_targets(torch.tensor([2, 0]), 4, 0.1)
    np.testing.assert_allclose(t.numpy(), [[0.025, 0.025, 0.925, 0.025], [0.925, 0.025, 0.025, 0.025]], atol=1e-7)
    np.testing.assert_allclose(t.sum(1).numpy(), 1.0, atol=1e-7)
    np.testing.assert_array_equal(train.smooth_targets(torch.tensor([1]), 3, 0.0).numpy(), [[0, 1, 0]])


def test_soft_cross_entropy_equals_torch_label_smoothing():
    g = torch.Generator().manual_seed(0)
    z, y = torch.randn(16, 10, generator=g), torch.randint(0, 10, (16,), generator=g)
    ours = train.soft_cross_entropy(z, train.smooth_targets(y, 10, 0.1))
    ref = torch.nn.functional.cross_entropy(z, y, label_smoothing=0.1)
    assert float(ours) == pytest.approx(float(ref), rel=1e-6)


@pytest.mark.parametrize("alpha", [1.0, 1.5, -0.01, "x"])
def test_alpha_out_of_range(alpha):
    with pytest.raises(ParameterError, match="'alpha'"):
        train.smooth_targets(torch.tensor([0]), 2, alpha)


def test_fit_is_seeded_cached_and_learns():
    ds = data.load("digits", "train")
    m1 = train.fit_classifier("mlp", ds, alpha=0.1, epochs=3, seed=0, progress=False)
    hits = cache.CacheStats.hits
    m2 = train.fit_classifier("mlp", ds, alpha=0.1, epochs=3, seed=0, progress=False)
    assert cache.CacheStats.hits == hits + 1 and m1.cache_key == m2.cache_key
    m3 = train.fit_classifier("mlp", ds, alpha=0.1, epochs=3, seed=0, progress=False, use_cache=False)
    for a, b in zip(m1.state_dict().values(), m3.state_dict().values()):
        torch.testing.assert_close(a, b)  # same seed, same weights
    te = data.load("digits", "test")
    logits = embed.embed(m1, te, [0])[0]
    assert (logits.argmax(1) == te.y).mean() > 0.8
    e = embed.embed(m1, te, [0, -1, -2])
    assert [a.shape for a in e] == [(len(te), 10), (len(te), 256), (len(te), 256)]
    with pytest.raises(ParameterError, match="'epochs' = 0"):
        train.fit_classifier("mlp", ds, epochs=0)
    with pytest.raises(ParameterError, match="'arch' = 'vgg'"):
        train.fit_classifier("vgg", ds, epochs=1, progress=False)


class _SquaredError(train.Loss):
    """A loss that is not cross-entropy: squared error to the one-hot target."""

    def key(self):
        return {"loss": "squared_error"}

    def __call__(self, outputs, y, n_classes):
        return ((outputs - torch.nn.functional.one_hot(y, n_classes).float()) ** 2).mean()


def test_fit_takes_any_loss_and_keys_the_cache_on_it():
    ds = data.load("digits", "train")
    a = train.fit("mlp", ds, loss=_SquaredError(), epochs=2, seed=0, progress=False)
    b = train.fit("mlp", ds, loss=train.LabelSmoothedCE(0.0), epochs=2, seed=0, progress=False)
    assert a.cache_key != b.cache_key and a.history[-1]["loss"] < a.history[0]["loss"]
    hits = cache.CacheStats.hits
    assert train.fit("mlp", ds, loss=_SquaredError(), epochs=2, seed=0, progress=False).cache_key == a.cache_key
    assert cache.CacheStats.hits == hits + 1
    with pytest.raises(ParameterError, match="'loss' must be"):
        train.fit("mlp", ds, loss="mse", epochs=1)


def test_label_smoothed_ce_matches_fit_classifier():
    ds = data.load("digits", "train")
    a = train.fit_classifier("mlp", ds, alpha=0.1, epochs=1, seed=3, progress=False)
    b = train.fit("mlp", ds, loss=train.LabelSmoothedCE(0.1), epochs=1, seed=3, progress=False)
    assert a.cache_key == b.cache_key


class _Recording(ContrastiveLoss):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.seen = []

    def __call__(self, outputs, y, n_classes):
        self.seen.append((int((y == OOD_LABEL).sum()), len(y), outputs.shape[1]))
        return super().__call__(outputs, y, n_classes)


def test_fit_mixed_adds_seen_ood_on_every_second_batch_and_is_cached():
    from oodrepro.data.core import class_subset
    from oodrepro.train import fit_mixed

    ds = data.load("digits", "train")
    ins, ood = class_subset(ds, [2, 6, 7]), class_subset(ds, [0, 3, 4, 8])
    loss = _Recording(margin=10.0)
    fit_mixed("mlp", ins, loss, ood_set=ood, embedding_dim=5, epochs=1, batch_size=64, seed=0, progress=False,
              use_cache=False)
    n_ood = [k for k, _, _ in loss.seen]
    assert n_ood[0::2] == [0] * len(n_ood[0::2]) and all(k == 16 for k in n_ood[1::2])  # ¼ of 64, odd batches
    assert {d for _, _, d in loss.seen} == {5}  # a 5-d embedding, not 3 logits
    a = fit_mixed("mlp", ins, ContrastiveLoss(), ood_set=ood, embedding_dim=5, epochs=2, seed=0, progress=False)
    b = fit_mixed("mlp", ins, ContrastiveLoss(), ood_set=ood, embedding_dim=5, epochs=2, seed=0, progress=False)
    c = fit_mixed("mlp", ins, ContrastiveLoss(), embedding_dim=5, epochs=2, seed=0, progress=False)
    assert a.cache_key == b.cache_key != c.cache_key  # the seen-OOD set is part of the key
    for u, v in zip(a.state_dict().values(), b.state_dict().values()):
        torch.testing.assert_close(u, v)
    assert a.history[-1]["loss"] < a.history[0]["loss"] * 1.5 and a.steps > 0
    with pytest.raises(ParameterError, match="'embedding_dim'"):
        fit_mixed("mlp", ins, ContrastiveLoss(), embedding_dim=0, epochs=1, progress=False)


def test_training_is_pinned_to_one_thread_and_another_count_enters_the_key(monkeypatch):
    """Issue 21: CPU training is not bit-identical across thread counts, so a seed's weights depended on the
    kernel's thread setting while the cache key did not say it. Training now runs at $OODREPRO_TRAIN_THREADS
    (default 1) whatever torch's setting outside; another count is part of the model's key."""
    ds = data.load("digits", "train")
    seen = []
    orig = torch.nn.Module.train

    def spy(self, mode=True):  # model.train() is called inside the training loop; eval() is train(False)
        if mode:
            seen.append(torch.get_num_threads())
        return orig(self, mode)

    monkeypatch.setattr(torch.nn.Module, "train", spy)
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        m2 = train.fit_classifier("mlp", ds, epochs=1, seed=3, progress=False, use_cache=False)
        assert seen and set(seen) == {1}, seen
        assert torch.get_num_threads() == 2  # restored
        torch.set_num_threads(1)
        m1 = train.fit_classifier("mlp", ds, epochs=1, seed=3, progress=False, use_cache=False)
    finally:
        torch.set_num_threads(old)
    assert m1.cache_key == m2.cache_key
    for a, b in zip(m1.state_dict().values(), m2.state_dict().values()):
        assert torch.equal(a, b)
    monkeypatch.setenv("OODREPRO_TRAIN_THREADS", "2")
    seen.clear()
    m3 = train.fit_classifier("mlp", ds, epochs=1, seed=3, progress=False, use_cache=False)
    assert m3.cache_key != m1.cache_key and set(seen) == {2}
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("OODREPRO_TRAIN_THREADS", bad)
        with pytest.raises(ParameterError, match=rf"\$OODREPRO_TRAIN_THREADS = '{bad}' is not accepted; use a positive"):
            train.fit_classifier("mlp", ds, epochs=1, seed=3, progress=False, use_cache=False)
