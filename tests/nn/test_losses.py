"""Every loss, module and functional, against torch: values and gradients for each
reduction, legacy size_average/reduce, shape warnings and error messages, gradcheck."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn.functional as EF
from ember.autograd import gradcheck, gradgradcheck

from .helpers import backward_both, close, inputs

R = np.random.default_rng(0)
X = R.standard_normal((4, 5))
Y = R.standard_normal((4, 5))
P = R.uniform(0.05, 0.95, (4, 5))
Q = R.uniform(0, 1, (4, 5))
W5 = R.uniform(0.5, 2, (5,))
CLS = np.array([0, 4, -100, 2])
CLS_POS = np.array([0, 4, 1, 2])
X3 = R.standard_normal((2, 5, 3))
CLS3 = R.integers(0, 5, (2, 3))
SGN = np.array([1.0, -1.0, -1.0, 1.0])

# name, call(F, *tensors, reduction), arrays, which arrays require grad
CASES = [
    ("mse", lambda F, a, b, r: F.mse_loss(a, b, reduction=r), [X, Y], (0, 1)),
    ("l1", lambda F, a, b, r: F.l1_loss(a, b, reduction=r), [X, Y], (0, 1)),
    ("smooth_l1", lambda F, a, b, r: F.smooth_l1_loss(a, b, reduction=r, beta=0.7), [X, Y],
     (0, 1)),
    ("smooth_l1_beta0", lambda F, a, b, r: F.smooth_l1_loss(a, b, reduction=r, beta=0.0), [X, Y],
     (0, 1)),
    ("huber", lambda F, a, b, r: F.huber_loss(a, b, reduction=r, delta=0.7), [X, Y], (0, 1)),
    ("bce", lambda F, a, b, r: F.binary_cross_entropy(a, b, reduction=r), [P, Q], (0, 1)),
    ("bce_weight", lambda F, a, b, w, r: F.binary_cross_entropy(a, b, w, reduction=r),
     [P, Q, W5], (0, 1)),
    ("bce_logits", lambda F, a, b, r: F.binary_cross_entropy_with_logits(a, b, reduction=r),
     [X * 5, Q], (0, 1)),
    ("bce_logits_pw", lambda F, a, b, w, p, r: F.binary_cross_entropy_with_logits(
        a, b, w, reduction=r, pos_weight=p), [X, Q, W5, W5[::-1].copy()], (0, 1)),
    ("ce", lambda F, a, b, r: F.cross_entropy(a, b, reduction=r), [X, CLS], (0,)),
    ("ce_weight_smooth", lambda F, a, b, w, r: F.cross_entropy(
        a, b, weight=w, reduction=r, label_smoothing=0.2), [X, CLS, W5], (0,)),
    ("ce_nd", lambda F, a, b, r: F.cross_entropy(a, b, reduction=r, label_smoothing=0.1),
     [X3, CLS3], (0,)),
    ("ce_unbatched", lambda F, a, b, r: F.cross_entropy(a, b, reduction=r), [X[0], np.array(3)],
     (0,)),
    ("ce_ignore", lambda F, a, b, r: F.cross_entropy(a, b, reduction=r, ignore_index=4),
     [X, CLS_POS], (0,)),
    ("ce_probs", lambda F, a, b, w, r: F.cross_entropy(a, b, w, reduction=r,
                                                       label_smoothing=0.1),
     [X, Q, W5], (0, 1, 2)),
    ("ce_probs_nd", lambda F, a, b, r: F.cross_entropy(a, b, reduction=r),
     [X3, R.uniform(0, 1, X3.shape)], (0, 1)),
    ("nll", lambda F, a, b, w, r: F.nll_loss(a, b, w, reduction=r), [X, CLS, W5], (0,)),
    ("nll_nd", lambda F, a, b, r: F.nll_loss(a, b, reduction=r), [X3, CLS3], (0,)),
    ("kl", lambda F, a, b, r: F.kl_div(a, b, reduction=r), [X, Q * (Q > 0.3)], (0, 1)),
    ("kl_log_target", lambda F, a, b, r: F.kl_div(a, b, reduction=r, log_target=True), [X, Y],
     (0, 1)),
    ("poisson", lambda F, a, b, r: F.poisson_nll_loss(a, b, reduction=r), [X, Q * 3], (0, 1)),
    ("poisson_full", lambda F, a, b, r: F.poisson_nll_loss(a, b, log_input=False, full=True,
                                                           reduction=r), [P, Q * 3], (0, 1)),
    ("gaussian", lambda F, a, b, v, r: F.gaussian_nll_loss(a, b, v, full=True, reduction=r),
     [X, Y, P * (P > 0.2)], (0, 1, 2)),
    ("gaussian_bcast_var", lambda F, a, b, v, r: F.gaussian_nll_loss(a, b, v, reduction=r),
     [X, Y, P[:, 0].copy()], (0, 1, 2)),
    ("cosine_embedding", lambda F, a, b, c, r: F.cosine_embedding_loss(a, b, c, 0.1, reduction=r),
     [X, Y, SGN], (0, 1)),
    ("margin_ranking", lambda F, a, b, c, r: F.margin_ranking_loss(a, b, c, 0.1, reduction=r),
     [X[:, 0].copy(), Y[:, 0].copy(), SGN], (0, 1, 2)),
    ("hinge_embedding", lambda F, a, b, r: F.hinge_embedding_loss(a, b, 0.5, reduction=r),
     [X, np.sign(Y)], (0,)),
    ("soft_margin", lambda F, a, b, r: F.soft_margin_loss(a, b, reduction=r), [X, np.sign(Y)],
     (0,)),
    ("multilabel_soft_margin", lambda F, a, b, w, r: F.multilabel_soft_margin_loss(
        a, b, w, reduction=r), [X, (Q > 0.5) * 1.0, W5], (0, 1, 2)),
    ("triplet", lambda F, a, b, c, r: F.triplet_margin_loss(a, b, c, reduction=r), [X, Y, P],
     (0, 1, 2)),
    ("triplet_swap_p1", lambda F, a, b, c, r: F.triplet_margin_loss(a, b, c, p=1, swap=True,
                                                                    reduction=r),
     [X, Y, P], (0, 1, 2)),
    ("multi_margin", lambda F, a, b, w, r: F.multi_margin_loss(a, b, p=2, weight=w, reduction=r),
     [X, CLS_POS, W5], (0,)),
    ("multi_margin_p1", lambda F, a, b, r: F.multi_margin_loss(a, b, margin=0.5, reduction=r),
     [X, CLS_POS], (0,)),
    ("multilabel_margin", lambda F, a, b, r: F.multilabel_margin_loss(a, b, reduction=r),
     [X, np.array([[3, 0, -1, 1, 1], [1, 2, 3, 4, 0], [-1, 1, 2, 3, 4], [4, 4, -1, 0, 0]])],
     (0,)),
    ("triplet_distance_fn", lambda F, a, b, c, r: F.triplet_margin_with_distance_loss(
        a, b, c, distance_function=lambda u, v: 1 - F.cosine_similarity(u, v), swap=True,
        reduction=r), [X, Y, P], (0, 1, 2)),
    ("triplet_distance_default", lambda F, a, b, c, r: F.triplet_margin_with_distance_loss(
        a, b, c, margin=0.5, reduction=r), [X, Y, P], (0, 1, 2)),
]


def _pairs(arrays, grad_idx, dtype):
    out = []
    for i, a in enumerate(arrays):
        a = np.asarray(a)
        if a.dtype.kind == "f":
            a = a.astype(dtype)
        g = i in grad_idx and a.dtype.kind == "f"
        out.append((torch.tensor(a, requires_grad=g), ember.tensor(a, requires_grad=g)))
    return out


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name,call,arrays,grad_idx", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_loss_matches_torch(name, call, arrays, grad_idx, reduction, dtype):
    tol = 1e-10 if dtype == np.float64 else 2e-5
    pairs = _pairs(arrays, grad_idx, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lt = call(TF, *[p[0] for p in pairs], reduction)
        le = call(EF, *[p[1] for p in pairs], reduction)
    close(le, lt, tol)
    assert le.dtype == getattr(ember, str(lt.dtype).split(".")[1])
    backward_both(lt, le)
    for pt, pe in pairs:
        close(pe.grad, pt.grad, tol)


FUSED_NAMES = [("mse", "MseLossBackward0"), ("smooth_l1", "SmoothL1LossBackward0"),
               ("huber", "HuberLossBackward0"), ("bce", "BinaryCrossEntropyBackward0"),
               ("bce_logits", "BinaryCrossEntropyWithLogitsBackward0"), ("ce", "NllLossBackward0"),
               ("nll", "NllLossBackward0")]


@pytest.mark.parametrize("name,node", FUSED_NAMES)
def test_fused_losses_are_one_node_named_like_torch(name, node):
    case = next(c for c in CASES if c[0] == name)
    pairs = _pairs(case[2], case[3], np.float64)
    lt = case[1](TF, *[p[0] for p in pairs], "mean")
    le = case[1](EF, *[p[1] for p in pairs], "mean")
    assert le.grad_fn.name() == lt.grad_fn.name() == node
    leaves = {id(p[1]) for p in pairs}
    # every edge goes straight to a leaf: forward and backward are one node
    for fn, _ in le.grad_fn.next_functions:
        assert fn is None or id(fn.variable) in leaves


GRADCHECK = [
    lambda x, y: EF.mse_loss(x, y), lambda x, y: EF.smooth_l1_loss(x, y, beta=0.5),
    lambda x, y: EF.huber_loss(x, y, reduction="sum", delta=0.3),
    lambda x, y: EF.binary_cross_entropy(x.sigmoid(), y.sigmoid()),
    lambda x, y: EF.binary_cross_entropy_with_logits(x, y.sigmoid(), reduction="none"),
    lambda x, y: EF.cross_entropy(x, ember.tensor([0, 2, 1]), label_smoothing=0.3),
    lambda x, y: EF.cross_entropy(x, y.softmax(1)),
    lambda x, y: EF.nll_loss(x, ember.tensor([0, 2, 1]), reduction="sum"),
    lambda x, y: EF.kl_div(x, y.exp(), reduction="batchmean"),
    lambda x, y: EF.triplet_margin_loss(x, y, y * 2),
]


@pytest.mark.parametrize("idx", range(len(GRADCHECK)))
def test_gradcheck(idx):
    rng = np.random.default_rng(idx)
    x = ember.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    y = ember.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(GRADCHECK[idx], (x, y))
    if idx in (0, 5, 6):
        assert gradgradcheck(GRADCHECK[idx], (x, y))


def test_modules_match_functional_and_torch_reprs():
    mods = [("MSELoss", {}), ("L1Loss", {"reduction": "sum"}), ("SmoothL1Loss", {"beta": 0.5}),
            ("HuberLoss", {"delta": 2.0}), ("BCELoss", {}), ("BCEWithLogitsLoss", {}),
            ("CrossEntropyLoss", {"ignore_index": 1, "label_smoothing": 0.1}), ("NLLLoss", {}),
            ("KLDivLoss", {"reduction": "batchmean"}), ("PoissonNLLLoss", {}),
            ("GaussianNLLLoss", {}), ("CosineEmbeddingLoss", {}), ("MarginRankingLoss", {}),
            ("HingeEmbeddingLoss", {}), ("SoftMarginLoss", {}), ("MultiLabelSoftMarginLoss", {}),
            ("TripletMarginLoss", {"margin": 2.0}), ("MultiMarginLoss", {}),
            ("MultiLabelMarginLoss", {}), ("TripletMarginWithDistanceLoss", {"swap": True})]
    for name, kw in mods:
        t, e = getattr(torch.nn, name)(**kw), getattr(ember.nn, name)(**kw)
        assert repr(e) == repr(t)
        assert e.reduction == t.reduction
        assert list(e.state_dict()) == list(t.state_dict())
    (xt, xe), (yt, ye) = inputs(X, Q)
    w = ember.tensor(W5)
    loss = ember.nn.CrossEntropyLoss(weight=w, label_smoothing=0.1)
    assert loss.weight is w and "weight" in dict(loss.named_buffers())
    close(loss(xe, ember.tensor(CLS_POS)),
          torch.nn.CrossEntropyLoss(weight=torch.tensor(W5), label_smoothing=0.1)(
              xt, torch.tensor(CLS_POS)))
    pw = ember.nn.BCEWithLogitsLoss(pos_weight=ember.tensor(W5))
    close(pw(xe, ye), torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(W5))(xt, yt))


def test_legacy_size_average_and_reduce():
    for sa, rd in [(None, False), (False, None), (True, True), (False, True)]:
        with pytest.warns(UserWarning) as ew:
            e = ember.nn.MSELoss(size_average=sa, reduce=rd)
        with pytest.warns(UserWarning) as tw:
            t = torch.nn.MSELoss(size_average=sa, reduce=rd)
        assert e.reduction == t.reduction
        assert str(ew[0].message) == str(tw[0].message)
        (xt, xe), (yt, ye) = inputs(X, Y)
        with pytest.warns(UserWarning):
            close(EF.l1_loss(xe, ye, size_average=sa, reduce=rd),
                  TF.l1_loss(xt, yt, size_average=sa, reduce=rd))


def test_shape_warnings_and_errors_match_torch():
    (xt, xe), (yt, ye) = inputs(X[:, :1], Y)  # (4, 1) against (4, 5): broadcasts
    for fn in ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"):
        with pytest.warns(UserWarning) as ew:
            le = getattr(EF, fn)(xe, ye)
        with pytest.warns(UserWarning) as tw:
            lt = getattr(TF, fn)(xt, yt)
        close(le, lt)
        assert str(ew[0].message).replace("ember.", "torch.") == str(tw[0].message)
    bad = [
        lambda F, lib: F.binary_cross_entropy(lib.ones(3) * 0.5, lib.ones(2, 3)),
        lambda F, lib: F.binary_cross_entropy_with_logits(lib.ones(3), lib.ones(2, 3)),
        lambda F, lib: F.binary_cross_entropy(lib.ones(3) * 2, lib.ones(3)),
        lambda F, lib: F.cross_entropy(lib.ones(3, 4), lib.tensor([0, 1])),
        lambda F, lib: F.cross_entropy(lib.ones(2, 4), lib.tensor([0, 7])),
        lambda F, lib: F.nll_loss(lib.ones(2, 4), lib.tensor([0, -3])),
        lambda F, lib: F.cross_entropy(lib.ones(2, 4), lib.tensor([0, 1]), label_smoothing=2.0),
        lambda F, lib: F.mse_loss(lib.ones(2), lib.ones(2), reduction="avg"),
        lambda F, lib: F.kl_div(lib.ones(2), lib.ones(2), reduction="avg"),
        lambda F, lib: F.smooth_l1_loss(lib.ones(2), lib.ones(2), beta=-1.0),
        lambda F, lib: F.huber_loss(lib.ones(2), lib.ones(2), delta=0.0),
        lambda F, lib: F.margin_ranking_loss(lib.ones(2), lib.ones(2, 1), lib.ones(2)),
        lambda F, lib: F.gaussian_nll_loss(lib.ones(2, 3), lib.ones(2, 3), lib.ones(3, 2)),
        lambda F, lib: F.gaussian_nll_loss(lib.ones(2), lib.ones(2), -lib.ones(2)),
        lambda F, lib: F.multi_margin_loss(lib.ones(2, 3), lib.tensor([0, 1]), p=3),
    ]
    for make in bad:
        with pytest.raises(Exception) as te:
            make(TF, torch)
        with pytest.raises(type(te.value)) as ee:
            make(EF, ember)
        assert str(ee.value).replace("ember.", "torch.") == str(te.value)


def test_not_differentiable_arguments_raise_like_torch():
    cases = [
        lambda F, lib, w: F.binary_cross_entropy(lib.ones(3) * 0.5, lib.ones(3), weight=w),
        lambda F, lib, w: F.binary_cross_entropy_with_logits(lib.ones(3), lib.ones(3),
                                                             pos_weight=w),
        lambda F, lib, w: F.cross_entropy(lib.ones(2, 3), lib.tensor([0, 1]), weight=w),
        lambda F, lib, w: F.soft_margin_loss(lib.ones(3), w),
    ]
    for make in cases:
        with pytest.raises(RuntimeError) as te:
            make(TF, torch, torch.ones(3, requires_grad=True))
        with pytest.raises(RuntimeError) as ee:
            make(EF, ember, ember.ones(3, requires_grad=True))
        assert str(ee.value) == str(te.value)


def test_kl_div_mean_warns_like_torch():
    (xt, xe), (yt, ye) = inputs(X, Q)
    with pytest.warns(UserWarning) as ew:
        EF.kl_div(xe, ye)
    with pytest.warns(UserWarning) as tw:
        TF.kl_div(xt, yt)
    assert str(ew[0].message) == str(tw[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        close(EF.kl_div(xe, ye, reduction="batchmean"), TF.kl_div(xt, yt, reduction="batchmean"))


def test_bce_log_clamp_and_stable_logits():
    x = np.array([0.0, 1.0, 1e-30, 1 - 1e-16])
    y = np.array([1.0, 0.0, 1.0, 0.0])
    (xt, xe), (yt, ye) = inputs(x, y)
    close(EF.binary_cross_entropy(xe, ye, reduction="none"),
          TF.binary_cross_entropy(xt, yt, reduction="none"))
    big = np.array([-1000.0, 1000.0, 0.0, 50.0])
    (bt, be), = inputs(big)
    lt = TF.binary_cross_entropy_with_logits(bt, yt, reduction="none")
    le = EF.binary_cross_entropy_with_logits(be, ye, reduction="none")
    close(le, lt)
    assert np.isfinite(le.detach().numpy()).all()


def test_cross_entropy_all_ignored_and_empty():
    for lib, F in ((torch, TF), (ember, EF)):
        out = F.cross_entropy(lib.ones(2, 3, dtype=lib.float64), lib.tensor([-100, -100]))
        assert np.isnan(out.item())
        assert F.cross_entropy(lib.ones(2, 3), lib.tensor([-100, -100]), reduction="sum").item() \
            == 0
    (xt, xe), = inputs(np.zeros((0, 3)))
    for red in ("sum", "none", "mean"):
        close(EF.cross_entropy(xe, ember.zeros(0, dtype=ember.int64), reduction=red),
              TF.cross_entropy(xt, torch.zeros(0, dtype=torch.int64), reduction=red))
        close(EF.mse_loss(xe, xe.detach(), reduction=red), TF.mse_loss(xt, xt.detach(),
                                                                     reduction=red))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_hard_labels_fast_path(dtype, reduction):
    """The fused hard-label path (no weight, no smoothing) against torch: extreme and -inf
    logits, ignored rows, uint8 targets, (N, C, d) inputs, nll_loss, repeated backward and
    double backward."""
    tol = 1e-10 if dtype == np.float64 else 2e-5
    x = R.standard_normal((6, 5)).astype(dtype)
    x[0] = [1e4, -1e4, 0.0, 3e3, 1.0]
    x[1, [0, 2, 4]] = -np.inf
    cases = [(x, np.array([3, 1, 0, -100, 2, 4])),
             (x, np.array([3, 1, 0, 4, 2, 4], dtype=np.uint8)),
             (X3.astype(dtype), np.array([[0, -100, 4], [2, 2, -100]]))]
    for xa, ya in cases:
        for call in (TF.cross_entropy, TF.nll_loss):
            (t0, e0), = inputs(xa)
            xt, xe = t0, e0
            if call is TF.nll_loss:  # log-probabilities in, as nll_loss expects
                xt, xe = xt.log_softmax(1), xe.log_softmax(1)
            fe = getattr(EF, call.__name__)
            lt = call(xt, torch.tensor(ya), reduction=reduction)
            le = fe(xe, ember.tensor(ya), reduction=reduction)
            close(le, lt, tol)
            w = R.standard_normal(tuple(lt.shape))
            wt, we = torch.tensor(w, dtype=lt.dtype), ember.tensor(w).to(le.dtype)
            # unrecorded (array) backward, twice through a retained graph, accumulates
            for _ in range(2):
                lt.backward(wt, retain_graph=True)
                le.backward(we, retain_graph=True)
            close(e0.grad, t0.grad, tol)
            gt, = torch.autograd.grad(lt, xt, wt, create_graph=True)
            ge, = ember.autograd.grad(le, xe, we, create_graph=True)
            close(ge, gt, tol)
            if call is TF.cross_entropy and np.isfinite(xa).all():  # through softmax
                v = R.standard_normal(xa.shape)
                close(ember.autograd.grad((ge * ember.tensor(v)).sum(), e0)[0],
                      torch.autograd.grad((gt * torch.tensor(v)).sum(), t0)[0], tol)


def test_cross_entropy_nan_logits_and_bad_targets_like_torch():
    x = np.array([[0.0, np.nan, 1.0], [0.5, 0.2, 0.1]])
    (xt, xe), = inputs(x)
    lt = TF.cross_entropy(xt, torch.tensor([0, 1]), reduction="none")
    le = EF.cross_entropy(xe, ember.tensor([0, 1]), reduction="none")
    close(le, lt)
    lt.sum().backward()
    le.sum().backward()
    close(xe.grad, xt.grad)
    bad = [
        lambda F, lib: F.cross_entropy(lib.ones(2, 4), lib.tensor([-1, 1])),
        lambda F, lib: F.cross_entropy(lib.ones(2, 4), lib.tensor([1, 4]), ignore_index=1),
        lambda F, lib: F.cross_entropy(lib.ones(2, 4), lib.tensor([0, -2]), ignore_index=-1),
        lambda F, lib: F.nll_loss(lib.ones(2, 4), lib.tensor([0, 9], dtype=lib.uint8)),
        lambda F, lib: F.nll_loss(lib.ones(2, 4), lib.tensor([0, 1], dtype=lib.int32)),
        lambda F, lib: F.cross_entropy(lib.ones(2, 4), lib.tensor([0, 1], dtype=lib.int16)),
        lambda F, lib: F.cross_entropy(lib.ones(2, 4), lib.tensor([True, False])),
        lambda F, lib: F.cross_entropy(lib.ones(2, 4), lib.ones(2)),  # float, not probabilities
        lambda F, lib: F.cross_entropy(lib.ones(2, 4, 3), lib.ones(2, 3, dtype=lib.float64)),
        lambda F, lib: F.cross_entropy(lib.ones(2, 4), lib.ones(2, 5)),
        lambda F, lib: F.nll_loss(lib.ones(2, 4), lib.tensor([0.0, 1.0])),
    ]
    for make in bad:
        with pytest.raises(Exception) as te:
            make(TF, torch)
        with pytest.raises(type(te.value)) as ee:
            make(EF, ember)
        assert str(ee.value) == str(te.value)
    # ignore_index inside the class range drops those rows from the mean
    (xt, xe), = inputs(X)
    close(EF.cross_entropy(xe, ember.tensor(CLS_POS), ignore_index=4),
          TF.cross_entropy(xt, torch.tensor(CLS_POS), ignore_index=4))


def test_zero_dim_inputs():
    (at, ae), = inputs(np.array(0.3))
    (bt, be), = inputs(np.array(-1.2), grad=False)
    for fn in ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
               "binary_cross_entropy_with_logits", "soft_margin_loss"):
        lt, le = getattr(TF, fn)(at, bt), getattr(EF, fn)(ae, be)
        close(le, lt)


def test_non_contiguous_inputs():
    (xt, xe), (yt, ye) = inputs(X.T.copy(), Y.T.copy())
    xt2, xe2 = xt.t(), xe.t()
    yt2, ye2 = yt.t(), ye.t()
    close(EF.mse_loss(xe2, ye2), TF.mse_loss(xt2, yt2))
    close(EF.cross_entropy(xe2, ember.tensor(CLS_POS)),
          TF.cross_entropy(xt2, torch.tensor(CLS_POS)))


# -- CTC --------------------------------------------------------------------------------------
CTC_CASES = [
    # targets, input_lengths, target_lengths, kwargs
    ([[1, 2, 2, 0], [3, 1, 0, 0], [4, 4, 4, 4]], [7, 5, 7], [3, 2, 0], {}),
    ([1, 2, 2, 3, 1], [7, 6, 7], [3, 2, 0], {}),  # concatenated 1-D targets
    ([[1, 1, 1, 1, 1, 1]], [4], [6], {"zero_infinity": True}),  # impossible alignment
    ([[0, 2, 3]], [7], [3], {"blank": 4}),
]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("case", range(len(CTC_CASES)))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_ctc_loss_matches_torch(case, reduction, dtype):
    targets, il, tl, kw = CTC_CASES[case]
    n = len(il)
    x = np.random.default_rng(case).standard_normal((7, n, 5)).astype(dtype)
    lpt = torch.tensor(x).log_softmax(2).detach().requires_grad_()
    lpe = ember.tensor(lpt.detach().numpy()).requires_grad_()
    lt = TF.ctc_loss(lpt, torch.tensor(targets), torch.tensor(il), torch.tensor(tl),
                     reduction=reduction, **kw)
    le = ember.nn.CTCLoss(reduction=reduction, **kw)(lpe, ember.tensor(targets),
                                                     ember.tensor(il), ember.tensor(tl))
    tol = 1e-10 if dtype == np.float64 else 1e-5
    close(le, lt, tol)
    assert le.grad_fn.name() == lt.grad_fn.name()
    backward_both(lt, le)
    close(lpe.grad, lpt.grad, tol)


def test_ctc_loss_unbatched_and_errors():
    x = np.random.default_rng(0).standard_normal((6, 4))
    lpt = torch.tensor(x).log_softmax(1).detach().requires_grad_()
    lpe = ember.tensor(lpt.detach().numpy()).requires_grad_()
    lt = TF.ctc_loss(lpt, torch.tensor([1, 2]), torch.tensor(6), torch.tensor(2))
    le = EF.ctc_loss(lpe, ember.tensor([1, 2]), ember.tensor(6), ember.tensor(2))
    close(le, lt)
    lt.backward(), le.backward()
    close(lpe.grad, lpt.grad)
    assert repr(ember.nn.CTCLoss(blank=1)) == repr(torch.nn.CTCLoss(blank=1))
    with pytest.raises(RuntimeError) as te:
        TF.ctc_loss(lpt[:, None], torch.tensor([[1]]), torch.tensor([9]), torch.tensor([1]))
    with pytest.raises(RuntimeError) as ee:
        EF.ctc_loss(lpe[:, None], ember.tensor([[1]]), ember.tensor([9]), ember.tensor([1]))
    assert str(ee.value) == str(te.value)


def test_all_targets_ignored_gives_nan_loss_and_zero_gradient():
    import numpy as np
    import torch

    import ember
    for lib in (ember, torch):
        for create_graph in (False, True):
            x = lib.randn(3, 4, requires_grad=True)
            loss = lib.nn.functional.cross_entropy(x, lib.tensor([-100, -100, -100]))
            loss.backward(create_graph=create_graph)
            assert np.isnan(loss.item())
            np.testing.assert_array_equal(x.grad.detach().numpy(), np.zeros((3, 4)))
