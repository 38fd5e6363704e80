"""ODIN's input perturbation (Liang et al. 2018, Eq. 2): one implementation (detectors/odin.py) that the ODIN
detector, knn-ls's DeConf and odm's ODIN baseline all use; checked on a hand case and against the detector's
logit-only score."""
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import oodrepro
from oodrepro import models
from oodrepro.detectors import ODIN, deconf, odin
from oodrepro.errors import ParameterError
from oodrepro.experiments.odm import methods


def _linear(seed=0, d=6, c=4):
    torch.manual_seed(seed)
    return torch.nn.Linear(d, c)


def test_perturbation_is_the_signed_gradient_step_of_eq2():
    net, t, eps = _linear(), 2.0, 0.01
    x = torch.randn(9, 6)
    got = odin.input_perturbation(odin.odin_confidence(net, t), x, eps)
    # ∇ₓ log softmax(Wx/T)_ŷ = (W_ŷ − pᵀW) / T, so x̃ = x + ε·sign(W_ŷ − pᵀW)
    with torch.no_grad():
        w, p = net.weight, torch.softmax(net(x) / t, dim=1)
        want = x + eps * torch.sign(w[p.argmax(1)] - p @ w)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-7)
    assert odin.input_perturbation(odin.odin_confidence(net, t), x, 0.0) is x
    with pytest.raises(ParameterError, match="'eps'"):
        odin.input_perturbation(odin.odin_confidence(net, t), x, -1.0)


def test_odin_with_a_model_at_eps_0_equals_the_logit_only_score():
    torch.manual_seed(0)
    net = models.build("mlp", (1, 8, 8), 5)
    x = np.random.default_rng(0).uniform(size=(30, 1, 8, 8)).astype(np.float32)
    with torch.no_grad():
        logits = net.eval()(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(ODIN(model=net).fit().score_inputs(x), ODIN().fit().score(logits=logits))
    t = 10.0
    moved = ODIN(temperature=t, eps=0.02, model=net).fit().score_inputs(x)
    x_t = odin.perturb_array(odin.odin_confidence(net, t), x, 0.02)
    with torch.no_grad():
        np.testing.assert_allclose(moved, ODIN(temperature=t).score(logits=net(torch.from_numpy(x_t)).numpy()),
                                   rtol=1e-12)
    # the step raises every point's confidence: its ODIN score goes down
    assert (moved <= ODIN(temperature=t).score(logits=logits) + 1e-9).all()


def test_odin_refuses_eps_without_inputs():
    with pytest.raises(ParameterError, match="score_inputs"):
        ODIN(eps=0.01).fit().score(logits=np.zeros((2, 3)))
    with pytest.raises(ParameterError, match="needs the classifier"):
        ODIN(eps=0.01).fit().score_inputs(np.zeros((2, 3)))
    with pytest.raises(ParameterError, match="'eps'"):
        ODIN(eps=-1).fit()


def test_deconf_and_odm_use_the_one_perturbation():
    torch.manual_seed(0)
    net = models.build("mlp_deconf", (1, 8, 8), 5).eval()
    x = torch.rand(7, 1, 8, 8)
    torch.testing.assert_close(deconf.perturb(net, x, 0.01),
                               odin.input_perturbation(deconf.h_confidence(net), x, 0.01), rtol=0, atol=0)
    assert not hasattr(methods, "odin_inputs")
    # no other module of the package takes a gradient's sign
    root = Path(oodrepro.__file__).parent
    hits = [str(p.relative_to(root)) for p in root.rglob("*.py")
            if re.search(r"\bsign\(|autograd\.grad", p.read_text())]
    assert hits == ["detectors/odin.py"]
