"""vmap's batched path (ember/func/_batching.py and its rules) against torch.func: that the
workloads batch (no per-sample fallback), match torch, and raise torch's errors."""

import warnings

import numpy as np
import pytest
import torch
import torch.func as tf

import ember
import ember.func as ef
from tests.func.test_transforms import _pair, _raises, _same
from tests.func.test_vmap import _mlp

_DROP = "There is a performance drop because we have not yet implemented the batching rule for"


def _batched(fn):
    """Run ``fn`` and fail if anything fell back to the per-sample loop."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn()
    drops = [str(w.message) for w in caught if str(w.message).startswith(_DROP)]
    assert not drops, drops
    return out


def _per_sample_grads(m, fm, n=6):
    net = _mlp(m)
    params = {k: v.detach() for k, v in net.named_parameters()}
    rng = np.random.default_rng(5)
    x = m.tensor(rng.standard_normal((n, 5)).astype(np.float32))
    y = m.tensor(rng.integers(0, 3, n))

    def loss(p, xi, yi):
        out = fm.functional_call(net, p, (xi.unsqueeze(0),))
        return m.nn.functional.cross_entropy(out, yi.unsqueeze(0))
    return fm.vmap(fm.grad(loss), in_dims=(None, 0, 0))(params, x, y)


def test_per_sample_gradients_are_batched_and_match_torch():
    e = _batched(lambda: _per_sample_grads(ember, ef))
    _same(e, _per_sample_grads(torch, tf), tol=1e-5)
    # ... and equal a loop of per-sample backward passes in ember
    net = _mlp(ember)
    rng = np.random.default_rng(5)
    x = ember.tensor(rng.standard_normal((6, 5)).astype(np.float32))
    y = ember.tensor(rng.integers(0, 3, 6))
    for i in range(6):
        net.zero_grad()
        ember.nn.functional.cross_entropy(net(x[i:i + 1]), y[i:i + 1]).backward()
        for k, p in net.named_parameters():
            np.testing.assert_allclose(e[k][i].numpy(), p.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_ensemble_is_batched():
    outs = []
    for m, fm in ((ember, ef), (torch, tf)):
        models = [_mlp(m) for _ in range(3)]
        params, buffers = fm.stack_module_state(models)
        x = m.ones(4, 5)
        fn = fm.vmap(lambda p, b, x, net=models[0]: fm.functional_call(net, (p, b), (x,)),
                     in_dims=(0, 0, None))
        outs.append(_batched(lambda fn=fn: fn(params, buffers, x)) if m is ember
                    else fn(params, buffers, x))
        # grad of the ensemble's summed output w.r.t. the stacked weights
        g = fm.vmap(fm.grad(lambda p, b, x, net=models[0]: fm.functional_call(
            net, (p, b), (x,)).pow(2).sum()), in_dims=(0, 0, None))
        outs.append(g({k: v.detach() for k, v in params.items()}, buffers, x))
    _same(outs[0], outs[2], tol=1e-5)
    _same(outs[1], outs[3], tol=1e-4)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_reduce_per_sample(reduction):
    xe, xt = _pair((4, 3, 5), 1)
    ye, yt = _pair((4, 3, 5), 2)
    te = ember.tensor(np.random.default_rng(3).integers(0, 5, (4, 3)))
    tt = torch.tensor(te.numpy())
    we, wt = _pair((5,), 4)
    we, wt = we.abs(), wt.abs()
    for fe, ft in (
        (lambda a, t: ember.nn.functional.cross_entropy(a, t, reduction=reduction),
         lambda a, t: torch.nn.functional.cross_entropy(a, t, reduction=reduction)),
        (lambda a, t: ember.nn.functional.cross_entropy(a, t, weight=we, ignore_index=1,
                                                       reduction=reduction),
         lambda a, t: torch.nn.functional.cross_entropy(a, t, weight=wt, ignore_index=1,
                                                       reduction=reduction)),
        (lambda a, t: ember.nn.functional.cross_entropy(a[0], t[0], reduction=reduction),
         lambda a, t: torch.nn.functional.cross_entropy(a[0], t[0], reduction=reduction)),
    ):
        _same(_batched(lambda fe=fe: ef.vmap(fe)(xe, te)), tf.vmap(ft)(xt, tt))
    _same(_batched(lambda: ef.vmap(lambda a, b: ember.nn.functional.mse_loss(
        a, b, reduction=reduction))(xe, ye)),
        tf.vmap(lambda a, b: torch.nn.functional.mse_loss(a, b, reduction=reduction))(xt, yt))


def test_matmul_family_and_linear_with_batched_weights():
    ae, at = _pair((4, 3, 5), 1)
    be, bt = _pair((4, 5, 2), 2)
    ve, vt = _pair((4, 5), 3)
    ue, ut = _pair((5,), 4)
    me, mt = _pair((5, 2), 5)
    ce, ct = _pair((6, 3, 5), 6)
    cases = [
        (lambda m: lambda a, b: a @ b, (ae, be), (at, bt), 0),
        (lambda m: lambda a, v: a @ v, (ae, ve), (at, vt), 0),
        (lambda m: lambda v, b: v @ b, (ve, be), (vt, bt), 0),
        (lambda m: lambda v, w: v @ w, (ve, ve), (vt, vt), 0),
        (lambda m: lambda a, u: a @ u, (ae, ue), (at, ut), (0, None)),
        (lambda m: lambda u, b: u @ b, (ue, be), (ut, bt), (None, 0)),
        (lambda m: lambda a, w: a @ w, (ae, me), (at, mt), (0, None)),
        (lambda m: lambda c, b: c @ b, (ce, be), (ct, bt), (None, 0)),
        (lambda m: lambda a, b: m.bmm(a.unsqueeze(0), b.unsqueeze(0)), (ae, be), (at, bt), 0),
        (lambda m: lambda w, x: m.nn.functional.linear(x, w, w[:, 0]), (ae, ce),
         (at, ct), (0, None)),
        (lambda m: lambda w, x: m.nn.functional.linear(x, w), (ae, ve), (at, vt), 0),
        (lambda m: lambda a, b: m.addmm(a[:, :2], a, b, beta=0.5, alpha=2.0), (ae, be),
         (at, bt), 0),
    ]
    for make, ein, tin, dims in cases:
        _same(_batched(lambda: ef.vmap(make(ember), in_dims=dims)(*ein)),
              tf.vmap(make(torch), in_dims=dims)(*tin))


def test_reductions_shape_ops_and_indexing():
    xe, xt = _pair((3, 4, 5), 1)
    ie = ember.tensor([[0, 2], [1, 1], [4, 3]])
    it = torch.tensor(ie.numpy())
    for f in (lambda m, a: a.sum(-1) + a.mean(0).sum() + a.var(1, keepdim=True).sum(),
              lambda m, a: a.softmax(-1).log_softmax(0).amax(1),
              lambda m, a: a.transpose(0, 1).reshape(5, 4)[1:, ::2].unsqueeze(0).expand(2, 4, 2),
              lambda m, a: m.cat([a, a * 2], -1).permute(1, 0).flip(0).cumsum(1),
              lambda m, a: m.stack([a[0], a[-1]]).max(dim=1).values,
              lambda m, a: m.where(m.arange(5) < 2, a, a * 3)[..., 1],
              lambda m, a: a.norm(dim=0) + m.linalg.vector_norm(a, dim=(0, 1)).unsqueeze(0)):
        _same(_batched(lambda f=f: ef.vmap(lambda a: f(ember, a))(xe)),
              tf.vmap(lambda a: f(torch, a))(xt))
    # a batched index into an unbatched table, and an unbatched index into batched data
    tab_e, tab_t = _pair((5, 2), 2)
    _same(_batched(lambda: ef.vmap(lambda i: tab_e[i])(ie)), tf.vmap(lambda i: tab_t[i])(it))
    je, jt = ember.tensor([[0], [2], [1], [4]]), torch.tensor([[0], [2], [1], [4]])
    _same(_batched(lambda: ef.vmap(lambda a: a.gather(1, je))(xe)),
          tf.vmap(lambda a: a.gather(1, jt))(xt))


def test_inplace_on_batched_tensors_and_errors():
    xe, xt = _pair((3, 4), 1)

    def f(a):
        b = a * 1
        b.add_(2).mul_(a)
        b.copy_(b * 2)
        return b
    _same(ef.vmap(f)(xe), tf.vmap(f)(xt))
    ye, yt = ember.zeros(4), torch.zeros(4)
    _raises(lambda: ef.vmap(lambda a: ye.add_(a))(xe), lambda: tf.vmap(lambda a: yt.add_(a))(xt))
    _raises(lambda: ef.vmap(lambda a: ye.copy_(a))(xe),
            lambda: tf.vmap(lambda a: yt.copy_(a))(xt))
    _raises(lambda: ef.vmap(lambda a: a.sum().item())(xe),
            lambda: tf.vmap(lambda a: a.sum().item())(xt))
    _raises(lambda: ef.vmap(lambda a: float(a.sum()))(xe),
            lambda: tf.vmap(lambda a: float(a.sum()))(xt))
    _raises(lambda: ef.vmap(lambda a: a * 2 if a.sum() else a)(xe),
            lambda: tf.vmap(lambda a: a * 2 if a.sum() else a)(xt))
    _raises(lambda: ef.vmap(lambda a: a.tolist())(xe), lambda: tf.vmap(lambda a: a.tolist())(xt))
    _raises(lambda: ef.vmap(lambda a: a, out_dims=None)(xe),
            lambda: tf.vmap(lambda a: a, out_dims=None)(xt))
    _raises(lambda: ef.vmap(lambda a: a, out_dims=2)(xe),
            lambda: tf.vmap(lambda a: a, out_dims=2)(xt))
    _raises(lambda: ef.vmap(lambda a: a * ember.rand(4))(xe),
            lambda: tf.vmap(lambda a: a * torch.rand(4))(xt))


def test_out_dims_none_chunk_size_and_empty_batch():
    xe, xt = _pair((5, 3), 1)
    we, wt = _pair((3,), 2)
    _same(ef.vmap(lambda a: (a * 2, we.exp()), out_dims=(1, None))(xe),
          tf.vmap(lambda a: (a * 2, wt.exp()), out_dims=(1, None))(xt))
    for chunk in (1, 2, 5, 7):
        _same(ef.vmap(lambda a: (a.sum(), a * we), chunk_size=chunk, out_dims=(0, 1))(xe),
              tf.vmap(lambda a: (a.sum(), a * wt), chunk_size=chunk, out_dims=(0, 1))(xt))
    _same(ef.vmap(lambda a: a.exp().sum(0))(ember.zeros(0, 3)),
          tf.vmap(lambda a: a.exp().sum(0))(torch.zeros(0, 3)))


def test_nested_vmap_grad_and_fallback_warning():
    xe, xt = _pair((2, 3, 4), 1)
    we, wt = _pair((4,), 2)
    fe = ef.vmap(ef.vmap(ef.grad(lambda a, w: (a * w).tanh().sum()), in_dims=(0, None)),
                 in_dims=(0, None))
    ft = tf.vmap(tf.vmap(tf.grad(lambda a, w: (a * w).tanh().sum()), in_dims=(0, None)),
                 in_dims=(0, None))
    _same(_batched(lambda: fe(xe, we)), ft(xt, wt))
    ge = ef.vmap(ef.vmap(ef.grad(lambda a, w: (a * w).tanh().sum(), argnums=1),
                         in_dims=(0, None)), in_dims=(0, None))
    gt = tf.vmap(tf.vmap(tf.grad(lambda a, w: (a * w).tanh().sum(), argnums=1),
                         in_dims=(0, None)), in_dims=(0, None))
    _same(_batched(lambda: ge(xe, we)), gt(xt, wt))
    # An op with no rule runs per sample, announced, and still gives torch's values.
    with pytest.warns(UserWarning, match="There is a performance drop"):
        out = ef.vmap(lambda a: a.renorm(2, 0, 1.0))(xe)
    _same(out, tf.vmap(lambda a: a.renorm(2, 0, 1.0))(xt))


def test_jacrev_is_one_batched_backward():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((64, 64)) / 8
    x = rng.standard_normal(64)
    we, wt = ember.tensor(w), torch.tensor(w)
    xe, xt = ember.tensor(x), torch.tensor(x)
    expected = tf.jacrev(lambda v: (wt @ v).tanh() * v)(xt)
    for chunk in (None, 7):
        _same(_batched(lambda chunk=chunk: ef.jacrev(lambda v: (we @ v).tanh() * v,
                                                     chunk_size=chunk)(xe)), expected)
    # pytrees of outputs and inputs, has_aux
    ae, at = _pair((3, 2), 3)
    _same(_batched(lambda: ef.jacrev(lambda a, b: ((a * b).sum(0), a.exp()), argnums=(0, 1),
                                     has_aux=False)(ae, ae.T.contiguous().T)),
          tf.jacrev(lambda a, b: ((a * b).sum(0), a.exp()), argnums=(0, 1))(at, at))


@pytest.mark.parametrize("groups", [1, 2])
def test_convolution_shared_and_per_sample_weights(groups):
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s) for s in ((3, 2, 4, 7, 6), (6, 4 // groups, 3, 3), (6,)))
    E = [ember.tensor(a) for a in (x, w, b)]
    T = [torch.tensor(a) for a in (x, w, b)]

    def conv(m, a, w_, b_):
        return m.nn.functional.conv2d(a, w_, b_, stride=2, padding=1, groups=groups)
    _same(_batched(lambda: ef.vmap(lambda a: conv(ember, a, *E[1:]))(E[0])),
          tf.vmap(lambda a: conv(torch, a, *T[1:]))(T[0]))
    wt_ = rng.standard_normal((4, 3, 3, 3))
    _same(_batched(lambda: ef.vmap(lambda a: ember.nn.functional.conv_transpose2d(
        a, ember.tensor(wt_), stride=2))(E[0])),
        tf.vmap(lambda a: torch.nn.functional.conv_transpose2d(a, torch.tensor(wt_),
                                                               stride=2))(T[0]))
    # per-sample gradients: the samples' weights become the groups of one convolution
    ge = _batched(lambda: ef.vmap(ef.grad(lambda w_, b_, a: conv(ember, a, w_, b_).pow(2).sum(),
                                          argnums=(0, 1)), in_dims=(None, None, 0))(
        E[1], E[2], E[0]))
    gt = tf.vmap(tf.grad(lambda w_, b_, a: conv(torch, a, w_, b_).pow(2).sum(), argnums=(0, 1)),
                 in_dims=(None, None, 0))(T[1], T[2], T[0])
    _same(ge, gt, tol=1e-9)


def test_forward_mode_inside_vmap_is_batched():
    xe, xt = _pair((4, 3), 1)
    ve, vt = _pair((4, 3), 2)
    we, wt = _pair((3, 3), 3)
    _same(_batched(lambda: ef.vmap(lambda a, b: ef.jvp(lambda y: (y @ we).tanh() * y, (a,),
                                                       (b,)))(xe, ve)),
          tf.vmap(lambda a, b: tf.jvp(lambda y: (y @ wt).tanh() * y, (a,), (b,)))(xt, vt))
    _same(_batched(lambda: ef.vmap(ef.jacfwd(lambda y: (y @ we).tanh() * y))(xe)),
          tf.vmap(tf.jacfwd(lambda y: (y @ wt).tanh() * y))(xt))


def test_jvp_of_per_sample_linear_under_vmap():
    """Forward mode through vmap's per-sample linear node (batched weights)."""
    rng = np.random.default_rng(4)
    w, tw = rng.standard_normal((3, 5, 4)), rng.standard_normal((3, 5, 4))
    x, b = rng.standard_normal((3, 6, 4)), rng.standard_normal((3, 5))
    out = {}
    for lib in (ember, torch):
        def f(w, tw, x, b):
            return lib.func.jvp(lambda w_: lib.nn.functional.linear(x, w_, b) * 2, (w,), (tw,))
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # no per-sample fallback
            results = lib.func.vmap(f)(*(lib.from_numpy(a) for a in (w, tw, x, b)))
        out[lib] = [t.numpy() for t in results]
    for e, t in zip(out[ember], out[torch]):
        np.testing.assert_allclose(e, t, rtol=1e-10, atol=1e-10)


