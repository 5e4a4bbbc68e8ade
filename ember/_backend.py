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


def _tune_malloc() -> bool:
    """Opt-in (``EMBER_MALLOC_TUNING=1`` before ``import ember``; glibc only): keep freed
    large buffers in the heap for reuse, by raising glibc's mmap and trim thresholds
    (64 MB / 128 MB) for the whole process.

    Training allocates the same large temporaries every step (activations, im2col columns,
    gradients). glibc serves blocks over its mmap threshold with fresh ``mmap`` calls and
    trims the heap eagerly, so every step pays page faults for memory it just gave back
    (measured in bench/RESULTS.md: the LeNet step ~25% and the Transformer step ~10% faster
    with the tuning). PyTorch avoids this with a caching allocator scoped to its own
    tensors; NumPy offers no such hook to pure Python, and ``mallopt`` changes the heap of
    every library in the process (and keeps its high-water mark instead of returning memory
    to the OS), so ember never does it unasked.
    """
    import os
    import sys
    if os.environ.get("EMBER_MALLOC_TUNING", "0") != "1" or not sys.platform.startswith(
            "linux") or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        return bool(libc.mallopt(m_mmap_threshold, 64 << 20)
                    and libc.mallopt(m_trim_threshold, 128 << 20))
    except (OSError, AttributeError):  # not glibc
        return False


malloc_tuned = _tune_malloc()

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
