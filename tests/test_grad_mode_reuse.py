"""Grad-mode context objects entered again while active: nested, and from several threads
at once. PyTorch raises neither; ember also restores each entry's previous mode."""

import threading

import pytest
import torch

import ember

TIMEOUT = 30.0


@pytest.mark.parametrize("make", [lambda t: t.no_grad(), lambda t: t.enable_grad()])
def test_nested_reuse_of_one_object(make):
    def run(t):
        ctx = make(t)
        seen = []
        with t.no_grad() if isinstance(ctx, t.enable_grad) else t.enable_grad():
            with ctx:
                with ctx:
                    seen.append(t.is_grad_enabled())
                seen.append(t.is_grad_enabled())
        return seen
    assert run(ember) == run(torch)  # no exception, same modes inside
    # After the outer exit ember is back where it started (PyTorch may leave grad mode off
    # here: its object keeps only the latest entry's previous mode).
    ng = make(ember)
    with ng:
        with ng:
            pass
    assert ember.is_grad_enabled()
    assert not ember.is_inference_mode_enabled()


def _threads_share(lib, ctx) -> list:
    barrier = threading.Barrier(2)
    out, errors = [None, None], []

    def body(i):
        try:
            with ctx:
                barrier.wait(timeout=TIMEOUT)  # both threads inside the same object
                inside = lib.is_grad_enabled()
                barrier.wait(timeout=TIMEOUT)
            out[i] = (inside, lib.is_grad_enabled())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(TIMEOUT)
        assert not th.is_alive()
    return errors or out


def test_one_object_entered_by_two_threads():
    e = _threads_share(ember, ember.no_grad())
    t = _threads_share(torch, torch.no_grad())
    assert e == t == [(False, True), (False, True)]
    assert ember.is_grad_enabled()


def test_inference_mode_object_reused():
    # (PyTorch's own inference_mode object mixes up reused entries; ember's restores each.)
    im = ember.inference_mode()
    with im:
        with im:
            assert ember.is_inference_mode_enabled() and not ember.is_grad_enabled()
        assert ember.is_inference_mode_enabled()
    assert ember.is_grad_enabled() and not ember.is_inference_mode_enabled()
    assert _threads_share(ember, im) == [(False, True), (False, True)]
