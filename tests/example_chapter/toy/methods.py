"""The example chapter's one method: the k-th neighbour's distance on the MLP's penultimate layer."""
from oodrepro import train
from oodrepro.detectors import DeepKNN
from oodrepro.engine import Method

KNN = Method("knn", DeepKNN, ("k",), model=lambda ctx, hyper: ctx.model(train.LabelSmoothedCE(0.0)),
             build=lambda ctx, hyper: DeepKNN(k=hyper["k"]))
