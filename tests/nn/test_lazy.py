"""Lazy modules against torch: the same random initial weights after ``manual_seed`` (drawn
at the first forward), the same outputs, the class they become, state-dict loading and
errors."""

import numpy as np
import pytest
import torch

import ember

CASES = [
    ("LazyLinear", (5,), (3, 7)),
    ("LazyLinear", (5, False), (2, 3, 4)),
    ("LazyConv1d", (4, 3), (2, 3, 9)),
    ("LazyConv2d", (4, 3), (2, 3, 6, 6)),
    ("LazyConv2d", (4, 3, 1, 1, 1, 2), (6, 5, 5)),
    ("LazyConv3d", (2, 2), (1, 2, 4, 4, 4)),
    ("LazyConvTranspose1d", (4, 3), (2, 3, 5)),
    ("LazyConvTranspose2d", (4, 3, 2), (2, 2, 4, 4)),
    ("LazyConvTranspose3d", (2, 2), (1, 3, 3, 3, 3)),
    ("LazyBatchNorm1d", (), (4, 3)),
    ("LazyBatchNorm2d", (), (4, 3, 2, 2)),
    ("LazyBatchNorm3d", (1e-3, None), (2, 3, 2, 2, 2)),
    ("LazyInstanceNorm1d", (), (2, 3, 5)),
    ("LazyInstanceNorm2d", (1e-5, 0.1, False, False), (2, 3, 4, 4)),
    ("LazyInstanceNorm3d", (), (2, 3, 2, 2, 2)),
]


def _run(lib, name, args, shape):
    lib.manual_seed(0)
    m = getattr(lib.nn, name)(*args)
    before = repr(m)
    x = lib.randn(*shape)
    y = m(x)
    after = lib.rand(3)  # the stream continues where torch's does
    return m, before, y, after


@pytest.mark.filterwarnings("ignore:input's size at dim")  # both warn (num_features=0)
@pytest.mark.parametrize("name,args,shape", CASES, ids=[c[0] + str(c[1]) for c in CASES])
def test_first_forward_matches_torch(name, args, shape):
    tm, t_before, ty, t_after = _run(torch, name, args, shape)
    em, e_before, ey, e_after = _run(ember, name, args, shape)
    assert e_before == t_before
    assert type(em).__name__ == type(tm).__name__ == name[4:]
    assert repr(em) == repr(tm)
    tsd, esd = tm.state_dict(), em.state_dict()
    assert list(esd) == list(tsd)
    for k in tsd:
        assert esd[k].dtype == getattr(ember, str(tsd[k].dtype).split(".")[1]), k
        np.testing.assert_allclose(esd[k].numpy(), tsd[k].numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=k)
    np.testing.assert_allclose(ey.detach().numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(e_after.numpy(), t_after.numpy())
    assert not em._forward_pre_hooks and not em._load_state_dict_pre_hooks


def test_placeholders_and_state_dict_loading():
    for lib in (torch, ember):
        m = lib.nn.LazyLinear(3)
        assert isinstance(m.weight, lib.nn.UninitializedParameter)
        assert isinstance(lib.nn.LazyBatchNorm1d().running_mean, lib.nn.UninitializedBuffer)
        assert [repr(v) for v in m.state_dict().values()] == ["<UninitializedParameter>"] * 2
        assert m.has_uninitialized_params()
    src = torch.nn.Linear(4, 3)
    tm, em = torch.nn.LazyLinear(3), ember.nn.LazyLinear(3)
    tm.load_state_dict(src.state_dict())
    em.load_state_dict({k: ember.tensor(v.numpy()) for k, v in src.state_dict().items()})
    assert type(em).__name__ == "LazyLinear" and not em.has_uninitialized_params()
    torch.manual_seed(1)
    ember.manual_seed(1)
    x = np.ones((2, 4), dtype=np.float32)
    ty, ey = tm(torch.tensor(x)), em(ember.tensor(x))
    np.testing.assert_allclose(ey.detach().numpy(), ty.detach().numpy(), rtol=1e-6)
    assert repr(em) == repr(tm)  # in_features taken from the loaded weight
    assert ember.rand(1).item() == torch.rand(1).item()  # loading drew nothing


def test_lazy_gradients_flow_to_materialised_parameters():
    ember.manual_seed(0)
    m = ember.nn.LazyLinear(2)
    m(ember.ones(1, 3)).sum().backward()
    torch.manual_seed(0)
    t = torch.nn.LazyLinear(2)
    t(torch.ones(1, 3)).sum().backward()
    np.testing.assert_allclose(m.weight.grad.numpy(), t.weight.grad.numpy())
    assert isinstance(m.weight, ember.nn.Parameter) and type(m.weight).__name__ == "Parameter"


@pytest.mark.parametrize("make,shape", [
    (lambda nn: nn.LazyConv2d(4, 3, groups=2), (1, 3, 4, 4)),
    (lambda nn: nn.LazyConv2d(4, 3), (3, 4)),
])
def test_errors_match_torch(make, shape):
    with pytest.raises(Exception) as te:
        make(torch.nn)(torch.ones(*shape))
    with pytest.raises(type(te.value)) as ee:
        make(ember.nn)(ember.ones(*shape))
    assert str(ee.value).replace("ember.", "torch.") == str(te.value)


@pytest.mark.parametrize("name,args", [("LazyBatchNorm1d", ()), ("LazyLinear", (3,))])
def test_dtype_conversion_and_copy_before_first_forward(name, args):
    import copy
    res = []
    for lib in (torch, ember):
        lib.manual_seed(0)
        m = getattr(lib.nn, name)(*args).double()
        if name == "LazyLinear":  # torch cannot deepcopy an UninitializedBuffer
            m = copy.deepcopy(m)
            assert m.has_uninitialized_params()
        y = m(lib.ones(4, 2, dtype=lib.float64) * lib.arange(2.0, dtype=lib.float64))
        res.append((str(y.dtype).split(".")[1], [str(v.dtype).split(".")[1]
                                                 for v in m.state_dict().values()],
                    y.detach().numpy()))
    assert res[0][:2] == res[1][:2]
    np.testing.assert_allclose(res[1][2], res[0][2], rtol=1e-12)
