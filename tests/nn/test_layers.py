"""Every layer against torch: same state dict, same input, same output and gradients
(float64 tight, float32 loose), gradcheck of the fused nodes, train/eval behaviour."""

import warnings

import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as EF
from ember.autograd import gradcheck, gradgradcheck

from .helpers import backward_both, check_module, close, inputs, twin

RNG = np.random.default_rng(0)


def randn(*shape):
    return RNG.standard_normal(shape)


LAYERS = [
    ("linear_2d", lambda nn: nn.Linear(4, 3), [(5, 4)]),
    ("linear_1d", lambda nn: nn.Linear(4, 3), [(4,)]),
    ("linear_3d", lambda nn: nn.Linear(4, 3), [(2, 5, 4)]),
    ("linear_nobias", lambda nn: nn.Linear(4, 3, bias=False), [(2, 5, 4)]),
    ("linear_empty", lambda nn: nn.Linear(4, 3), [(0, 4)]),
    ("linear_zero_in", lambda nn: nn.Linear(0, 3), [(2, 0)]),
    ("bilinear", lambda nn: nn.Bilinear(3, 4, 2), [(5, 3), (5, 4)]),
    ("bilinear_3d", lambda nn: nn.Bilinear(3, 4, 2, bias=False), [(2, 5, 3), (2, 5, 4)]),
    ("identity", lambda nn: nn.Identity(3, x=1), [(2, 3)]),
    ("flatten", lambda nn: nn.Flatten(), [(2, 3, 4)]),
    ("flatten_range", lambda nn: nn.Flatten(0, -2), [(2, 3, 4)]),
    ("unflatten", lambda nn: nn.Unflatten(-1, (2, -1)), [(3, 4)]),
    ("layernorm", lambda nn: nn.LayerNorm(4), [(2, 3, 4)]),
    ("layernorm_2d_shape", lambda nn: nn.LayerNorm((3, 4)), [(2, 3, 4)]),
    ("layernorm_nobias", lambda nn: nn.LayerNorm(4, bias=False), [(3, 4)]),
    ("layernorm_noaffine", lambda nn: nn.LayerNorm(4, elementwise_affine=False), [(4,)]),
    ("batchnorm1d_2d", lambda nn: nn.BatchNorm1d(3), [(4, 3)]),
    ("batchnorm1d_3d", lambda nn: nn.BatchNorm1d(3), [(4, 3, 5)]),
    ("batchnorm2d", lambda nn: nn.BatchNorm2d(3), [(2, 3, 4, 5)]),
    ("batchnorm3d", lambda nn: nn.BatchNorm3d(2, affine=False), [(2, 2, 3, 2, 2)]),
    ("batchnorm_nobias", lambda nn: nn.BatchNorm1d(3, bias=False), [(4, 3)]),
    ("batchnorm_untracked", lambda nn: nn.BatchNorm1d(3, track_running_stats=False), [(4, 3)]),
    ("groupnorm", lambda nn: nn.GroupNorm(2, 4), [(3, 4, 5)]),
    ("groupnorm_2d", lambda nn: nn.GroupNorm(1, 4, affine=False), [(3, 4)]),
    ("groupnorm_4d", lambda nn: nn.GroupNorm(4, 4), [(2, 4, 3, 3)]),
    ("groupnorm_empty", lambda nn: nn.GroupNorm(2, 4), [(0, 4, 3)]),
    ("layernorm_empty", lambda nn: nn.LayerNorm(4), [(0, 4)]),
    ("linear_empty_3d", lambda nn: nn.Linear(4, 3), [(2, 0, 4)]),
    ("rmsnorm", lambda nn: nn.RMSNorm(4), [(2, 3, 4)]),
    ("rmsnorm_eps", lambda nn: nn.RMSNorm((3, 4), eps=1e-3, elementwise_affine=False),
     [(2, 3, 4)]),
    ("instancenorm1d", lambda nn: nn.InstanceNorm1d(3), [(2, 3, 5)]),
    ("instancenorm1d_affine", lambda nn: nn.InstanceNorm1d(3, affine=True,
                                                            track_running_stats=True),
     [(2, 3, 5)]),
    ("instancenorm1d_unbatched", lambda nn: nn.InstanceNorm1d(3, affine=True), [(3, 5)]),
    ("instancenorm2d", lambda nn: nn.InstanceNorm2d(3, affine=True), [(2, 3, 4, 4)]),
    ("lrn_3d", lambda nn: nn.LocalResponseNorm(3, alpha=0.1), [(2, 5, 4)]),
    ("lrn_4d", lambda nn: nn.LocalResponseNorm(2, beta=0.5, k=2.0), [(2, 5, 3, 3)]),
    ("prelu", lambda nn: nn.PReLU(), [(2, 3)]),
    ("prelu_channels", lambda nn: nn.PReLU(3, init=0.1), [(2, 3, 4)]),
    ("cosine", lambda nn: nn.CosineSimilarity(dim=1), [(4, 5), (4, 5)]),
    ("cosine_bcast", lambda nn: nn.CosineSimilarity(dim=-1, eps=1e-6), [(4, 5), (1, 5)]),
    ("pairwise", lambda nn: nn.PairwiseDistance(), [(4, 5), (4, 5)]),
    ("pairwise_p1_keep", lambda nn: nn.PairwiseDistance(p=1, keepdim=True), [(4, 5), (4, 5)]),
    ("pairwise_p3", lambda nn: nn.PairwiseDistance(p=3.0), [(4, 5), (5,)]),
    ("pairwise_inf", lambda nn: nn.PairwiseDistance(p=float("inf")), [(4, 5), (4, 5)]),
]


