"""Transforms composed in different orders, and meta-learning through functional_call."""

import torch
import torch.func as tf

import ember
import ember.func as ef
from tests.func.test_forward_ad_skip import needs_forward_rules
from tests.func.test_transforms import _pair, _same


@needs_forward_rules  # forward mode: skipped until the ops' rules land
def test_compositions_match_torch():
    xe, xt = _pair((4, 3), 1)
    ve, vt = _pair((4, 3), 2)
    we, wt = _pair((3, 3), 3)

    def f(x, w):
        return (x @ w).tanh() * x

    def scalar(x, w):
        return f(x, w).pow(2).sum()
    E = {"x": xe, "v": ve, "w": we}
    T = {"x": xt, "v": vt, "w": wt}
    for run in (
        lambda F, a: F.vmap(lambda x, v: F.jvp(lambda y: f(y, a["w"]), (x,), (v,)))(a["x"],
                                                                                   a["v"]),
        lambda F, a: F.jacrev(F.vmap(lambda x: f(x, a["w"])))(a["x"]),
        lambda F, a: F.vmap(F.jacrev(f), in_dims=(0, None))(a["x"], a["w"]),
        lambda F, a: F.vmap(F.hessian(scalar), in_dims=(0, None))(a["x"], a["w"]),
        lambda F, a: F.grad(lambda w: F.vmap(F.grad(scalar), in_dims=(0, None))(
            a["x"], w).sum())(a["w"]),
        lambda F, a: F.jacfwd(F.grad(scalar, argnums=1), argnums=0)(a["x"][0], a["w"]),
        lambda F, a: F.vmap(F.vmap(F.grad(lambda x, w: (x * w).sin().sum()), in_dims=(0, None)),
                            in_dims=(0, None))(a["x"][:, None].expand(4, 2, 3), a["w"][0]),
    ):
        _same(run(ef, E), run(tf, T))


def test_maml_style_inner_step_through_functional_call():
    res = []
    for m, fm in ((ember, ef), (torch, tf)):
        torch.manual_seed(0)
        tnet = torch.nn.Linear(3, 1).double()
        net = tnet if m is torch else ember.nn.Linear(3, 1).double()
        if m is ember:
            net.load_state_dict({k: ember.tensor(v.detach().numpy())
                                 for k, v in tnet.state_dict().items()})
        x = m.linspace(-1, 1, 12, dtype=m.float64).reshape(4, 3)
        y = m.arange(4, dtype=m.float64).reshape(4, 1)

        def inner_loss(p, net=net, x=x, y=y, fm=fm):
            return ((fm.functional_call(net, p, (x,)) - y) ** 2).mean()

        def outer(p, fm=fm, inner_loss=inner_loss):
            g = fm.grad(inner_loss)(p)
            fast = {k: p[k] - 0.1 * g[k] for k in p}
            return inner_loss(fast)
        params = {k: v.detach() for k, v in net.named_parameters()}
        res.append(fm.grad_and_value(outer)(params))
    _same(*res)
