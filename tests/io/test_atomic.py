"""cnsr.io.atomic: a file appears whole under its name or not at all."""
import os

import pytest

from cnsr.io.atomic import atomic_path


def test_complete_write_replaces_with_usual_permissions(tmp_path):
    target = tmp_path / "sub" / "f.bin"
    for data in (b"old", b"new"):
        with atomic_path(target, fsync=True) as tmp:
            assert tmp.parent == target.parent and tmp.name.startswith(".")
            tmp.write_bytes(data)
            assert not target.exists() or target.read_bytes() == b"old"   # not visible before the end
    assert target.read_bytes() == b"new"
    assert os.listdir(target.parent) == ["f.bin"]
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


def test_failed_write_leaves_the_previous_file(tmp_path):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.bin"]