_PLAIN_OPS = [
    lambda m, a: a > 0,
    lambda m, a: m.eq(a, a.flip(-1)),
    lambda m, a: (a >= 0).logical_and(a < 1),
    lambda m, a: m.logical_not(a > 0) ^ (a < -1),
    lambda m, a: a.isnan() | a.isinf(),
    lambda m, a: m.isclose(a, a * (1 + 1e-9)),
    lambda m, a: m.signbit(a),
    lambda m, a: (a > 0).all(),
    lambda m, a: (a > 0).any(dim=-1),
    lambda m, a: m.all(a > 0, dim=(0,), keepdim=True),
    lambda m, a: m.count_nonzero(a > 0, dim=1),
    lambda m, a: m.count_nonzero(a > 0),
    lambda m, a: a.argmax(),
    lambda m, a: m.argmin(a, dim=0, keepdim=True),
    lambda m, a: m.argmax(a, dim=-1, keepdim=True),
    lambda m, a: a.argsort(dim=0, descending=True),
    lambda m, a: m.isin(a.round(), m.tensor([0.0, 1.0], dtype=a.dtype)),
    lambda m, a: m.bucketize(a, m.tensor([-1.0, 0.0, 1.0], dtype=a.dtype), right=True),
    lambda m, a: m.where(a > 0, a, a * 0.1),
    lambda m, a: a.masked_fill(a < 0, 0.0),
    lambda m, a: a.nanmean(dim=1),
    lambda m, a: m.special.bessel_j0(a),
    lambda m, a: m.special.chebyshev_polynomial_t(a, 3),
    lambda m, a: m.gcd((a * 10).long(), m.tensor(6)),
]


