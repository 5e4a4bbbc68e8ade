"""The one helper for exception parity: the same bad call raises the same exception type,
with the same message, under ember and PyTorch. Test modules import it from here."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import pytest
import torch

import ember


def same_error(fn: Callable | None = None, *, ember_fn: Callable | None = None,
               torch_fn: Callable | None = None, message: bool = True,
               prefix: str | None = None, first_line: bool = False) -> None:
    """Assert both libraries raise alike.

    Args:
        fn: ``fn(lib)`` runs the call under ``lib`` (ember, then torch); or give the two
            calls as ``ember_fn()`` and ``torch_fn()``.
        message: compare the messages too (``ember`` read as ``torch`` in them).
        prefix: compare only that both messages start with it (PyTorch prints a tensor).
        first_line: compare only the messages' first lines.
    """
    calls = (ember_fn, torch_fn) if fn is None else (lambda: fn(ember), lambda: fn(torch))
    errors = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for call in calls:
            with pytest.raises(Exception) as info:
                call()
            errors.append(info.value)
    e, t = errors
    expected = ember.linalg.LinAlgError if type(t) is torch.linalg.LinAlgError else type(t)
    assert type(e) is expected, f"{type(e).__name__}: {e} vs torch {type(t).__name__}: {t}"
    if prefix is not None:
        assert str(e).startswith(prefix) and str(t).startswith(prefix), f"{e}\nvs torch\n{t}"
    elif message:
        em, tm = str(e).replace("ember", "torch"), str(t)
        if first_line:
            em, tm = em.split("\n")[0], tm.split("\n")[0]
        assert em == tm, f"\n{e}\nvs torch\n{t}"
