"""Anomaly detection against PyTorch: the NaN check's error, the forward traceback shown when
backward fails, the warnings, and the mode switches."""

import warnings

import pytest
import torch

import ember


def _run(lib, fn):
    """``fn(lib)`` with every warning recorded: (error or None, [(category, message)])."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        err = None
        try:
            fn(lib)
        except RuntimeError as exc:
            err = str(exc)
    # (NumPy's own RuntimeWarnings about 0/0 are not anomaly mode's: left out.)
    return err, [(w.category, str(w.message)) for w in caught if w.category is UserWarning]


def _nan_in_div(t):
    with t.autograd.detect_anomaly():
        a = t.tensor([0.0, 1.0], requires_grad=True)
        b = a / a  # the forward line the warning must show
        b.sum().backward()


def test_nan_check_raises_like_torch_and_shows_forward_trace():
    (e_err, e_warns), (t_err, t_warns) = _run(ember, _nan_in_div), _run(torch, _nan_in_div)
    assert e_err == t_err == "Function 'DivBackward0' returned nan values in its 1th output."
    assert [c for c, _ in e_warns] == [c for c, _ in t_warns] == [UserWarning, UserWarning]
    assert e_warns[0][1] == t_warns[0][1]  # "Anomaly Detection has been enabled. ..."
    head = "Error detected in DivBackward0. Traceback of forward call that caused the error:\n"
    assert e_warns[1][1].startswith(head) and t_warns[1][1].startswith(head)
    for msg in (e_warns[1][1], t_warns[1][1]):
        assert __file__ in msg and "b = a / a  # the forward line" in msg
    assert "ember" + "/_ops" not in e_warns[1][1]  # ember's own frames are left out
    assert ember.is_anomaly_enabled() is torch.is_anomaly_enabled() is False


def test_check_nan_false_and_mode_off_let_nan_through():
    def run(t, ctx):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with ctx(t):
                a = t.tensor([0.0], requires_grad=True)
                (a / a).sum().backward()
                return a.grad.isnan().tolist(), t.is_anomaly_check_nan_enabled()
    for ctx in (lambda t: t.autograd.detect_anomaly(check_nan=False),
                lambda t: t.autograd.set_detect_anomaly(False)):
        assert run(ember, ctx) == run(torch, ctx)


def test_set_detect_anomaly_switches_at_once_and_restores():
    def run(t):
        seen = [t.is_anomaly_enabled()]
        t.autograd.set_detect_anomaly(True, check_nan=False)
        seen += [t.is_anomaly_enabled(), t.is_anomaly_check_nan_enabled()]
        with t.autograd.set_detect_anomaly(False):
            seen.append(t.is_anomaly_enabled())
        seen += [t.is_anomaly_enabled(), t.is_anomaly_check_nan_enabled()]
        t.set_anomaly_enabled(False)
        seen += [t.is_anomaly_enabled(), t.is_anomaly_check_nan_enabled()]
        return seen
    assert run(ember) == run(torch)


class _Broken:
    @staticmethod
    def make(t):
        class MyFunc(t.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x.clone()

            @staticmethod
            def backward(ctx, g):
                raise RuntimeError("Some error in backward")
        return MyFunc


def _custom_error(t):
    f = _Broken.make(t)
    with t.autograd.detect_anomaly():
        x = t.ones(3, requires_grad=True)
        y = f.apply(x)  # custom forward
        y.sum().backward()


def _custom_error_outside(t):
    f = _Broken.make(t)
    x = t.ones(3, requires_grad=True)
    y = f.apply(x)
    with t.autograd.detect_anomaly():
        y.sum().backward()


@pytest.mark.parametrize("fn", [_custom_error, _custom_error_outside])
def test_backward_error_warns_with_forward_trace(fn):
    (e_err, e_warns), (t_err, t_warns) = _run(ember, fn), _run(torch, fn)
    assert e_err == t_err == "Some error in backward"
    assert len(e_warns) == len(t_warns) == 2
    e_msg, t_msg = e_warns[1][1], t_warns[1][1]
    # Same text up to PyTorch's "(Triggered internally at ...)" suffix.
    assert t_msg.startswith(e_msg.rstrip("\n"))
    assert e_msg.startswith("Error detected in MyFuncBackward.")


def _nested(t):
    class Inner(t.autograd.Function):
        @staticmethod
        def forward(ctx, g):
            return g.clone()

        @staticmethod
        def backward(ctx, gg):
            raise RuntimeError("Inner backward failed")

    class Outer(t.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            # Recorded under create_graph: the Inner node's parent is Outer's node.
            return Inner.apply(2 * x * g)

    with t.autograd.detect_anomaly():
        x = t.ones(2, requires_grad=True)
        y = Outer.apply(x)
        (g,) = t.autograd.grad(y.sum(), x, create_graph=True)
        g.sum().backward()


def test_parent_trace_for_double_backward():
    (e_err, e_warns), (t_err, t_warns) = _run(ember, _nested), _run(torch, _nested)
    assert e_err == t_err == "Inner backward failed"
    heads = [[m.split(". ")[0] for _, m in w[1:]] for w in (e_warns, t_warns)]
    assert heads[0] == heads[1] == ["Error detected in InnerBackward",
                                    "\n\nPrevious calculation was induced by OuterBackward"]
    assert "y = Outer.apply(x)" in e_warns[2][1]