@pytest.mark.parametrize("i", range(len(_PLAIN_OPS)))
def test_non_differentiable_ops_batch_like_torch(i):
    """Comparisons, predicates, logical ops, all/any, argmax & co. run once on the batch
    (positional and keyword dims alike) and give torch.func.vmap's results."""
    op = _PLAIN_OPS[i]
    xe, xt = _pair((5, 3, 4), i)
    _same(_batched(lambda: ef.vmap(lambda a: op(ember, a))(xe)),
          tf.vmap(lambda a: op(torch, a))(xt))


def test_flat_argmax_keepdim_keeps_the_sample_shape():
    # torch.func.vmap gives (5, 1) here where each sample's result is (1, 1): ember keeps
    # the per-sample shape (docs/func.md).
    xe, _ = _pair((5, 3, 4), 7)
    got = _batched(lambda: ef.vmap(lambda a: a.argmax(keepdim=True))(xe))
    want = ember.stack([a.argmax(keepdim=True) for a in xe])
    assert got.shape == (5, 1, 1) and ember.equal(got, want)


def test_control_flow_on_a_batched_comparison_raises_like_torch():
    xe, xt = _pair((5, 3), 3)

    def branch(m):
        def f(a):
            if (a > 0).all():
                return a
            return -a
        return f

    _raises(lambda: ef.vmap(branch(ember))(xe), lambda: tf.vmap(branch(torch))(xt))
    _raises(lambda: ef.vmap(lambda a: int(a.argmax()))(xe),
            lambda: tf.vmap(lambda a: int(a.argmax()))(xt))
    # A batched index is not control flow: both index each sample with its own argmax.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _same(ef.vmap(lambda a: a[a.argmax()])(xe), tf.vmap(lambda a: a[a.argmax()])(xt))


