"""The safetensors file layout: writing it atomically, and reading it with every length and
offset checked against the real size of the file before any large read.

A file is ``<u64 little-endian header length><JSON header><raw little-endian tensor bytes>``;
the header maps each tensor's name to its dtype, shape and byte range.
"""

from __future__ import annotations

import io
import json
import math
import os
import signal
import struct
import threading
import uuid
from typing import IO, Any

from .._backend import ndarray, xp

_MAX_HEADER = 100_000_000           # the safetensors reference reader's limit
_MAX_NDIM = 64                      # NumPy's limit on dimensions
_CHUNK = 1 << 24                    # unseekable streams are read in pieces of this size
_LEN = struct.Struct("<Q")
# safetensors dtype names <-> NumPy (BF16 is read into float32, exactly).
_CODES = {"F16": "<f2", "F32": "<f4", "F64": "<f8", "I8": "i1", "I16": "<i2", "I32": "<i4",
          "I64": "<i8", "U8": "u1", "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "?",
          "C64": "<c8", "BF16": "<u2"}
_TO_CODE = {xp.dtype(v): k for k, v in _CODES.items() if k != "BF16"}


class CheckpointError(RuntimeError, ValueError):
    """A checkpoint or safetensors file that is corrupt, truncated or not of this format."""


def source_name(f) -> str:
    if isinstance(f, (str, os.PathLike)):
        return os.fspath(f)
    return str(getattr(f, "name", None) or f"<{type(f).__name__}>")


# -- writing ------------------------------------------------------------------------------------

def _array_of(t) -> ndarray:
    """A tensor's array in the layout it is written in (C order, little-endian)."""
    return _le_array(t._data)


def _le_array(a: ndarray) -> ndarray:
    if a.dtype == xp.complex128:
        raise TypeError("complex128 tensors have no safetensors dtype (C64 is the only complex "
                        "one); convert them, e.g. with .to(ember.complex64)")
    if _TO_CODE.get(a.dtype.newbyteorder("<")) is None:
        raise TypeError(f"cannot store a tensor of dtype {a.dtype} in safetensors")
    return a.astype(a.dtype.newbyteorder("<"), order="C", copy=False)   # 0-d stays 0-d


