"""ember.autograd.forward_ad (dual numbers) against torch.autograd.forward_ad."""

import pytest
import torch
import torch.autograd.forward_ad as tfw

import ember
import ember.autograd.forward_ad as efw
from tests.func.test_forward_ad_skip import needs_forward_rules
from tests.func.test_transforms import _pair, _raises, _same


def _run(m, fw, x, t, y, s):
    with fw.dual_level():
        xd = fw.make_dual(x, t)
        yd = fw.make_dual(y, s)
        out = (xd.sin() * yd).sum(0) + (xd @ yd.T).tanh().mean() + m.nn.functional.relu(xd)[0]
        a = fw.unpack_dual(out)
        b = fw.unpack_dual(xd * 2)
        c = fw.unpack_dual(x)                      # not a dual: tangent None
        d = fw.unpack_dual(y.exp())
    after = fw.unpack_dual(out)                    # the level is closed: tangent None
    return a, b, c, d, (after.tangent is None), type(a).__name__, a._fields


@needs_forward_rules  # sin, tanh, matmul, relu
def test_dual_numbers_match_torch():
    xe, xt = _pair((2, 3), 1)
    te, tt = _pair((2, 3), 2)
    ye, yt = _pair((2, 3), 3)
    se, st = _pair((2, 3), 4)
    _same(_run(ember, efw, xe, te, ye, se), _run(torch, tfw, xt, tt, yt, st))


def test_dual_with_user_autograd():
    res = []
    for m, fw in ((ember, efw), (torch, tfw)):
        x = m.tensor([0.5, -1.0, 2.0], requires_grad=True)
        with fw.dual_level():
            p = fw.unpack_dual(fw.make_dual(x, m.ones(3)).exp() * 3)
            assert p.primal.requires_grad and p.tangent.requires_grad
            p.tangent.sum().backward()
        res.append((p.primal.detach(), x.grad))
    _same(*res)


def test_forward_ad_errors_match_torch():
    xe, xt = _pair((3,))
    _raises(lambda: efw.make_dual(xe, xe), lambda: tfw.make_dual(xt, xt))
    _raises(lambda: efw.exit_dual_level(), lambda: tfw.exit_dual_level())
    with efw.dual_level(), tfw.dual_level():
        _raises(lambda: efw.make_dual(xe, xe[:2]), lambda: tfw.make_dual(xt, xt[:2]))
        _raises(lambda: efw.make_dual(ember.arange(3), xe),
                lambda: tfw.make_dual(torch.arange(3), xt))
        _raises(lambda: efw.enter_dual_level(), lambda: tfw.enter_dual_level())
    with pytest.raises(RuntimeError):
        efw.exit_dual_level()