def test_einsum_batches_with_a_letter_for_the_batch_dim():
    xe, xt = _pair((4, 3, 5), 11)
    we, wt = _pair((5, 2), 12)
    for eq in ("ij,jk->ik", "ij,jk", "ij->ji", "ij->", "...j,jk->...k"):
        _same(_batched(lambda: ef.vmap(lambda a: ember.einsum(eq, a, we))(xe)
                       if "," in eq else ef.vmap(lambda a: ember.einsum(eq, a))(xe)),
              tf.vmap(lambda a: torch.einsum(eq, a, wt))(xt)
              if "," in eq else tf.vmap(lambda a: torch.einsum(eq, a))(xt))
    # Both operands batched, and under grad: the batched plan differentiates like any einsum.
    ye, yt = _pair((4, 5, 2), 13)
    _same(_batched(lambda: ef.vmap(ef.grad(lambda a, b: ember.einsum("ij,jk->", a, b)))(xe, ye)),
          tf.vmap(tf.grad(lambda a, b: torch.einsum("ij,jk->", a, b)))(xt, yt))


def test_solvers_batch_with_shared_or_batched_operands():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 3, 3)) + 3 * np.eye(3)
    b = rng.standard_normal((4, 3, 2))
    v = rng.standard_normal((4, 3))
    Ae, Be, Ve = (ember.tensor(x) for x in (a, b, v))
    At, Bt, Vt = (torch.tensor(x) for x in (a, b, v))
    for fn_e, fn_t, ins_e, ins_t, dims in (
            (ember.linalg.solve, torch.linalg.solve, (Ae, Be), (At, Bt), (0, 0)),
            (ember.linalg.solve, torch.linalg.solve, (Ae, Ve), (At, Vt), (0, 0)),
            (ember.linalg.solve, torch.linalg.solve, (Ae[0], Be), (At[0], Bt), (None, 0)),
            (lambda x, y: ember.linalg.solve_triangular(x.triu(), y, upper=True),
             lambda x, y: torch.linalg.solve_triangular(x.triu(), y, upper=True),
             (Ae, Be[0]), (At, Bt[0]), (0, None)),
            (lambda x, y: ember.cholesky_solve(y, ember.linalg.cholesky(x @ x.mT)),
             lambda x, y: torch.cholesky_solve(y, torch.linalg.cholesky(x @ x.mT)),
             (Ae, Be), (At, Bt), (0, 0))):
        _same(_batched(lambda: ef.vmap(fn_e, in_dims=dims)(*ins_e)),
              tf.vmap(fn_t, in_dims=dims)(*ins_t))


