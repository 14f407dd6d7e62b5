"""Saving is atomic: a save that fails part-way leaves the old file whole and no temp file behind."""
from __future__ import annotations

import errno
import os
import stat

import pytest

import nodeflow.model.fileio as fileio
from nodeflow.model import dumps, load, save
from nodeflow.model.fileio import atomic_write_bytes, atomic_write_text

from model_helpers import fixture


@pytest.fixture
def saved(tmp_path):
    """A workflow file on disk, and the workflow with an edit not yet saved."""
    path = tmp_path / "flow.nc"
    old = fixture("basic.nc").read_bytes()
    path.write_bytes(old)
    wf = load(path)
    wf.nodes["float"].terminals["float"].value = 1.0
    assert dumps(wf).encode("utf-8") != old
    return path, old, wf


def _only(path):
    return sorted(os.listdir(path.parent)) == [path.name]


def test_save_replaces_the_file(saved):
    path, old, wf = saved
    save(wf, path)
    assert path.read_bytes() == dumps(wf).encode("utf-8")
    assert _only(path)


def test_fsync_failure_leaves_old_file(saved, monkeypatch):
    path, old, wf = saved

    def broken_fsync(fd):
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(fileio.os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        save(wf, path)
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert _only(path)
    assert load(path).nodes["float"].terminals["float"].value == 3125.0


def test_disk_full_half_way_through_the_write_leaves_old_file(saved, monkeypatch):
    path, old, wf = saved
    real_fdopen = os.fdopen

    class HalfWriter:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            self.f.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(fileio.os, "fdopen", lambda fd, mode: HalfWriter(real_fdopen(fd, mode)))
    with pytest.raises(OSError) as info:
        save(wf, path)
    monkeypatch.undo()
    assert info.value.errno == errno.ENOSPC
    assert path.read_bytes() == old
    assert _only(path)


def test_rename_failure_leaves_old_file(saved, monkeypatch):
    path, old, wf = saved

    def broken_replace(src, dst):
        raise PermissionError(errno.EACCES, "denied")

    monkeypatch.setattr(fileio.os, "replace", broken_replace)
    with pytest.raises(PermissionError):
        save(wf, path)
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert _only(path)


def test_interrupt_during_write_leaves_old_file(saved, monkeypatch):
    path, old, wf = saved

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(fileio.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save(wf, path)
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert _only(path)


def test_failed_save_keeps_source_path(saved, monkeypatch, tmp_path):
    path, old, wf = saved
    def broken_replace(src, dst):
        raise OSError(errno.EIO, "no")

    monkeypatch.setattr(fileio.os, "replace", broken_replace)
    with pytest.raises(OSError):
        save(wf, tmp_path / "elsewhere.nc")
    assert wf.source_path == os.fspath(path)


def test_unserializable_value_fails_before_the_file_is_touched(saved, monkeypatch):
    path, old, wf = saved
    wf.nodes["float"].terminals["float"].value = object()
    before = os.stat(path)
    opened = []

    def spy_mkstemp(*args, **kwargs):
        opened.append(args)
        raise AssertionError("a temp file was made for a workflow that cannot be written")

    monkeypatch.setattr(fileio.tempfile, "mkstemp", spy_mkstemp)
    with pytest.raises(TypeError) as info:
        save(wf, path)
    assert "object" in str(info.value)
    assert opened == []
    assert path.read_bytes() == old
    assert os.stat(path).st_mtime_ns == before.st_mtime_ns
    assert _only(path)


def test_unserializable_value_in_custom_state_does_not_create_a_new_file(tmp_path):
    wf = load(fixture("basic.nc"))
    wf.nodes["power"].customState = {"callback": print}
    with pytest.raises(TypeError):
        save(wf, tmp_path / "new.nc")
    assert os.listdir(tmp_path) == []


def test_save_keeps_the_file_mode(saved):
    path, old, wf = saved
    os.chmod(path, 0o640)
    save(wf, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def test_new_file_mode_follows_umask(tmp_path):
    wf = load(fixture("basic.nc"))
    old = os.umask(0o027)
    try:
        save(wf, tmp_path / "new.nc")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new.nc").st_mode) == 0o640


def test_atomic_write_helpers(tmp_path):
    p = tmp_path / "x.txt"
    atomic_write_text(p, "größe\n")
    assert p.read_bytes() == "größe\n".encode("utf-8")
    atomic_write_bytes(p, b"\x00\x01", mode=0o600)
    assert p.read_bytes() == b"\x00\x01"
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    assert _only(p)


def test_save_in_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    wf = load(fixture("basic.nc"))
    save(wf, "relative.nc")
    assert (tmp_path / "relative.nc").read_text(encoding="utf-8") == dumps(wf)
    assert os.listdir(tmp_path) == ["relative.nc"]