@pytest.mark.parametrize("name,make,shapes", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_float64_matches_torch(name, make, shapes):
    check_module(make, *[randn(*s) for s in shapes])


@pytest.mark.parametrize("name,make,shapes", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_float32_matches_torch(name, make, shapes):
    check_module(make, *[randn(*s).astype(np.float32) for s in shapes], dtype=torch.float32,
                 tol=2e-5)


def test_non_contiguous_input():
    x = randn(4, 5).T  # (5, 4), transposed storage
    check_module(lambda nn: nn.Linear(4, 3), x)
    check_module(lambda nn: nn.LayerNorm(4), x)
    check_module(lambda nn: nn.BatchNorm1d(4), x)


def test_linear_grad_fn_names_match_torch():
    for shape, bias in [((5, 4), True), ((5, 4), False), ((4,), True), ((4,), False),
                        ((2, 5, 4), True), ((2, 5, 4), False)]:
        t, e = twin(lambda nn, b=bias: nn.Linear(4, 3, bias=b))
        (xt, xe), = inputs(randn(*shape))
        assert e(xe).grad_fn.name() == t(xt).grad_fn.name()


def test_norm_grad_fn_names_match_torch():
    x = randn(2, 3, 4)
    for make in (lambda nn: nn.LayerNorm(4), lambda nn: nn.BatchNorm1d(3),
                 lambda nn: nn.GroupNorm(3, 3)):
        t, e = twin(make)
        (xt, xe), = inputs(x)
        assert e(xe).grad_fn.name() == t(xt).grad_fn.name()
        t.eval(), e.eval()
        assert e(xe).grad_fn.name() == t(xt).grad_fn.name()


def test_linear_errors_match_torch():
    for x_shape, w_dtype in [((2, 5), None), ((5,), None), ((2, 4), "double")]:
        t, e = twin(lambda nn: nn.Linear(4, 3), torch.float32)
        if w_dtype:
            t.double(), e.double()
        xt, xe = torch.ones(x_shape), ember.ones(x_shape)
        with pytest.raises(RuntimeError) as te:
            t(xt)
        with pytest.raises(RuntimeError) as ee:
            e(xe)
        assert str(ee.value) == str(te.value)


def _g64(*shapes):
    return [ember.tensor(randn(*s), requires_grad=True) for s in shapes]


def test_gradcheck_fused_ops():
    w, b = _g64((3, 4), (3,))
    assert gradcheck(lambda x, w, b: EF.linear(x, w, b), (*_g64((2, 4)), w, b))
    assert gradgradcheck(lambda x, w, b: EF.linear(x, w, b), (*_g64((2, 4)), w, b))
    g, bb = _g64((4,), (4,))
    assert gradcheck(lambda x, g, b: EF.layer_norm(x, (4,), g, b), (*_g64((2, 4)), g, bb))
    assert gradgradcheck(lambda x, g, b: EF.layer_norm(x, (4,), g, b), (*_g64((2, 4)), g, bb))
    g3, b3 = _g64((3,), (3,))
    bn = (lambda x, g, b: EF.batch_norm(x, None, None, g, b, training=True))
    assert gradcheck(bn, (*_g64((4, 3, 2)), g3, b3))
    assert gradgradcheck(bn, (*_g64((4, 3, 2)), g3, b3))
    rm, rv = ember.zeros(3, dtype=ember.float64), ember.ones(3, dtype=ember.float64) * 2
    assert gradcheck(lambda x, g, b: EF.batch_norm(x, rm, rv, g, b, training=False),
                     (*_g64((4, 3)), g3, b3))
    assert gradcheck(lambda x, g, b: EF.group_norm(x, 3, g, b), (*_g64((2, 3, 4)), g3, b3))
    assert gradcheck(lambda x: EF.instance_norm(x), tuple(_g64((2, 3, 4))))
    assert gradcheck(lambda x: EF.rms_norm(x, (4,)), tuple(_g64((2, 4))))
    assert gradcheck(lambda a, b: EF.cosine_similarity(a, b), tuple(_g64((3, 4), (3, 4))))
    assert gradcheck(lambda a, b: EF.pairwise_distance(a, b, p=3), tuple(_g64((3, 4), (3, 4))))
    assert gradcheck(lambda a: EF.normalize(a, dim=0), tuple(_g64((3, 4))))
    assert gradcheck(lambda a, b, w: EF.bilinear(a, b, w), tuple(_g64((2, 3), (2, 4), (2, 3, 4))))
    wt = ember.tensor(randn(5, 3), requires_grad=True)
    idx = ember.tensor([[0, 2], [4, 2]])
    assert gradcheck(lambda w: EF.embedding(idx, w), (wt,))
    assert gradgradcheck(lambda w: EF.embedding(idx, w) ** 2, (wt,))
    for mode in ("sum", "mean", "max"):
        assert gradcheck(lambda w, m=mode: EF.embedding_bag(idx, w, mode=m), (wt,))


# -- batch norm running statistics ----------------------------------------------------------
@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_batchnorm_running_stats_over_steps(momentum):
    t, e = twin(lambda nn: nn.BatchNorm2d(3, momentum=momentum))
    for step in range(4):
        x = randn(4, 3, 2, 2) * (step + 1) + step
        close(e(ember.tensor(x)), t(torch.tensor(x)))
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        close(getattr(e, name), getattr(t, name))
    assert e.num_batches_tracked.dtype == ember.int64
    t.eval(), e.eval()
    x = randn(2, 3, 2, 2)
    close(e(ember.tensor(x)), t(torch.tensor(x)))
    close(e.running_mean, t.running_mean)  # eval leaves the statistics alone


def test_batchnorm_errors_and_untracked_eval():
    e = ember.nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        e(ember.ones(2, 3, 4, 5))
    with pytest.raises(ValueError) as ee:
        e(ember.ones(1, 3))
    with pytest.raises(ValueError) as te:
        torch.nn.BatchNorm1d(3)(torch.ones(1, 3))
    assert str(ee.value).replace("ember.", "torch.") == str(te.value)
    t, e = twin(lambda nn: nn.BatchNorm1d(3, track_running_stats=False))
    t.eval(), e.eval()
    x = randn(4, 3)
    close(e(ember.tensor(x)), t(torch.tensor(x)))  # batch statistics even in eval


def test_batchnorm_old_checkpoint_without_num_batches_tracked():
    e = ember.nn.BatchNorm1d(3)
    sd = e.state_dict()
    del sd["num_batches_tracked"]
    sd._metadata[""] = {"version": 1}
    e.load_state_dict(sd)  # version-1 checkpoints may lack the counter
    with pytest.raises(RuntimeError, match="num_batches_tracked"):
        del sd._metadata[""]["version"]
        sd._metadata[""]["version"] = 2
        e.load_state_dict(sd)


def test_layer_norm_shape_error_matches_torch():
    with pytest.raises(RuntimeError) as te:
        torch.nn.LayerNorm(3)(torch.ones(2, 4))
    with pytest.raises(RuntimeError) as ee:
        ember.nn.LayerNorm(3)(ember.ones(2, 4))
    assert str(ee.value) == str(te.value)
    with pytest.raises(ValueError, match="num_channels must be divisible by num_groups"):
        ember.nn.GroupNorm(3, 4)


# -- dropout ----------------------------------------------------------------------------------
@pytest.mark.parametrize("make,shape", [
    (lambda nn: nn.Dropout(0.3), (50, 40)), (lambda nn: nn.Dropout1d(0.5), (4, 6, 5)),
    (lambda nn: nn.Dropout1d(0.5), (6, 5)), (lambda nn: nn.Dropout2d(0.4), (4, 6, 3, 3)),
    (lambda nn: nn.Dropout3d(0.4), (2, 6, 2, 3, 3)), (lambda nn: nn.Dropout3d(0.4), (6, 2, 3, 3)),
    (lambda nn: nn.AlphaDropout(0.2), (30, 20)), (lambda nn: nn.FeatureAlphaDropout(0.2),
                                                   (4, 5, 3))])
def test_dropout_masks_and_gradients_match_torch(make, shape):
    t, e = twin(make)
    x = randn(*shape) + 2
    (xt, xe), = inputs(x)
    torch.manual_seed(5)
    ember.manual_seed(5)
    yt, ye = t(xt), e(xe)
    close(ye, yt)
    backward_both(yt, ye)
    close(xe.grad, xt.grad)
    assert repr(e) == repr(t)
    t.eval(), e.eval()
    close(e(xe), t(xt))  # eval is the identity
    assert (e(xe) is xe) == (t(xt) is xt)  # the very same tensor where torch returns it


def test_dropout_scaling_statistics_and_edge_cases():
    x = ember.ones(20000)
    y = EF.dropout(x, 0.25)
    kept = y._data != 0
    assert np.allclose(y._data[kept], 1 / 0.75)
    assert abs(kept.mean() - 0.75) < 0.02
    assert EF.dropout(x, 0.0) is x
    assert not EF.dropout(x, 1.0).any()
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but "
                                         "got 1.5"):
        ember.nn.Dropout(1.5)
    with pytest.raises(ValueError):
        EF.dropout(x, -0.1)
    z = ember.ones(3, 4)
    ember.manual_seed(1)
    out = EF.dropout(z, 0.5, inplace=True)
    assert out is z
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="Received a 3D input to dropout2d"):
            EF.dropout2d(ember.ones(2, 3, 4))
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input"):
        EF.dropout1d(ember.ones(2, 3, 4, 5))