def test_diag_embed_index_add_cross_and_cdist_batch():
    xe, xt = _pair((4, 3, 5), 21)
    se, st = _pair((4, 3, 2), 22)
    ie, it = ember.tensor([4, 0]), torch.tensor([4, 0])
    ce, ct = _pair((3,), 23)
    cases = [
        (lambda m, mi, a, s: m.diag_embed(a, offset=1, dim1=0, dim2=2), (0, 0)),
        (lambda m, mi, a, s: a.index_add(1, mi, s, alpha=2.0), (0, 0)),
        (lambda m, mi, a, s: a.index_copy(-1, mi, s), (0, 0)),
        (lambda m, mi, a, s: a[0].index_add(1, mi, s), (None, 0)),
        (lambda m, mi, a, s: m.linalg.cross(a[:, :3].mT, s.sum(-1).expand(3, 3), dim=0), (0, 0)),
        (lambda m, mi, a, s: m.cdist(a, s.reshape(-1)[:10].reshape(2, 5)), (0, None)),
        (lambda m, mi, a, s: m.cdist(a, a[:2] * 2, p=1.0), (0, 0)),
    ]
    for fn, dims in cases:
        _same(_batched(lambda: ef.vmap(lambda a, s: fn(ember, ie, a, s), in_dims=dims)(xe, se)),
              tf.vmap(lambda a, s: fn(torch, it, a, s), in_dims=dims)(xt, st))
    _same(_batched(lambda: ef.vmap(lambda a: ember.linalg.cross(a[:, :3], ce.unsqueeze(0)))(xe)),
          tf.vmap(lambda a: torch.linalg.cross(a[:, :3], ct.unsqueeze(0)))(xt))


