"""The example chapter's vocabulary (a made-up paper): data sets, its one method, the model it trains."""
from oodrepro.engine import ModelSpec, Paper

PAPER = Paper("toy", labels={"mnist": "MNIST", "mnist5k": "MNIST (5k sample)", "hflip": "HFlip",
                             "gaussian": "Gaussian"},
              method_labels={"knn": "k-NN distance"}, blocks={"mnist5k": "mnist"}, in_sets=("mnist5k",),
              ood_sets=("hflip", "gaussian"))
MODELS = ModelSpec(lambda ds: "mlp", epochs={"mlp": 20}, layers={"mlp": [-1]})
