"""``ember.hub``: checkpoints fetched by URL into a local cache, and local hub repos.

``load_state_dict_from_url`` looks in ``<hub dir>/checkpoints`` first and downloads only what
is missing (``file://`` URLs copy a local file, so no network is needed), then loads it with
``ember.load`` (safetensors and ember checkpoints). The hub dir is ``$EMBER_HOME/hub``
(default ``$XDG_CACHE_HOME/ember/hub``, else ``~/.cache/ember/hub``), or what ``set_dir`` set.
It is ember's own cache, apart from torch's: torch's pickled ``.pth`` files are not read.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import sys
import tempfile
import urllib.request
from typing import Any
from urllib.parse import urlparse

__all__ = ["get_dir", "set_dir", "download_url_to_file", "load_state_dict_from_url", "load",
           "list", "help"]

_hub_dir: str | None = None
# A file name like ``resnet18-f37072fd.pth`` carries the first hex digits of its SHA-256.
_HASH_RE = re.compile(r"-([a-f0-9]*)\.")


def get_dir() -> str:
    """The hub cache directory."""
    if _hub_dir is not None:
        return _hub_dir
    home = os.environ.get("EMBER_HOME")
    if home is None:
        cache = os.environ.get("XDG_CACHE_HOME", os.path.join("~", ".cache"))
        home = os.path.join(cache, "ember")
    return os.path.join(os.path.expanduser(home), "hub")


def set_dir(d: str | os.PathLike) -> None:
    """Use ``d`` as the hub cache directory."""
    global _hub_dir
    _hub_dir = os.path.expanduser(os.fspath(d))


def download_url_to_file(url: str, dst: str, hash_prefix: str | None = None,
                         progress: bool = True) -> None:
    """Copy the object at ``url`` to the file ``dst`` (atomically: a temporary file in the
    same folder is renamed over it), checking its SHA-256 starts with ``hash_prefix``."""
    dst = os.path.expanduser(dst)
    folder = os.path.dirname(os.path.abspath(dst))
    sha256 = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(prefix=".download-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url) as src:  # noqa: S310
            while chunk := src.read(1 << 20):
                out.write(chunk)
                sha256.update(chunk)
        if hash_prefix is not None:
            digest = sha256.hexdigest()
            if digest[:len(hash_prefix)] != hash_prefix:
                raise RuntimeError(f'invalid hash value (expected "{hash_prefix}", got '
                                   f'"{digest}")')
        shutil.move(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_state_dict_from_url(url: str, model_dir: str | None = None, map_location=None,
                             progress: bool = True, check_hash: bool = False,
                             file_name: str | None = None,
                             weights_only: bool = False) -> dict[str, Any]:
    """Load the checkpoint at ``url``, downloading it into ``model_dir`` (default
    ``<hub dir>/checkpoints``) unless a file of that name is already cached there.

    Example::

        state = ember.hub.load_state_dict_from_url("file:///data/weights.safetensors")
        model.load_state_dict(state)
    """
    if model_dir is None:
        model_dir = os.path.join(get_dir(), "checkpoints")
    os.makedirs(model_dir, exist_ok=True)
    filename = file_name or os.path.basename(urlparse(url).path)
    cached = os.path.join(model_dir, filename)
    if not os.path.exists(cached):
        sys.stderr.write(f'Downloading: "{url}" to {cached}\n')
        hash_prefix = None
        if check_hash:
            m = _HASH_RE.search(filename)
            hash_prefix = m.group(1) if m else None
        download_url_to_file(url, cached, hash_prefix, progress=progress)
    from ._serialization import load as _load
    return _load(cached, map_location=map_location, weights_only=weights_only)


def _load_hubconf(repo_dir: str):
    path = os.path.join(repo_dir, "hubconf.py")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"[Errno 2] No such file or directory: '{path}'")
    spec = importlib.util.spec_from_file_location("hubconf", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, repo_dir)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(repo_dir)
    return module


def _local_repo(repo_or_dir: str, source: str) -> str:
    if source not in ("github", "local"):
        raise ValueError(f'Unknown source: "{source}". Allowed values: "github" | "local".')
    if source == "github":
        raise RuntimeError("ember.hub loads local repositories only (source='local'): "
                           "clone the repository and pass its directory")
    return repo_or_dir


def _entry(module, model: str):
    fn = getattr(module, model, None)
    if fn is None or not callable(fn):
        raise RuntimeError(f"Cannot find callable {model} in hubconf")
    return fn


def load(repo_or_dir: str, model: str, *args, source: str = "github",
         trust_repo=None, force_reload: bool = False, verbose: bool = True,
         skip_validation: bool = False, **kwargs) -> Any:
    """Call the entry point ``model`` of the ``hubconf.py`` in the local directory
    ``repo_or_dir`` (``source='local'``) with ``*args, **kwargs``."""
    repo = _local_repo(repo_or_dir, source)
    return _entry(_load_hubconf(repo), model)(*args, **kwargs)


def list(github: str, force_reload: bool = False, skip_validation: bool = False,  # noqa: A001
         trust_repo=None, verbose: bool = True, source: str = "github"):
    """The entry points of a local repo's ``hubconf.py``."""
    module = _load_hubconf(_local_repo(github, source))
    return [f for f in dir(module) if callable(getattr(module, f)) and not f.startswith("_")]


def help(github: str, model: str, force_reload: bool = False,  # noqa: A001
         skip_validation: bool = False, trust_repo=None, source: str = "github") -> str:
    """The docstring of a local repo's entry point ``model``."""
    return _entry(_load_hubconf(_local_repo(github, source)), model).__doc__


