"""oodrepro.data.load: the registry's errors."""
import pytest

from oodrepro import data
from oodrepro.errors import DataNotFoundError, ParameterError


def test_unknown_names_are_clear():
    with pytest.raises(ParameterError, match="unknown data set 'mnsit'; known: .*mnist5k"):
        data.load("mnsit")
    with pytest.raises(ParameterError, match="unknown shift 'rot90'"):
        data.load("mnist5k:rot90")
    with pytest.raises(ParameterError, match="split 'val'"):
        data.load("mnist5k", "val")


def test_missing_root_names_the_variable():
    with pytest.raises(DataNotFoundError, match="OODREPRO_DATA_ROOT"):
        data.load("mnist", "train")
