"""Activation functions (``torch.nn.functional`` signatures) and softmax family."""

import torch.nn.functional as TF

from ember._ops import activation as EF

from ._base import UNARY, OpInfo, S

SOFTMAX = [S(()), S((5,)), S((2, 3)), S((0, 3)), S((2, 3, 4)), S((3, 4), transpose=True)]


def F(t):
    """The functional namespace of the library under test."""
    return EF if t.__name__ == "ember" else TF


def _act(name, *args, domain=(-3.0, 3.0), samples=UNARY, **kw):
    return OpInfo(name if not args and not kw else f"{name}_{'_'.join(map(str, args))}",
                  lambda t, a: getattr(F(t), name)(a, *args, **kw), samples, domain=domain)


def _inplace(name, *args, domain=(-3.0, 3.0), forward_ad=True, **kw):
    # In-place on a non-leaf copy (in-place on a leaf that requires grad is an error).
    return OpInfo(f"{name}_inplace", lambda t, a: getattr(F(t), name)(a * 1, *args,
                                                                    inplace=True, **kw),
                  UNARY, domain=domain, forward_ad=forward_ad)


OPS = [
    _act("relu6", domain=(-2.0, 8.0)), _act("leaky_relu"), _act("leaky_relu", 0.2),
    _act("elu"), _act("elu", 0.5), _act("selu"), _act("celu"), _act("celu", 2.0),
    _act("gelu"), OpInfo("gelu_tanh", lambda t, a: F(t).gelu(a, approximate="tanh"), UNARY,
                         domain=(-4.0, 4.0)),
    _act("silu"), _act("mish"), _act("softplus", domain=(-30.0, 30.0)),
    OpInfo("softplus_beta", lambda t, a: F(t).softplus(a, beta=2, threshold=3), UNARY,
           domain=(-3.0, 3.0)),
    _act("softsign"), _act("hardtanh"),
    OpInfo("hardtanh_range", lambda t, a: F(t).hardtanh(a, -0.5, 2.0), UNARY),
    _act("hardsigmoid", domain=(-4.0, 4.0)), _act("hardswish", domain=(-4.0, 4.0)),
    _act("hardshrink"), OpInfo("hardshrink_method", lambda t, a: a.hardshrink(0.3), UNARY),
    _act("softshrink"), _act("softshrink", 1.0), _act("tanhshrink"),
    _act("threshold", 0.1, 20.0), _act("logsigmoid", domain=(-30.0, 30.0)),
    OpInfo("rrelu_eval", lambda t, a: F(t).rrelu(a, training=False), UNARY),
    OpInfo("rrelu_eval_bounds", lambda t, a: F(t).rrelu(a, 0.2, 0.4), UNARY),
    OpInfo("selu_top", lambda t, a: t.selu(a), UNARY),
    OpInfo("celu_top", lambda t, a: t.celu(a, 1.5), UNARY),
    OpInfo("threshold_top", lambda t, a: t.threshold(a, 0.5, -1.0), UNARY),
    OpInfo("relu_top_", lambda t, a: t.relu_(a * 1), UNARY),
    OpInfo("selu_top_", lambda t, a: t.selu_(a * 1), UNARY),
    _inplace("relu"), _inplace("relu6", domain=(-2.0, 8.0)), _inplace("leaky_relu"),
    _inplace("elu"), _inplace("selu"), _inplace("celu"), _inplace("silu"), _inplace("mish"),
    _inplace("hardtanh"), _inplace("hardsigmoid", domain=(-4.0, 4.0)),
    _inplace("hardswish", domain=(-4.0, 4.0)), _inplace("threshold", 0.1, 20.0),
    _inplace("rrelu", forward_ad=False),  # training mode: PyTorch has no forward formula
    # softmax family: every dim, negative dims, large values, dtype=
    *[OpInfo(f"{n}_dim{d}", (lambda n, d: lambda t, a: getattr(F(t), n)(a, d))(n, d),
             [s for s in SOFTMAX if len(s.shapes[0]) > (d if d >= 0 else -d - 1)])
      for n in ("softmax", "log_softmax", "softmin") for d in (0, 1, 2, -1)],
    OpInfo("softmax_top", lambda t, a: t.softmax(a, -1), SOFTMAX),
    OpInfo("softmax_method", lambda t, a: a.softmax(0), SOFTMAX),
    OpInfo("log_softmax_method", lambda t, a: a.log_softmax(-1), SOFTMAX),
    OpInfo("softmax_large", lambda t, a: F(t).softmax(a * 1e3, -1), SOFTMAX, gradcheck=False),
    OpInfo("log_softmax_large", lambda t, a: F(t).log_softmax(a * 1e4, -1), SOFTMAX,
           gradcheck=False),
    OpInfo("softmax_dtype", lambda t, a: F(t).softmax(a.float(), 1, dtype=t.float64),
           [S((2, 3)), S((2, 3, 4))], gradcheck=False, grad_rtol=1e-3),
    OpInfo("log_softmax_dtype", lambda t, a: t.log_softmax(a, 0, dtype=t.float32),
           [S((2, 3))], gradcheck=False, grad_rtol=1e-3, grad_atol=1e-4),
    # gated and parametric
    OpInfo("glu", lambda t, a: F(t).glu(a), [S((4,)), S((2, 6)), S((0, 4)),
                                               S((3, 4), transpose=True)]),
    OpInfo("glu_dim0", lambda t, a: F(t).glu(a, 0), [S((4, 3)), S((2, 3, 4))]),
    OpInfo("glu_neg_dim", lambda t, a: F(t).glu(a, -2), [S((2, 4, 3))]),
    OpInfo("prelu", lambda t, a, w: F(t).prelu(a, w),
           [S((2, 3, 4), (3,)), S((2, 3), (1,)), S((5,), (1,)), S((2, 3, 2, 2), (3,)),
            S((0, 3), (3,)), S((4, 3), (3,), transpose=True)]),
    OpInfo("prelu_method", lambda t, a, w: a.prelu(w), [S((2, 3), (3,))]),
]
