"""Shared test set-up: PyTorch is the oracle (required under CI), hypothesis profiles, and a
guard that fails any test leaving grad mode or the default dtype changed."""

import os

import pytest

try:
    import torch
except ImportError as exc:  # pragma: no cover - exercised only on broken installs
    raise RuntimeError("PyTorch 2.13 (the test oracle) is not installed: "
                       "pip install -e '.[test]'") from exc

from hypothesis import settings

import ember

settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _mode_guard():
    ember.manual_seed(0)
    torch.manual_seed(0)
    yield
    assert ember.is_grad_enabled(), "test left grad mode disabled"
    assert ember.get_default_dtype() is ember.float32, "test left the default dtype changed"
    ember.set_printoptions(profile="default")
