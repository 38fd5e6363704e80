import pytest

from oodrepro import config
from oodrepro.errors import ParameterError


def test_profiles_resolve_and_validate():
    for prof in ("smoke", "quick", "paper"):
        cfg = config.resolve("knn_ls.table1", prof)
        assert cfg["profile"] == prof and cfg["k"] == 1 and cfg["alpha"] == 0.1


def test_overrides_and_coercion():
    cfg = config.resolve("knn_ls.table1", "smoke", k="3", seeds=3, layers="0,-1",
                         pairings="mnist5k->hflip, mnist->fashion_mnist")
    assert cfg["k"] == 3 and cfg["seeds"] == [0, 1, 2] and cfg["layers"] == [0, -1]
    assert cfg["pairings"] == ["mnist5k->hflip", "mnist->fashion_mnist"]
    assert config.resolve("knn_ls.table1", "smoke", seeds="4,7")["seeds"] == [4, 7]
    assert config.resolve("knn_ls.table1", "smoke", seeds=[5])["seeds"] == [5]


@pytest.mark.parametrize("kw,match", [
    (dict(k=0), r"parameter 'k' = 0 is out of range; accepted: >= 1"),
    (dict(k=-2), r"'k' = -2"),
    (dict(k=1.5), r"'k' must be an integer"),
    (dict(alpha=1.0), r"parameter 'alpha' = 1.0 is out of range; accepted: >= 0 and < 1"),
    (dict(alpha=-0.1), r"'alpha' = -0.1"),
    (dict(alpha="lots"), r"'alpha' must be a number"),
    (dict(pairings=["mnist5k->hflip", "mnist5k->rot90"]), r"pairing 'mnist5k->rot90': OOD set 'rot90' is not accepted"),
    (dict(pairings=["imagenet->hflip"]), r"pairing 'imagenet->hflip': in-distribution set 'imagenet'"),
    (dict(pairings=["mnist hflip"]), r"must look like 'IN->OOD'"),
    (dict(methods=["knn", "odin"]), r"parameter 'methods' = 'odin' is not accepted"),
    (dict(layers=[]), r"'layers' needs at least 1"),
    (dict(layers=[1]), r"'layers' = 1 is out of range"),
    (dict(layers=[0, 0]), r"repeat a depth"),
    (dict(seeds=0), r"'seeds' = 0"),
    (dict(kk=3), r"unknown parameter\(s\) 'kk'"),
])
def test_bad_parameters_name_themselves(kw, match):
    with pytest.raises(ParameterError, match=match):
        config.resolve("knn_ls.table1", "smoke", **kw)


def test_paper_profile_requests_every_row_of_table1():
    cfg = config.resolve("knn_ls.table1", "paper")
    assert len(cfg["pairings"]) == 31 and cfg["seeds"] == [0, 1, 2, 3, 4] and len(cfg["methods"]) == 7


def test_unknown_profile_and_experiment():
    with pytest.raises(ParameterError, match=r"parameter 'profile' = 'fast' is not accepted; use one of 'smoke'"):
        config.resolve("knn_ls.table1", "fast")
    with pytest.raises(ParameterError, match="unknown experiment 'nope'"):
        config.resolve("nope")
