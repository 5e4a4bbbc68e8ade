"""``ember.version``: which PyTorch API ember follows, and ember's own release.

``__version__`` is PyTorch's version string shape, ``"<torch API level>+ember.<ember
release>"``: version-gated code (``if torch.__version__ >= "2.0"``) takes the path for the
PyTorch release ember mirrors, and the local label names the ember release. Like torch's, it
compares with strings and tuples by release number.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["__version__", "api_version", "ember_version", "cuda", "hip", "rocm", "xpu",
           "debug", "git_version"]

#: The PyTorch release whose API ember follows.
api_version = "2.13.0"
#: ember's own release (the package version).
ember_version = "0.1.0"

cuda: str | None = None
hip: str | None = None
rocm: str | None = None
xpu: str | None = None
debug = False
git_version = "Unknown"

_PRE = {"a": -3, "alpha": -3, "b": -2, "beta": -2, "rc": -1, "c": -1}
_VERSION_RE = re.compile(r"v?(\d+(?:\.\d+)*)(?:[-_.]?(a|alpha|b|beta|rc|c)[-_.]?(\d*))?"
                         r"(?:[-_.]?(post|dev)[-_.]?(\d*))?(?:\+(.*))?$", re.IGNORECASE)


def _key(value: Any) -> tuple:
    """A sort key for a version string or tuple, in PEP 440 order for the common forms
    (release, pre-release, post/dev, local label)."""
    if isinstance(value, tuple):
        value = ".".join(str(v) for v in value)
    m = _VERSION_RE.match(str(value).strip())
    if m is None:
        raise ValueError(f"Invalid version: '{value}'")
    release = tuple(int(p) for p in m.group(1).split("."))
    while len(release) > 1 and release[-1] == 0:
        release = release[:-1]
    pre = (_PRE[m.group(2).lower()], int(m.group(3) or 0)) if m.group(2) else (0, 0)
    kind = (m.group(4) or "").lower()
    post = 1 if kind == "post" else (-1 if kind == "dev" else 0)
    if kind == "dev" and not m.group(2):
        pre = (-4, 0)  # a dev release sorts before every pre-release of its version
    local = tuple((1, int(p), "") if p.isdigit() else (0, 0, p)
                  for p in re.split(r"[-_.]", m.group(6))) if m.group(6) else ()
    return release, pre, post, int(m.group(5) or 0), local


class TorchVersion(str):
    """A version string that compares by version number with strings and tuples:
    ``ember.__version__ >= "2.0"``, ``ember.__version__ > (2, 1)``."""

    def _cmp(self, other: Any, op) -> bool:
        try:
            return op(_key(str(self)), _key(other))
        except (ValueError, TypeError):
            return NotImplemented

    def __lt__(self, other: Any) -> bool:
        return self._cmp(other, tuple.__lt__)

    def __le__(self, other: Any) -> bool:
        return self._cmp(other, tuple.__le__)

    def __gt__(self, other: Any) -> bool:
        return self._cmp(other, tuple.__gt__)

    def __ge__(self, other: Any) -> bool:
        return self._cmp(other, tuple.__ge__)

    def __eq__(self, other: Any) -> bool:
        result = self._cmp(other, tuple.__eq__)
        return str.__eq__(self, other) if result is NotImplemented else result

    def __ne__(self, other: Any) -> bool:
        return not self.__eq__(other)

    __hash__ = str.__hash__


__version__ = TorchVersion(f"{api_version}+ember.{ember_version}")
