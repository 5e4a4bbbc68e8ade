"""``needs_forward_rules``: for tests of forward-mode transforms over ops whose forward
rules are still being added (it holds no tests itself)."""

import functools

import pytest


def needs_forward_rules(test):
    """Skip ``test`` while an op it uses has no forward rule yet (PyTorch's error for one),
    so tests of forward-mode transforms over any op run fully once its rule lands."""
    @functools.wraps(test)
    def run(*args, **kwargs):
        try:
            return test(*args, **kwargs)
        except NotImplementedError as exc:
            if "that does not support it because it has not been implemented yet" in str(exc):
                pytest.skip(f"needs a forward rule: {exc}")
            raise
    return run