def test_quantiles_and_in_place_view_ops_batch():
    xe, xt = _pair((4, 5, 3), 31)
    qe, qt = ember.tensor([0.2, 0.7], dtype=ember.float64), torch.tensor([0.2, 0.7],
                                                                         dtype=torch.float64)
    for kw in ({}, {"dim": 0}, {"dim": 1, "keepdim": True, "interpolation": "nearest"}):
        _same(_batched(lambda: ef.vmap(lambda a: ember.quantile(a, qe, **kw))(xe)),
              tf.vmap(lambda a: torch.quantile(a, qt, **kw))(xt))
        _same(_batched(lambda: ef.vmap(lambda a: ember.nanquantile(a, 0.4, **kw))(xe)),
              tf.vmap(lambda a: torch.nanquantile(a, 0.4, **kw))(xt))
    def views(a):
        return (a * 1).unsqueeze_(0).transpose_(0, 2).squeeze_(2)
    _same(_batched(lambda: ef.vmap(views)(xe)), tf.vmap(views)(xt))


def test_batched_index_bounds_are_checked_like_torch():
    xe, xt = _pair((4, 5), 32)
    bad = [[0, 1], [2, 7], [0, 0], [1, 1]]
    # torch names the physical dim (1) in its message; ember names the sample's (0).
    with pytest.raises(RuntimeError, match="index 7 is out of bounds for dimension 0 with "
                                           "size 5"):
        ef.vmap(lambda a, i: a.gather(0, i))(xe, ember.tensor(bad))
    with pytest.raises(RuntimeError, match="index 7 is out of bounds for dimension 1"):
        tf.vmap(lambda a, i: a.gather(0, i))(xt, torch.tensor(bad))
    # A negative index is refused too (NumPy alone would wrap it around).
    with pytest.raises(RuntimeError, match="index -1 is out of bounds"):
        ef.vmap(lambda a, i: a.gather(0, i))(xe, -ember.tensor(bad).clamp(max=1))