# -- embeddings -------------------------------------------------------------------------------
def _ids(*rows):
    return torch.tensor(rows), ember.tensor(rows)


def test_embedding_matches_torch_with_padding_idx():
    for pad in (None, 0, -1):
        t, e = twin(lambda nn, p=pad: nn.Embedding(6, 3, padding_idx=p))
        it, ie = _ids([0, 2, 5], [5, 5, 1])
        yt, ye = t(it), e(ie)
        close(ye, yt)
        backward_both(yt, ye)
        close(e.weight.grad, t.weight.grad)
        assert repr(e) == repr(t)
        assert ye.grad_fn.name() == yt.grad_fn.name()


def test_embedding_init_zeroes_padding_row_and_matches_seeded_torch():
    torch.manual_seed(3)
    ember.manual_seed(3)
    t, e = torch.nn.Embedding(5, 2, padding_idx=1), ember.nn.Embedding(5, 2, padding_idx=1)
    close(e.weight, t.weight, 0)
    assert not e.weight[1].any()


def test_embedding_max_norm_renormalises_in_place():
    t, e = twin(lambda nn: nn.Embedding(5, 4, max_norm=1.0, norm_type=1.5))
    it, ie = _ids([0, 3, 3])
    close(e(ie), t(it))
    close(e.weight, t.weight)
    assert e.weight._version > 0


