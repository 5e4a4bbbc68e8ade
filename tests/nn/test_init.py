"""nn.init against torch: with the same seed every initialiser draws the same values (ember's
default RNG reproduces torch's stream), and every layer's reset_parameters gives torch's
weights."""

import math
import warnings

import numpy as np
import pytest
import torch

import ember

from .helpers import close

SHAPES = [(3, 5), (4, 2, 3, 3), (6, 1)]

FNS = [
    ("uniform_", lambda I, t: I.uniform_(t, -0.3, 0.7)),
    ("normal_", lambda I, t: I.normal_(t, 0.5, 2.0)),
    ("constant_", lambda I, t: I.constant_(t, 0.25)),
    ("ones_", lambda I, t: I.ones_(t)),
    ("zeros_", lambda I, t: I.zeros_(t)),
    ("xavier_uniform_", lambda I, t: I.xavier_uniform_(t, gain=1.5)),
    ("xavier_normal_", lambda I, t: I.xavier_normal_(t)),
    ("kaiming_uniform_", lambda I, t: I.kaiming_uniform_(t, a=math.sqrt(5))),
    ("kaiming_uniform_out_relu", lambda I, t: I.kaiming_uniform_(t, mode="fan_out",
                                                                 nonlinearity="relu")),
    ("kaiming_normal_", lambda I, t: I.kaiming_normal_(t, a=0.1, mode="fan_in")),
    ("trunc_normal_", lambda I, t: I.trunc_normal_(t, 0.1, 0.5, -0.4, 0.9)),
    ("orthogonal_", lambda I, t: I.orthogonal_(t, gain=2.0)),
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name,fn", FNS, ids=[f[0] for f in FNS])
def test_initialisers_draw_like_torch(name, fn, shape):
    for seed in (0, 11):
        torch.manual_seed(seed)
        ember.manual_seed(seed)
        t = torch.empty(shape, requires_grad=True)
        e = ember.empty(shape, requires_grad=True)
        rt, re_ = fn(torch.nn.init, t), fn(ember.nn.init, e)
        assert re_ is e
        assert e.is_leaf and e.grad_fn is None  # initialised under no_grad
        # orthogonal_ goes through a QR factorisation (LAPACK in both, maybe different paths)
        close(e, rt, 1e-5 if name == "orthogonal_" else 1e-6)
        # the RNG advanced by the same amount
        close(ember.rand(3), torch.rand(3), 0)


def test_orthogonal_is_orthogonal():
    w = ember.nn.init.orthogonal_(ember.empty(3, 6))
    close(w @ w.T, torch.eye(3, dtype=torch.float32), 1e-5)
    with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions"):
        ember.nn.init.orthogonal_(ember.empty(3))


def test_sparse_eye_dirac_match_torch():
    torch.manual_seed(2)
    ember.manual_seed(2)
    close(ember.nn.init.sparse_(ember.empty(6, 4), 0.5, std=0.1),
          torch.nn.init.sparse_(torch.empty(6, 4), 0.5, std=0.1), 1e-7)
    close(ember.nn.init.eye_(ember.empty(3, 5)), torch.nn.init.eye_(torch.empty(3, 5)), 0)
    for shape, groups in [((4, 2, 3), 1), ((6, 3, 3, 3), 2), ((2, 2, 3, 3, 3), 1),
                          ((4, 4, 2), 2)]:
        close(ember.nn.init.dirac_(ember.empty(shape), groups),
              torch.nn.init.dirac_(torch.empty(shape), groups), 0)
    for fn, args in [("eye_", ((3,),)), ("dirac_", ((3, 3),)), ("dirac_", ((3, 3, 3), 2)),
                     ("sparse_", ((3,), 0.1))]:
        shape, *rest = args
        with pytest.raises(ValueError) as te:
            getattr(torch.nn.init, fn)(torch.empty(shape), *rest)
        with pytest.raises(ValueError) as ee:
            getattr(ember.nn.init, fn)(ember.empty(shape), *rest)
        assert str(ee.value) == str(te.value)


def test_calculate_gain_and_errors():
    for nl, param in [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
                      ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
                      ("leaky_relu", 3), ("selu", None)]:
        assert ember.nn.init.calculate_gain(nl, param) == torch.nn.init.calculate_gain(nl, param)
    for nl, param in [("leaky_relu", True), ("leaky_relu", "x"), ("softmax", None)]:
        with pytest.raises(ValueError) as te:
            torch.nn.init.calculate_gain(nl, param)
        with pytest.raises(ValueError) as ee:
            ember.nn.init.calculate_gain(nl, param)
        assert str(ee.value) == str(te.value)
    for call in (lambda I, lib: I.kaiming_uniform_(lib.empty(3)),
                 lambda I, lib: I.xavier_normal_(lib.empty(3)),
                 lambda I, lib: I.kaiming_normal_(lib.empty(3, 2), mode="fan_avg")):
        with pytest.raises(ValueError) as te:
            call(torch.nn.init, torch)
        with pytest.raises(ValueError) as ee:
            call(ember.nn.init, ember)
        assert str(ee.value) == str(te.value)


def test_zero_element_kaiming_warns():
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        ember.nn.init.kaiming_uniform_(ember.empty(0, 3))


def test_trunc_normal_stays_in_bounds():
    w = ember.nn.init.trunc_normal_(ember.empty(2000), a=-0.5, b=0.5)
    assert w.min().item() >= -0.5 and w.max().item() <= 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="mean is more than 2 std"):
            ember.nn.init.trunc_normal_(ember.empty(3), mean=10.0)


LAYERS = [
    lambda nn: nn.Linear(5, 3), lambda nn: nn.Linear(4, 2, bias=False),
    lambda nn: nn.Bilinear(2, 3, 4), lambda nn: nn.Embedding(6, 3, padding_idx=2),
    lambda nn: nn.EmbeddingBag(5, 2), lambda nn: nn.PReLU(3), lambda nn: nn.BatchNorm1d(3),
    lambda nn: nn.LayerNorm((2, 3)), lambda nn: nn.GroupNorm(2, 4), lambda nn: nn.RMSNorm(3),
    lambda nn: nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 8), nn.Linear(8, 1)),
    lambda nn: nn.Linear(0, 3),
]


@pytest.mark.parametrize("idx", range(len(LAYERS)))
def test_layers_get_torchs_weights_under_the_same_seed(idx):
    for seed in (0, 42):
        torch.manual_seed(seed)
        ember.manual_seed(seed)
        t, e = LAYERS[idx](torch.nn), LAYERS[idx](ember.nn)
        ts = t.state_dict()
        es = e.state_dict()
        assert list(es) == list(ts)
        for k in ts:
            close(es[k], ts[k], 0)
            assert es[k].dtype.is_floating_point == ts[k].dtype.is_floating_point


def test_reset_parameters_redraws():
    lin = ember.nn.Linear(3, 3)
    before = lin.weight.detach().clone()
    lin.reset_parameters()
    assert not np.allclose(before.numpy(), lin.weight.detach().numpy())
    bound = 1 / math.sqrt(3)
    assert np.abs(lin.weight.detach().numpy()).max() <= bound
