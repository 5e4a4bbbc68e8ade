"""Anomaly detection: forward tracebacks for backward errors, and NaN checks.

While it is on, every recorded node keeps the Python stack of the forward call that made it
(``node.metadata["traceback_"]``); when backward fails in a node, a ``UserWarning`` shows
that stack (and those of the nodes whose backward recorded it, under ``create_graph``), and
with ``check_nan`` a node returning NaN gradients raises ``RuntimeError``. As in PyTorch the
setting is process-wide, not per thread.
"""

from __future__ import annotations

import os
import threading
import traceback
import warnings

__all__ = ["detect_anomaly", "set_detect_anomaly"]

#: Read by ``Function.apply`` and the engine on every node: a plain module global.
_enabled = False
_check_nan = True

_TRACE_KEY = "traceback_"
_PARENT_KEY = "parent_"
_EMBER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_running = threading.local()  # the node whose backward is running in this thread


def is_anomaly_enabled() -> bool:
    """Whether anomaly detection is on."""
    return _enabled


def is_anomaly_check_nan_enabled() -> bool:
    """Whether anomaly detection checks backward results for NaN."""
    return _check_nan


def set_anomaly_enabled(enabled: bool, check_nan: bool = True) -> None:
    """Turn anomaly detection on or off (``torch.set_anomaly_enabled``)."""
    global _enabled, _check_nan
    _enabled = bool(enabled)
    _check_nan = bool(check_nan)


class detect_anomaly:
    """Context manager that turns on anomaly detection for the autograd engine.

    Nodes created inside remember their forward traceback, shown (as a warning) when their
    backward raises; with ``check_nan`` (the default) a backward that returns NaN raises
    ``RuntimeError("Function 'XBackward0' returned nan values in its 0th output.")``.

    Example::

        with ember.autograd.detect_anomaly():
            loss = model(x).sum()
            loss.backward()
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.prev = _enabled
        self.check_nan = check_nan
        self.prev_check_nan = _check_nan
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the "
                      "runtime and should only be enabled for debugging.", stacklevel=2)

    def __enter__(self) -> None:
        set_anomaly_enabled(True, self.check_nan)

    def __exit__(self, *args: object) -> None:
        set_anomaly_enabled(self.prev, self.prev_check_nan)


class set_detect_anomaly:
    """Set anomaly detection on or off: at once, and as a context manager restoring the
    previous setting on exit."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.prev = _enabled
        self.prev_check_nan = _check_nan
        set_anomaly_enabled(mode, check_nan)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *args: object) -> None:
        set_anomaly_enabled(self.prev, self.prev_check_nan)


# -- used by Function.apply and the engine ---------------------------------------------------

def _record_forward(node) -> None:
    """Keep the user-level stack of the forward call creating ``node`` (ember's own frames
    left out, as PyTorch's C++ frames are), and the node whose backward is running, if any
    (a graph built under ``create_graph``)."""
    frames = [f for f in traceback.extract_stack()[:-1]
              if not f.filename.startswith(_EMBER_DIR)]
    meta = node.metadata
    meta[_TRACE_KEY] = traceback.format_list(frames)
    parent = getattr(_running, "node", None)
    if parent is not None:
        meta[_PARENT_KEY] = parent


def _set_current_node(node) -> None:
    _running.node = node


def _warn_forward_trace(node) -> None:
    """Warn with the forward traceback of the failing node, then of its parents."""
    _warn_stack(node, node.name(), parent=False)
    parent = _metadata(node).get(_PARENT_KEY)
    while parent is not None:
        _warn_stack(parent, parent.name(), parent=True)
        parent = _metadata(parent).get(_PARENT_KEY)


def _metadata(node) -> dict:
    return node.__dict__.get("_metadata") or {}


def _warn_stack(node, name: str, parent: bool) -> None:
    stack = _metadata(node).get(_TRACE_KEY)
    if stack is None:
        msg = (f"Error detected in {name}. No forward pass information available. Enable "
               "detect anomaly during forward pass for more information.")
    elif parent:
        msg = (f"\n\nPrevious calculation was induced by {name}. Traceback of forward call "
               f"that induced the previous calculation:\n{''.join(stack)}")
    else:
        msg = (f"Error detected in {name}. Traceback of forward call that caused the "
               f"error:\n{''.join(stack)}")
    warnings.warn(msg, UserWarning, stacklevel=2)
