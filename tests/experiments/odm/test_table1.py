"""odm's Table 1 page."""
import pytest

from oodrepro.errors import ParameterError


def test_table1_page_reads_needs_data_without_svhn(monkeypatch, tmp_path, readable):
    from oodrepro import config
    from oodrepro.experiments.odm import table1

    monkeypatch.delenv("OODREPRO_DATA_ROOT", raising=False)
    cfg = config.resolve("odm.table1", profile="quick")
    out = table1.run_page(cfg)
    assert set(out["rows"].status) == {"needs data"} and len(out["rows"]) == 24
    assert {c["verdict"] for c in out["claims"]} == {"needs data"}
    wide = table1.table1_wide(out["rows"])
    assert wide.shape[0] == 8 and "needs data (47.4)" in wide.iloc[0, 2]
    assert readable(wide) == []
    with pytest.raises(ParameterError, match="'in_dists'"):
        config.resolve("odm.table1", profile="quick", in_dists=["mnist"])
    with pytest.raises(ParameterError, match="'margin'"):
        config.resolve("odm.mnist", profile="quick", margin=0)
    with pytest.raises(ParameterError, match="'embedding_dim'"):
        config.resolve("odm.tsinghua", profile="quick", embedding_dim=0)
