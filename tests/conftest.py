import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch):
    """Every test gets its own cache and no data root: tests never touch ../shared/data or ~/.cache."""
    monkeypatch.setenv("OODREPRO_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("OODREPRO_DATA_ROOT", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    yield


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(0)