def test_linalg_functions_batch_like_torch():
    rng = np.random.default_rng(41)
    a = rng.standard_normal((4, 3, 3)) + 2 * np.eye(3)
    b = rng.standard_normal((4, 3, 2))
    Ae, Be, At, Bt = ember.tensor(a), ember.tensor(b), torch.tensor(a), torch.tensor(b)
    cases = [
        (lambda m, x, y: m.linalg.svdvals(x),),
        (lambda m, x, y: m.linalg.eigvalsh(x + x.mT),),
        (lambda m, x, y: m.linalg.matrix_norm(x, ord=2),),
        (lambda m, x, y: m.linalg.matrix_norm(x, ord="nuc"),),
        (lambda m, x, y: m.linalg.matrix_rank(x[:, :2] @ x[:2]),),
        (lambda m, x, y: m.linalg.pinv(x[:, :2]),),
        (lambda m, x, y: m.linalg.lu_solve(*m.linalg.lu_factor(x), y),),
        (lambda m, x, y: m.linalg.lu_factor(x)[1],),
    ]
    for (fn,) in cases:
        _same(_batched(lambda: ef.vmap(lambda x, y: fn(ember, x, y))(Ae, Be)),
              tf.vmap(lambda x, y: fn(torch, x, y))(At, Bt))
    # lu_factor's singular-matrix error is still raised for a sample inside the batch
    sing = a.copy()
    sing[2] = 0.0
    with pytest.raises(ember.linalg.LinAlgError, match="is zero"):
        ef.vmap(ember.linalg.lu_factor)(ember.tensor(sing))


def test_prelu_unfold_and_flat_roll_batch():
    xe, xt = _pair((4, 2, 3, 5), 51)
    we, wt = _pair((3,), 52)
    cases = [
        lambda m, a, w: m.nn.functional.prelu(a, w),
        lambda m, a, w: m.nn.functional.prelu(a, w[:1]),
        lambda m, a, w: a.unfold(2, 2, 2),
        lambda m, a, w: a.unfold(-1, 3, 1).sum(-1),
        lambda m, a, w: a.roll(4),
        lambda m, a, w: m.roll(a, shifts=(1, -2), dims=(0, 2)),
    ]
    for fn in cases:
        _same(_batched(lambda: ef.vmap(lambda a: fn(ember, a, we))(xe)),
              tf.vmap(lambda a: fn(torch, a, wt))(xt))
    # and under grad: the folded prelu gives each sample's weight gradient
    ge = _batched(lambda: ef.vmap(ef.grad(lambda w, a: ember.nn.functional.prelu(a, w).sum()),
                                  in_dims=(None, 0))(we, xe))
    gt = tf.vmap(tf.grad(lambda w, a: torch.nn.functional.prelu(a, w).sum()),
                 in_dims=(None, 0))(wt, xt)
    _same(ge, gt)


