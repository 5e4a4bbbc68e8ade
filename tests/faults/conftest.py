"""Fault tests share one guard: each runs under a wall-clock alarm, so a regression that
hangs (a blocked pipe read, a worker that never exits) fails the test instead of CI."""

import os
import signal
import threading

import pytest

import ember

# The directory holding the ember under test: child processes must import the same one.
EMBER_PATH = os.path.dirname(os.path.dirname(os.path.abspath(ember.__file__)))


def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = EMBER_PATH + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture
def deadline():
    """``deadline(seconds)`` arms an alarm that raises TimeoutError in the test."""
    # pytest runs tests in the main thread (xdist workers too); SIGALRM handlers need it.
    assert threading.current_thread() is threading.main_thread(), "alarms need the main thread"

    def on_alarm(signum, frame):
        raise TimeoutError("fault test ran past its deadline (a hang?)")

    old = signal.signal(signal.SIGALRM, on_alarm)

    def arm(seconds: float) -> None:
        signal.setitimer(signal.ITIMER_REAL, seconds)

    arm(60)
    yield arm
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, old)


def gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (exited, or a zombie nobody has reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True
