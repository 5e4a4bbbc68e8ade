"""Everyday PyTorch that ember does not yet run like torch, in files this sweep does not own.
Each test is strict-xfail with the cause; it starts passing (and fails) once fixed."""

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


@pytest.mark.xfail(strict=True, reason="ember/nn/_functional/activation.py: no "
                   "F.gumbel_softmax (-log(exponential_()) noise, straight-through when hard)")
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


@pytest.mark.xfail(strict=True, reason="ember/nn/utils: no weight_norm/spectral_norm "
                   "(neither nn.utils.parametrizations nor the legacy hooks)")
def test_weight_and_spectral_norm():
    run_both(weight_and_spectral_norm)
