"""Outputs are written atomically: a failed write leaves the previous file as it was."""

import json
import os

import pytest

from model.support.errors import UserError
from model.support.files import atomic_writer, check_output, write_json


def test_write_json_replaces_the_file(tmp_path):
    path = tmp_path / "sub" / "out.json"
    write_json(path, {"a": 1})
    write_json(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert os.listdir(path.parent) == ["out.json"]          # no temporary left


def test_a_failure_inside_the_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"good")
    with pytest.raises(RuntimeError):
        with atomic_writer(path, "wb") as f:
            f.write(b"half")
            raise RuntimeError("interrupted")
    assert path.read_bytes() == b"good"
    assert os.listdir(tmp_path) == ["model.npz"]


def test_a_full_disk_is_one_user_error_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    path.write_text("{}")

    def full(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(UserError, match="cannot write .*No space left on device"):
        write_json(path, {"big": 1})
    assert path.read_text() == "{}"


def test_check_output(tmp_path):
    image = tmp_path / "pic.png"
    image.write_bytes(b"png")
    with pytest.raises(UserError, match="is also an input of this run"):
        check_output(image, inputs=(image,))
    with pytest.raises(UserError, match="is a directory"):
        check_output(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="cannot write"):
        check_output(tmp_path / "file" / "out.json")
    check_output(tmp_path / "new" / "out.json")                # creates the folder
    assert (tmp_path / "new").is_dir()
