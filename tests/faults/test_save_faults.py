"""Issue 16 items 5 and 6: saves killed (SIGKILL, SIGTERM) at every stage leave the old file
intact and no temporary file behind (or one a later save removes), symlinks are written
through like ``torch.save`` does, and a folder that cannot be written names the target."""

import os
import signal
import time

import numpy as np
import pytest
import torch

import ember
from ember._serialization import _format

from .conftest import gone

POINTS = ["write", "fsync", "link", "replace"]


def _old_and_new(tmp_path):
    target = tmp_path / "ckpt.pt"
    old = {"epoch": 1, "w": ember.arange(300_000.0)}
    ember.save(old, target)
    return target, {"epoch": 2, "w": ember.zeros(300_000)}


def _die_at(point: str, sig: int):
    """Make this (forked) process kill itself with ``sig`` at ``point`` of a save."""
    if sig != signal.SIGKILL:               # SIGKILL's disposition cannot be changed
        signal.signal(sig, signal.SIG_DFL)

    def die():
        os.kill(os.getpid(), sig)
        time.sleep(5)                       # the signal is delivered before this returns
        os._exit(99)

    if point == "write":
        def write(fh, header, arrays):
            fh.write(header)
            fh.write(memoryview(arrays[0].reshape(-1)).cast("B")[:1000])
            fh.flush()
            die()
        _format._write = write
    elif point == "fsync":
        os.fsync = lambda fd: die()
    elif point == "link":
        os.link = lambda *a, **k: die()
    elif point == "replace":
        real = os.replace
        os.replace = lambda a, b: die() if os.path.basename(a).startswith(".") else real(a, b)


def _killed_save(target, obj, point: str, sig: int, named: bool) -> None:
    pid = os.fork()
    if pid == 0:                            # the child: save, and die on the way
        try:
            if named:
                _format._tmpfile_ok = False
            _die_at(point, sig)
            ember.save(obj, target)
        finally:
            os._exit(98)                    # never reached when the fault fired
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == sig, (point, status)
    assert gone(pid)


def _leftovers(folder) -> list:
    return sorted(n for n in os.listdir(folder) if n != "ckpt.pt")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill9", "term"])
@pytest.mark.parametrize("named", [False, True], ids=["tmpfile", "named"])
def test_save_killed_at_every_stage_keeps_the_old_file(tmp_path, sig, named, deadline):
    deadline(30)
    target, new = _old_and_new(tmp_path)
    for point in POINTS:
        if named and point == "link":
            continue                        # named temporary files are never linked
        _killed_save(target, new, point, sig, named)
        out = ember.load(target)            # the old checkpoint, whole
        assert out["epoch"] == 1
        np.testing.assert_array_equal(out["w"].numpy(), np.arange(300_000.0, dtype="f4"))
        left = _leftovers(tmp_path)
        if sig == signal.SIGTERM or (not named and point != "replace"):
            # SIGTERM: the save removes its file first; SIGKILL: an unnamed file vanishes
            # with its process.
            assert left == [], (point, left)
        assert all(n.startswith(".ckpt.pt.") for n in left), left
        ember.save({"epoch": 1, "w": ember.arange(300_000.0)}, target)
        assert _leftovers(tmp_path) == [], "a later save removes what a killed save left"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_save_killed_at_random_moments(tmp_path, deadline):
    deadline(30)
    target, _ = _old_and_new(tmp_path)
    for delay in (0.0, 0.005, 0.02, 0.05):
        pid = os.fork()
        if pid == 0:
            try:
                for i in range(1000):
                    ember.save({"epoch": 2 + i, "w": ember.full((300_000,), float(i))}, target)
            finally:
                os._exit(0)
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        out = ember.load(target)            # one complete version, old or new
        epoch = out["epoch"]
        want = np.arange(300_000.0) if epoch == 1 else np.full(300_000, epoch - 2.0)
        np.testing.assert_array_equal(out["w"].numpy(), want.astype("f4"))
        ember.save({"epoch": 1, "w": ember.arange(300_000.0)}, target)
        assert _leftovers(tmp_path) == []


def test_orphans_of_live_writers_are_kept(tmp_path):
    target = tmp_path / "ckpt.pt"
    live = tmp_path / f".ckpt.pt.{os.getppid()}.abc{_format._TMP_TAG}"   # our parent runs
    live.write_bytes(b"partial")
    ember.save([1], target)
    assert live.exists()


def test_symlink_is_written_through_like_torch(tmp_path):
    for lib, save in (("torch", torch.save), ("ember", ember.save)):
        real = tmp_path / f"{lib}_real.pt"
        link = tmp_path / f"{lib}_link.pt"
        save({"a": 1}, real)
        link.symlink_to(real.name)          # a relative link, as `ln -s` makes
        save({"a": 2}, link)
        assert link.is_symlink(), lib
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(lib)) == \
            [f"{lib}_link.pt", f"{lib}_real.pt"]
    assert ember.load(tmp_path / "ember_real.pt") == {"a": 2}
    assert torch.load(tmp_path / "torch_real.pt") == {"a": 2}
    dangling = tmp_path / "dangling.pt"
    dangling.symlink_to("made.pt")
    ember.save([3], dangling)
    assert dangling.is_symlink() and ember.load(tmp_path / "made.pt") == [3]


def test_unwritable_folder_names_the_target(tmp_path, monkeypatch):
    target = tmp_path / "ckpt.pt"

    def refuse(path, flags, mode=0o777, *, dir_fd=None):
        raise PermissionError(13, "Permission denied", path)

    real_open = os.open
    monkeypatch.setattr(os, "open", lambda p, f, *a, **k: refuse(p, f) if f & os.O_WRONLY
                        else real_open(p, f, *a, **k))
    for named in (False, True):
        monkeypatch.setattr(_format, "_tmpfile_ok", not named and _format._tmpfile_ok)
        with pytest.raises(RuntimeError) as e:
            ember.save([1], target)
        assert str(target) in str(e.value) and "Permission denied" in str(e.value)
        assert "tmp" not in str(e.value).replace(str(tmp_path), "")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_names_the_target(tmp_path):  # pragma: no cover - non-root CI
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(RuntimeError, match="cannot write .*ro/ckpt.pt: Permission"):
            ember.save([1], folder / "ckpt.pt")
    finally:
        folder.chmod(0o755)


def test_sigterm_handlers_are_left_as_they_were(tmp_path):
    def mine(signum, frame):                # pragma: no cover - never delivered
        pass

    old = signal.signal(signal.SIGTERM, mine)
    try:
        ember.save([1], tmp_path / "a.pt")
        assert signal.getsignal(signal.SIGTERM) is mine
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        ember.save([1], tmp_path / "a.pt")
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, old)
