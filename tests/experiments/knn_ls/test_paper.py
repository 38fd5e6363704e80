"""knn-ls's paper vocabulary: pairings and their grouping."""
import pytest

from oodrepro.errors import ParameterError
from oodrepro.experiments import knn_ls
from oodrepro.experiments.knn_ls.paper import PAPER


def test_paper_pairings_and_grouping():
    p = knn_ls.paper_pairings()
    assert len(p) == 31 and p[0] == "mnist->emnist_digits" and "celeba->svhn" in p
    g = PAPER.group_pairings(["mnist->hflip", "fashion_mnist->mnist", "mnist->vflip", "mnist->hflip"])
    assert g == {"mnist": ["hflip", "vflip"], "fashion_mnist": ["mnist"]}
    with pytest.raises(ParameterError, match="must look like 'IN->OOD'"):
        PAPER.parse_pairing("mnist")
    with pytest.raises(ParameterError, match="OOD set 'moon' is not accepted"):
        PAPER.parse_pairing("mnist->moon")
