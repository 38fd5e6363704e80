"""kpca's pages: parameters, profiles, Table 5's inconsistent cells."""
import pytest

from oodrepro import config, reference
from oodrepro.errors import ParameterError
from oodrepro.experiments.kpca import pages


@pytest.mark.parametrize("name, value", [("gamma", 0.0), ("gamma", -1.0), ("evr", 0.0), ("evr", 1.5),
                                         ("n_components", 0), ("pairings", ["mnist5k->nowhere"]),
                                         ("arch", "vgg"), ("rff_layout", "theirs")])
def test_bad_page_parameters_name_the_parameter(name, value):
    with pytest.raises(ParameterError, match=name if name != "pairings" else "nowhere"):
        config.resolve("kpca.main", profile="smoke", **{name: value})


def test_every_page_resolves_on_every_profile():
    for name in ("main", "ablation", "approximation", "landmarks", "sensitivity", "cost", "motivation"):
        for profile in ("smoke", "quick", "paper"):
            assert config.resolve(f"kpca.{name}", profile=profile)


def test_table5_inconsistent_rows_are_the_low_auroc_low_fpr_cells():
    bad = pages.table5_inconsistent()
    t = reference.table("kpca", "Table 5").pivot_table(index=["method", "ood"], columns="metric", values="value")
    assert len(bad) >= 1
    for r in bad.itertuples():
        assert t.loc[(r.method, r.ood), "auroc"] < 50 and t.loc[(r.method, r.ood), "fpr95"] < 80