def test_dynamic_shape_ops_are_refused_like_torch():
    xe, xt = _pair((3, 4), 61)

    def set_mask(a):
        y = a.clone()
        y[a > 0] = 0.0
        return y
    for fn in (lambda a: (a > 0).nonzero(), lambda a: a.unique(),
               lambda a: a.unique_consecutive(), lambda a: a[a > 0], set_mask,
               lambda a: a.masked_select(a > 0)):
        _raises(lambda: ef.vmap(fn)(xe), lambda: tf.vmap(fn)(xt))
    # an unbatched mask has one shape for every sample: allowed, as in torch
    me, mt = ember.tensor([True, False, True, True]), torch.tensor([True, False, True, True])
    _same(ef.vmap(lambda a: a[me])(xe), tf.vmap(lambda a: a[mt])(xt))


def test_writes_at_fixed_indices_batch():
    xe, xt = _pair((4, 3, 5), 71)
    ve, vt = _pair((4, 2, 5), 72)

    def put(m, idx_kind):
        def f(a, v):
            y = a.clone()
            if idx_kind == "list":
                y[m.tensor([2, 0])] = v
            elif idx_kind == "pair":
                y[m.tensor([0, 2]), m.tensor([1, 4])] = v[0, :2]
            elif idx_kind == "mixed":
                y[1:, m.tensor([0, 3])] = v[:, :2]
            else:
                y = y.index_put((m.tensor([1, 1]),), v, accumulate=True)
            return (y * y).sum(), y
        return f
    for kind in ("list", "pair", "mixed", "accumulate"):
        _same(_batched(lambda: ef.vmap(put(ember, kind))(xe, ve)),
              tf.vmap(put(torch, kind))(xt, vt))
        _same(_batched(lambda: ef.vmap(ef.grad(put(ember, kind), argnums=(0, 1), has_aux=True))(
            xe, ve)), tf.vmap(tf.grad(put(torch, kind), argnums=(0, 1), has_aux=True))(xt, vt))
    # values shared by every sample broadcast into each one
    _same(_batched(lambda: ef.vmap(lambda a: put(ember, "list")(a, ve[0])[1])(xe)),
          tf.vmap(lambda a: put(torch, "list")(a, vt[0])[1])(xt))


def test_in_place_ops_under_vmap_grad_batch():
    """In-place ops on batched tensors that require grad alias the physical values (the old
    values an op saved are kept apart before the write), so vmap(grad) stays batched."""
    xe, xt = _pair((4, 3, 5), 81)

    def f(m):
        def g(a):
            b = a * 1
            b.mul_(a)          # saves the old b
            b.add_(1).sin_()
            b[0] += a[1]       # through a view
            b[1:, 2] = a[1:, 0] * 3
            return (b * a).sum()
        return g
    _same(_batched(lambda: ef.vmap(ef.grad(f(ember)))(xe)), tf.vmap(tf.grad(f(torch)))(xt))


def test_searchsorted_batches_shared_and_per_sample_sequences():
    rng = np.random.default_rng(91)
    seq = np.sort(rng.standard_normal((4, 6)), -1)
    vals = rng.standard_normal((4, 2, 3))
    Se, St = ember.tensor(seq), torch.tensor(seq)
    Ve, Vt = ember.tensor(vals), torch.tensor(vals)
    for dims, kw in (((0, 0), {}), ((None, 0), {"right": True}), ((0, None), {}),
                     ((0, 0), {"side": "right", "out_int32": True})):
        s_e, s_t = (Se[0], St[0]) if dims[0] is None else (Se, St)
        v_e, v_t = (Ve[0], Vt[0]) if dims[1] is None else (Ve, Vt)
        _same(_batched(lambda: ef.vmap(lambda s, v: ember.searchsorted(s, v, **kw),
                                       in_dims=dims)(s_e, v_e)),
              tf.vmap(lambda s, v: torch.searchsorted(s, v, **kw), in_dims=dims)(s_t, v_t))
