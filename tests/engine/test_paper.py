"""The engine's Paper: its check that a number of neighbours fits the run's smallest training set."""
import pytest

from oodrepro.data import TRAIN_SIZES
from oodrepro.engine.paper import Paper
from oodrepro.errors import ParameterError

PAPER = Paper("toy", labels={}, method_labels={}, blocks={}, in_sets=["mnist5k", "cifar10", "odd"],
              ood_sets=["hflip", "noise"])


def test_smallest_train_is_the_smallest_in_set_capped_at_max_train():
    assert PAPER.smallest_train({"pairings": ["cifar10->hflip", "mnist5k->noise"]}) == TRAIN_SIZES["mnist5k"] == 4000
    assert PAPER.smallest_train({"pairings": ["cifar10->hflip"], "max_train": 700}) == 700
    assert PAPER.smallest_train({"pairings": ["cifar10->hflip"], "max_train": None}) == 50_000
    assert PAPER.smallest_train({"pairings": ["odd->hflip"]}) is None  # a set of unknown size is not checked


def test_check_train_size_names_the_parameter_and_the_largest_accepted_value():
    cfg = {"pairings": ["mnist5k->hflip"], "max_train": 100, "k": 99, "k_grid": [5, 150]}
    def limits(c):
        return lambda n: [("k", c["k"], n - 1)] + [("k_grid", k, n - 1) for k in c["k_grid"]]

    with pytest.raises(ParameterError, match=r"parameter 'k_grid' = 150 is larger than the training set allows: the "
                                             r"smallest training set of this run has 100 images \(max_train = 100\); "
                                             r"use k_grid <= 99"):
        PAPER.check_train_size(cfg, limits(cfg))
    ok = dict(cfg, k_grid=[5])
    assert PAPER.check_train_size(ok, limits(ok)) == {}
    assert PAPER.check_train_size({"pairings": ["odd->hflip"], "k": 10**9}, lambda n: [("k", 10**9, n)]) == {}


def test_adjust_shrinks_a_training_set_before_the_check():
    drop_fifth = (lambda a, oods, n: n - n // 5 if "noise" in oods else n)
    cfg = {"pairings": ["mnist5k->noise"], "max_train": 1000}
    assert PAPER.smallest_train(cfg, drop_fifth) == 800
    with pytest.raises(ParameterError, match="parameter 'm' = 900 is larger .* has 800 images .* use m <= 800"):
        PAPER.check_train_size(cfg, lambda n: [("m", 900, n)], drop_fifth)