def test_embedding_scale_grad_by_freq_and_errors():
    t, e = twin(lambda nn: nn.Embedding(5, 2, scale_grad_by_freq=True))
    it, ie = _ids([0, 0, 3, 0])
    yt, ye = t(it), e(ie)
    backward_both(yt, ye)
    close(e.weight.grad, t.weight.grad)
    for bad in ([7], [1.0]):
        with pytest.raises(Exception) as te:
            t(torch.tensor(bad))
        with pytest.raises(type(te.value)) as ee:
            e(ember.tensor(bad))
        assert str(ee.value).replace("ember.", "torch.") == str(te.value)


def test_embedding_from_pretrained():
    w = ember.tensor(randn(4, 3))
    emb = ember.nn.Embedding.from_pretrained(w)
    assert not emb.weight.requires_grad and emb.weight.data_ptr() == w.data_ptr()
    emb2 = ember.nn.Embedding.from_pretrained(w, freeze=False, padding_idx=1)
    assert emb2.weight.requires_grad and emb2.padding_idx == 1
    with pytest.raises(AssertionError, match="Embeddings parameter is expected to be "
                                             "2-dimensional"):
        ember.nn.Embedding.from_pretrained(ember.ones(3))


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_matches_torch(mode):
    t, e = twin(lambda nn: nn.EmbeddingBag(8, 3, mode=mode))
    it, ie = _ids(1, 2, 4, 5, 4, 3, 2, 7)
    ot, oe = torch.tensor([0, 3, 3, 6]), ember.tensor([0, 3, 3, 6])  # one empty bag
    yt, ye = t(it, ot), e(ie, oe)
    close(ye, yt)
    backward_both(yt, ye)
    close(e.weight.grad, t.weight.grad)
    assert repr(e) == repr(t)
    t2, e2 = twin(lambda nn: nn.EmbeddingBag(8, 3, mode=mode, padding_idx=2))
    it2, ie2 = _ids([1, 2, 4], [2, 2, 3])
    close(e2(ie2), t2(it2))


