"""``functionalize`` and ``replace_all_batch_norm_modules_`` against torch.func."""

import numpy as np
import pytest
import torch

import ember
from tests.parity import same_error


def _mutating(lib):
    def f(x):
        y = x.clone()
        y.add_(1)
        x.mul_(2)
        return y * x
    return f


@pytest.mark.parametrize("remove", ["mutations", "mutations_and_views"])
def test_functionalize_keeps_results_and_input_mutations(remove):
    results = {}
    for lib in (ember, torch):
        x = lib.arange(3.0)
        out = lib.func.functionalize(_mutating(lib), remove=remove)(x)
        results[lib] = (out.numpy(), x.numpy())
    for e, t in zip(results[ember], results[torch]):
        np.testing.assert_array_equal(e, t)


def test_functionalize_bad_remove():
    same_error(lambda lib: lib.func.functionalize(lambda x: x, remove="views"))


def test_functionalize_composes_with_grad():
    def f(x):
        y = x.clone()
        y.mul_(x)
        return y.sum()
    e = ember.func.grad(ember.func.functionalize(f))(ember.arange(3.0))
    t = torch.func.grad(torch.func.functionalize(f))(torch.arange(3.0))
    np.testing.assert_allclose(e.numpy(), t.numpy())


def test_replace_all_batch_norm_modules():
    keys, outs = {}, {}
    x = np.random.default_rng(0).standard_normal((2, 1, 5, 5)).astype(np.float32)
    for lib in (ember, torch):
        lib.manual_seed(0)
        nn = lib.nn
        model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2),
                              nn.Sequential(nn.Flatten(), nn.BatchNorm1d(18)))
        assert lib.func.replace_all_batch_norm_modules_(model) is model
        for bn in (model[1], model[2][1]):
            assert bn.running_mean is None and bn.running_var is None
            assert bn.num_batches_tracked is None and bn.track_running_stats is False
        keys[lib] = sorted(model.state_dict())
        model.eval()  # without running statistics, eval mode normalises with batch statistics
        outs[lib] = model(lib.from_numpy(x)).detach().numpy()
    assert keys[ember] == keys[torch]
    np.testing.assert_allclose(outs[ember], outs[torch], rtol=1e-5, atol=1e-5)