def _layout(arrays: dict[str, ndarray], metadata: dict[str, str] | None):
    """The header bytes (space-padded to 8) and the arrays in file order."""
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise TypeError("metadata must be a dict of str to str")
    # Widest items first, like the reference writer: every tensor stays aligned.
    order = sorted(arrays, key=lambda k: (-arrays[k].dtype.itemsize, k))
    header: dict[str, Any] = {"__metadata__": metadata} if metadata else {}
    offset = 0
    for k in order:
        a = arrays[k]
        header[k] = {"dtype": _TO_CODE[a.dtype], "shape": list(a.shape),
                     "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    raw = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    raw += b" " * (-len(raw) % 8)
    return _LEN.pack(len(raw)) + raw, [arrays[k] for k in order]


def _write(fh: IO[bytes], header: bytes, arrays: list[ndarray]) -> None:
    fh.write(header)
    for a in arrays:
        if a.size:
            fh.write(memoryview(a.reshape(-1)).cast("B"))


_TMP_TAG = ".ember-tmp"
_tmpfile_ok = hasattr(os, "O_TMPFILE")     # cleared once the filesystem refuses it
_lock = threading.Lock()


def _temp_name(folder: str, base: str) -> str:
    # The writer's pid is in the name, so a later save can tell an orphan from a live write.
    return os.path.join(folder, f".{base}.{os.getpid()}.{uuid.uuid4().hex[:12]}{_TMP_TAG}")


def _remove_orphans(folder: str, base: str) -> None:
    """Delete temporary files that earlier saves of ``base`` left behind when their process
    was killed (their pid no longer runs)."""
    prefix = f".{base}."
    try:
        names = [n for n in os.listdir(folder) if n.startswith(prefix) and n.endswith(_TMP_TAG)]
    except OSError:
        return
    for n in names:
        pid = n[len(prefix):].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
            continue                          # its writer still runs
        except ProcessLookupError:
            pass
        except OSError:                       # alive, but someone else's
            continue
        try:
            os.unlink(os.path.join(folder, n))
        except OSError:
            pass


def _open_temp(folder: str, named: str, mode: int) -> tuple[int, bool]:
    """A file descriptor to write the new content to, and whether it is the file ``named``
    (False: an unnamed file that the kernel discards if this process dies before it is
    linked in)."""
    global _tmpfile_ok
    if _tmpfile_ok:
        try:
            fd = os.open(folder, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, mode)
            if os.path.exists(f"/proc/self/fd/{fd}"):
                return fd, False
            os.close(fd)
        except OSError as e:
            if e.errno not in (95, 21, 22):   # EOPNOTSUPP, EISDIR, EINVAL: no O_TMPFILE here
                raise
        _tmpfile_ok = False
    return os.open(named, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode), True


class _TermGuard:
    """While a named temporary file exists, SIGTERM (when its action is still the default,
    and this is the main thread) first removes the file, then ends the process as before."""

    def __init__(self) -> None:
        self.tmp: str | None = None
        self.active = False

    def __enter__(self):
        try:
            if (threading.current_thread() is threading.main_thread()
                    and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL):
                signal.signal(signal.SIGTERM, self._on_term)
                self.active = True
        except (ValueError, OSError):         # no signals here (an embedded interpreter)
            pass
        return self

    def _on_term(self, signum, frame):
        if self.tmp is not None:
            try:
                os.unlink(self.tmp)
            except OSError:
                pass
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    def __exit__(self, *exc) -> None:
        if self.active and signal.getsignal(signal.SIGTERM) == self._on_term:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _write_path(path, header: bytes, arrays: list[ndarray]) -> None:
    """Write a new file beside ``path``, fsync it, then rename it over ``path``: a crash at
    any moment leaves either the old file or the complete new one. The new content goes to
    an unnamed file (O_TMPFILE) where the platform allows, so even SIGKILL leaves nothing
    behind; otherwise to a named one that a later save removes if its writer died. A
    symlink is written through, like ``torch.save``."""
    path = os.path.realpath(os.fspath(path))
    folder, base = os.path.split(path)
    if not os.path.isdir(folder):
        raise RuntimeError(f"Parent directory {folder} does not exist.")
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        with _lock:
            umask = os.umask(0)
            os.umask(umask)
        mode = 0o666 & ~umask
    _remove_orphans(folder, base)
    dfd = os.open(folder, os.O_RDONLY)
    try:
        with _TermGuard() as guard:
            _write_in(path, folder, base, mode, dfd, guard, header, arrays)
    finally:
        os.close(dfd)


def _write_in(path: str, folder: str, base: str, mode: int, dfd: int, guard: _TermGuard,
              header: bytes, arrays: list[ndarray]) -> None:
    global _tmpfile_ok
    tmp = guard.tmp = _temp_name(folder, base)    # known to the guard before it exists
    try:
        fd, named = _open_temp(folder, tmp, mode)
    except OSError as e:
        raise RuntimeError(f"cannot write {path}: {e.strerror} (ember.save writes the new "
                           f"file beside it in {folder}, which must be writable)") from e
    try:
        with os.fdopen(fd, "wb") as fh:
            _write(fh, header, arrays)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
            if not named:                     # give the unnamed file a name, then rename it
                try:
                    os.link(f"/proc/self/fd/{fh.fileno()}", tmp, src_dir_fd=dfd,
                            follow_symlinks=True)
                except OSError:               # no linkat through /proc here: named files
                    _tmpfile_ok = False
                    return _write_in(path, folder, base, mode, dfd, guard, header, arrays)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    guard.tmp = None
    try:                                      # make the rename itself durable
        os.fsync(dfd)
    except OSError:                           # not every platform can fsync a directory
        pass


def _write_to(f, header: bytes, arrays: list[ndarray]) -> None:
    if isinstance(f, (str, os.PathLike)):
        _write_path(f, header, arrays)
    elif callable(getattr(f, "write", None)):
        _write(f, header, arrays)
        if callable(getattr(f, "flush", None)):
            f.flush()
    else:
        raise TypeError(f"expected a path (str or os.PathLike) or a binary file object to "
                        f"write to, got {type(f).__name__}")


# -- reading -------------------------------------------------------------------------------------

class Source:
    """A path or binary file object read in checked pieces: ``size`` is the bytes left from
    the start when it can be known (a file, a seekable stream), else None."""

    def __init__(self, f) -> None:
        self.name = source_name(f)
        self._own = isinstance(f, (str, os.PathLike))
        if self._own:
            self.fh = open(f, "rb")
        elif callable(getattr(f, "read", None)):
            self.fh = f
        else:
            raise TypeError(f"expected a path (str or os.PathLike) or a binary file object to "
                            f"read from, got {type(f).__name__}")
        self.size = None
        try:
            if self._own:
                self.size = os.fstat(self.fh.fileno()).st_size
            elif f.seekable():
                here = f.tell()
                self.size = f.seek(0, io.SEEK_END) - here
                f.seek(here)
        except (AttributeError, OSError, ValueError):
            self.size = None
        self.pos = 0

    def close(self) -> None:
        if self._own:
            self.fh.close()

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes (fewer only at the end), never holding more than arrived."""
        parts, left = [], n
        while left > 0:
            part = self.fh.read(min(left, _CHUNK))
            if part is None:
                continue
            if not isinstance(part, (bytes, bytearray, memoryview)):
                raise TypeError(f"{self.name}: expected a binary file object, but read() "
                                f"returned {type(part).__name__}")
            if not part:
                break
            parts.append(bytes(part))
            left -= len(part)
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        self.pos += len(data)
        return data

    def read_into(self, n: int) -> bytearray:
        """Exactly ``n`` bytes into a writable buffer (``n`` was checked against the size)."""
        if self.size is not None and self._own:
            buf = bytearray(n)
            got = self.fh.readinto(buf)
            self.pos += got or 0
            if got != n:
                raise CheckpointError(f"{self.name}: read {got} of {n} bytes (the file "
                                      f"changed while it was read)")
            return buf
        data = self.read(n)
        if len(data) != n:
            raise CheckpointError(f"{self.name}: truncated: {n} bytes of tensor data were "
                                  f"expected but only {len(data)} follow")
        return bytearray(data)


def not_safetensors(head: bytes, name: str) -> str | None:
    """Recognise files of other formats ember does not read, so the error says what it is."""
    if head[:6] == b"\x93NUMPY":
        return f"{name} is a NumPy .npy file, not a safetensors file"
    return None


def read_safetensors(src: Source, head: bytes):
    """The tensors (in file order) and metadata of a safetensors file whose first bytes,
    ``head``, were already read. Every length and offset is checked against the file size
    before the data is read, so memory stays bounded by the data really there."""
    name = src.name

    def bad(msg: str) -> CheckpointError:
        return CheckpointError(f"{name}: {msg}")

    other = not_safetensors(head, name)
    if other:
        raise CheckpointError(other)
    if len(head) < 8:
        raise bad(f"not a safetensors file: {len(head)} bytes, too short for the 8-byte header "
                  f"length (empty or truncated)")
    (n,) = _LEN.unpack_from(head)
    if n > _MAX_HEADER:
        raise bad(f"not a safetensors file: header length {n} exceeds the {_MAX_HEADER}-byte "
                  f"limit")
    if src.size is not None and 8 + n > src.size:
        raise bad(f"truncated: the header claims {n} bytes but only {src.size - 8} follow")
    raw = head[8:] + src.read(8 + n - len(head))
    if len(raw) < n:
        raise bad(f"truncated: the header claims {n} bytes but only {len(raw)} follow")
    header, data_tail = parse_header(raw[:n], bad), raw[n:]
    meta = header.pop("__metadata__", None)
    if meta is not None and not (isinstance(meta, dict) and all(
            isinstance(v, str) for v in meta.values())):
        raise bad("__metadata__ must map strings to strings")
    data_len = None if src.size is None else src.size - 8 - n
    spans = sorted((*_check_entry(key, info, bad, data_len), key)
                   for key, info in header.items())
    end = 0
    for begin, stop, key in spans:
        if begin != end:
            raise bad(f"tensor {key!r} starts at byte {begin} of the data, expected {end} "
                      f"(tensors overlap or leave a gap)")
        end = stop
    if src.size is not None and src.size - 8 - n != end:
        raise bad(f"the tensors cover {end} bytes but the data section has "
                  f"{src.size - 8 - n} (truncated, or trailing bytes)")
    if len(data_tail) > end:
        raise bad(f"the tensors cover {end} bytes but more data follows (trailing bytes)")
    buf = src.read_into(end - len(data_tail))
    if data_tail:
        buf[:0] = data_tail
    if src.size is None and src.read(1):
        raise bad(f"the tensors cover {end} bytes but more data follows (trailing bytes)")
    data = memoryview(buf)
    out = {}
    for begin, _, key in spans:
        try:
            out[key] = _view(data, begin, header[key])
        except (ValueError, MemoryError) as e:
            raise bad(f"tensor {key!r}: {e}") from None
    return out, meta


def parse_header(raw: bytes, bad) -> dict:
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_dups)
    except RecursionError:
        raise bad("not a safetensors file: the header is JSON nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise bad(f"not a safetensors file: the header is not valid UTF-8 JSON ({e})") from None
    if not isinstance(header, dict):
        raise bad("not a safetensors file: the header is not a JSON object")
    return header


def parse(buf, name: str) -> tuple[dict[str, ndarray], dict[str, str] | None]:
    """Validate a whole safetensors image held in memory, then view its tensors."""
    src = Source(io.BytesIO(buf))
    src.name = name
    return read_safetensors(src, src.read(8))


def _no_dups(pairs):
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise ValueError(f"duplicate key {dup!r}")
    return d


def _check_entry(key: str, info, bad, data_len: int | None) -> tuple[int, int]:
    if not isinstance(info, dict):
        raise bad(f"tensor {key!r}: expected an object with dtype, shape and data_offsets")
    dt, shape, offs = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if dt not in _CODES:
        raise bad(f"tensor {key!r}: dtype {dt!r} is not supported (ember reads "
                  f"{', '.join(_CODES)})")
    if not isinstance(shape, list) or not all(
            type(s) is int and s >= 0 for s in shape):
        raise bad(f"tensor {key!r}: shape {shape!r} is not a list of non-negative integers")
    itemsize = xp.dtype(_CODES[dt]).itemsize
    if len(shape) > _MAX_NDIM or math.prod(max(s, 1) for s in shape) * itemsize >= 1 << 62:
        raise bad(f"tensor {key!r}: shape {_short(shape)} is too large to be a tensor")
    if not (isinstance(offs, list) and len(offs) == 2 and all(
            type(o) is int and o >= 0 for o in offs) and offs[0] <= offs[1]):
        raise bad(f"tensor {key!r}: data_offsets {offs!r} is not a [begin, end] byte range")
    if data_len is not None and offs[1] > data_len:
        raise bad(f"tensor {key!r}: bytes {offs[0]}..{offs[1]} lie outside the "
                  f"{data_len}-byte data section (truncated or corrupt)")
    need = math.prod(shape) * itemsize
    if offs[1] - offs[0] != need:
        raise bad(f"tensor {key!r}: {dt} of shape {shape} needs {need} bytes, but "
                  f"data_offsets span {offs[1] - offs[0]}")
    return offs[0], offs[1]


def _short(seq) -> str:
    text = repr(seq)
    return text if len(text) <= 80 else text[:77] + "..."


def _view(data: memoryview, begin: int, info: dict) -> ndarray:
    dt = xp.dtype(_CODES[info["dtype"]])
    shape = tuple(info["shape"])
    a = xp.frombuffer(data, dtype=dt, count=math.prod(shape), offset=begin).reshape(shape)
    if info["dtype"] == "BF16":               # bfloat16 is the top half of a float32
        return (a.astype(xp.uint32) << 16).view(xp.float32)
    if not a.flags.aligned or not dt.isnative:
        a = a.astype(dt.newbyteorder("="))    # a copy, aligned and in native byte order
    return a