def test_embedding_bag_per_sample_weights_and_last_offset():
    t, e = twin(lambda nn: nn.EmbeddingBag(8, 3, mode="sum", include_last_offset=True))
    it, ie = _ids(1, 2, 4, 5, 4)
    ot, oe = torch.tensor([0, 2, 5]), ember.tensor([0, 2, 5])
    (wt, we), = inputs(randn(5))
    yt, ye = t(it, ot, per_sample_weights=wt), e(ie, oe, per_sample_weights=we)
    close(ye, yt)
    backward_both(yt, ye)
    close(we.grad, wt.grad)
    close(e.weight.grad, t.weight.grad)
    with pytest.raises(NotImplementedError):
        ember.nn.EmbeddingBag(8, 3)(ie, oe, per_sample_weights=we)


# -- activations as modules ------------------------------------------------------------------
ACTIVATIONS = [
    lambda nn: nn.ReLU(), lambda nn: nn.ReLU6(), lambda nn: nn.LeakyReLU(0.2),
    lambda nn: nn.ELU(alpha=0.5), lambda nn: nn.SELU(), lambda nn: nn.CELU(1.3),
    lambda nn: nn.GELU(), lambda nn: nn.GELU("tanh"), lambda nn: nn.SiLU(), lambda nn: nn.Mish(),
    lambda nn: nn.Softplus(beta=2, threshold=3), lambda nn: nn.Softsign(),
    lambda nn: nn.Hardtanh(-0.5, 0.7), lambda nn: nn.Hardsigmoid(), lambda nn: nn.Hardswish(),
    lambda nn: nn.Hardshrink(0.3), lambda nn: nn.Softshrink(0.3), lambda nn: nn.Tanhshrink(),
    lambda nn: nn.Threshold(0.1, -2.0), lambda nn: nn.LogSigmoid(), lambda nn: nn.Sigmoid(),
    lambda nn: nn.Tanh(), lambda nn: nn.Softmax(dim=1), lambda nn: nn.LogSoftmax(dim=-1),
    lambda nn: nn.Softmin(dim=0), lambda nn: nn.GLU(dim=1), lambda nn: nn.Softmax2d(),
    lambda nn: nn.ReLU(inplace=True), lambda nn: nn.ELU(inplace=True),
]


@pytest.mark.parametrize("idx", range(len(ACTIVATIONS)))
def test_activation_modules_match_torch(idx):
    make = ACTIVATIONS[idx]
    t, e = twin(make)
    assert repr(e) == repr(t)
    x = randn(2, 4, 3, 3)
    if getattr(t, "inplace", False):
        xt, xe = torch.tensor(x), ember.tensor(x)
        close(e(xe), t(xt))
        close(xe, xt)
        return
    # The op owner's tests pin the functions down; a module only forwards its options.
    # (torch's Hardsigmoid backward uses a float32 1/6 even in float64: ~5e-9 apart.)
    check_module(make, x, tol=1e-7)


def test_rrelu_eval_is_leaky_with_mean_slope():
    t, e = twin(lambda nn: nn.RReLU(0.1, 0.3))
    assert repr(e) == repr(t)
    t.eval(), e.eval()
    x = randn(3, 4)
    close(e(ember.tensor(x)), t(torch.tensor(x)))


def test_pdist_matches_torch():
    for p in (2, 1, 3.5, float("inf")):
        (xt, xe), = inputs(randn(5, 3))
        yt, ye = torch.nn.functional.pdist(xt, p), EF.pdist(xe, p)
        close(ye, yt)
        backward_both(yt, ye)
        close(xe.grad, xt.grad)


def test_flatten_unflatten_errors():
    with pytest.raises(TypeError):
        ember.nn.Unflatten(1, 3)
    with pytest.raises(RuntimeError, match="don't multiply up"):
        ember.nn.Unflatten(1, (2, 2))(ember.ones(2, 3))
