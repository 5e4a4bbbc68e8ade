"""Everyday PyTorch that the compatibility sweep found missing in ember, now filled in: each
program runs under torch and ember with the same seed and must agree. (A gap found later goes
here as a strict xfail naming its cause.)"""

import numpy as np
import pytest

from .harness import run_both


def legacy_tensor_types(torch):
    x = torch.FloatTensor([1.5, 2.5])
    idx = torch.LongTensor([1, 0])
    return [x[idx], x.type(torch.LongTensor), isinstance(x, torch.FloatTensor)]


def test_legacy_tensor_types():
    run_both(legacy_tensor_types)


def numpy_scalars_in_lists(torch):
    stats = [np.mean([1.0, 2.0]), np.std([1.0, 2.0])]
    return [str(torch.tensor(stats).dtype).split(".")[1],
            str(torch.tensor([np.int32(3), np.int32(4)]).dtype).split(".")[1],
            str(torch.tensor([np.ones(2), np.zeros(2)]).dtype).split(".")[1]]


def test_numpy_scalars_in_lists():
    run_both(numpy_scalars_in_lists)


def gumbel_softmax_sampling(torch):
    logits = torch.randn(4, 5, requires_grad=True)
    soft = torch.nn.functional.gumbel_softmax(logits, tau=0.5)
    hard = torch.nn.functional.gumbel_softmax(logits, tau=0.5, hard=True)
    (soft.sum() + (hard * torch.arange(5.0)).sum()).backward()
    return [soft, hard, logits.grad]


def test_gumbel_softmax():
    run_both(gumbel_softmax_sampling)


def weight_and_spectral_norm(torch):
    nn = torch.nn
    torch.manual_seed(0)
    wn = nn.utils.parametrizations.weight_norm(nn.Linear(3, 2))
    sn = nn.utils.parametrizations.spectral_norm(nn.Linear(3, 2))
    old = nn.utils.weight_norm(nn.Linear(3, 2))
    x = torch.randn(4, 3)
    return [wn(x), sn(x), old(x), sorted(n for n, _ in wn.named_parameters())]


def test_weight_and_spectral_norm():
    run_both(weight_and_spectral_norm)


def gumbel_softmax_layouts(torch, dim, hard):
    logits = torch.randn(5, 4).t().requires_grad_()          # non-contiguous logits
    y = torch.nn.functional.gumbel_softmax(logits, tau=2.0, hard=hard, dim=dim)
    (y * torch.arange(20.0).reshape(4, 5)).sum().backward()
    return [y, logits.grad, y.sum(dim)]


@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("dim", [0, -1])
def test_gumbel_softmax_dims_and_layouts(dim, hard):
    run_both(gumbel_softmax_layouts, dim, hard)


def test_gumbel_softmax_eps_is_deprecated():
    import ember
    with pytest.warns(UserWarning, match="`eps` parameter is deprecated"):
        ember.nn.functional.gumbel_softmax(ember.zeros(3), eps=1e-5)
