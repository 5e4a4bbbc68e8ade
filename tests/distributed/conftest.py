"""The test extra installs the distributed extra (mpi4py + Open MPI): without it these tests
fail with what to install, never skip."""

import pytest

from ember.distributed import _mpi


@pytest.fixture(autouse=True)
def _require_distributed_extra(request):
    if request.node.get_closest_marker("needs_mpi"):
        assert _mpi.have_mpi4py(), "needs the distributed extra: pip install -e '.[test]'"
