"""The array-namespace seam.

Every numerical routine in ember reaches its array library through this module, so that a
library with NumPy's API (CuPy, say) can be slotted in later without touching op definitions.
Only this module imports NumPy for numerics; others write ``from ._backend import xp``.
"""

from __future__ import annotations

import warnings

import numpy

# NumPy reports floating-point events (overflow, 0/0, log(0)) as RuntimeWarnings; PyTorch
# never does, and ember's ops follow PyTorch (inf/nan results, no warning). Silence them only
# where ember's own code calls NumPy; warnings from the user's NumPy code are untouched.
warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"ember(\.|$)")

#: The array namespace ops compute with.
xp = numpy

#: The array type a Tensor wraps.
ndarray = numpy.ndarray


def asarray(obj, dtype=None):
    """Convert ``obj`` to an array of the active namespace."""
    return xp.asarray(obj, dtype=dtype)


def to_numpy(array) -> numpy.ndarray:
    """Return ``array`` as a NumPy array (a no-op for the NumPy backend)."""
    return array
