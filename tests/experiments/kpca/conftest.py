import pytest

from oodrepro import config
from oodrepro.experiments.kpca import features


@pytest.fixture(scope="package")
def quick_feats(tmp_path_factory):
    """A small LeNet-5 trained once for the kpca tests (1 epoch, 300 images) and its features of mnist5k and
    three OOD sets, with the config that made them."""
    import os

    os.environ["OODREPRO_CACHE_DIR"] = str(tmp_path_factory.mktemp("kcache"))
    cfg = config.resolve("kpca.main", profile="smoke", epochs=1, max_train=300, mnist_arch="lenet5")
    return features.network_features("mnist5k", ["hflip", "gaussian", "heldout"], cfg, seed=0), cfg
