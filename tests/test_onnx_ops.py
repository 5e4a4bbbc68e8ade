"""ember.onnx.export of tensor ops: every exported graph runs in onnxruntime on fresh inputs
and must match ember's own forward."""

import io

import numpy as np
import pytest

import ember
import ember.nn.functional as F

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


class Fn(ember.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


def _flat(x):
    if isinstance(x, ember.Tensor):
        return [x]
    if isinstance(x, dict):
        x = list(x.values())
    if not isinstance(x, (tuple, list)):
        return []
    return [y for item in x for y in _flat(item)]


def run_both(model, args, new_args=None, kwargs=None, **kw):
    """Export on ``args`` (and ``kwargs``), then run ember and onnxruntime on ``new_args``."""
    buf = io.BytesIO()
    kwargs = kwargs or {}
    ember.onnx.export(model, args, buf, kwargs=kwargs, **kw)
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    new_args = args if new_args is None else new_args
    tensors = list({id(t): t for t in _flat(list(new_args) + list(kwargs.values()))}.values())
    feed = {i.name: t.numpy() for i, t in zip(sess.get_inputs(), tensors)}
    got = sess.run(None, feed)
    with ember.no_grad():
        want = [t.numpy() for t in _flat(model(*new_args, **kwargs))]
    return got, want


def check(model, args, new_args=None, rtol=1e-5, atol=1e-5, **kw):
    got, want = run_both(model, args, new_args, **kw)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype, (g.dtype, w.dtype)
        assert g.shape == w.shape, (g.shape, w.shape)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


def _r(*shape, seed=0, lo=-2.0, hi=2.0):
    g = np.random.default_rng(seed)
    return ember.tensor(g.uniform(lo, hi, size=shape).astype(np.float32))


X = (2, 3, 4)
OPS = {
    "add": (lambda a, b: a + b, [X, X]), "add_scalar": (lambda a: 1 + a * 2 - 3, [X]),
    "add_alpha": (lambda a, b: ember.add(a, b, alpha=2), [X, X]),
    "sub_bcast": (lambda a, b: a - b, [X, (4,)]), "rsub": (lambda a: 1 - a, [X]),
    "mul_div": (lambda a, b: a * b / (b.abs() + 1), [X, X]), "rdiv": (lambda a: 2 / (a.abs() + 1), [X]),
    "div_floor": (lambda a, b: ember.div(a, b.abs() + 0.5, rounding_mode="floor"), [X, X]),
    "div_trunc": (lambda a, b: ember.div(a, b.abs() + 0.5, rounding_mode="trunc"), [X, X]),
    "neg_pow": (lambda a: (-a) ** 2 + a.abs() ** 0.5, [X]), "pow_t": (lambda a, b: a.abs() ** b, [X, X]),
    "unary": (lambda a: a.exp() + a.abs().log1p() + a.abs().sqrt() + (a.abs() + 1).rsqrt()
              + a.sin() + a.cos() + a.tanh() + a.sigmoid() + ember.erf(a) + a.sign()
              + a.floor() + a.ceil() + a.round() + a.trunc() + (a.abs() + 1).log()
              + a.reciprocal() + ember.expm1(a), [X]),
    "activations": (lambda a: F.relu(a) + F.gelu(a) + F.gelu(a, approximate="tanh") + F.silu(a)
                    + F.leaky_relu(a, 0.1) + F.elu(a, 0.5) + F.selu(a) + F.celu(a, 2.0)
                    + F.hardtanh(a) + F.relu6(a) + F.softplus(a) + F.softplus(a, 2.0, 1.0)
                    + F.hardswish(a) + F.hardsigmoid(a) + F.mish(a) + F.softsign(a)
                    + F.tanh(a) + F.logsigmoid(a) if hasattr(F, "logsigmoid") else a, [X]),
    "softmax": (lambda a: a.softmax(-1) + a.log_softmax(1) + F.softmax(a, dim=0), [X]),
    "glu": (lambda a: F.glu(a, -1), [X]),
    "matmul": (lambda a, b: a @ b, [X, (4, 5)]), "bmm": (lambda a, b: ember.bmm(a, b), [X, (2, 4, 5)]),
    "matmul_bcast": (lambda a, b: a @ b, [(2, 1, 3, 4), (5, 4, 2)]),
    "mm_t": (lambda a, b: a.mm(b.t()), [(3, 4), (5, 4)]),
    "linear": (lambda a, w, b: F.linear(a, w, b), [X, (5, 4), (5,)]),
    "linear_2d": (lambda a, w: F.linear(a, w), [(3, 4), (5, 4)]),
    "shape_ops": (lambda a: a.transpose(0, 2).permute(1, 0, 2).reshape(-1).view(4, 6)
                  .unsqueeze(0).squeeze(0).flatten().unsqueeze(-1).t(), [X]),
    "view_keep": (lambda a: a.view(a.size(0), -1) + a.flatten(1), [X]),
    "cat_stack": (lambda a, b: ember.cat([a, b], 1).sum() + ember.stack([a, b], -1).mean(), [X, X]),
    "split_chunk": (lambda a: [p * i for i, p in enumerate(a.split(2, -1) + a.chunk(3, 1))], [X]),
    "unbind": (lambda a: list(a.unbind(1)), [X]),
    "reductions": (lambda a: [a.sum(), a.sum(1), a.mean((0, 2), keepdim=True), a.amax(1),
                              a.amin(-1), a.max(), a.min(), a.prod(1), a.var(1), a.std(2),
                              a.logsumexp(1), a.norm(dim=-1), a.norm(p=1, dim=1)], [X]),
    "max_dim": (lambda a: list(a.max(1)) + list(a.min(-1, keepdim=True)), [X]),
    "argmax": (lambda a: [a.argmax(-1), a.argmin(0), a.argmax()], [X]),
    "index": (lambda a: [a[0], a[:, 1:3], a[..., None], a[:, -1], a[:, ::2], a[1:, :, 1::2],
                         a.narrow(1, 0, 2), a.select(2, 1), a[None, :, 0]], [X]),
    "gather": (lambda a, i: a.gather(2, i), [X, "idx"]),
    "index_tensor": (lambda a, i: a[:, i] + a.index_select(1, i), [X, "idx1"]),
    "clamp": (lambda a: a.clamp(-1, 1) + a.clamp(min=0) + a.clamp(max=0.5), [X]),
    "where_compare": (lambda a, b: ember.where(a > b, a, b) + (a >= 0).float() + (a < b).to(ember.float32)
                      + (a <= 0.5).float() + (a == a).float() + (a != b).float(), [X, X]),
    "logical": (lambda a, b: ((a > 0) & (b > 0)).float() + ((a > 0) | (b > 0)).float()
                + (~(a > 0)).float() + ember.logical_xor(a > 0, b > 0).float(), [X, X]),
    "masked_fill": (lambda a: a.masked_fill(a > 0, 0.0) + a.masked_fill(a < 0, float("-inf")).exp(), [X]),
    "expand_repeat": (lambda a: a[:, :1].expand(2, 3, 4) + a[:, :1].expand_as(a) + a.repeat(1, 1, 1)
                      + a[0].repeat(2, 1, 1), [X]),
    "to_dtype": (lambda a: [a.to(ember.float64), a.long(), (a * 3).int().float(), a.double() * 2], [X]),
    "maxmin": (lambda a, b: ember.maximum(a, b) + ember.minimum(a, b), [X, X]),
    "pad": (lambda a: F.pad(a, (1, 2)) .sum() + F.pad(a, (1, 1, 2, 0), value=3.0).sum(), [X]),
    "cumsum_flip_roll": (lambda a: a.cumsum(1) + a.flip(1) + a.roll(1, 2) + a.roll(-1), [X]),
    "triu_tril": (lambda a: ember.triu(a) + a.tril(-1), [X]),
    "normalize": (lambda a: F.normalize(a, dim=-1), [X]),
    "layer_norm_fn": (lambda a, w, b: F.layer_norm(a, (4,), w, b) + F.layer_norm(a, (3, 4)), [X, (4,), (4,)]),
    "sdpa": (lambda q, k, v: F.scaled_dot_product_attention(q, k, v), [(2, 3, 4), (2, 5, 4), (2, 5, 4)]),
    "sdpa_causal": (lambda q: F.scaled_dot_product_attention(q, q, q, is_causal=True), [(2, 3, 4)]),
    "addcmul_lerp": (lambda a, b: a.addcmul(a, b, value=0.5) + a.lerp(b, 0.3), [X, X]),
    "baddbmm": (lambda a, b, c: ember.baddbmm(a, b, c, beta=0.5, alpha=2.0), [(2, 3, 5), X, (2, 4, 5)]),
    "embedding_fn": (lambda i, w: F.embedding(i, w), ["idx_emb", (10, 4)]),
    "constant_tensor": (lambda a: a + ember.ones(4) * 2 + ember.arange(4).float(), [X]),
    "inplace": (lambda a: _inplace(a), [X]),
    "int_ops": (lambda i: [(i * 2 + 1) // 3, i % 3], ["idx_emb"]),
    "bitwise_int": (lambda i: [(i & 3) | 8, i ^ 5], ["idx_emb"], {"opset_version": 18}),
    "getitem_tensor": (lambda a, i, j: [a[:, i], a.transpose(0, 1)[i], a[1:, i], a[a > 0], a[:, [0, 2]],
                                         a[0, :, i], j[:, i]], [X, "idx1", "idx_emb"]),
    "mod": (lambda a: a % 1.5 + ember.fmod(a, 1.5), [X]),
    "any_all": (lambda a: [(a > 0).any(), (a > 0).all(1), (a > 1).any(-1, keepdim=True)], [X]),
    "topk_sort": (lambda a: list(a.topk(2)) + list(a.topk(2, dim=1, largest=False))
                  + list(a.sort(-1)) + list(a.sort(1, descending=True)), [X]),
    "conv_fn": (lambda a, w, wt: [F.conv2d(a, w, stride=2, padding=1), F.conv2d(a, w[:, :1], groups=2, dilation=2),
                                   F.conv1d(a[:, :, 0], w[:, :, 0]), F.conv_transpose2d(a, wt, stride=2, padding=1, output_padding=1)],
                [(1, 2, 7, 7), (4, 2, 3, 3), (2, 3, 3, 3)]),
    "pool_fn": (lambda a: [F.max_pool2d(a, 2), F.max_pool2d(a, 3, 2, 1, ceil_mode=True), F.max_pool1d(a[0], 2),
                           F.avg_pool2d(a, 2), F.avg_pool2d(a, 3, 2, 1, count_include_pad=False),
                           F.avg_pool2d(a, 3, 2, 1, ceil_mode=True), F.adaptive_avg_pool2d(a, 1),
                           F.adaptive_avg_pool2d(a, (3, 2)), F.adaptive_max_pool2d(a, 1), F.adaptive_avg_pool1d(a[0], 4),
                           *F.adaptive_max_pool2d(a[:, :, 1:], (3, 1), return_indices=True)],
                [(1, 2, 7, 7)]),
    "max_pool_indices": (lambda a: list(F.max_pool2d(a, 2, return_indices=True)), [(2, 3, 6, 4)]),
    "interpolate": (lambda a: [F.interpolate(a, scale_factor=2), F.interpolate(a, size=(5, 3), mode="bilinear"),
                               F.interpolate(a, scale_factor=1.5, mode="bicubic", align_corners=True),
                               F.interpolate(a[0], size=7, mode="linear"), F.interpolate(a, size=(4, 6), mode="nearest-exact")],
                    [(1, 2, 3, 4)]),
    "norm_fn": (lambda a, w, b: [F.group_norm(a, 2, w, b), F.instance_norm(a), F.group_norm(a, 1)], [(2, 4, 3, 3), (4,), (4,)]),
    "pixel_shuffle": (lambda a: F.pixel_shuffle(a, 2), [(1, 8, 2, 3)]),
    "gather_like": (lambda a, i: [a.take(i), ember.take_along_dim(a, i[..., :2].expand(2, 3, 2) % 4, 2),
                                  a.argsort(-1), a.argsort(1, descending=True),
                                  F.one_hot(i % 4, 5), F.one_hot(i % 4)], [X, "idx"]),
    "einsum": (lambda a, b: [ember.einsum("bij,bkj->bik", a, b), ember.einsum("bij->j", [a]),
                             ember.einsum("...j,kj->...k", a, b[0])], [X, X]),
    "like": (lambda a: [a + ember.ones_like(a), ember.zeros_like(a, dtype=ember.int64),
                        ember.full_like(a, 2.5) * a, ember.empty_like(a).shape[0] * a], [X]),
    "batch_norm_fn": (lambda a, m, v: F.batch_norm(a, m, v.abs() + 0.1), [(2, 3, 4), (3,), (3,)]),
}


def _inplace(a):
    b = a * 1
    b.relu_()
    b += 1
    b.mul_(a)
    return b


def _inputs(specs, seed):
    out = []
    for i, s in enumerate(specs):
        g = np.random.default_rng(seed + i)
        if s == "idx":
            out.append(ember.tensor(g.integers(0, 4, size=(2, 3, 2))))
        elif s == "idx1":
            out.append(ember.tensor(g.integers(0, 3, size=(2,))))
        elif s == "idx_emb":
            out.append(ember.tensor(g.integers(0, 10, size=(2, 5))))
        else:
            out.append(_r(*s, seed=seed + i))
    return tuple(out)


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_matches_onnxruntime(name):
    fn, specs, *kw = OPS[name]
    check(Fn(fn), _inputs(specs, 0), _inputs(specs, 100), rtol=1e-4, atol=1e-5,
          **(kw[0] if kw else {}))
